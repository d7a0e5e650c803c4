import Crypto
import Foundation

/// The citizen's six-digit validation code, kept only as a keyed hash: HMAC-SHA256 with a server key
/// that is not in the database, over a random salt and the code. A copy of the database alone cannot
/// be searched for the codes.
public struct AccessCodeHash: Sendable, Equatable, Codable {
    /// `hmac-sha256`; absent in hashes stored before the key (`SHA-256(salt:code)`), which still verify
    /// until the code is rotated.
    public let scheme: String?
    public let salt: String
    public let hash: String

    static let keyedScheme = "hmac-sha256"

    init(scheme: String?, salt: String, hash: String) {
        self.scheme = scheme
        self.salt = salt
        self.hash = hash
    }

    /// A short, non-secret mark of this particular hash: it changes whenever the code is replaced.
    public var generationMark: String {
        SHA256.hash(data: Data(("mark:" + salt).utf8)).prefix(8).lowercaseHex
    }
}

/// Hashes and checks validation codes with the server's code key.
public struct AccessCodeHasher: Sendable {
    private let key: SymmetricKey

    public init(key: SymmetricKey) {
        self.key = key
    }

    /// A hasher with a new random key (tests, or a process whose codes need not outlive it).
    public static func random() -> AccessCodeHasher {
        AccessCodeHasher(key: SymmetricKey(size: .bits256))
    }

    /// Hashes `code` with a fresh random salt.
    public func hash(_ code: String) -> AccessCodeHash {
        let salt = SecureToken.make(byteCount: 16)
        return AccessCodeHash(scheme: AccessCodeHash.keyedScheme, salt: salt, hash: keyedDigest(salt: salt, code: code))
    }

    /// Whether `code` is the one behind `stored`; compared in constant time.
    public func matches(_ code: String, _ stored: AccessCodeHash) -> Bool {
        let expected: String
        switch stored.scheme {
        case AccessCodeHash.keyedScheme: expected = keyedDigest(salt: stored.salt, code: code)
        case nil: expected = Self.legacyDigest(salt: stored.salt, code: code)
        default: return false
        }
        return SecureToken.constantTimeEquals(stored.hash, expected)
    }

    private func keyedDigest(salt: String, code: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data((salt + ":" + code).utf8), using: key).lowercaseHex
    }

    private static func legacyDigest(salt: String, code: String) -> String {
        SHA256.hash(data: Data((salt + ":" + code).utf8)).lowercaseHex
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
    public static func issue(using hasher: AccessCodeHasher) -> (AccessCredentials, code: String) {
        let code = AccessCode.make()
        let credentials = AccessCredentials(
            joinToken: SecureToken.make(), cancelToken: SecureToken.make(), codeHash: hasher.hash(code))
        return (credentials, code)
    }
}
