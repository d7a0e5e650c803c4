import Hummingbird
import MeetingProviders

extension Problem {
    /// The problem a refused webhook delivery answers with.
    init(_ error: ProviderWebhookError) {
        switch error {
        case .invalidSignature: self.init(.unauthorized, code: "invalid_signature", title: "Invalid signature")
        case .staleTimestamp: self.init(.unauthorized, code: "stale_timestamp", title: "Stale timestamp")
        case .unreadable: self.init(.badRequest, code: "invalid_event", title: "The event could not be read")
        }
    }

    /// A webhook for a provider this gateway has no secret for, or does not know.
    static let unknownWebhookProvider = Problem(
        .notFound, code: "unknown_provider", title: "No webhook for this provider")
}
