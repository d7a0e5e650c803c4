import Crypto
import Foundation

/// The citizen's six-digit validation code, kept only as a salted SHA-256 hash.
public struct AccessCodeHash: Sendable, Equatable, Codable {
    public let salt: String
    public let hash: String

    /// Hashes `code` with a fresh random salt.
    public init(hashing code: String) {
        self.init(salt: SecureToken.make(byteCount: 16), code: code)
    }

    init(salt: String, code: String) {
        self.salt = salt
        self.hash = AccessCodeHash.digest(salt: salt, code: code)
    }

    /// Whether `code` is the one that was hashed; compared in constant time.
    public func matches(_ code: String) -> Bool {
        SecureToken.constantTimeEquals(hash, AccessCodeHash.digest(salt: salt, code: code))
    }

    private static func digest(salt: String, code: String) -> String {
        let digest = SHA256.hash(data: Data((salt + ":" + code).utf8))
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}

public enum AccessCode {
    /// A uniformly random six-digit code, leading zeros kept.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = Int.random(in: 0..<1_000_000, using: &generator)
        let digits = String(value)
        return String(repeating: "0", count: 6 - digits.count) + digits
    }
}

/// The citizen's two factors: the token in the link and the validation code.
public struct AccessCredentials: Sendable, Equatable, Codable {
    public var joinToken: String
    public var cancelToken: String
    public var codeHash: AccessCodeHash
    public var failedAttempts: Int
    public var lockedUntil: Date?

    public init(joinToken: String, cancelToken: String, codeHash: AccessCodeHash) {
        self.joinToken = joinToken
        self.cancelToken = cancelToken
        self.codeHash = codeHash
        self.failedAttempts = 0
        self.lockedUntil = nil
    }

    /// New tokens and a new code; returns the credentials and the plain code, which is shown once.
    public static func issue() -> (AccessCredentials, code: String) {
        let code = AccessCode.make()
        let credentials = AccessCredentials(
            joinToken: SecureToken.make(), cancelToken: SecureToken.make(), codeHash: AccessCodeHash(hashing: code))
        return (credentials, code)
    }
}
