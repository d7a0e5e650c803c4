import Foundation
import GatewayHTTP
import JWTKit
import Testing

/// Tokens from the agency's identity provider (ES256 keys from a JWKS) and the required audience.
@Suite("Attendant tokens")
struct AttendantTokenTests {
    static let issuer = "https://idp.example.pt"

    static func claims(audience: String?, issuer: String? = Self.issuer) -> AttendantClaims {
        AttendantClaims(
            id: "a-17", name: "Ana", services: ["prestacoes-familiares"], roles: ["attendant"], issuedAt: Date(),
            validFor: .seconds(600), audience: audience, issuer: issuer)
    }

    @Test("An ES256 token signed by the identity provider's key from the JWKS is accepted; the audience is enforced")
    func identityProviderKeys() async throws {
        let providerKey = ES256PrivateKey()
        let parameters = try #require(providerKey.publicKey.parameters)
        let jwks = """
            {"keys":[{"kty":"EC","crv":"P-256","x":"\(parameters.x)","y":"\(parameters.y)","alg":"ES256","kid":"idp-1","use":"sig"}]}
            """
        let verifier = try await AttendantTokenVerifier(
            secret: "attendant-secret-for-tests-0123456789abcdef", jwksJSON: jwks,
            rules: AttendantTokenRules(audience: "video-gateway", issuer: Self.issuer))
        let provider = JWTKeyCollection()
        await provider.add(ecdsa: providerKey, kid: "idp-1")

        let good = try await provider.sign(Self.claims(audience: "video-gateway"), kid: "idp-1")
        #expect(await verifier.attendant(from: good)?.id == "a-17")
        let wrongAudience = try await provider.sign(Self.claims(audience: "another-service"), kid: "idp-1")
        #expect(await verifier.attendant(from: wrongAudience) == nil)
        let noAudience = try await provider.sign(Self.claims(audience: nil), kid: "idp-1")
        #expect(await verifier.attendant(from: noAudience) == nil)

        let stranger = JWTKeyCollection()
        await stranger.add(ecdsa: ES256PrivateKey(), kid: "idp-1")
        let forged = try await stranger.sign(Self.claims(audience: "video-gateway"), kid: "idp-1")
        #expect(await verifier.attendant(from: forged) == nil)

        let shared = try await AttendantTokenMinter.token(
            for: Self.claims(audience: "video-gateway"), secret: "attendant-secret-for-tests-0123456789abcdef")
        // With a JWKS, the shared secret verifies nothing.
        #expect(await verifier.attendant(from: shared) == nil)
    }

    @Test("A short HS256 secret is refused at start")
    func weakSecret() async {
        await #expect(throws: WeakSecretError.self) { try await AttendantTokenVerifier(secret: "short") }
    }

    /// The attendant claims plus the directory account an identity provider such as Entra adds.
    struct DirectoryClaims: JWTPayload {
        var base: AttendantClaims
        var oid: String

        func encode(to encoder: any Encoder) throws {
            try base.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(oid, forKey: Key(stringValue: "oid")!)
        }

        init(base: AttendantClaims, oid: String) {
            self.base = base
            self.oid = oid
        }

        init(from decoder: any Decoder) throws {
            base = try AttendantClaims(from: decoder)
            oid = try decoder.container(keyedBy: Key.self).decode(String.self, forKey: Key(stringValue: "oid")!)
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
    }

    @Test("With ATTENDANT_DIRECTORY_ID_CLAIM the attendant's directory account is read from that claim")
    func directoryAccount() async throws {
        let providerKey = ES256PrivateKey()
        let parameters = try #require(providerKey.publicKey.parameters)
        let jwks = """
            {"keys":[{"kty":"EC","crv":"P-256","x":"\(parameters.x)","y":"\(parameters.y)","alg":"ES256","kid":"idp-1","use":"sig"}]}
            """
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: providerKey, kid: "idp-1")
        let oid = "6e8b3c4a-1f2d-4c5e-9a7b-0d1e2f3a4b5c"
        let token = try await signer.sign(
            DirectoryClaims(base: Self.claims(audience: "video-gateway"), oid: oid), kid: "idp-1")
        let withClaim = try await AttendantTokenVerifier(
            secret: nil, jwksJSON: jwks,
            rules: AttendantTokenRules(audience: "video-gateway", issuer: Self.issuer, directoryIDClaim: "oid"))
        let attendant = try #require(await withClaim.attendant(from: token))
        #expect(attendant.id == "a-17" && attendant.directoryID == oid && attendant.providerIdentity == oid)
        let without = try await AttendantTokenVerifier(
            secret: nil, jwksJSON: jwks, rules: AttendantTokenRules(audience: "video-gateway", issuer: Self.issuer))
        let plain = try #require(await without.attendant(from: token))
        #expect(plain.directoryID == nil && plain.providerIdentity == "a-17")
    }
}
