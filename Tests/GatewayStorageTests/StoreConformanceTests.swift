import Foundation
import GatewayCore
import Logging
import Testing

@testable import GatewayStorage

/// The stores the gateway can run on; every test below runs against each.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    func make() async throws -> any GatewayStore {
        switch self {
        case .memory:
            return InMemoryStore()
        case .sqlite:
            let path = FileManager.default.temporaryDirectory
                .appendingPathComponent("gateway-test-\(UUID().uuidString)/gateway.sqlite").path
            let store = try await SQLiteStore.open(path: path)
            try await store.migrate()
            return store
        case .postgres:
            return try await TestPostgres.freshStore()
        }
    }
}

/// A PostgreSQL server for the tests: `GATEWAY_TEST_POSTGRES_URL` names it (the test command starts
/// one; see scripts/postgres.sh). Each store gets a database of its own. Without the variable the
/// PostgreSQL tests fail: they never pass by not running.
enum TestPostgres {
    static func baseSettings() throws -> PostgresSettings {
        guard let url = ProcessInfo.processInfo.environment["GATEWAY_TEST_POSTGRES_URL"] else {
            throw TestPostgresMissing()
        }
        return try PostgresSettings(url: url, poolSize: 4, timeout: .seconds(10))
    }

    static func freshStore() async throws -> PostgresStore {
        var settings = try baseSettings()
        let admin = try PostgresStore.open(settings: settings, logger: Logger(label: "test"))
        let name = "gateway_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await admin.executeForTesting("CREATE DATABASE \(name)")
        try await admin.close()
        settings.database = name
        let store = try PostgresStore.open(settings: settings, logger: Logger(label: "test"))
        try await store.migrate()
        return store
    }
}

struct TestPostgresMissing: Error, CustomStringConvertible {
    var description: String {
        "GATEWAY_TEST_POSTGRES_URL is not set: start a server with scripts/postgres.sh (scripts/test.sh does)"
    }
}

enum Fixture {
    static let now = Date(timeIntervalSince1970: 1_900_000_000)

    static func session(_ id: String, startsAt: Date = now + .seconds(3600), service: String = "prestacoes-familiares")
        -> Session
    {
        Session(
            bookingID: BookingID(id)!,
            booking: Booking(
                service: service, startsAt: startsAt, endsAt: startsAt + .seconds(1800), provider: "simulator",
                citizen: Citizen(name: "Maria Sousa", email: "maria@example.pt")),
            access: AccessCredentials.issue(using: .random()).0, createdAt: now)
    }

    static func job(_ id: String, _ kind: JobKind, generation: Int = 1, dueAt: Date = now) -> JobRequest {
        JobRequest(bookingID: BookingID(id)!, kind: kind, generation: generation, dueAt: dueAt)
    }
}

@Suite("Store conformance", .timeLimit(.minutes(3)))
struct StoreConformanceTests {
    @Test("A stored session reads back equal, by booking and by join token", arguments: StoreKind.allCases)
    func roundTrip(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let session = Fixture.session("B-1")
        let stored = try await store.apply(SessionChange(session: session, expectedVersion: nil))
        #expect(stored.version == 1)
        #expect(try await store.session(for: session.bookingID) == stored)
        #expect(try await store.session(joinToken: session.access.joinToken)?.session == session)
        #expect(try await store.session(for: BookingID("B-2")!) == nil)
    }

