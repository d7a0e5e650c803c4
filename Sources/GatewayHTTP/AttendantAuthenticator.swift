import Foundation
import Hummingbird
import JWTKit
import SessionOrchestration

/// Verifies attendants' bearer tokens: HS256 with `ATTENDANT_JWT_SECRET` and, optionally, the keys of
/// the agency's identity provider (a JWKS file: RS256, ES256…). Expired tokens, a wrong audience and
/// tokens without the attendant or supervisor role are refused.
public struct AttendantTokenVerifier: Sendable {
    private let keys: JWTKeyCollection
    private let audience: String?

    public init(secret: String?, jwksJSON: String? = nil, audience: String? = nil) async throws {
        let keys = JWTKeyCollection()
        if let secret {
            guard secret.utf8.count >= AttendantTokenMinter.minimumSecretLength else { throw WeakSecretError() }
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        }
        if let jwksJSON { try await keys.add(jwksJSON: jwksJSON) }
        self.keys = keys
        self.audience = audience
    }

    /// The attendant behind `token`, or `nil` when the token is not valid.
    public func attendant(from token: String) async -> AttendantIdentity? {
        guard let claims = try? await keys.verify(token, as: AttendantClaims.self) else { return nil }
        if let audience {
            guard let aud = claims.aud, (try? aud.verifyIntendedAudience(includes: audience)) != nil else { return nil }
        }
        return AttendantIdentity(
            id: claims.sub.value, name: claims.name, services: Set(claims.services), roles: Set(claims.roles))
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
