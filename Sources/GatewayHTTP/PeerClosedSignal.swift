import NIOCore
import Synchronization

/// Tells when a client has closed its side of a connection. The server allows half-closed connections
/// (a client may send its request, close its side and still read the answer), so a client that goes
/// away leaves the channel open until a write to it fails: a heartbeat later. An event stream watches
/// this instead, and ends as soon as its client is gone.
public final class PeerClosedSignal: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny

    /// The signal of each open channel that has this handler.
    private static let signals = Mutex<[ObjectIdentifier: EventLoopFuture<Void>]>([:])

    private var promise: EventLoopPromise<Void>?

    public init() {}

    /// Completes when `channel`'s client closed its side (or the channel closed); the channel's close
    /// when the channel has no `PeerClosedSignal`.
    public static func future(for channel: any Channel) -> EventLoopFuture<Void> {
        signals.withLock { $0[ObjectIdentifier(channel)] } ?? channel.closeFuture
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: Void.self)
        self.promise = promise
        let key = ObjectIdentifier(context.channel)
        Self.signals.withLock { $0[key] = promise.futureResult }
        context.channel.closeFuture.whenComplete { _ in
            Self.signals.withLock { _ = $0.removeValue(forKey: key) }
            promise.succeed()
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            promise?.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }
}
