import Crypto
import Foundation
import MeetingProviders

/// Signing and reading helpers for the providers' webhook tests. They sign as the providers do, on
/// their own rather than through the verifiers' `WebhookDigest`: a test that signed with the code it
/// checks could not catch a mistake in it.
enum WebhookTestSupport {
    /// A fixed "now": 2026-12-01T10:00:00Z.
    static let now = Date(timeIntervalSince1970: 1_796_119_200)

    static var unixNow: Int { Int(now.timeIntervalSince1970) }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func hexHMAC(key: Data, _ message: Data) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// The id an event without its own id is given: the digest of its bytes.
    static func contentID(of body: Data) -> String {
        "sha256:" + hex(SHA256.hash(data: body))
    }

    /// `body` with the byte at `index` changed.
    static func flippingByte(of body: Data, at index: Int) -> Data {
        var copy = body
        copy[copy.startIndex + index] ^= 0x01
        return copy
    }

    /// The event of an outcome; nil for a challenge.
    static func event(of outcome: ProviderWebhookOutcome) -> ProviderWebhookEvent? {
        if case .event(let event) = outcome { return event }
        return nil
    }

    /// The error `verify` throws for `request`; nil when it accepts the delivery.
    static func refusal(_ verifier: some ProviderWebhookVerifier, _ request: ProviderWebhookRequest)
        -> ProviderWebhookError?
    {
        do throws(ProviderWebhookError) {
            _ = try verifier.verify(request)
            return nil
        } catch {
            return error
        }
    }
}
