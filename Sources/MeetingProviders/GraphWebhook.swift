import Foundation
import GatewayCore

/// Microsoft Graph change notifications: `{value: [{subscriptionId, clientState, resource, resourceData}]}`
/// (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks). Graph signs nothing: every
/// notification must carry the subscriptions' `clientState`. A new subscription's `validationToken` query
/// is echoed back as text.
///
/// A recording notification names its meeting in `resource` (and `resourceData.@odata.id`) as
/// `communications/onlineMeetings('{meetingId}')/recordings('{recordingId}')`
/// (https://learn.microsoft.com/graph/teams-changenotifications-callrecording-and-calltranscript); that
/// meeting id is the session's `room.providerRoomID`. Lifecycle notifications (`lifecycleEvent`) name no
/// resource, so they reach no session.
public struct GraphWebhook: ProviderWebhookVerifier {
    /// The `clientState` of the gateway's Microsoft Graph subscriptions.
    public let clientState: String

    public init(clientState: String) {
        self.clientState = clientState
    }

    public func verify(_ request: ProviderWebhookRequest) throws(ProviderWebhookError) -> ProviderWebhookOutcome {
        if let token = request.query["validationToken"] {
            return .challengeText(token.replacingOccurrences(of: "+", with: " "))
        }
        return .event(try Self.event(in: request.body, clientState: clientState))
    }

    struct Notifications: Decodable {
        struct Notification: Decodable {
            struct ResourceData: Decodable {
                let odataType: String?
                let odataID: String?
                let eventType: String?
                enum CodingKeys: String, CodingKey {
                    case odataType = "@odata.type"
                    case odataID = "@odata.id"
                    case eventType
                }
            }
            let subscriptionId: String?
            let clientState: String?
            let resource: String?
            let resourceData: ResourceData?
            let lifecycleEvent: String?

            var isRecording: Bool { resourceData?.odataType?.lowercased().contains("callrecording") == true }
        }
        let value: [Notification]
    }

    /// The event a delivery carries once every notification in it shows `clientState`; the body's digest is
    /// the event id.
    static func event(in raw: Data, clientState: String) throws(ProviderWebhookError) -> ProviderWebhookEvent {
        guard let notifications = try? JSONDecoder().decode(Notifications.self, from: raw), !notifications.value.isEmpty
        else { throw ProviderWebhookError.unreadable }
        // Every notification must carry our clientState (Graph's proof of origin for basic notifications).
        guard notifications.value.allSatisfy({ SecureToken.constantTimeEquals($0.clientState ?? "", clientState) })
        else {
            throw ProviderWebhookError.invalidSignature
        }
        // Graph may batch notifications: a recording among them is the one acted on.
        let notification = notifications.value.first(where: \.isRecording) ?? notifications.value[0]
        let meaning: ProviderWebhookEvent.Meaning
        switch (notification.isRecording, notification.resourceData?.eventType ?? "", notification.lifecycleEvent) {
        case (true, _, _): meaning = .recordingStarted
        case (_, _, let lifecycle?): meaning = .other(lifecycle)
        case (_, "Microsoft.Communication.CallEnded", _): meaning = .meetingEnded
        case (_, let event, _): meaning = .other(event)
        }
        return ProviderWebhookEvent(
            id: WebhookDigest.contentID(of: raw), meaning: meaning,
            roomID: meetingID(in: notification.resource) ?? meetingID(in: notification.resourceData?.odataID))
    }

    /// The key of `onlineMeetings('…')` in a resource path; nil when the path names no meeting by its id
    /// (a meeting call event names it by `joinWebUrl` instead).
    static func meetingID(in resource: String?) -> String? {
        guard let resource, let open = resource.range(of: "onlineMeetings('") else { return nil }
        let rest = resource[open.upperBound...]
        guard let close = rest.range(of: "')") else { return nil }
        let id = String(rest[..<close.lowerBound])
        return id.isEmpty ? nil : id
    }
}
