import Crypto
import Foundation

/// Random, URL-safe secrets: access tokens, cancel tokens, keys.
public enum SecureToken {
    /// A base64url string of `byteCount` random bytes (default 24 bytes = 192 bits).
    public static func make(byteCount: Int = 24) -> String {
        Data(randomBytes(byteCount)).base64URLEncodedString()
    }

    /// `count` bytes from the system's generator, eight at a time (one system call per eight bytes,
    /// not one per byte).
    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            withUnsafeBytes(of: generator.next() as UInt64) { bytes.append(contentsOf: $0) }
        }
        return Array(bytes.prefix(count))
    }

    /// Compares two secrets in time independent of where they differ.
    public static func constantTimeEquals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(lhs, rhs) { difference |= a ^ b }
        return difference == 0
    }

    /// Compares two strings' UTF-8 bytes in constant time.
    public static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        constantTimeEquals(Array(lhs.utf8), Array(rhs.utf8))
    }
}

extension Data {
    /// Decodes RFC 4648 §5 base64url, with or without padding.
    public init?(base64URLEncoded text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }

    /// RFC 4648 §5 base64url without padding.
    public func base64URLEncodedString() -> String {
        var characters = Array(base64EncodedString().utf8)
        while characters.last == UInt8(ascii: "=") { characters.removeLast() }
        for index in characters.indices {
            switch characters[index] {
            case UInt8(ascii: "+"): characters[index] = UInt8(ascii: "-")
            case UInt8(ascii: "/"): characters[index] = UInt8(ascii: "_")
            default: break
            }
        }
        return String(decoding: characters, as: UTF8.self)
    }
}
