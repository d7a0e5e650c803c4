import GatewayCore
import Hummingbird

/// One entry of `SCHEDULER_API_KEYS`: `key`, or `name:key` so that logs and audit records can say
/// which scheduler client acted without showing its key.
public struct SchedulerKey: Sendable, Equatable {
    public static let minimumLength = 32

    public let name: String?
    public let key: String

    public init(_ entry: String) {
        if let colon = entry.firstIndex(of: ":") {
            name = String(entry[..<colon])
            key = String(entry[entry.index(after: colon)...])
        } else {
            name = nil
            key = entry
        }
    }

    /// A name is 1–64 of `A-Z a-z 0-9 . _ -`.
    public var hasValidName: Bool {
        guard let name else { return true }
        return BookingID(name) != nil
    }

    /// Who acted, for the audit trail.
    public var actor: SessionActor { name.map(SessionActor.schedulerClient) ?? .scheduler }

    /// The key `presented` matches, compared in constant time against every key (no early stop).
    static func matching(_ presented: String, in keys: [SchedulerKey]) -> SchedulerKey? {
        var matched: SchedulerKey?
        for key in keys where SecureToken.constantTimeEquals(key.key, presented) {
            matched = key
        }
        return presented.isEmpty ? nil : matched
    }
}

/// Lets a request through only with `Authorization: Bearer <key>` for one of the scheduler keys, and
/// records which named client it was.
struct SchedulerAuthenticator: RouterMiddleware {
    let keys: [SchedulerKey]

    init(keys entries: [String]) {
        keys = entries.map(SchedulerKey.init)
    }

    func handle(
        _ request: Request, context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw Problem.unauthorized
        }
        guard let matched = SchedulerKey.matching(String(header.dropFirst("Bearer ".count)), in: keys) else {
            throw Problem.unauthorized
        }
        var context = context
        context.schedulerActor = matched.actor
        if let name = matched.name { context.logger[metadataKey: "scheduler.client"] = "\(name)" }
        return try await next(request, context)
    }
}
