import Crypto
import Foundation
import GatewayCore

/// Daily's webhooks: `X-Webhook-Signature` is base64 HMAC-SHA256 over `<X-Webhook-Timestamp>.<body>` with
/// the webhook's `hmac` secret (itself base64); the body is `{version, type, id, payload, event_ts}`.
public struct DailyWebhook: ProviderWebhookVerifier {
    /// Daily's webhook `hmac`, base64 as Daily gives it.
    public let secret: String
    /// How far the signed timestamp may be from now.
    public let tolerance: TimeInterval

    public init(secret: String, tolerance: TimeInterval) {
        self.secret = secret
        self.tolerance = tolerance
    }

    public func verify(_ request: ProviderWebhookRequest) throws(ProviderWebhookError) -> ProviderWebhookOutcome {
        guard let timestamp = request.header("X-Webhook-Timestamp"),
            let signature = request.header("X-Webhook-Signature"),
            let key = Data(base64Encoded: secret)
        else { throw ProviderWebhookError.invalidSignature }
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("\(timestamp).".utf8) + request.body, using: SymmetricKey(data: key))
        guard SecureToken.constantTimeEquals(Data(mac).base64EncodedString(), signature) else {
            throw ProviderWebhookError.invalidSignature
        }
        try WebhookDigest.checkFreshness(seconds: TimeInterval(timestamp), now: request.now, tolerance: tolerance)
        return .event(try Self.event(in: request.body))
    }

    struct Envelope: Decodable {
        struct Payload: Decodable {
            let room: String?
            let room_name: String?
            /// Participant events: whether the participant's meeting token made them the room's owner.
            let owner: Bool?
        }
        let id: String
        let type: String
        let payload: Payload?
    }

    /// The event a verified body carries.
    static func event(in raw: Data) throws(ProviderWebhookError) -> ProviderWebhookEvent {
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: raw) else {
            throw ProviderWebhookError.unreadable
        }
        let meaning: ProviderWebhookEvent.Meaning
        switch envelope.type {
        case "recording.started": meaning = .recordingStarted
        case "participant.joined", "waiting-participant.joined": meaning = .participantJoined
        case "participant.left", "waiting-participant.left": meaning = .participantLeft
        case "meeting.ended": meaning = .meetingEnded
        default: meaning = .other(envelope.type)
        }
        return ProviderWebhookEvent(
            id: envelope.id, meaning: meaning, roomID: envelope.payload?.room ?? envelope.payload?.room_name,
            isHost: envelope.payload?.owner)
    }
}
