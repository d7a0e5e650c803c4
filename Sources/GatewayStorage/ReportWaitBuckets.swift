import GatewayCore

/// How a service and day's lobby-wait histogram is kept in one text column: `seconds:count` pairs,
/// comma-separated, in order of seconds.
enum ReportWaitBuckets {
    static func parse(_ text: String) -> [Int: Int] {
        var buckets: [Int: Int] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: ":")
            if parts.count == 2, let seconds = Int(parts[0]), let count = Int(parts[1]) { buckets[seconds] = count }
        }
        return buckets
    }

    /// The stored text with signed `wait:` metric counts (see `ReportFigures.waitMetric`) added.
    static func adding(_ waits: [String: Int], to stored: String?) -> String {
        var buckets = stored.map(parse) ?? [:]
        for (metric, change) in waits {
            guard let seconds = Int(metric.dropFirst(ReportFigures.waitPrefix.count)) else { continue }
            buckets[seconds, default: 0] += change
        }
        return buckets.filter { $0.value != 0 }.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }
            .joined(separator: ",")
    }
}
