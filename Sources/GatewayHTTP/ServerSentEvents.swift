import Foundation
import Hummingbird
import NIOCore
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
/// live events, with the bus's heartbeats as comments. It ends when the client goes away, the bus is
/// finished (shutdown), or the reader falls `LiveEventBus.subscriberBuffer` events behind (it resumes
/// with `Last-Event-ID`).
enum ServerSentEvents {
    static func lastEventID(_ request: Request) -> Int? {
        request.headers[.init("Last-Event-ID")!].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    static let heartbeatComment = ByteBuffer(string: ": heartbeat\n\n")

    static let tooManyStreams = Problem(
        .tooManyRequests, code: "too_many_streams", title: "Too many open event streams",
        detail: "close another stream of this ticket, attendant or address first")

    /// The subscription must have been made with `heartbeatEvery`: its heartbeats are written as
    /// comments. One task per stream: the one writing it. The stream ends as soon as the connection
    /// closes, so its places (`permit`) are free for the client's next stream at once.
    static func response(
        snapshot: [SSEFrame], subscription: LiveEventBus.Subscription, permit: StreamLimiter.Permit,
        connectionClosed: EventLoopFuture<Void>, onEnd: @escaping @Sendable () -> Void = {}
    ) -> Response {
        connectionClosed.whenComplete { _ in subscription.end() }
        let body = ResponseBody { writer in
            defer { onEnd() }
            try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
            for frame in snapshot { try await writer.write(frame.bytes) }
            for event in subscription.replay { try await writer.write(SSEFrame(event).bytes) }
            for await event in subscription.events {
                try await writer.write(event.isHeartbeat ? heartbeatComment : SSEFrame(event).bytes)
            }
            try await writer.finish(nil)
            withExtendedLifetime(permit) {}
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
