import Hummingbird
import Metrics

/// Counts provider webhook events by provider and result (`accepted`, `rejected`, `failed`):
/// `gateway_webhook_events_total`.
struct WebhookMetricsMiddleware: RouterMiddleware {
    static let prefix = "/v1/webhooks/"
    static let providers: Set<String> = ["daily", "zoom", "bigbluebutton", "msteams"]

    func handle(
        _ request: Request, context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        guard path.hasPrefix(Self.prefix) else { return try await next(request, context) }
        let name = String(path.dropFirst(Self.prefix.count))
        let provider = Self.providers.contains(name) ? name : "unknown"
        do {
            let response = try await next(request, context)
            Self.count(provider, status: response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            Self.count(provider, status: error.status.code)
            throw error
        } catch {
            Self.count(provider, status: 500)
            throw error
        }
    }

    private static func count(_ provider: String, status: Int) {
        let result = switch status {
        case 200..<300: "accepted"
        case 400..<500: "rejected"
        default: "failed"
        }
        Counter(label: "gateway_webhook_events_total", dimensions: [("provider", provider), ("result", result)]).increment()
    }
}
