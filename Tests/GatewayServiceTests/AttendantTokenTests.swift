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
}
