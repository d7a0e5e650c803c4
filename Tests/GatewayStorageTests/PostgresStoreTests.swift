import Foundation
import GatewayCore
import Logging
import Synchronization
import Testing

@testable import GatewayStorage

@Suite("PostgreSQL store", .timeLimit(.minutes(3)))
struct PostgresStoreTests {
    /// A second store on the same database: another replica.
    private func replica(of store: PostgresStore) throws -> PostgresStore {
        try PostgresStore.open(settings: store.settings, logger: Logger(label: "test"))
    }

    @Test("DATABASE_URL forms: TCP with TLS modes, a Unix socket, and clear errors")
    func settings() throws {
        let tcp = try PostgresSettings(url: "postgresql://gw:s%40cret@db.internal:6432/gateway?sslmode=verify-full")
        #expect(tcp.host == "db.internal" && tcp.port == 6432 && tcp.username == "gw" && tcp.password == "s@cret")
        #expect(tcp.database == "gateway" && tcp.tls == .verifyFull && tcp.socketPath == nil)
        #expect(!tcp.safeDescription.contains("s@cret") && !tcp.safeDescription.contains("gw"))
        let socket = try PostgresSettings(url: "postgres://gw@/gateway?host=/run/postgresql&port=5433")
        #expect(socket.socketPath == "/run/postgresql/.s.PGSQL.5433" && socket.tls == .disable)
        #expect(throws: PostgresSettingsError.self) { try PostgresSettings(url: "postgres://gw@db/gateway?sslmode=prefer") }
        #expect(throws: PostgresSettingsError.self) { try PostgresSettings(url: "postgres://db/gateway") }
        #expect(throws: PostgresSettingsError.self) { try PostgresSettings(url: "postgres://gw@db/") }
        #expect(throws: PostgresSettingsError.self) { try PostgresSettings(url: "postgres://gw@db/x", poolSize: 0) }
    }

    @Test("Two replicas claiming at once never take the same job, and every job is claimed once")
    func skipLockedClaims() async throws {
        let first = try await TestPostgres.freshStore()
        let second = try replica(of: first)
        for index in 0..<60 {
            try await first.apply(
                SessionChange(
                    session: Fixture.session("B-\(index)"), expectedVersion: nil,
                    jobs: [Fixture.job("B-\(index)", .provisionRoom)]))
        }
        let lease = Fixture.now + .seconds(60)
        let claimed = try await withThrowingTaskGroup(of: [Job].self) { group in
            for store in [first, second, first, second] {
                group.addTask {
                    var mine: [Job] = []
                    while true {
                        let batch = try await store.claimDueJobs(at: Fixture.now, limit: 7, leaseUntil: lease)
                        if batch.isEmpty { return mine }
                        mine += batch
                    }
                }
            }
            return try await group.reduce(into: [Job]()) { $0 += $1 }
        }
        #expect(claimed.count == 60)
        #expect(Set(claimed.map(\.id)).count == 60)
        #expect(claimed.allSatisfy { $0.attempts == 1 })
    }

