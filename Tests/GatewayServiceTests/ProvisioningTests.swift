import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import Logging
import MeetingProviders
import Testing

@testable import GatewayService

/// Room provisioning through the job table against the simulator over real loopback HTTP.
@Suite("Provisioning")
struct ProvisioningTests {
    static func sqliteStore(at path: String? = nil) async throws -> SQLiteStore {
        let file = path ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("gateway-test-\(UUID().uuidString)/gateway.sqlite").path
        let store = try await SQLiteStore.open(path: file)
        try await store.migrate()
        return store
    }

    @Test("PUT, worker, ready; PUT again keeps one room; DELETE removes it from the provider")
    func lifecycle() async throws {
        try await withSimulator { simulator, url in
            let gateway = await TestGateway(store: try await Self.sqliteStore(), simulatorURL: url)
            try await gateway.test { client in
                #expect(try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking())).status == .created)
                try await gateway.worker.runUntilIdle()
                let ready = try await client.call(.get, "/v1/sessions/B-1")
                #expect(ready.room["status"] as? String == "ready")
                #expect(ready.room["recording"] as? String == "disabled")
                #expect(simulator.roomNames == [DailyProvider.roomName(for: BookingID("B-1")!)])

                #expect(try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking())).status == .ok)
                try await gateway.worker.runUntilIdle()
                #expect(simulator.roomNames.count == 1)
                #expect(simulator.roomsCreated == 1)

                #expect(try await client.call(.delete, "/v1/sessions/B-1").status == .noContent)
                try await gateway.worker.runUntilIdle()
                #expect(simulator.roomNames.isEmpty)
                let deleted = try await client.call(.get, "/v1/sessions/B-1")
                #expect(deleted.room["status"] as? String == "deleted")
                #expect(deleted.json["state"] as? String == "cancelled")
            }
        }
    }

