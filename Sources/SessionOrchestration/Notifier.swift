import GatewayCore
import MeetingProviders

/// Sends what the session's transitions ask for: e-mails to the citizen, the contact centre's callback
/// task, the scheduler's events. Every call is safe to repeat (stable message and event ids).
public protocol Notifier: Sendable {
    func sendNotice(_ notice: CitizenNotice, for session: Session, validationCode: String?) async throws
    /// E-mails a companion their own link and validation code.
    func sendCompanionInvitation(_ companionID: String, for session: Session, validationCode: String) async throws
    func sendFallback(_ channel: FallbackChannel, for session: Session) async throws
    func notifyScheduler(_ event: SchedulerEvent, about session: Session) async throws
}

/// A failure the job worker can classify: retry later, or give up with a stable code.
public protocol DeliveryFailure: Error {
    var isRetryable: Bool { get }
    var code: String { get }
    var message: String { get }
}

/// Why a notification could not be delivered.
public enum NotificationError: DeliveryFailure, Equatable {
    /// The channel has no configuration (no SMTP_URL, no webhook URL).
    case notConfigured(String)
    /// A failure that may pass (connection refused, timeout, 4xx SMTP, 5xx HTTP).
    case temporary(String)
    /// A failure that will not pass (recipient refused, 4xx HTTP other than 408/429).
    case permanent(String)
    /// Personal data needed for the message was erased or never given.
    case missingContact(String)
    /// The receiver answered with a redirect, which is never followed.
    case redirected(String)

    public var isRetryable: Bool {
        if case .temporary = self { return true }
        return false
    }

    public var code: String {
        switch self {
        case .notConfigured: "not_configured"
        case .temporary: "delivery_failed"
        case .permanent: "delivery_refused"
        case .missingContact: "missing_contact"
        case .redirected: "webhook_redirect"
        }
    }

    public var message: String {
        switch self {
        case .notConfigured(let text), .temporary(let text), .permanent(let text), .missingContact(let text),
            .redirected(let text): text
        }
    }
}

/// Sends nothing and says so; for a gateway with no notification channel configured.
public struct UnconfiguredNotifier: Notifier {
    public init() {}

    public func sendNotice(_ notice: CitizenNotice, for session: Session, validationCode: String?) async throws {
        throw NotificationError.notConfigured("no e-mail channel configured")
    }

    public func sendFallback(_ channel: FallbackChannel, for session: Session) async throws {
        throw NotificationError.notConfigured("no \(channel.rawValue) channel configured")
    }

    /// Scheduler callbacks are optional: without a URL there is nothing to send.
    public func notifyScheduler(_ event: SchedulerEvent, about session: Session) async throws {}
}

extension ProviderError: DeliveryFailure {}

extension Notifier {
    /// Without an e-mail channel a companion's invitation is not sent, and says so.
    public func sendCompanionInvitation(_ companionID: String, for session: Session, validationCode: String) async throws {
        throw NotificationError.notConfigured("no e-mail channel configured")
    }
}
