import Crypto
import Foundation
import GatewayCore
import MeetingProviders
import SessionOrchestration

/// The envelope of every event the gateway POSTs (scheduler callbacks, contact-centre tasks).
public struct WebhookEvent<Payload: Encodable & Sendable>: Encodable, Sendable {
    /// Stable per booking, type and generation: receivers deduplicate on it.
    public let id: String
    public let type: String
    public let occurredAt: String
    public let bookingId: String
    public let data: Payload
}

/// POSTs JSON signed as `Gateway-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
public struct SignedWebhookSender: Sendable {
    private let transport: any HTTPTransport
    private let secret: String
    private let clock: any GatewayClock

    public init(transport: any HTTPTransport, secret: String, clock: any GatewayClock) {
        self.transport = transport
        self.secret = secret
        self.clock = clock
    }

    /// A stable event id: `evt_` + 32 hex digits of SHA-256(booking, type, generation).
    public static func eventID(bookingID: BookingID, type: String, generation: Int) -> String {
        let digest = SHA256.hash(data: Data("\(bookingID.rawValue)|\(type)|\(generation)".utf8))
        return "evt_" + digest.prefix(16).lowercaseHex
    }

    public static func signature(secret: String, timestamp: Int, body: Data) -> String {
        let message = Data("\(timestamp).".utf8) + body
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + mac.lowercaseHex
    }

    public func post(_ event: WebhookEvent<some Encodable & Sendable>, to url: URL) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = try encoder.encode(event)
        let timestamp = Int(clock.now.timeIntervalSince1970)
        let request = HTTPRequest(
            method: "POST", url: url,
            headers: [
                "Content-Type": "application/json",
                "Gateway-Signature": Self.signature(secret: secret, timestamp: timestamp, body: body),
                "Gateway-Event-Id": event.id,
                "User-Agent": "video-session-gateway",
            ],
            body: body, timeout: .seconds(10))
        let response: HTTPResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw NotificationError.temporary("webhook: \(url.host ?? "host") unreachable")
        }
        switch response.status {
        case 200..<300:
            return
        case 300..<400:
            // Never followed: the receiver is configured by its exact URL, and a redirect could take the
            // signed event elsewhere.
            throw NotificationError.redirected(
                "webhook: \(url.host ?? "host") answered \(response.status) with a redirect, which is never followed")
        case 408, 429, 500..<600:
            throw NotificationError.temporary("webhook: \(url.host ?? "host") answered \(response.status)")
        default:
            throw NotificationError.permanent("webhook: \(url.host ?? "host") answered \(response.status)")
        }
    }
}
