import Foundation
import GatewayCore
import Hummingbird
import SessionOrchestration

/// `…/v1/lobby/{token}`: the citizen's side. The token in the link is the first factor, the
/// validation code the second.
struct LobbyRoutes: Sendable {
    let dependencies: GatewayHTTPDependencies

    private var sessions: SessionService { dependencies.sessions }

    func add(to group: RouterGroup<GatewayRequestContext>) {
        group.post("{token}/enter", use: enter)
    }

    @Sendable func enter(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let token = try token(context)
        let bytes = try await request.body.collect(upTo: context.maxUploadSize)
        guard let body = try? JSONDecoder().decode(EnterBody.self, from: Data(buffer: bytes)) else {
            throw Problem(
                .badRequest, code: "validation_failed", title: "The request is not valid",
                errors: [.init(field: "code", message: "is required: the 6-digit validation code")])
        }
        let code = body.code.trimmingCharacters(in: .whitespaces)
        guard code.count == 6, code.allSatisfy(\.isASCII), code.allSatisfy(\.isNumber) else {
            throw Problem(
                .badRequest, code: "validation_failed", title: "The request is not valid",
                errors: [.init(field: "code", message: "must be 6 digits")])
        }
        switch try await sessions.enterLobby(joinToken: token, code: code) {
        case .entered(let session):
            let ticket = try LobbyTicket.issue(for: session, sealer: sessions.sealer)
            var response = try JSONResponse.make(
                LobbyStateResource(state: session.state, bookingId: session.bookingID.rawValue, ticket: ticket))
            response.headers[.setCookie] =
                "lobby_ticket=\(ticket); Path=/v1/lobby/\(token); HttpOnly; Secure; SameSite=Strict"
            return response
        case .wrongCode(let attemptsLeft):
            throw Problem(
                .unauthorized, code: "invalid_code", title: "Wrong validation code",
                extensions: ["attemptsLeft": attemptsLeft])
        case .locked(let until):
            throw Problem(
                .init(code: 423, reasonPhrase: "Locked"), code: "locked", title: "Too many wrong codes",
                detail: "try again after \(RFC3339.string(from: until))",
                textExtensions: ["lockedUntil": RFC3339.string(from: until)])
        case .tooEarly(let opensAt):
            throw Problem(
                .tooEarly, code: "too_early", title: "The session is not open yet",
                textExtensions: ["opensAt": RFC3339.string(from: opensAt)])
        case .closed:
            throw Problem(.gone, code: "closed", title: "The session is closed")
        case .cancelled:
            throw Problem(.gone, code: "cancelled", title: "The appointment was cancelled")
        case .unknownToken:
            throw Problem(.notFound, code: "unknown_token", title: "Unknown link")
        }
    }

    private func token(_ context: GatewayRequestContext) throws -> String {
        guard let token = context.parameters.get("token"), (16...128).contains(token.count),
            token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { throw Problem(.notFound, code: "unknown_token", title: "Unknown link") }
        return token
    }

    private struct EnterBody: Decodable {
        let code: String
    }
}

struct LobbyStateResource: Encodable, Sendable {
    let state: SessionState
    let bookingId: String
    let ticket: String
}

/// The citizen's lobby ticket after a right code: the booking and an expiry, sealed by the gateway.
enum LobbyTicket {
    static func issue(for session: Session, sealer: PayloadSealer) throws -> String {
        let expiry = Int(session.booking.endsAt.timeIntervalSince1970) + 4 * 3600
        return try sealer.seal("\(session.bookingID.rawValue)|\(expiry)")
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
