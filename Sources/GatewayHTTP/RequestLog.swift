import Hummingbird
import Logging

/// One line per request: method, route template (never the concrete path, which may hold a token),
/// status and duration, under the request id. Successful health probes (`/healthz`, `/readyz`, asked
/// every few seconds by orchestrators) log at `debug`.
enum RequestLog {
    static func log(_ request: Request, _ context: some RequestContext, status: Int, started: ContinuousClock.Instant) {
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
