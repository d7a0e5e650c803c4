import Foundation
import Hummingbird

/// Puts the configured faults in front of the simulator's API: each request draws one (or none).
struct FaultMiddleware: RouterMiddleware {
    let injector: FaultInjector
    let onRequest: @Sendable () -> Void

    func handle(
        _ request: Request, context: BasicRequestContext,
        next: (Request, BasicRequestContext) async throws -> Response
    ) async throws -> Response {
        onRequest()
        let faults = injector.faults
        switch injector.draw() {
        case nil:
            return try await next(request, context)
        case .serverError:
            return Self.dailyError(.serviceUnavailable, "server-error", "simulated server error")
        case .rateLimited:
            var response = Self.dailyError(.tooManyRequests, "rate-limit-error", "simulated rate limit")
            response.headers[.retryAfter] = "\(faults.retryAfterSeconds)"
            return response
        case .timeout:
            try await Task.sleep(for: .milliseconds(Int(faults.timeoutSeconds * 1000)))
            return Self.dailyError(.gatewayTimeout, "server-error", "simulated time-out")
        case .reset:
            return Self.droppedConnection(status: .ok)
        case .slow:
            try await Task.sleep(for: .milliseconds(faults.slowMilliseconds))
            return try await next(request, context)
        case .lost:
            // Carried out, then the answer never arrives whole.
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            request.body = .init(buffer: body)
            let response = try await next(request, context)
            return Self.droppedConnection(status: response.status)
        }
    }

    /// A response whose head goes out and whose body breaks off: the client sees the connection drop.
    private static func droppedConnection(status: HTTPResponse.Status) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "{\"partial\":"))
                throw SimulatedDrop()
            })
    }

    private static func dailyError(_ status: HTTPResponse.Status, _ type: String, _ info: String) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"\(type)\",\"info\":\"\(info)\"}")))
    }
}

private struct SimulatedDrop: Error {}
