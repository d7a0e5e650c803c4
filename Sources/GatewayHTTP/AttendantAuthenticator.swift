import Foundation
import GatewayCore
import Hummingbird
import JWTKit
import SessionOrchestration

/// What an attendant token must carry besides a good signature.
public struct AttendantTokenRules: Sendable {
    /// `ATTENDANT_TOKEN_MAX_LIFETIME_SECONDS`: 12 h by default.
    public static let defaultMaximumLifetime: Duration = .seconds(43_200)

    /// When set, `aud` must name it; when not, a token naming any audience is refused.
    public var audience: String?
    /// When set, `iss` must equal it.
    public var issuer: String?
    /// The longest `exp − iat` accepted.
    public var maximumLifetime: Duration
    /// How far ahead of this server's clock `iat` and `nbf` may be.
    public var clockSkew: Duration
    /// The claim that carries the attendant's directory account (`ATTENDANT_DIRECTORY_ID_CLAIM`, e.g. `oid`).
    public var directoryIDClaim: String?

    public init(
        audience: String? = nil, issuer: String? = nil, maximumLifetime: Duration = Self.defaultMaximumLifetime,
        clockSkew: Duration = .seconds(60), directoryIDClaim: String? = nil
    ) {
        self.directoryIDClaim = directoryIDClaim
        self.audience = audience
        self.issuer = issuer
        self.maximumLifetime = maximumLifetime
        self.clockSkew = clockSkew
    }
}

/// Verifies attendants' bearer tokens: HS256 with `ATTENDANT_JWT_SECRET`, or, when a JWKS file is
/// configured, only the keys of the agency's identity provider (RS256, ES256…), each by its `kid` and
/// with an `alg` that fits it. Expired, not-yet-valid, too long-lived tokens, a wrong audience or
/// issuer, and tokens without the attendant or supervisor role are refused.
public struct AttendantTokenVerifier: Sendable {
    private let keys: JWTKeyCollection
    private let trusted: TrustedTokenKeys
    private let rules: AttendantTokenRules
    private let now: @Sendable () -> Date

    /// With `jwksJSON`, the shared secret is not used at all, and `rules` must name the audience and
    /// the issuer.
    public init(
        secret: String?, jwksJSON: String? = nil, rules: AttendantTokenRules = AttendantTokenRules(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) async throws {
        let keys = JWTKeyCollection()
        if let jwksJSON {
            guard rules.audience != nil, rules.issuer != nil else {
                throw UntrustworthyKeySetError(
                    "ATTENDANT_JWT_AUDIENCE and ATTENDANT_JWT_ISSUER must be set with ATTENDANT_JWKS_FILE")
            }
            trusted = try TrustedTokenKeys.identityProvider(jwksJSON: jwksJSON)
            try await keys.add(jwksJSON: jwksJSON)
        } else {
            if let secret {
                guard secret.utf8.count >= AttendantTokenMinter.minimumSecretLength else { throw WeakSecretError() }
                await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            }
            trusted = .sharedSecret
        }
        self.keys = keys
        self.rules = rules
        self.now = now
    }

    /// The attendant behind `token`, or `nil` when the token is not valid.
    public func attendant(from token: String) async -> AttendantIdentity? {
        guard let header = TokenHeader(token: token), trusted.accepts(header) else { return nil }
        guard let claims = try? await keys.verify(token, as: AttendantClaims.self), satisfiesRules(claims) else {
            return nil
        }
        return AttendantIdentity(
            id: claims.sub.value, name: claims.name, services: Set(claims.services), roles: Set(claims.roles),
            directoryID: rules.directoryIDClaim.flatMap { Self.stringClaim($0, inVerified: token) })
    }

    /// A string claim of a token already verified (its payload, read again as a plain JSON object).
    static func stringClaim(_ name: String, inVerified token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Data(base64URLEncoded: String(parts[1])),
            let object = try? JSONSerialization.jsonObject(with: payload) as? [String: Any],
            let value = object[name] as? String, !value.isEmpty, value.utf8.count <= 256
        else { return nil }
        return value
    }

    private func satisfiesRules(_ claims: AttendantClaims) -> Bool {
        let now = now()
        let latestStart = now.addingTimeInterval(rules.clockSkew.timeInterval)
        if claims.iat.value > latestStart { return false }
        if let nbf = claims.nbf, nbf.value > latestStart { return false }
        if claims.exp.value <= now { return false }
        if claims.exp.value.timeIntervalSince(claims.iat.value) > rules.maximumLifetime.timeInterval { return false }
        if let audience = rules.audience {
            guard let aud = claims.aud, (try? aud.verifyIntendedAudience(includes: audience)) != nil else { return false }
        } else if claims.aud != nil {
            return false
        }
        if let issuer = rules.issuer, claims.iss?.value != issuer { return false }
        return true
    }
}

/// Lets a request through only with a valid attendant token carrying the attendant or supervisor role.
struct AttendantAuthenticator: RouterMiddleware {
    let verifier: AttendantTokenVerifier

    func handle(
        _ request: Request, context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            let attendant = await verifier.attendant(from: String(header.dropFirst(7)))
        else { throw Problem.unauthorized }
        guard attendant.roles.contains("attendant") || attendant.isSupervisor else {
            throw Problem(.forbidden, code: "forbidden", title: "The token has no attendant role")
        }
        var context = context
        context.attendant = attendant
        return try await next(request, context)
    }
}
