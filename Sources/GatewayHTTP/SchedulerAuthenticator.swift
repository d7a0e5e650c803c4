import GatewayCore
import Hummingbird

/// Lets a request through only with `Authorization: Bearer <key>` for one of the scheduler keys.
struct SchedulerAuthenticator<Context: RequestContext>: RouterMiddleware {
    let keys: [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw Problem.unauthorized
        }
        let presented = String(header.dropFirst("Bearer ".count))
        // Compare against every key, without stopping at the first match.
        var matched = false
        for key in keys where SecureToken.constantTimeEquals(key, presented) {
            matched = true
        }
        guard matched, !presented.isEmpty else { throw Problem.unauthorized }
        return try await next(request, context)
    }
}
