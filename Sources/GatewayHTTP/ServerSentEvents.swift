import Foundation
import Hummingbird
import SessionOrchestration

/// One SSE frame.
struct SSEFrame: Sendable {
    let id: Int?
    let event: String
    let data: [String: LiveValue]

    init(id: Int? = nil, event: String, data: [String: LiveValue]) {
        self.id = id
        self.event = event
        self.data = data
    }

    init(_ event: LiveEvent) {
        self.init(id: event.sequence, event: event.name, data: event.data)
    }

    var bytes: ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(data)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        var text = ""
        if let id { text += "id: \(id)\n" }
        text += "event: \(event)\ndata: \(json)\n\n"
        return ByteBuffer(string: text)
    }
}

/// A `text/event-stream` answer: the snapshot frames, the events missed since `Last-Event-ID`, then
/// live events, with a heartbeat comment every `heartbeat`. It ends when the client goes away or the
/// bus is finished (shutdown).
enum ServerSentEvents {
    static func lastEventID(_ request: Request) -> Int? {
        request.headers[.init("Last-Event-ID")!].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    static func response(
        snapshot: [SSEFrame], subscription: LiveEventBus.Subscription, heartbeat: Duration
    ) -> Response {
        let body = ResponseBody { writer in
            let (frames, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .unbounded)
            let forwarder = Task {
                for await event in subscription.events { continuation.yield(SSEFrame(event).bytes) }
                continuation.finish()
            }
            let beats = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: heartbeat)
                    if Task.isCancelled { break }
                    continuation.yield(ByteBuffer(string: ": heartbeat\n\n"))
                }
            }
            defer {
                forwarder.cancel()
                beats.cancel()
            }
            try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
            for frame in snapshot { try await writer.write(frame.bytes) }
            for event in subscription.replay { try await writer.write(SSEFrame(event).bytes) }
            for await frame in frames { try await writer.write(frame) }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache, no-store",
                .init("X-Accel-Buffering")!: "no",
            ],
            body: body)
    }
}
