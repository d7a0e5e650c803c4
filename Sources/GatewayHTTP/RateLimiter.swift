import Crypto
import Foundation
import GatewayCore
import GatewayStorage

/// Fixed-window attempt limits per key (a client address, a link), counted in the database so that every
/// replica counts against the same limit. Keys are stored hashed: a link token is a secret.
struct RateLimiter: Sendable {
    let store: any AttemptStore

    /// Counts one attempt for `key`; returns the seconds to wait when over `limit` per `window`.
    func retryAfter(key: String, limit: Int, window: Duration = .seconds(60), now: Date = Date()) async throws -> Int? {
        let hashed = SHA256.hash(data: Data(key.utf8)).lowercaseHex
        let counted = try await store.countAttempt(key: hashed, at: now, window: window)
        guard counted.count > limit else { return nil }
        let remaining = Double(window.components.seconds) - now.timeIntervalSince(counted.start)
        return max(1, Int(remaining.rounded(.up)))
    }
}
