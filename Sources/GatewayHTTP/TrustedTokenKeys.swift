import Foundation

/// The keys an attendant token may name and the algorithms each may verify.
///
/// Checked on the token's header before any signature is: JWTKit verifies a token whose `kid` it
/// does not know with its default key, and builds a JWK's signer from the header's `alg`, so neither
/// may be left to it.
enum TrustedTokenKeys: Sendable {
    /// `ATTENDANT_JWT_SECRET`: HS256 only, and no `kid`.
    case sharedSecret
    /// The identity provider's JWKS: a known `kid`, with an `alg` that fits that key's type.
    case identityProvider(algorithmsByKeyID: [String: Set<String>])

    func accepts(_ header: TokenHeader) -> Bool {
        switch self {
        case .sharedSecret:
            return header.alg == "HS256" && header.kid == nil
        case .identityProvider(let algorithmsByKeyID):
            guard let kid = header.kid, let allowed = algorithmsByKeyID[kid] else { return false }
            return allowed.contains(header.alg)
        }
    }

    /// The algorithms of each key of a JWKS, from its `kty`, `crv` and `alg`.
    static func identityProvider(jwksJSON: String) throws -> TrustedTokenKeys {
        struct Document: Decodable { let keys: [Key] }
        struct Key: Decodable {
            let kty: String
            let kid: String?
            let crv: String?
            let alg: String?
        }
        let document = try JSONDecoder().decode(Document.self, from: Data(jwksJSON.utf8))
        var algorithmsByKeyID: [String: Set<String>] = [:]
        for key in document.keys {
            guard let kid = key.kid else { throw UntrustworthyKeySetError("every JWKS key needs a kid") }
            var allowed: Set<String>
            switch (key.kty, key.crv) {
            case ("RSA", _): allowed = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
            case ("EC", "P-256"): allowed = ["ES256"]
            case ("EC", "P-384"): allowed = ["ES384"]
            case ("EC", "P-521"): allowed = ["ES512"]
            case ("OKP", "Ed25519"): allowed = ["EdDSA"]
            default: throw UntrustworthyKeySetError("JWKS key \(kid): key type \(key.kty) is not supported")
            }
            if let alg = key.alg {
                guard allowed.contains(alg) else {
                    throw UntrustworthyKeySetError("JWKS key \(kid): alg \(alg) does not fit its key type")
                }
                allowed = [alg]
            }
            algorithmsByKeyID[kid] = allowed
        }
        return .identityProvider(algorithmsByKeyID: algorithmsByKeyID)
    }
}

/// The JOSE header fields the gateway checks, read without verifying anything.
struct TokenHeader: Decodable, Sendable {
    let alg: String
    let kid: String?

    init?(token: String) {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, segments[0].utf8.count <= 4096 else { return nil }
        var base64 = segments[0].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64),
            let header = try? JSONDecoder().decode(TokenHeader.self, from: data)
        else { return nil }
        self = header
    }
}

/// A JWKS the gateway cannot use safely; stops the start.
public struct UntrustworthyKeySetError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
