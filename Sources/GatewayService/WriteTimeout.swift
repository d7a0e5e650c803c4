import Hummingbird
import HummingbirdCore
import NIOCore

/// Closes a connection that has completed no write for `timeout`: a client that stops reading an
/// event stream (its writes then wait for ever), or an idle keep-alive connection. Event streams stay
/// open while their heartbeats go out, so the timeout must be longer than `SSE_HEARTBEAT_SECONDS`.
enum WriteTimeout {
    static func server(after timeout: Duration) -> HTTPServerBuilder {
        let amount = TimeAmount.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
        return .http1(
            configuration: .init(
                additionalChannelHandlers: [IdleStateHandler(writeTimeout: amount), CloseOnWriteIdle()]))
    }
}

/// Closes the channel on the write-idle event of the `IdleStateHandler` before it.
final class CloseOnWriteIdle: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case IdleStateHandler.IdleStateEvent.write = event {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