    @Test("A change that enqueues a job notifies every listening replica; live events are numbered across replicas")
    func notifications() async throws {
        let first = try await TestPostgres.freshStore()
        let second = try replica(of: first)
        let received = Mutex<[(String, String)]>([])
        let listening = Mutex(false)
        let listener = Task {
            try await second.listen(
                to: [PostgresStore.jobsChannel, PostgresStore.liveEventsChannel],
                onListening: { listening.withLock { $0 = true } },
                onNotification: { channel, payload in received.withLock { $0.append((channel, payload)) } })
        }
        defer { listener.cancel() }
        try await waitUntil { listening.withLock { $0 } }
        try await first.apply(SessionChange(session: Fixture.session("B-1"), expectedVersion: nil))
        try await first.apply(
            SessionChange(session: Fixture.session("B-2"), expectedVersion: nil, jobs: [Fixture.job("B-2", .provisionRoom)]))
        try await first.publishLiveEvent(json: #"{"name":"a"}"#)
        try await second.publishLiveEvent(json: #"{"name":"b"}"#)
        try await waitUntil { received.withLock { $0.count >= 3 } }
        let all = received.withLock { $0 }
        #expect(all.filter { $0.0 == PostgresStore.jobsChannel }.count == 1)
        let events = all.filter { $0.0 == PostgresStore.liveEventsChannel }.map(\.1)
        #expect(events == [#"1 {"name":"a"}"#, #"2 {"name":"b"}"#])
    }

    @Test("Attempt limits are shared: two replicas count against the same window")
    func sharedAttempts() async throws {
        let first = try await TestPostgres.freshStore()
        let second = try replica(of: first)
        for index in 0..<10 {
            let store = index.isMultiple(of: 2) ? first : second
            _ = try await store.countAttempt(key: "ip:198.51.100.7", at: Fixture.now + .seconds(index), window: .seconds(60))
        }
        #expect(try await first.countAttempt(key: "ip:198.51.100.7", at: Fixture.now + .seconds(11), window: .seconds(60)).count == 11)
    }

    @Test("A database that does not answer fails within the timeout as unavailable, and is not ready")
    func unreachable() async throws {
        // A loopback port with nothing listening.
        var settings = try PostgresSettings(url: "postgres://gateway@127.0.0.1:9/gateway", poolSize: 2, timeout: .seconds(1))
        settings.socketDirectory = nil
        let store = try PostgresStore.open(settings: settings, logger: Logger(label: "test"))
        let started = ContinuousClock.now
        await #expect {
            _ = try await store.session(for: BookingID("B-1")!)
        } throws: { error in
            if case StoreError.unavailable = error { return true }
            return false
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(await !store.isReady())
        try await store.close()
    }

    @Test("An exhausted pool answers unavailable within the timeout, and serves again once a connection is free")
    func exhaustedPool() async throws {
        let fresh = try await TestPostgres.freshStore()
        var settings = fresh.settings
        settings.poolSize = 1
        settings.timeout = .seconds(3)
        let store = try PostgresStore.open(settings: settings, logger: Logger(label: "test"))
        // The pool's only connection is busy for 2 s.
        let busy = Task { try await store.executeForTesting("SELECT pg_sleep(2)") }
        try await Task.sleep(for: .milliseconds(300))
        let started = ContinuousClock.now
        await #expect {
            try await store.executeForTesting("SELECT 1", within: .milliseconds(500))
        } throws: { error in
            if case StoreError.unavailable = error { return true }
            return false
        }
        #expect(ContinuousClock.now - started < .milliseconds(1500))
        try await busy.value
        #expect(try await store.session(for: BookingID("B-1")!) == nil, "served again")
    }

    @Test("A driver call that ignores cancellation still gives way to the timeout: the caller is answered unavailable")
    func stuckCallIsNotWaitedFor() async throws {
        let parked = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let started = ContinuousClock.now
        await #expect {
            try await PostgresStore.race({
                await withCheckedContinuation { continuation in parked.withLock { $0 = continuation } }
                return 1
            }, against: .milliseconds(300))
        } throws: { error in
            if case StoreError.unavailable = error { return true }
            return false
        }
        #expect(ContinuousClock.now - started < .seconds(2))
        // Let the abandoned work end.
        while parked.withLock({ $0 == nil }) { try await Task.sleep(for: .milliseconds(10)) }
        parked.withLock { $0?.resume() }
        #expect(try await PostgresStore.race({ 7 }, against: .seconds(5)) == 7)
    }

    private func waitUntil(_ condition: @Sendable () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw WaitTimedOut() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

struct WaitTimedOut: Error {}

@Suite("PostgreSQL job batches")
struct PostgresJobBatchTests {
    @Test("Jobs are split so that no key repeats in a batch, each key's n-th job in the n-th batch, in order")
    func batches() {
        let a1 = Fixture.job("B-1", .provisionRoom)
        let a2 = Fixture.job("B-1", .provisionRoom, dueAt: Fixture.now + .seconds(5))
        let a3 = Fixture.job("B-1", .provisionRoom, dueAt: Fixture.now + .seconds(9))
        let b = Fixture.job("B-1", .provisionRoom, generation: 2)
        let c = Fixture.job("B-1", .deadline(.lateCheck))
        let batches = PostgresStore.jobBatches([a1, b, a2, c, a3])
        #expect(batches.map { $0.map(\.dueAt) } == [[a1.dueAt, b.dueAt, c.dueAt], [a2.dueAt], [a3.dueAt]])
        #expect(batches.map { $0.map(\.generation) } == [[1, 2, 1], [1], [1]])
        #expect(PostgresStore.jobBatches([]).isEmpty)
        #expect(PostgresStore.jobBatches([c, b]).count == 1)
    }
}
