import Metrics

/// Counts provider webhook events by provider and result (`accepted`, `rejected`, `failed`):
/// `gateway_webhook_events_total`.
enum WebhookMetrics {
    static let prefix = "/v1/webhooks/"
    static let providers: Set<String> = ["daily", "zoom", "bigbluebutton", "msteams"]

    /// Counts the answer `status` to a request for `path`, when it is a webhook's.
    static func count(path: String, status: Int) {
        guard path.hasPrefix(prefix) else { return }
        let name = String(path.dropFirst(prefix.count))
        let provider = providers.contains(name) ? name : "unknown"
        let result = switch status {
        case 200..<300: "accepted"
        case 400..<500: "rejected"
        default: "failed"
        }
        Counter(label: "gateway_webhook_events_total", dimensions: [("provider", provider), ("result", result)]).increment()
    }
}
