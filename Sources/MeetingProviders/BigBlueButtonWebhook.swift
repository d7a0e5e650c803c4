import Foundation
import GatewayCore

/// bbb-webhooks: the `checksum` query item is hex `sha(<callback URL><body><shared secret>)` with the
/// configured algorithm; the body is a form with `event` (a JSON array) and `timestamp` (milliseconds).
public struct BigBlueButtonWebhook: ProviderWebhookVerifier {
    /// BigBlueButton's shared secret.
    public let secret: String
    /// The checksum algorithm's name (`sha1`, `sha256`, `sha384`, `sha512`); any other refuses every delivery.
    public let algorithm: String
    /// The callback URL the hooks were registered with, exactly.
    public let callbackURL: String
    /// How far the event's timestamp may be from now.
    public let tolerance: TimeInterval

    public init(secret: String, algorithm: String, callbackURL: String, tolerance: TimeInterval) {
        self.secret = secret
        self.algorithm = algorithm
        self.callbackURL = callbackURL
        self.tolerance = tolerance
    }

    public func verify(_ request: ProviderWebhookRequest) throws(ProviderWebhookError) -> ProviderWebhookOutcome {
        guard let checksum = request.query["checksum"] else { throw ProviderWebhookError.invalidSignature }
        // An unknown algorithm is refused at start; never a silent fallback.
        guard let algorithm = BigBlueButtonProvider.ChecksumAlgorithm(rawValue: algorithm) else {
            throw ProviderWebhookError.invalidSignature
        }
        let expected = algorithm.hexDigest(of: Data(callbackURL.utf8) + request.body + Data(secret.utf8))
        guard SecureToken.constantTimeEquals(expected, checksum) else { throw ProviderWebhookError.invalidSignature }
        return .event(try Self.event(in: request.body, now: request.now, tolerance: tolerance))
    }

    struct Item: Decodable {
        struct Data: Decodable {
            struct Attributes: Decodable {
                struct Meeting: Decodable {
                    let externalMeetingID: String?
                    enum CodingKeys: String, CodingKey { case externalMeetingID = "external-meeting-id" }
                }
                let meeting: Meeting?
            }
            let id: String
            let attributes: Attributes?
        }
        let data: Data
    }

    /// The fields of a form body (`application/x-www-form-urlencoded`); the first of a repeated name
    /// wins. A field that is not valid percent-encoding makes the body unreadable (never a crash:
    /// Foundation's `URLComponents` stops the process on such a query).
    static func formFields(_ raw: Data) throws(ProviderWebhookError) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: raw, as: UTF8.self).split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ text: Substring) throws(ProviderWebhookError) -> String {
                guard let value = text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw ProviderWebhookError.unreadable
                }
                return value
            }
            let name = try decoded(parts[0])
            let value = parts.count > 1 ? try decoded(parts[1]) : ""
            if fields[name] == nil { fields[name] = value }
        }
        return fields
    }

    /// The event a verified body carries, once its timestamp is fresh; the body's digest is the event id.
    static func event(in raw: Data, now: Date, tolerance: TimeInterval) throws(ProviderWebhookError)
        -> ProviderWebhookEvent
    {
        let fields = try formFields(raw)
        guard let milliseconds = fields["timestamp"].flatMap(Double.init) else { throw ProviderWebhookError.unreadable }
        guard abs(now.timeIntervalSince1970 - milliseconds / 1000) <= tolerance else {
            throw ProviderWebhookError.staleTimestamp
        }
        guard let json = fields["event"], let items = try? JSONDecoder().decode([Item].self, from: Data(json.utf8)),
            let item = items.first
        else { throw ProviderWebhookError.unreadable }
        let meaning: ProviderWebhookEvent.Meaning
        switch item.data.id {
        case "meeting-recording-started", "rap-archive-started": meaning = .recordingStarted
        case "user-joined": meaning = .participantJoined
        case "user-left": meaning = .participantLeft
        case "meeting-ended": meaning = .meetingEnded
        default: meaning = .other(item.data.id)
        }
        return ProviderWebhookEvent(
            id: WebhookDigest.contentID(of: raw), meaning: meaning,
            roomID: item.data.attributes?.meeting?.externalMeetingID)
    }
}
