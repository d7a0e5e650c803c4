import Dispatch
import Hummingbird
import Metrics
import Synchronization

/// Hummingbird's request metrics, named as its `MetricsMiddleware` names them (`hb.requests`,
/// `http.server.request.duration`, `hb.request.errors` by route, method and status;
/// `http.server.active_requests` by method), except for the health probes: orchestrators ask them
/// every few seconds, their counts say nothing, and they are the requests that must cost least.
/// An answer whose length is known is recorded when it is ready; one of unknown length (an event
/// stream) once it has been written.
final class RequestMetrics: Sendable {
    private struct EndpointID: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: HTTPResponse.Status
    }

    private struct EndpointMetrics: Sendable {
        let counter: Counter
        let timer: Timer
        let errorCounter: Counter
    }

    private let active = Mutex<[HTTPRequest.Method: Meter]>([:])
    private let endpoints = Mutex<[EndpointID: EndpointMetrics]>([:])

    static func isProbe(_ path: String) -> Bool { path == "/healthz" || path == "/readyz" }

    /// Counts a request in progress; `recordWhenWritten` or `recordFailure` ends it.
    func started(_ method: HTTPRequest.Method) -> Meter {
        let meter = active.withLock { meters in
            if let meter = meters[method] { return meter }
            let meter = Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method.description)])
            meters[method] = meter
            return meter
        }
        meter.increment()
        return meter
    }

    /// Records the answer `body`: now when its length is known, otherwise once it has been written
    /// (the body returned then does it).
    func record(
        _ body: ResponseBody, route: String?, method: HTTPRequest.Method, status: HTTPResponse.Status,
        started: ContinuousClock.Instant, active: Meter
    ) -> ResponseBody {
        let metrics = endpoint(route: route ?? "Unknown", method: method, status: status)
        @Sendable func finish() {
            metrics.counter.increment()
            let elapsed = ContinuousClock.now - started
            metrics.timer.recordNanoseconds(
                elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
            active.decrement()
        }
        guard body.contentLength == nil else {
            finish()
            return body
        }
        return ResponseBody { writer in
            do {
                try await body.write(writer)
                finish()
            } catch {
                finish()
                throw error
            }
        }
    }

    func recordFailure(route: String?, method: HTTPRequest.Method, status: HTTPResponse.Status, active: Meter) {
        let metrics = endpoint(route: route ?? "NotFound", method: method, status: status)
        metrics.counter.increment()
        metrics.errorCounter.increment()
        active.decrement()
    }

    private func endpoint(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status) -> EndpointMetrics {
        let id = EndpointID(route: route, method: method, status: status)
        return endpoints.withLock { endpoints in
            if let metrics = endpoints[id] { return metrics }
            let route = ("http.route", id.route)
            let method = ("http.request.method", id.method.description)
            let metrics = EndpointMetrics(
                counter: Counter(label: "hb.requests", dimensions: [route, method, ("http.response.status_code", id.status.code.description)]),
                timer: Timer(
                    label: "http.server.request.duration",
                    dimensions: [route, method, ("http.response.status_code", id.status.code.description)],
                    preferredDisplayUnit: .seconds),
                errorCounter: Counter(label: "hb.request.errors", dimensions: [route, method, ("error.type", id.status.code.description)]))
            endpoints[id] = metrics
            return metrics
        }
    }
}
