import GatewayCore
import Hummingbird
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

    /// The peer's IP address, for rate limits.
    public let remoteIP: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteIP = source.channel.remoteAddress?.ipAddress
    }

    public var maxUploadSize: Int { Self.maximumBodySize }
}
