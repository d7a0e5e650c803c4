import GatewayCore
import Hummingbird
import NIOCore
import SessionOrchestration

/// The request context of every gateway route: request bodies are limited to 64 KiB.
public struct GatewayRequestContext: RequestContext {
    public static let maximumBodySize = 64 * 1024

    public var coreContext: CoreRequestContextStorage
    /// The attendant of a request that carried a valid attendant token.
    public var attendant: AttendantIdentity?
    /// The reader of a report or audit trail (the scheduler or a supervisor).
    var oversight: Oversight?
    /// The scheduler client of a request that carried a valid scheduler key (named when its key is).
    public var schedulerActor: SessionActor = .scheduler

    /// The TCP peer's address.
    public let peerIP: String?
    /// The client's address, for rate limits and stream caps: the peer's, or behind a trusted proxy the
    /// forwarded one (see `TrustedProxies`).
    public var remoteIP: String?
    /// `http` or `https` as a trusted proxy forwarded it; `nil` otherwise.
    public var clientScheme: String?
    private let channel: any Channel

    /// Completes when the client closed its side of the connection (a closed page), before any write
    /// would notice (`PeerClosedSignal`).
    public var connectionClosed: EventLoopFuture<Void> { PeerClosedSignal.future(for: channel) }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerIP = source.channel.remoteAddress?.ipAddress
        remoteIP = peerIP
        channel = source.channel
    }

    public var maxUploadSize: Int { Self.maximumBodySize }
}
