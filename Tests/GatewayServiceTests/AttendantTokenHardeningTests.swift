import Foundation
import GatewayHTTP
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import JWTKit
import Prometheus
import Testing

/// Attacks on attendant tokens against the real router in JWKS mode: only the identity provider's
/// keys verify, by a known `kid` and an `alg` that fits the key; audience, issuer, `nbf`, `iat` and the
/// lifetime cap are enforced.
@Suite("Attendant token hardening")
struct AttendantTokenHardeningTests {
    static let audience = "video-gateway"
    static let issuer = "https://idp.example.pt"
    static let sharedSecret = TestGateway.attendantSecret

    struct IdentityProvider {
        let key = ES256PrivateKey()

        var jwks: String {
            let parameters = key.publicKey.parameters!
            return """
                {"keys":[{"kty":"EC","crv":"P-256","x":"\(parameters.x)","y":"\(parameters.y)","kid":"idp-1","use":"sig"}]}
                """
        }

        func sign(_ claims: AttendantClaims, kid: String = "idp-1") async throws -> String {
            let keys = JWTKeyCollection()
            await keys.add(ecdsa: key, kid: JWKIdentifier(string: kid))
            return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
        }
    }

    static func claims(
        issuedAt: Date = Date(), validFor: Duration = .seconds(600), audience: String? = Self.audience,
        issuer: String? = Self.issuer, notBefore: Date? = nil
    ) -> AttendantClaims {
        var claims = AttendantClaims(
            id: "a-17", name: "Ana", services: ["*"], roles: ["attendant", "supervisor"], issuedAt: issuedAt,
            validFor: validFor, audience: audience, issuer: issuer)
        claims.nbf = notBefore.map { NotBeforeClaim(value: $0) }
        return claims
    }

    /// The agenda's status for each token, through the router with a JWKS-mode verifier.
    static func statuses(_ tokens: [String], jwks: String) async throws -> [Int] {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: nil)
        let verifier = try await AttendantTokenVerifier(
            secret: sharedSecret, jwksJSON: jwks, rules: AttendantTokenRules(audience: audience, issuer: issuer))
        let dependencies = GatewayHTTPDependencies(
            sessions: gateway.sessions, publicBaseURL: TestGateway.publicBaseURL, schedulerKeys: [TestGateway.schedulerKey],
            defaultProvider: "simulator", metrics: PrometheusCollectorRegistry(), attendants: verifier,
            heartbeat: .milliseconds(200))
        return try await Application(router: buildGatewayRouter(dependencies)).test(.router) { client in
            var statuses: [Int] = []
            for token in tokens {
                statuses.append(Int(try await client.call(.get, "/v1/attendant/agenda", key: token).status.code))
            }
            return statuses
        }
    }

    @Test("A good identity-provider token is accepted; the same claims are refused on every other path")
    func jwksModeRefusals() async throws {
        let idp = IdentityProvider()
        let now = Date()
        let good = try await idp.sign(Self.claims())
        let shared = JWTKeyCollection()
        await shared.add(hmac: HMACKey(from: Self.sharedSecret), digestAlgorithm: .sha256)
        let confused = JWTKeyCollection()
        await confused.add(
            hmac: HMACKey(from: idp.jwks), digestAlgorithm: .sha256, kid: JWKIdentifier(string: "idp-1"))
        let attacks = [
            try await shared.sign(Self.claims()),  // the generated secret, no kid
            try await shared.sign(Self.claims(), kid: JWKIdentifier(string: "unknown")),  // unknown kid
            try await confused.sign(Self.claims(), kid: JWKIdentifier(string: "idp-1")),  // HS256 on an EC key's kid
            try await idp.sign(Self.claims(), kid: "idp-2"),  // the right key under an unknown kid
            try await idp.sign(Self.claims(notBefore: now.addingTimeInterval(86_400))),
            try await idp.sign(Self.claims(issuedAt: now.addingTimeInterval(86_400))),
            try await idp.sign(Self.claims(validFor: .seconds(100 * 365 * 86_400))),
            try await idp.sign(Self.claims(validFor: .seconds(43_200 + 60))),
            try await idp.sign(Self.claims(audience: "another-application")),
            try await idp.sign(Self.claims(audience: nil)),
            try await idp.sign(Self.claims(issuer: "https://elsewhere.example")),
            try await idp.sign(Self.claims(issuer: nil)),
            try await idp.sign(Self.claims(issuedAt: now.addingTimeInterval(-7200), validFor: .seconds(3600))),
        ]
        let statuses = try await Self.statuses([good] + attacks, jwks: idp.jwks)
        #expect(statuses.first == 200)
        #expect(statuses.dropFirst().allSatisfy { $0 == 401 }, "\(statuses)")
    }

    @Test("A JWKS key's alg must fit its type, and a JWKS needs the audience and the issuer")
    func unusableSettings() async throws {
        let idp = IdentityProvider()
        let mismatched = idp.jwks.replacingOccurrences(of: "\"use\":\"sig\"", with: "\"use\":\"sig\",\"alg\":\"RS256\"")
        await #expect(throws: UntrustworthyKeySetError.self) {
            try await AttendantTokenVerifier(
                secret: nil, jwksJSON: mismatched,
                rules: AttendantTokenRules(audience: Self.audience, issuer: Self.issuer))
        }
        await #expect(throws: UntrustworthyKeySetError.self) {
            try await AttendantTokenVerifier(
                secret: nil, jwksJSON: idp.jwks, rules: AttendantTokenRules(audience: Self.audience))
        }
    }

    @Test("With the shared secret: HS256 only, no kid, no foreign audience, lifetime capped")
    func sharedSecretMode() async throws {
        let verifier = try await AttendantTokenVerifier(secret: Self.sharedSecret)
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Self.sharedSecret), digestAlgorithm: .sha256)
        let plain = try await keys.sign(Self.claims(audience: nil, issuer: nil))
        #expect(await verifier.attendant(from: plain)?.id == "a-17")
        let hs512 = JWTKeyCollection()
        // (HS512 needs a 64-byte key: the header's alg is refused before any signature is checked.)
        await hs512.add(hmac: HMACKey(from: Self.sharedSecret + Self.sharedSecret), digestAlgorithm: .sha512)
        for token in [
            try await keys.sign(Self.claims(audience: "another-application", issuer: nil)),
            try await keys.sign(Self.claims(audience: nil, issuer: nil), kid: JWKIdentifier(string: "k")),
            try await keys.sign(Self.claims(validFor: .seconds(13 * 3600), audience: nil, issuer: nil)),
            try await hs512.sign(Self.claims(audience: nil, issuer: nil)),
        ] {
            #expect(await verifier.attendant(from: token) == nil)
        }
    }
}
