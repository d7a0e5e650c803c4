import Hummingbird

/// Hummingbird's request metrics (counts and durations by route), except for the health probes:
/// orchestrators ask them every few seconds, their counts say nothing, and they are the requests
/// that must cost least.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private let metrics = MetricsMiddleware<Context>()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let path = request.uri.path
        if path == "/healthz" || path == "/readyz" { return try await next(request, context) }
        return try await metrics.handle(request, context: context, next: next)
    }
}
