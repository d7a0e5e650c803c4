import Foundation
import Hummingbird
import SessionOrchestration
import Synchronization

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

    /// What one stream may hold unwritten; a reader further behind is closed and resumes with
    /// `Last-Event-ID`.
    static let maximumPendingBytes = 256 * 1024

    static let tooManyStreams = Problem(
        .tooManyRequests, code: "too_many_streams", title: "Too many open event streams",
        detail: "close another stream of this ticket, attendant or address first")

    static func response(
        snapshot: [SSEFrame], subscription: LiveEventBus.Subscription, heartbeat: Duration,
        permit: StreamLimiter.Permit, onEnd: @escaping @Sendable () -> Void = {}
    ) -> Response {
        let body = ResponseBody { writer in
            defer { onEnd() }
            let (frames, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .unbounded)
            let pending = PendingBytes(limit: maximumPendingBytes)
            let forwarder = Task {
                for await event in subscription.events {
                    let frame = SSEFrame(event).bytes
                    guard pending.add(frame.readableBytes) else { break }
                    continuation.yield(frame)
                }
                continuation.finish()
            }
            let beats = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: heartbeat)
                    if Task.isCancelled { break }
                    let beat = ByteBuffer(string: ": heartbeat\n\n")
                    guard pending.add(beat.readableBytes) else {
                        continuation.finish()
                        break
                    }
                    continuation.yield(beat)
                }
            }
            defer {
                forwarder.cancel()
                beats.cancel()
            }
            try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
            for frame in snapshot { try await writer.write(frame.bytes) }
            for event in subscription.replay { try await writer.write(SSEFrame(event).bytes) }
            for await frame in frames {
                try await writer.write(frame)
                pending.remove(frame.readableBytes)
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

/// Bytes queued for one stream and not yet written; refuses more beyond the limit.
final class PendingBytes: Sendable {
    private let limit: Int
    private let count = Mutex(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Adds `bytes` unless that would pass the limit.
    func add(_ bytes: Int) -> Bool {
        count.withLock { count in
            guard count + bytes <= limit else { return false }
            count += bytes
            return true
        }
    }

    func remove(_ bytes: Int) {
        count.withLock { $0 -= bytes }
    }
}
