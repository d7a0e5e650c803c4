import GatewayHTTP
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import Synchronization

/// What one connection may hold of the server (`SERVER_*` settings):
/// - `headTimeout`: a new connection must complete its first request head within this (a client that
///   opens connections and sends nothing, or sends its headers a byte at a time, is cut off);
/// - `idleTimeout`: a keep-alive connection with no request in progress is closed after this;
/// - `writeTimeout`: a connection that completes no write for this long is closed (a client that stops
///   reading an event stream, whose writes would otherwise wait for ever). Event streams stay open while
///   their heartbeats go out, so it must be longer than `SSE_HEARTBEAT_SECONDS`; they are not idle;
/// - `perAddress`: open connections per client address, refused beyond; the trusted proxies' own
///   addresses are not limited (every citizen behind them shares them).
struct ConnectionLimits: Sendable {
    var headTimeout: Duration
    var idleTimeout: Duration
    var writeTimeout: Duration
    var perAddress: Int
    var trustedProxies: TrustedProxies

    func server() -> HTTPServerBuilder {
        let counter = OpenConnections()
        let limits = self
        return .http1(
            configuration: .init(
                additionalChannelHandlers: [
                    ConnectionCap(limit: limits.perAddress, counter: counter, exempt: limits.trustedProxies),
                    FirstHeadDeadline(timeout: limits.headTimeout.timeAmount),
                    WriteProgressTimeout(timeout: limits.writeTimeout.timeAmount),
                    PeerClosedSignal(),
                ],
                idleTimeout: idleTimeout.timeAmount))
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }
}

/// Open connections by client address, shared by every connection of the server.
final class OpenConnections: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    /// Counts one more connection from `address`; `false` (and not counted) when it would pass `limit`.
    func open(_ address: String, limit: Int) -> Bool {
        counts.withLock { counts in
            let current = counts[address, default: 0]
            guard current < limit else { return false }
            counts[address] = current + 1
            return true
        }
    }

    func close(_ address: String) {
        counts.withLock { counts in
            let remaining = counts[address, default: 1] - 1
            counts[address] = remaining > 0 ? remaining : nil
        }
    }

    func count(_ address: String) -> Int { counts.withLock { $0[address, default: 0] } }
}

/// Refuses (closes at once) a connection beyond the per-address limit.
final class ConnectionCap: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let limit: Int
    private let counter: OpenConnections
    private let exempt: TrustedProxies
    private var countedAddress: String?

    init(limit: Int, counter: OpenConnections, exempt: TrustedProxies) {
        self.limit = limit
        self.counter = counter
        self.exempt = exempt
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if countedAddress == nil { admit(context) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release()
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard let address = context.channel.remoteAddress?.ipAddress, !exempt.contains(address) else { return }
        if counter.open(address, limit: limit) {
            countedAddress = address
        } else {
            context.close(promise: nil)
        }
    }

    private func release() {
        if let address = countedAddress {
            counter.close(address)
            countedAddress = nil
        }
    }
}

/// Closes a new connection whose first request head has not arrived within `timeout`.
final class FirstHeadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            loopBound.value.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data), let deadline {
            deadline.cancel()
            self.deadline = nil
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}

/// Closes a connection that completes no write for `timeout`: an idle or half-open connection, or an
/// event stream whose reader stopped once the kernel's send buffer is full.
///
/// What NIO's `IdleStateHandler(writeTimeout:)` does, for less: that handler makes a promise and a
/// callback for every write (three or more an answer), which cost 13 points of `/healthz` against the
/// bare route (BENCHMARKS.md). Writes complete in the order they were made, so following one write
/// at a time tells the same thing: the first write is followed, the writes made while it is pending
/// pass untouched, and the next write after it completed is followed again.
final class WriteProgressTimeout: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny

    private let timeout: TimeAmount
    /// On the event loop's clock (`EventLoop.now`), the one its scheduled checks run on.
    private var lastCompleted = NIODeadline.uptimeNanoseconds(0)
    private var following = false
    private var check: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startChecking(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        if check == nil { startChecking(context) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopChecking()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopChecking()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !following else {
            context.write(data, promise: promise)
            return
        }
        following = true
        let loop = context.eventLoop
        let followed = promise ?? loop.makePromise()
        followed.futureResult.assumeIsolated().whenComplete { _ in
            self.following = false
            self.lastCompleted = loop.now
        }
        context.write(data, promise: followed)
    }

    private func startChecking(_ context: ChannelHandlerContext) {
        lastCompleted = context.eventLoop.now
        schedule(context, in: timeout)
    }

    private func schedule(_ context: ChannelHandlerContext, in delay: TimeAmount) {
        check = context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            let quiet = context.eventLoop.now - self.lastCompleted
            if quiet >= self.timeout {
                context.close(promise: nil)
            } else {
                self.schedule(context, in: self.timeout - quiet)
            }
        }
    }

    private func stopChecking() {
        check?.cancel()
        check = nil
    }
}
