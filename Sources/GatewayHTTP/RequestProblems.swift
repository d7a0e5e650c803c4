import Foundation
import GatewayStorage
import Hummingbird
import Logging

/// Turns every error into problem+json: Hummingbird's own (404 route, 405, 413), store failures and
/// anything unexpected, which is logged without its payload and answered as a plain 500.
enum RequestProblems {
    static func problem(for error: any Error, request: Request, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as StoreError:
            logger.error("store error", metadata: ["error": "\(error)"])
            return Problem(.serviceUnavailable, code: "store_unavailable", title: "The database is not available")
        case let error as any HTTPResponseError:
            if error.status == .notFound {
                let declared = DeclaredRoutes.methods(for: request.uri.path)
                if !declared.isEmpty && !declared.contains(request.method.rawValue) {
                    return Problem(
                        .methodNotAllowed, code: "method_not_allowed", title: "Method not allowed",
                        headers: [.allow: declared.sorted().joined(separator: ", ")])
                }
            }
            return problem(for: error.status)
        default:
            logger.error("unexpected error", metadata: ["error.type": "\(type(of: error))"])
            return Problem(.internalServerError, code: "internal_error", title: "Internal error")
        }
    }

    static func problem(for status: HTTPResponse.Status) -> Problem {
        switch status {
        case .notFound:
            return Problem(.notFound, code: "not_found", title: "No such resource")
        case .methodNotAllowed:
            return Problem(.methodNotAllowed, code: "method_not_allowed", title: "Method not allowed")
        case .contentTooLarge:
            return .payloadTooLarge
        case .unauthorized:
            return .unauthorized
        default:
            return Problem(
                status, code: status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"),
                title: status.reasonPhrase)
        }
    }
}