    @Test("Inserting an existing booking fails and writes nothing", arguments: StoreKind.allCases)
    func duplicateInsert(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let first = Fixture.session("B-1")
        try await store.apply(SessionChange(session: first, expectedVersion: nil))
        var second = Fixture.session("B-1")
        second.booking.service = "other"
        await #expect(throws: StoreError.alreadyExists(first.bookingID)) {
            try await store.apply(
                SessionChange(session: second, expectedVersion: nil, jobs: [Fixture.job("B-1", .provisionRoom)]))
        }
        #expect(try await store.session(for: first.bookingID)?.session == first)
        #expect(try await store.jobs(for: first.bookingID).isEmpty)
    }

    @Test("An update with a stale version is refused and writes nothing", arguments: StoreKind.allCases)
    func optimisticConcurrency(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        var session = Fixture.session("B-1")
        try await store.apply(SessionChange(session: session, expectedVersion: nil))
        session.state = .open
        let updated = try await store.apply(SessionChange(session: session, expectedVersion: 1))
        #expect(updated.version == 2)
        session.state = .cancelled
        await #expect(throws: StoreError.versionConflict(session.bookingID)) {
            try await store.apply(
                SessionChange(session: session, expectedVersion: 1, jobs: [Fixture.job("B-1", .deleteRoom)]))
        }
        #expect(try await store.session(for: session.bookingID)?.session.state == .open)
        #expect(try await store.jobs(for: session.bookingID).isEmpty)
    }

    @Test("A companion's link finds the session while they are on it, and not once they are replaced",
          arguments: StoreKind.allCases)
    func companionLinks(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let hasher = AccessCodeHasher.random()
        var session = Fixture.session("B-1")
        session.booking.companions = [Companion(role: .interpreter, name: "Rita Gomes")]
        _ = session.issueCompanionAccess(using: hasher)
        try await store.apply(SessionChange(session: session, expectedVersion: nil))
        let rita = try #require(session.companions.first?.access.joinToken)
        #expect(try await store.session(joinToken: rita)?.session.bookingID == session.bookingID)
        // Another change that keeps the companion keeps the link.
        session.state = .open
        try await store.apply(SessionChange(session: session, expectedVersion: 1))
        #expect(try await store.session(joinToken: rita)?.version == 2)
        // Replaced: the new companion's link finds the session, the old one nothing.
        let previous = session.booking.companions
        session.booking.companions = [Companion(role: .representative, name: "João Lima")]
        _ = session.issueCompanionAccess(using: hasher, previous: previous)
        try await store.apply(SessionChange(session: session, expectedVersion: 2))
        let joao = try #require(session.companions.first?.access.joinToken)
        #expect(joao != rita)
        #expect(try await store.session(joinToken: joao)?.version == 3)
        #expect(try await store.session(joinToken: rita) == nil)
        // No companion left: no companion link at all.
        session.booking.companions = []
        _ = session.issueCompanionAccess(using: hasher, previous: session.booking.companions)
        try await store.apply(SessionChange(session: session, expectedVersion: 3))
        #expect(try await store.session(joinToken: joao) == nil)
        #expect(try await store.session(joinToken: session.access.joinToken)?.version == 4)
    }

    @Test("Audit records are kept in order", arguments: StoreKind.allCases)
    func audit(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let session = Fixture.session("B-1")
        let records = [
            AuditRecord(bookingID: session.bookingID, at: Fixture.now, actor: .scheduler, event: "created", fromState: nil, toState: .scheduled),
            AuditRecord(bookingID: session.bookingID, at: Fixture.now, actor: .attendant(id: "a-17"), event: "admitted", fromState: .waiting, toState: .inProgress),
        ]
        try await store.apply(SessionChange(session: session, expectedVersion: nil, audit: records))
        #expect(try await store.auditTrail(for: session.bookingID) == records)
    }

    @Test("A webhook receipt is recognised inside the replay window and forgotten after it", arguments: StoreKind.allCases)
    func webhookReceipts(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let window: TimeInterval = 600
        func record(_ id: String, at date: Date) async throws -> Bool {
            try await store.recordWebhookReceipt(
                provider: "daily", eventID: id, at: date, forgettingBefore: date.addingTimeInterval(-window))
        }
        #expect(try await record("evt-1", at: Fixture.now))
        #expect(try await !record("evt-1", at: Fixture.now.addingTimeInterval(window - 1)))
        #expect(try await store.recordWebhookReceipt(
            provider: "zoom", eventID: "evt-1", at: Fixture.now, forgettingBefore: Fixture.now.addingTimeInterval(-window)))
        // Past the window the receipt is gone (a replay that old is refused as stale before it gets here).
        #expect(try await record("evt-2", at: Fixture.now.addingTimeInterval(window + 1)))
        #expect(try await record("evt-1", at: Fixture.now.addingTimeInterval(window + 2)))
    }

    @Test("The list filters by time, service and state and pages with a cursor", arguments: StoreKind.allCases)
    func listing(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        for index in 0..<7 {
            var session = Fixture.session(
                "B-\(index)", startsAt: Fixture.now + .seconds(Int64(3600 * (index / 2))),
                service: index == 3 ? "pensoes" : "prestacoes-familiares")
            if index == 5 { session.state = .cancelled }
            try await store.apply(SessionChange(session: session, expectedVersion: nil))
        }
        let all = try await store.sessions(matching: SessionQuery(limit: 100)).map(\.session.bookingID.rawValue)
        #expect(all == ["B-0", "B-1", "B-2", "B-3", "B-4", "B-5", "B-6"])
        var pages: [[String]] = []
        var cursor: SessionCursor?
        repeat {
            let page = try await store.sessions(matching: SessionQuery(after: cursor, limit: 3)).map(\.session)
            pages.append(page.map(\.bookingID.rawValue))
            cursor = page.count == 3 ? page.last.map(SessionCursor.init(after:)) : nil
        } while cursor != nil
        #expect(pages.flatMap { $0 } == all)
        let window = try await store.sessions(
            matching: SessionQuery(from: Fixture.now + .seconds(3600), to: Fixture.now + .seconds(7200)))
        #expect(window.map(\.session.bookingID.rawValue) == ["B-2", "B-3"])
        #expect(try await store.sessions(matching: SessionQuery(service: "pensoes")).map(\.session.bookingID.rawValue) == ["B-3"])
        #expect(try await store.sessions(matching: SessionQuery(state: .cancelled)).map(\.session.bookingID.rawValue) == ["B-5"])
    }

    @Test("A job is unique per booking, kind and generation; a finished one can be re-armed", arguments: StoreKind.allCases)
    func jobUniqueness(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let session = Fixture.session("B-1")
        try await store.apply(
            SessionChange(
                session: session, expectedVersion: nil,
                jobs: [Fixture.job("B-1", .provisionRoom), Fixture.job("B-1", .provisionRoom), Fixture.job("B-1", .provisionRoom, generation: 2)]))
        #expect(try await store.jobs(for: session.bookingID).count == 2)
        let claimed = try await store.claimDueJobs(at: Fixture.now, limit: 10, leaseUntil: Fixture.now + .seconds(60))
        #expect(claimed.count == 2)
        #expect(claimed.allSatisfy { $0.state == .running && $0.attempts == 1 })
        for job in claimed { try await store.resolve(job, as: .done, at: Fixture.now) }
        try await store.apply(
            SessionChange(session: session, expectedVersion: 1, jobs: [Fixture.job("B-1", .provisionRoom, dueAt: Fixture.now + .seconds(5))]))
        let jobs = try await store.jobs(for: session.bookingID)
        #expect(jobs.count == 2)
        #expect(jobs.filter { $0.state == .pending }.map(\.generation) == [1])
        #expect(jobs.first { $0.generation == 1 }?.attempts == 0)
    }

    @Test("Only due jobs are claimed, once, until their lease ends", arguments: StoreKind.allCases)
    func leases(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        try await store.apply(
            SessionChange(
                session: Fixture.session("B-1"), expectedVersion: nil,
                jobs: [Fixture.job("B-1", .provisionRoom), Fixture.job("B-1", .deadline(.lateCheck), dueAt: Fixture.now + .seconds(600))]))
        let lease = Fixture.now + .seconds(60)
        let first = try await store.claimDueJobs(at: Fixture.now, limit: 10, leaseUntil: lease)
        #expect(first.map(\.kind) == [.provisionRoom])
        #expect(try await store.claimDueJobs(at: Fixture.now + .seconds(30), limit: 10, leaseUntil: lease).isEmpty)
        #expect(try await store.nextDueDate() == lease)
        // The worker died: once the lease ends the job is claimed again, as a second attempt.
        let again = try await store.claimDueJobs(at: lease, limit: 10, leaseUntil: lease + .seconds(60))
        #expect(again.map(\.id) == first.map(\.id))
        #expect(again.first?.attempts == 2)
    }

    @Test("A waiting job asked for again with a new payload carries the new one", arguments: StoreKind.allCases)
    func newPayload(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        func invitation(_ payload: String) -> JobRequest {
            JobRequest(
                bookingID: BookingID("B-1")!, kind: .companionInvitation("companion-1"), generation: 1,
                dueAt: Fixture.now, payload: payload)
        }
        try await store.apply(SessionChange(session: Fixture.session("B-1"), expectedVersion: nil, jobs: [invitation("first")]))
        try await store.apply(SessionChange(session: Fixture.session("B-1"), expectedVersion: 1, jobs: [invitation("second")]))
        let jobs = try await store.jobs(for: BookingID("B-1")!)
        #expect(jobs.count == 1)
        #expect(jobs.first?.payload == "second" && jobs.first?.state == .pending)
    }

    @Test("A released job is claimable again at once, without counting the interrupted attempt", arguments: StoreKind.allCases)
    func release(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        try await store.apply(
            SessionChange(session: Fixture.session("B-1"), expectedVersion: nil, jobs: [Fixture.job("B-1", .provisionRoom)]))
        let lease = Fixture.now + .seconds(60)
        let claimed = try await store.claimDueJobs(at: Fixture.now, limit: 10, leaseUntil: lease)
        #expect(claimed.count == 1)
        try await store.release(claimed)
        let again = try await store.claimDueJobs(at: Fixture.now + .seconds(1), limit: 10, leaseUntil: lease)
        #expect(again.map(\.id) == claimed.map(\.id))
        #expect(again.first?.attempts == 1)
        // Releasing a job that is no longer running (finished meanwhile) changes nothing.
        try await store.resolve(again[0], as: .done, at: Fixture.now + .seconds(2))
        try await store.release(again)
        #expect(try await store.jobs(for: BookingID("B-1")!).first?.state == .done)
    }

    @Test("Retry moves the due time and keeps the error; dead jobs are never claimed", arguments: StoreKind.allCases)
    func resolutions(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        try await store.apply(
            SessionChange(
                session: Fixture.session("B-1"), expectedVersion: nil,
                jobs: [Fixture.job("B-1", .provisionRoom), Fixture.job("B-1", .deleteRoom)]))
        let claimed = try await store.claimDueJobs(at: Fixture.now, limit: 10, leaseUntil: Fixture.now + .seconds(60))
        let provision = try #require(claimed.first { $0.kind == .provisionRoom })
        let delete = try #require(claimed.first { $0.kind == .deleteRoom })
        try await store.resolve(provision, as: .retry(at: Fixture.now + .seconds(8), error: "provider_unavailable"), at: Fixture.now)
        try await store.resolve(delete, as: .dead(error: "provider_rejected"), at: Fixture.now)
        let jobs = try await store.jobs(for: BookingID("B-1")!)
        #expect(jobs.first { $0.kind == .provisionRoom }?.lastError == "provider_unavailable")
        #expect(jobs.first { $0.kind == .deleteRoom }?.state == .dead)
        #expect(try await store.claimDueJobs(at: Fixture.now + .seconds(7), limit: 10, leaseUntil: Fixture.now + .seconds(99)).isEmpty)
        let retried = try await store.claimDueJobs(at: Fixture.now + .seconds(8), limit: 10, leaseUntil: Fixture.now + .seconds(99))
        #expect(retried.map(\.kind) == [.provisionRoom])
        for job in retried { try await store.resolve(job, as: .done, at: Fixture.now + .seconds(8)) }
        #expect(try await store.claimDueJobs(at: Fixture.now + .seconds(3600), limit: 10, leaseUntil: Fixture.now + .seconds(9999)).isEmpty)
    }

    @Test("A change completes its job and drops pending deadlines atomically", arguments: StoreKind.allCases)
    func atomicCompletion(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        var session = Fixture.session("B-1")
        try await store.apply(
            SessionChange(
                session: session, expectedVersion: nil,
                jobs: [Fixture.job("B-1", .provisionRoom), Fixture.job("B-1", .deadline(.lateCheck), dueAt: Fixture.now + .seconds(900))]))
        let job = try #require(try await store.claimDueJobs(at: Fixture.now, limit: 1, leaseUntil: Fixture.now + .seconds(60)).first)
        session.state = .cancelled
        try await store.apply(
            SessionChange(
                session: session, expectedVersion: 1, jobs: [Fixture.job("B-1", .deleteRoom)],
                cancelsPendingDeadlines: true, completesJob: job.id))
        let jobs = try await store.jobs(for: session.bookingID)
        #expect(jobs.map(\.kind) == [.provisionRoom, .deleteRoom])
        #expect(jobs.first?.state == .done)
        #expect(try await store.nextDueDate() == Fixture.now)
    }

    @Test("A job's sealed payload is kept until the job is done, then erased", arguments: StoreKind.allCases)
    func payloads(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let request = JobRequest(
            bookingID: BookingID("B-1")!, kind: .citizenNotice(.invitation), generation: 1, dueAt: Fixture.now,
            payload: "sealed")
        try await store.apply(SessionChange(session: Fixture.session("B-1"), expectedVersion: nil, jobs: [request]))
        let claimed = try await store.claimDueJobs(at: Fixture.now, limit: 1, leaseUntil: Fixture.now + .seconds(60))
        #expect(claimed.first?.payload == "sealed")
        try await store.resolve(try #require(claimed.first), as: .done, at: Fixture.now)
        #expect(try await store.jobs(for: BookingID("B-1")!).first?.payload == nil)
    }

    @Test("A job that completes itself while arming its own next run is re-armed (a renewal)", arguments: StoreKind.allCases)
    func selfRearm(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let session = Fixture.session("B-1")
        try await store.apply(SessionChange(session: session, expectedVersion: nil, jobs: [Fixture.job("B-1", .watchRecordings)]))
        let claimed = try #require(
            try await store.claimDueJobs(at: Fixture.now, limit: 1, leaseUntil: Fixture.now + .seconds(60)).first)
        let stored = try #require(try await store.session(for: session.bookingID))
        try await store.apply(
            SessionChange(
                session: stored.session, expectedVersion: stored.version,
                jobs: [Fixture.job("B-1", .watchRecordings, dueAt: Fixture.now + .seconds(3600))], completesJob: claimed.id))
        let jobs = try await store.jobs(for: session.bookingID)
        #expect(jobs.count == 1)
        #expect(jobs.first?.state == .pending && jobs.first?.dueAt == Fixture.now + .seconds(3600))
        #expect(try await store.claimDueJobs(at: Fixture.now + .seconds(3600), limit: 5, leaseUntil: Fixture.now + .seconds(3700)).count == 1)
    }

    @Test("Migrations apply once and make the store ready", arguments: StoreKind.allCases)
    func migrations(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        #expect(try await store.migrate().isEmpty)
        #expect(await store.isReady())
    }

    @Test("The audit trail is append-only in the database itself: updates and deletes are refused",
          arguments: [StoreKind.sqlite, .postgres])
    func appendOnlyAudit(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let session = Fixture.session("B-1")
        try await store.apply(
            SessionChange(
                session: session, expectedVersion: nil,
                audit: [AuditRecord(bookingID: session.bookingID, at: Fixture.now, actor: .scheduler, event: "created", fromState: nil, toState: .scheduled)]))
        let execute: @Sendable (String) async throws -> Void = { sql in
            if let sqlite = store as? SQLiteStore { try await sqlite.executeForTesting(sql) }
            if let postgres = store as? PostgresStore { try await postgres.executeForTesting(sql) }
        }
        await #expect(throws: (any Error).self) { try await execute("UPDATE audit_events SET actor = 'system'") }
        await #expect(throws: (any Error).self) { try await execute("DELETE FROM audit_events") }
        try await store.removeSession(session.bookingID)
        #expect(try await store.auditTrail(for: session.bookingID).map(\.event) == ["created"])
    }

    @Test("Concurrent writers on one store serialise without losing updates", arguments: StoreKind.allCases)
    func concurrentWriters(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        for index in 0..<20 {
            try await store.apply(SessionChange(session: Fixture.session("B-\(index)"), expectedVersion: nil))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask {
                    let stored = try #require(try await store.session(for: BookingID("B-\(index)")!))
                    var updated = stored.session
                    updated.state = .open
                    try await store.apply(SessionChange(session: updated, expectedVersion: stored.version))
                }
            }
            try await group.waitForAll()
        }
        let open = try await store.sessions(matching: SessionQuery(state: .open, limit: 100))
        #expect(open.count == 20)
    }

    @Test("Attempts are counted per key in fixed windows that start at a key's first attempt",
          arguments: StoreKind.allCases)
    func attemptWindows(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let window = Duration.seconds(60)
        #expect(try await store.countAttempt(key: "a", at: Fixture.now, window: window) == AttemptWindow(count: 1, start: Fixture.now))
        #expect(try await store.countAttempt(key: "a", at: Fixture.now + .seconds(30), window: window).count == 2)
        #expect(try await store.countAttempt(key: "b", at: Fixture.now + .seconds(30), window: window).count == 1)
        #expect(try await store.countAttempt(key: "a", at: Fixture.now + .seconds(59), window: window).count == 3)
        let next = try await store.countAttempt(key: "a", at: Fixture.now + .seconds(60), window: window)
        #expect(next == AttemptWindow(count: 1, start: Fixture.now + .seconds(60)))
    }
}

@Suite("SQLite store")
struct SQLiteStoreTests {
    @Test("A fresh file is not ready until migrated, and survives reopening")
    func freshFile() async throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("gateway-test-\(UUID().uuidString)/nested/gateway.sqlite").path
        let store = try await SQLiteStore.open(path: path)
        #expect(await !store.isReady())
        #expect(try await store.migrate() == [1, 2, 3, 4, 5, 6])
        #expect(await store.isReady())
        let session = Fixture.session("B-1")
        try await store.apply(SessionChange(session: session, expectedVersion: nil))
        try await store.close()
        let reopened = try await SQLiteStore.open(path: path)
        #expect(try await reopened.migrate().isEmpty)
        #expect(try await reopened.session(for: session.bookingID)?.session == session)
        let mode = try await reopened.journalMode()
        #expect(mode == "wal")
        #expect(try await reopened.synchronousSetting() == 2)
        let temporary = try await reopened.temporaryStoreSettings()
        #expect(temporary.writer == 2 && temporary.reader == 2, "temporary files in memory, never in /var/tmp")
    }
}
