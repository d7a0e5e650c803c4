import Foundation
import GatewayCore
import GatewayStorage
import Logging
import MeetingProviders
import ProviderSimulator
import SessionOrchestration
import Testing

/// The simulator's fault injection, and provisioning that survives it with no duplicate or orphan room.
@Suite("Provider faults", .timeLimit(.minutes(2)))
struct ProviderFaultTests {
    @Test(
        "Fault settings are parsed, and a wrong one is refused naming the part",
        arguments: [
            ("5xx=0.3,timeout=0.1", true), ("429=0.2,retry_after=3,slow_ms=10", true), ("", true),
            ("5xx=0.7,timeout=0.4", false), ("boom=0.1", false), ("5xx=x", false), ("slow=2", false),
        ])
    func parsing(_ text: String, _ isValid: Bool) {
        #expect(((try? SimulatorFaults(parsing: text)) != nil) == isValid)
    }

    @Test("Each draw maps to the fault whose share covers it")
    func draws() throws {
        let faults = try SimulatorFaults(parsing: "5xx=0.3,timeout=0.1")
        #expect(faults.fault(for: 0.0) == .serverError)
        #expect(faults.fault(for: 0.299) == .serverError)
        #expect(faults.fault(for: 0.3) == .timeout)
        #expect(faults.fault(for: 0.399) == .timeout)
        #expect(faults.fault(for: 0.4) == nil)
        #expect(SimulatorFaults.none.fault(for: 0) == nil)
    }

    @Test("Under 5xx, 429, dropped and lost answers every booking ends with one room, or failed with its room gone")
    func provisioningUnderFaults() async throws {
        let faults = try SimulatorFaults(parsing: "5xx=0.2,429=0.1,reset=0.1,lost=0.1,retry_after=1")
        try await withSimulator(faults: faults) { simulator, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            let worker = JobWorker(
                sessions: gateway.sessions, doorbell: Doorbell(), configuration: .init(),
                logger: Logger(label: "worker-test"))
            let ids = (1...30).map { "F-\($0)" }
            try await gateway.test { client in
                for id in ids {
                    #expect(try await client.call(.put, "/v1/sessions/\(id)", body: Body.json(Body.booking())).status == .created)
                }
                for (index, id) in ids.enumerated() where index % 5 == 0 {
                    #expect(try await client.call(.delete, "/v1/sessions/\(id)").status == .noContent)
                }
                // Every retry is due within the back-off; the manual clock jumps past each round's delays.
                for _ in 0..<12 {
                    try await worker.runUntilIdle()
                    gateway.clock.advance(by: .seconds(700))
                }
                var ready: Set<String> = []
                for (index, id) in ids.enumerated() {
                    let session = try await client.call(.get, "/v1/sessions/\(id)")
                    let status = session.room["status"] as? String
                    if index % 5 == 0 {
                        #expect(status == "deleted", "\(id): \(String(describing: status))")
                    } else if status == "ready" {
                        ready.insert(DailyProvider.roomName(for: BookingID(id)!))
                    } else {
                        #expect(status == "failed", "\(id): \(String(describing: status))")
                    }
                }
                let stats = simulator.stats
                #expect(stats.duplicateRooms.isEmpty)
                #expect(Set(stats.rooms) == ready, "rooms without a ready session are orphans")
                #expect(ready.count >= 20)
                #expect(stats.faultsInjected.values.reduce(0, +) > 10)
            }
        }
    }
}
