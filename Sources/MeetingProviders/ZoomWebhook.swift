import Foundation
import GatewayCore

/// Zoom's webhooks: `x-zm-signature` is `v0=` and hex HMAC-SHA256 over `v0:<x-zm-request-timestamp>:<body>`
/// with the app's secret token; the body is `{event, event_ts, payload: {object: {id, topic}}}`. Zoom checks
/// the endpoint with a signed `endpoint.url_validation` event, answered with the token and its HMAC.
public struct ZoomWebhook: ProviderWebhookVerifier {
    /// Zoom's secret token.
    public let secretToken: String
    /// How far the signed timestamp may be from now.
    public let tolerance: TimeInterval

    public init(secretToken: String, tolerance: TimeInterval) {
        self.secretToken = secretToken
        self.tolerance = tolerance
    }

    public func verify(_ request: ProviderWebhookRequest) throws(ProviderWebhookError) -> ProviderWebhookOutcome {
        guard let timestamp = request.header("x-zm-request-timestamp"), let signature = request.header("x-zm-signature")
        else { throw ProviderWebhookError.invalidSignature }
        let key = Data(secretToken.utf8)
        let expected = "v0=" + WebhookDigest.hexHMAC(key: key, Data("v0:\(timestamp):".utf8) + request.body)
        guard SecureToken.constantTimeEquals(expected, signature) else { throw ProviderWebhookError.invalidSignature }
        try WebhookDigest.checkFreshness(seconds: TimeInterval(timestamp), now: request.now, tolerance: tolerance)
        if let challenge = try? JSONDecoder().decode(Validation.self, from: request.body),
            challenge.event == "endpoint.url_validation"
        {
            let plainToken = challenge.payload.plainToken
            return .challengeJSON(
                ["plainToken": plainToken, "encryptedToken": WebhookDigest.hexHMAC(key: key, Data(plainToken.utf8))])
        }
        return .event(try Self.event(in: request.body))
    }

    struct Validation: Decodable {
        struct Payload: Decodable { let plainToken: String }
        let event: String
        let payload: Payload
    }

    struct Envelope: Decodable {
        struct Payload: Decodable {
            struct Object: Decodable {
                let id: ZoomMeetingID?
                let topic: String?
            }
            let object: Object?
        }
        let event: String
        let payload: Payload?
    }

    /// The event a verified body carries; Zoom gives no event id, so the body's digest is the id.
    static func event(in raw: Data) throws(ProviderWebhookError) -> ProviderWebhookEvent {
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: raw) else {
            throw ProviderWebhookError.unreadable
        }
        let meaning: ProviderWebhookEvent.Meaning
        switch envelope.event {
        case "recording.started": meaning = .recordingStarted
        case "meeting.participant_joined": meaning = .participantJoined
        case "meeting.participant_left": meaning = .participantLeft
        case "meeting.ended": meaning = .meetingEnded
        default: meaning = .other(envelope.event)
        }
        return ProviderWebhookEvent(
            id: WebhookDigest.contentID(of: raw), meaning: meaning, roomID: envelope.payload?.object?.id?.value)
    }
}
