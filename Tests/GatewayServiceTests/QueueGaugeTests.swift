import Foundation
import GatewayStorage
import Testing

@testable import GatewayService
@testable import SessionOrchestration

/// The queue gauges follow the queue down to zero.
@Suite("Queue gauges")
struct QueueGaugeTests {
    @Test("A job kind whose queue emptied reads 0 at the next scrape, not its last depth")
    func emptiedQueueReadsZero() {
        let registry = GatewayRuntime.metricsRegistry
        let kind = "deadline.queue_gauge_test"
        func depth() -> String? {
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return String(decoding: buffer, as: UTF8.self).split(separator: "\n")
                .first { $0.hasPrefix("gateway_job_queue_depth{kind=\"\(kind)\"}") }
                .map { String($0.split(separator: " ").last ?? "") }
        }
        DomainMetrics.refreshGauges(
            OperationalCounts(citizensWaiting: 0, jobsByKind: [kind: .init(pending: 7, oldestDueAgeSeconds: 3)]),
            openStreams: 0)
        #expect(depth() == "7.0" || depth() == "7")
        DomainMetrics.refreshGauges(OperationalCounts(citizensWaiting: 0, jobsByKind: [:]), openStreams: 0)
        #expect(depth() == "0.0" || depth() == "0")
    }
}
