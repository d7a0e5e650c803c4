import Foundation
import GatewayCore
import GatewayStorage
import Logging
import SessionOrchestration
import Synchronization
import Testing

/// The worker keeps independent jobs moving and hands its claims back when it stops.
@Suite("Job worker", .timeLimit(.minutes(1)))
struct JobWorkerTests {
    @Test("A receiver that hangs holds one job, not the queue; a stopping worker hands that job back")
    func noHeadOfLineBlocking() async throws {
        let notifier = GatedNotifier(blocked: "SLOW")
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: nil)
        let bookings = ["SLOW", "B-2", "B-3", "B-4"]
        for id in bookings { try await storeLateCandidate(id, in: gateway) }
        gateway.clock.advance(by: .seconds(900))
        let worker = JobWorker(
            sessions: gateway.sessions, notifier: notifier, doorbell: Doorbell(),
            configuration: .init(batchSize: 2, concurrency: 4, shutdownGrace: .milliseconds(200)),
            logger: Logger(label: "worker-test"))
        let running = Task { try await worker.run() }

        // The other bookings' e-mails go out while the first one's receiver hangs.
        try await waitUntil { notifier.sent == ["B-2", "B-3", "B-4"] }
        #expect(notifier.isWaiting)
        let slowJob = { try await gateway.store.jobs(for: BookingID("SLOW")!).first { $0.kind == .fallback(.email) } }
        #expect(try await slowJob()?.state == .running)

        // Stopping: after the grace period the hanging job is back in the queue, its attempt not counted.
        running.cancel()
        try await waitUntil { try await slowJob()?.state == .pending }
        #expect(try await slowJob()?.attempts == 0)
        notifier.open()
        try await running.value
    }

    private func storeLateCandidate(_ id: String, in gateway: TestGateway) async throws {
        let bookingID = BookingID(id)!
        let booking = Booking(
            service: "prestacoes-familiares", startsAt: gateway.clock.now + .seconds(600),
            endsAt: gateway.clock.now + .seconds(2400), provider: "simulator",
            citizen: Citizen(name: "Maria", email: "maria@example.pt"), notifyCitizen: false)
        var session = Session(
            bookingID: bookingID, booking: booking, access: AccessCredentials.issue(using: .random()).0, createdAt: gateway.clock.now)
        session.room.status = .ready
        try await gateway.store.apply(
            SessionChange(
                session: session, expectedVersion: nil,
                jobs: [
                    JobRequest(bookingID: bookingID, kind: .deadline(.lateCheck), generation: 1, dueAt: booking.startsAt + .seconds(300))
                ]))
    }

    private func waitUntil(_ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("condition not met within 10 s")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Records e-mail fallbacks; the one for `blocked` hangs until `open()`.
private final class GatedNotifier: Notifier {
    private struct State {
        var sent: [String] = []
        var isOpen = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let blocked: String
    private let state = Mutex(State())

    init(blocked: String) { self.blocked = blocked }

    var sent: [String] { state.withLock { $0.sent.sorted() } }
    var isWaiting: Bool { state.withLock { $0.waiter != nil } }

    func open() {
        let waiter = state.withLock { state in
            state.isOpen = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func sendFallback(_ channel: FallbackChannel, for session: Session) async throws {
        if session.bookingID.rawValue == blocked {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let isOpen = state.withLock { state in
                    if !state.isOpen { state.waiter = continuation }
                    return state.isOpen
                }
                if isOpen { continuation.resume() }
            }
            return
        }
        state.withLock { $0.sent.append(session.bookingID.rawValue) }
    }

    func sendNotice(_ notice: CitizenNotice, for session: Session, validationCode: String?) async throws {}
    func notifyScheduler(_ event: SchedulerEvent, about session: Session) async throws {}
}
