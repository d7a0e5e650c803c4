import Foundation
import JWTKit

/// The claims of an attendant's bearer token (DESIGN §3).
public struct AttendantClaims: JWTPayload, Equatable {
    public var sub: SubjectClaim
    public var name: String?
    public var services: [String]
    public var roles: [String]
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim
    public var aud: AudienceClaim?
    public var iss: IssuerClaim?
    public var nbf: NotBeforeClaim?

    public init(
        id: String, name: String?, services: [String], roles: [String], issuedAt: Date, validFor: Duration,
        audience: String? = nil, issuer: String? = nil
    ) {
        sub = SubjectClaim(value: id)
        self.name = name
        self.services = services
        self.roles = roles
        iat = IssuedAtClaim(value: issuedAt)
        exp = ExpirationClaim(value: issuedAt.addingTimeInterval(TimeInterval(validFor.components.seconds)))
        aud = audience.map { AudienceClaim(value: [$0]) }
        iss = issuer.map { IssuerClaim(value: $0) }
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// Mints HS256 attendant tokens with the shared secret, for local use.
public enum AttendantTokenMinter {
    /// HS256 needs a key at least as long as its output.
    public static let minimumSecretLength = 32

    public static func token(for claims: AttendantClaims, secret: String) async throws -> String {
        guard secret.utf8.count >= minimumSecretLength else { throw WeakSecretError() }
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }
}

/// The attendant secret is too short for HS256.
public struct WeakSecretError: Error, CustomStringConvertible {
    public var description: String {
        "ATTENDANT_JWT_SECRET must be at least \(AttendantTokenMinter.minimumSecretLength) bytes long"
    }
}
