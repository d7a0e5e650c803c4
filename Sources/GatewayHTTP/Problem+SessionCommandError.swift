import GatewayCore
import Hummingbird
import MeetingProviders
import SessionOrchestration

extension Problem {
    /// The problem a refused command answers with.
    init(_ error: SessionCommandError) {
        switch error {
        case .notFound(let id):
            self = .sessionNotFound(id.rawValue)
        case .unknownProvider(let name):
            self.init(
                .unprocessableContent, code: "unknown_provider", title: "Unknown provider",
                detail: "provider \(name) is not one of \(ProviderRegistry.knownNames.sorted().joined(separator: ", "))",
                errors: [.init(field: "provider", message: "is not a known provider")])
        case .providerNotConfigured(let name):
            self.init(
                .unprocessableContent, code: "provider_not_configured", title: "Provider not configured",
                detail: "provider \(name) has no credentials on this gateway",
                errors: [.init(field: "provider", message: "is not configured on this gateway")])
        case .refused(let refusal):
            self.init(
                .conflict, code: refusal.code.rawValue, title: "Not possible in state \(refusal.state.rawValue)",
                detail: "the session is \(refusal.state.rawValue)")
        case .notVisible:
            self.init(.forbidden, code: "forbidden", title: "This session is not yours")
        case .roomNotReady:
            self.init(.conflict, code: "room_not_ready", title: "The meeting room is not ready yet")
        case .missingContact(let channel):
            self.init(
                .unprocessableContent, code: "missing_contact", title: "No contact data for this channel",
                detail: "the citizen gave no \(channel == .phone ? "phone number" : "e-mail address")")
        case .messageLimitReached(let limit):
            self.init(
                .conflict, code: "message_limit_reached", title: "This session holds the most messages it may",
                detail: "at most \(limit) messages per session")
        case .unknownParticipant:
            self.init(
                .unprocessableContent, code: "unknown_participant", title: "No such participant in this session",
                errors: [.init(field: "participant", message: "must be citizen or a companion of this session")])
        }
    }
}
