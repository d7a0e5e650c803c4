import Foundation
import Hummingbird
import Logging

/// Logs one line per request: method, route template (never the concrete path, which may hold a
/// token), status and duration, under the request id. Echoes the id in `X-Request-Id`. Successful
/// health probes (`/healthz`, `/readyz`, asked every few seconds by orchestrators) log at `debug`.
struct RequestLoggingMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let started = ContinuousClock.now
        do {
            var response = try await next(request, context)
            response.headers[.init("X-Request-Id")!] = context.id
            log(request, context, status: response.status.code, started: started)
            return response
        } catch let error as any HTTPResponseError {
            log(request, context, status: error.status.code, started: started)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, status: Int, started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let route = context.endpointPath ?? "unmatched"
        let isProbe = status < 400 && (route == "/healthz" || route == "/readyz")
        context.logger.log(
            level: isProbe ? .debug : .info, "request",
            metadata: [
                "http.method": "\(request.method)",
                "http.route": "\(route)",
                "http.status": "\(status)",
                "duration.ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
            ])
    }
}
