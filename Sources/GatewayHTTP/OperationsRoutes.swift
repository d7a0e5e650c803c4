import Foundation
import GatewayCore
import Hummingbird
import Prometheus

/// Health, readiness, metrics and the OpenAPI document; `/metrics` needs `METRICS_TOKEN` as a bearer
/// token when one is configured, the others no authentication.
struct OperationsRoutes: Sendable {
    let dependencies: GatewayHTTPDependencies

    func add(to router: Router<GatewayRequestContext>) {
        let healthy = ByteBuffer(string: #"{"status":"ok"}"#)
        router.get("healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: healthy))
        }
        router.get("readyz") { _, _ in
            guard await dependencies.sessions.store.isReady() else {
                throw Problem(
                    .serviceUnavailable, code: "not_ready", title: "Not ready",
                    detail: "the database is unreachable or its migrations are not current")
            }
            let unhealthy = dependencies.reconciler?.unhealthyProviders ?? []
            return try JSONResponse.make(ReadyResource(status: "ready", unhealthyProviders: unhealthy.isEmpty ? nil : unhealthy))
        }
        router.get("metrics") { request, context in
            if let token = dependencies.metricsToken {
                let presented = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
                guard let presented, SecureToken.constantTimeEquals(token, presented) else { throw Problem.unauthorized }
            }
            do {
                try await dependencies.sessions.refreshOperationalGauges()
            } catch {
                context.logger.warning("metrics: the database did not answer; gauges keep their last values")
            }
            var buffer: [UInt8] = []
            dependencies.metrics.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }
    }
}

/// The OpenAPI 3.1 document shipped as a resource; the source of truth of the public contract.
public enum OpenAPIDocument {
    public static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let data = try? Data(contentsOf: url)
        else { return [] }
        return Array(data)
    }()
}

struct ReadyResource: Encodable {
    let status: String
    let unhealthyProviders: [String]?
}
