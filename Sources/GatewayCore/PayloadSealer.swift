import Crypto
import Foundation

/// Seals short secrets that a job must carry until it runs (AES-256-GCM), so that the database never
/// holds them in the clear.
public struct PayloadSealer: Sendable {
    private let key: SymmetricKey

    /// `base64Key` must decode to 32 bytes.
    public init?(base64Key: String) {
        guard let data = Data(base64Encoded: base64Key), data.count == 32 else { return nil }
        key = SymmetricKey(data: data)
    }

    /// A sealer with a new random key (tests, or a process that keeps no outbox across restarts).
    public init() {
        key = SymmetricKey(size: .bits256)
    }

    /// A new random key, base64.
    public static func makeKey() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// A separate key for another purpose, derived from this one (HKDF-SHA256 with `purpose` as info),
    /// so that one configured secret can key several things without reusing the key itself.
    public func derivedKey(for purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Data(purpose.utf8), outputByteCount: 32)
    }

    public func seal(_ text: String) throws -> String {
        guard let combined = try AES.GCM.seal(Data(text.utf8), using: key).combined else {
            throw SealingError()
        }
        return combined.base64EncodedString()
    }

    public func open(_ sealed: String) throws -> String {
        guard let data = Data(base64Encoded: sealed) else { throw SealingError() }
        let opened = try AES.GCM.open(try AES.GCM.SealedBox(combined: data), using: key)
        guard let text = String(data: opened, encoding: .utf8) else { throw SealingError() }
        return text
    }

    public struct SealingError: Error {}
}
