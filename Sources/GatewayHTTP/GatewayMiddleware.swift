import Foundation
import Hummingbird
import Logging

/// Everything the gateway does around each request, in one middleware: one async step per request
/// instead of five. Each request's async frames stay allocated with its connection's task for as long
/// as the connection lives (Swift's task allocator keeps its slabs), so every extra step costs memory
/// on every open connection and event stream, and time on every request.
///
/// In order, around the route:
/// 1. the client's address (behind a trusted proxy, the forwarded one) is put on the context, where
///    rate limits and stream caps read it (`TrustedProxies`);
/// 2. any error becomes problem+json (`RequestProblems`);
/// 3. provider webhooks are counted by provider and result (`WebhookMetrics`);
/// 4. requests are counted and timed by route, except the health probes (`RequestMetrics`);
/// 5. one log line per request, under its id, echoed in `X-Request-Id` (`RequestLog`).
struct GatewayMiddleware: RouterMiddleware {
    let trusted: TrustedProxies
    let metrics = RequestMetrics()

    func handle(
        _ request: Request, context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        if !trusted.isEmpty {
            let client = trusted.client(peer: context.peerIP, headers: request.headers)
            context.remoteIP = client.address
            context.clientScheme = client.scheme
        }
        let started = ContinuousClock.now
        let isProbe = RequestMetrics.isProbe(request.uri.path)
        let active = isProbe ? nil : metrics.started(request.method)
        do {
            var response = try await next(request, context)
            WebhookMetrics.count(path: request.uri.path, status: response.status.code)
            response.headers[.init("X-Request-Id")!] = context.id
            RequestLog.log(request, context, status: response.status.code, started: started)
            if let active {
                response.body = metrics.record(
                    response.body, route: context.endpointPath, method: request.method, status: response.status,
                    started: started, active: active)
            }
            return response
        } catch {
            let problem = RequestProblems.problem(for: error, request: request, logger: context.logger)
            WebhookMetrics.count(path: request.uri.path, status: problem.status.code)
            RequestLog.log(request, context, status: problem.status.code, started: started)
            if let active {
                metrics.recordFailure(
                    route: context.endpointPath, method: request.method, status: problem.status, active: active)
            }
            throw problem
        }
    }
}
