import Crypto
import Foundation
import GatewayCore

/// A provider's webhook event, verified and read: what it means for the gateway and which room it names.
public struct ProviderWebhookEvent: Sendable, Equatable {
    /// What a verified event means for the gateway.
    public enum Meaning: Sendable, Equatable {
        case recordingStarted
        case participantJoined
        case participantLeft
        case meetingEnded
        /// Any other event, by the provider's own name for it.
        case other(String)
    }

    /// The event's id, for deduplication: the provider's own where it gives one, else `sha256:` and the
    /// hex digest of the delivered bytes.
    public let id: String
    public let meaning: Meaning
    /// The provider's room id the event names (Daily's room name, Zoom's meeting id, BigBlueButton's external
    /// meeting id, the Teams online meeting id), if any.
    public let roomID: String?
    /// For participant events: whether the provider names them the room's owner (the host).
    public var isHost: Bool?

    public init(id: String, meaning: Meaning, roomID: String?, isHost: Bool? = nil) {
        self.id = id
        self.meaning = meaning
        self.roomID = roomID
        self.isHost = isHost
    }
}

/// What a route has read of a webhook delivery: nothing is parsed yet.
public struct ProviderWebhookRequest: Sendable {
    /// The header fields by lowercase name; repeated fields joined by `, `.
    public var headers: [String: String]
    /// The query items, percent-decoded; the first of repeated names.
    public var query: [String: String]
    /// The body exactly as delivered: signatures cover these bytes.
    public var body: Data
    /// The time the delivery is judged at, for timestamp freshness.
    public var now: Date

    public init(headers: [String: String] = [:], query: [String: String] = [:], body: Data, now: Date) {
        self.headers = headers
        self.query = query
        self.body = body
        self.now = now
    }

    /// The header field `name`, whatever its case.
    public func header(_ name: String) -> String? {
        headers[name.lowercased()]
    }
}

/// What a verified delivery asks of the gateway: an event to act on, or a reply the provider expects instead.
public enum ProviderWebhookOutcome: Sendable, Equatable {
    case event(ProviderWebhookEvent)
    /// A challenge to answer with this JSON object (Zoom's `endpoint.url_validation`).
    case challengeJSON([String: String])
    /// A challenge to answer with this text, as `text/plain` (Graph's `validationToken`).
    case challengeText(String)
}

/// Why a delivery is refused.
public enum ProviderWebhookError: Error, Sendable, Equatable {
    /// The signature (or Graph's `clientState`) is missing or does not match.
    case invalidSignature
    /// The signed timestamp is further from now than the tolerance.
    case staleTimestamp
    /// The delivery is authentic but its content cannot be read.
    case unreadable
}

/// One provider's webhook check: it verifies a delivery on its raw bytes before it reads them.
public protocol ProviderWebhookVerifier: Sendable {
    /// The delivery's outcome once verified.
    func verify(_ request: ProviderWebhookRequest) throws(ProviderWebhookError) -> ProviderWebhookOutcome
}

/// Helpers the providers' verifiers share.
enum WebhookDigest {
    /// Lowercase hex of `bytes`.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.lowercaseHex
    }

    /// Lowercase hex of HMAC-SHA256(`key`, `message`).
    static func hexHMAC(key: Data, _ message: Data) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// The id of an event that carries none of its own: `sha256:` and the hex digest of its bytes.
    static func contentID(of raw: Data) -> String {
        "sha256:" + hex(SHA256.hash(data: raw))
    }

    /// A signed timestamp in seconds is within `tolerance` of `now`; one that is not a number is no signature.
    static func checkFreshness(seconds: TimeInterval?, now: Date, tolerance: TimeInterval) throws(ProviderWebhookError)
    {
        guard let seconds else { throw ProviderWebhookError.invalidSignature }
        guard abs(now.timeIntervalSince1970 - seconds) <= tolerance else { throw ProviderWebhookError.staleTimestamp }
    }
}
