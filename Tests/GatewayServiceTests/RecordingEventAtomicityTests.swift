import Foundation
import GatewayCore
import GatewayHTTP
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// A provider's "recording started" is acknowledged only once the change that stops it is stored.
@Suite("Recording events")
struct RecordingEventAtomicityTests {
    @Test("When the session write fails the provider gets a 5xx, and its redelivery is acted on")
    func failedWriteIsRetriedByTheProvider() async throws {
        let store = FailingStore(InMemoryStore())
        let (gateway, dependencies) = try await ProviderWebhookTests.dailyCallInProgress(store: store)
        let now = Int(gateway.clock.now.timeIntervalSince1970)
        let body = #"{"id":"evt-7","payload":{"room_name":"vg-room-1"},"type":"recording.started","version":"1.0.0"}"#
        try await Application(router: buildGatewayRouter(dependencies)).test(.router) { client in
            func deliver() async throws -> HTTPResponse.Status {
                try await client.execute(
                    uri: "/v1/webhooks/daily", method: .post, headers: ProviderWebhookTests.signed(body, at: now),
                    body: ByteBuffer(string: body)
                ) { $0.status }
            }
            store.failNextApply()
            let failed = try await deliver()
            let stopsAfterFailure = try await store.jobs(for: BookingID("B-1")!).filter { $0.kind == .stopRecording }
            // The provider delivers again: now the event is acted on, and a third delivery is a duplicate.
            let redelivered = try await deliver()
            let duplicate = try await deliver()
            #expect(failed == .serviceUnavailable)
            #expect(stopsAfterFailure.isEmpty)
            #expect(redelivered == .ok && duplicate == .ok)
        }
        #expect(try await store.jobs(for: BookingID("B-1")!).filter { $0.kind == .stopRecording }.count == 1)
        #expect(try await store.session(for: BookingID("B-1")!)?.session.room.recording == .started)
        let trail = try await store.auditTrail(for: BookingID("B-1")!)
        #expect(trail.filter { $0.event == "recording_started" }.count == 1)
    }
}

/// A store whose next `apply` fails as an unavailable database would; otherwise the wrapped store.
private final class FailingStore: GatewayStore {
    private let store: any GatewayStore
    private let failsNext = Mutex(false)

    init(_ store: any GatewayStore) { self.store = store }

    func failNextApply() { failsNext.withLock { $0 = true } }

    func apply(_ change: SessionChange) async throws -> StoredSession {
        let fails = failsNext.withLock { fails in
            defer { fails = false }
            return fails
        }
        if fails { throw StoreError.unavailable("disk I/O error") }
        return try await store.apply(change)
    }

    func session(for bookingID: BookingID) async throws -> StoredSession? { try await store.session(for: bookingID) }
    func session(joinToken: String) async throws -> StoredSession? { try await store.session(joinToken: joinToken) }
    func session(cancelToken: String) async throws -> StoredSession? { try await store.session(cancelToken: cancelToken) }
    func session(providerRoomID: String) async throws -> StoredSession? { try await store.session(providerRoomID: providerRoomID) }
    func sessions(matching query: SessionQuery) async throws -> [StoredSession] { try await store.sessions(matching: query) }
    func auditTrail(for bookingID: BookingID) async throws -> [AuditRecord] { try await store.auditTrail(for: bookingID) }
    func removeSession(_ bookingID: BookingID) async throws { try await store.removeSession(bookingID) }
    func claimDueJobs(at now: Date, limit: Int, leaseUntil: Date) async throws -> [Job] {
        try await store.claimDueJobs(at: now, limit: limit, leaseUntil: leaseUntil)
    }
    func resolve(_ job: Job, as resolution: JobResolution, at now: Date) async throws {
        try await store.resolve(job, as: resolution, at: now)
    }
    func release(_ jobs: [Job]) async throws { try await store.release(jobs) }
    func extendLeases(of jobIDs: [Int64], until leaseUntil: Date) async throws {
        try await store.extendLeases(of: jobIDs, until: leaseUntil)
    }
    func jobs(for bookingID: BookingID) async throws -> [Job] { try await store.jobs(for: bookingID) }
    func nextDueDate() async throws -> Date? { try await store.nextDueDate() }
    func recordWebhookReceipt(provider: String, eventID: String, at date: Date, forgettingBefore cutoff: Date) async throws
        -> Bool
    {
        try await store.recordWebhookReceipt(provider: provider, eventID: eventID, at: date, forgettingBefore: cutoff)
    }
    func migrate() async throws -> [Int] { try await store.migrate() }
    func isReady() async -> Bool { await store.isReady() }
    func close() async throws { try await store.close() }
    func reportCounts(fromDay: String, toDay: String, services: Set<String>?) async throws -> [ReportFigures.Key: [String: Int]] {
        try await store.reportCounts(fromDay: fromDay, toDay: toDay, services: services)
    }
    func operationalCounts(at now: Date) async throws -> OperationalCounts { try await store.operationalCounts(at: now) }
    func countAttempt(key: String, at now: Date, window: Duration) async throws -> AttemptWindow {
        try await store.countAttempt(key: key, at: now, window: window)
    }
}