    @Test("A reschedule moves the provider room's window")
    func rescheduleUpdatesRoom() async throws {
        try await withSimulator { simulator, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            try await gateway.test { client in
                _ = try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking()))
                try await gateway.worker.runUntilIdle()
                _ = try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking(startOffset: 90000)))
                try await gateway.worker.runUntilIdle()
                let room = try #require(simulator.rooms.first)
                let newStart = Body.now.addingTimeInterval(90000)
                #expect(room.config["nbf"] == .number(newStart.timeIntervalSince1970 - 1800))
                #expect(room.config["exp"] == .number(newStart.timeIntervalSince1970 + 1800 + 4 * 3600))
                #expect(room.config["enable_recording"] == nil)
                #expect(room.privacy == "private")
                #expect(room.config["enable_knocking"] == .bool(true))
                #expect(simulator.roomsCreated == 1)
            }
        }
    }

    @Test("A restart with a pending provisioning job finishes it exactly once")
    func restartFinishesPendingJob() async throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("gateway-test-\(UUID().uuidString)/gateway.sqlite").path
        try await withSimulator { simulator, url in
            // First life: the session is accepted, then the process dies before the worker runs.
            do {
                let first = await TestGateway(store: try await Self.sqliteStore(at: path), simulatorURL: url)
                let status = try await first.test { client in
                    try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking())).status
                }
                #expect(status == .created)
                try await first.store.close()
            }
            #expect(simulator.roomsCreated == 0)
            // Second life on the same file.
            let second = await TestGateway(store: try await Self.sqliteStore(at: path), simulatorURL: url)
            try await second.worker.runUntilIdle()
            try await second.worker.runUntilIdle()
            let session = try #require(try await second.store.session(for: BookingID("B-1")!)?.session)
            #expect(session.room.status == .ready)
            #expect(simulator.roomsCreated == 1)
            let provision = try await second.store.jobs(for: BookingID("B-1")!).filter { $0.kind == .provisionRoom }
            #expect(provision.map(\.state) == [.done])
            #expect(provision.first?.attempts == 1)
        }
    }

    @Test("A worker that dies after the provider created the room leaves no duplicate")
    func crashAfterProviderCall() async throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("gateway-test-\(UUID().uuidString)/gateway.sqlite").path
        try await withSimulator { simulator, url in
            let first = await TestGateway(store: try await Self.sqliteStore(at: path), simulatorURL: url)
            _ = try await first.test { client in
                try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking()))
            }
            // Claim the job and call the provider as the worker would, then "crash": nothing is recorded.
            let claimed = try await first.store.claimDueJobs(
                at: first.clock.now, limit: 1, leaseUntil: first.clock.now + .seconds(60))
            #expect(claimed.map(\.kind) == [.provisionRoom])
            let stored = try #require(try await first.store.session(for: BookingID("B-1")!))
            let provider = try #require(first.sessions.providers.provider(named: "simulator"))
            _ = try await provider.createOrGetRoom(
                for: RoomSpec(session: stored.session, policy: SessionPolicy()), knownRoomID: nil, roomCreated: { _ in })
            try await first.store.close()
            #expect(simulator.roomsCreated == 1)

            let second = await TestGateway(store: try await Self.sqliteStore(at: path), simulatorURL: url)
            try await second.worker.runUntilIdle()
            #expect(try await second.store.session(for: BookingID("B-1")!)?.session.room.status == .pending)
            second.clock.advance(by: .seconds(61))  // the dead worker's lease ends
            try await second.worker.runUntilIdle()
            let session = try #require(try await second.store.session(for: BookingID("B-1")!)?.session)
            #expect(session.room.status == .ready)
            #expect(simulator.roomsCreated == 1)
            #expect(simulator.roomNames.count == 1)
            let job = try #require(try await second.store.jobs(for: BookingID("B-1")!).first { $0.kind == .provisionRoom })
            #expect(job.state == .done)
            #expect(job.attempts == 2)
        }
    }

    @Test("An unreachable provider is retried with back-off, then the session fails with a clear code")
    func unreachableProvider() async throws {
        let port = try FreePort.loopback()  // nothing listens here
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:\(port)/v1"))
        try await gateway.test { client in
            _ = try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking()))
            try await gateway.worker.runUntilIdle()
            var job = try #require(try await gateway.store.jobs(for: BookingID("B-1")!).first { $0.kind == .provisionRoom })
            #expect(job.state == .pending)
            #expect(job.attempts == 1)
            #expect(job.lastError?.hasPrefix("provider_unavailable") == true)
            #expect(job.dueAt > gateway.clock.now)
            for _ in 0..<2 {
                gateway.clock.advance(by: .seconds(60))
                try await gateway.worker.runUntilIdle()
            }
            job = try #require(try await gateway.store.jobs(for: BookingID("B-1")!).first { $0.kind == .provisionRoom })
            #expect(job.state == .dead)
            #expect(job.attempts == 3)
            let failed = try await client.call(.get, "/v1/sessions/B-1")
            #expect(failed.json["state"] as? String == "failed")
            #expect(failed.room["status"] as? String == "failed")
            #expect((failed.room["error"] as? [String: Any])?["code"] as? String == "provider_unavailable")
        }
    }

    @Test("Deadlines run in order with the clock: open, late, no-show and the room deleted")
    func deadlines() async throws {
        try await withSimulator { simulator, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            _ = try await gateway.test { client in
                try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking(startOffset: 7200)))
            }
            let id = BookingID("B-1")!
            try await gateway.worker.runUntilIdle()
            #expect(try await gateway.sessions.session(for: id)?.state == .scheduled)
            gateway.clock.advance(by: .seconds(7200 - 1800))
            try await gateway.worker.runUntilIdle()
            #expect(try await gateway.sessions.session(for: id)?.state == .open)
            gateway.clock.advance(by: .seconds(1800 + 300))
            try await gateway.worker.runUntilIdle()
            #expect(try await gateway.sessions.session(for: id)?.state == .late)
            gateway.clock.advance(by: .seconds(1500))
            try await gateway.worker.runUntilIdle()
            let session = try #require(try await gateway.sessions.session(for: id))
            #expect(session.state == .noShow)
            #expect(session.room.status == .deleted)
            #expect(simulator.roomNames.isEmpty)
            let trail = try await gateway.store.auditTrail(for: id).map(\.event)
            #expect(trail.contains("join_window_opened") && trail.contains("late_check_due") && trail.contains("slot_ended"))
        }
    }

    @Test("A provider that answers with recording on fails closed: room deleted, session failed with recording_policy")
    func recordingFailsClosed() async throws {
        try await withSimulator(domainRecording: "cloud") { simulator, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            try await gateway.test { client in
                #expect(try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking())).status == .created)
                try await gateway.worker.runUntilIdle()
                let failed = try await client.call(.get, "/v1/sessions/B-1")
                #expect(failed.json["state"] as? String == "failed")
                #expect(failed.room["status"] as? String == "failed")
                #expect(failed.room["recording"] as? String == "unknown")
                #expect((failed.room["error"] as? [String: Any])?["code"] as? String == "recording_policy")
                #expect(simulator.roomsCreated == 1)
                #expect(simulator.roomNames.isEmpty)
                let jobs = try await gateway.store.jobs(for: BookingID("B-1")!).map(\.kind)
                #expect(jobs.contains(.schedulerCallback(.roomFailed)))
            }
        }
    }
}
