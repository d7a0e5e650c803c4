import Crypto
import Foundation

/// The SHA-256 of a bearer secret (a lobby ticket, a link's token): what an in-memory index keys by,
/// so that the secret itself is not the key. It has no description that prints the secret.
public struct SecretDigest: Hashable, Sendable {
    private let digest: SHA256.Digest

    public init(of secret: String) {
        digest = SHA256.hash(data: Data(secret.utf8))
    }
}
