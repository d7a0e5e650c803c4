import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import SessionOrchestration
import Synchronization
import Testing

/// A room that cannot be taken back is never silent.
@Suite("Room delete failures")
struct RoomDeleteFailureTests {
    @Test("A delete the provider keeps failing shows delete_failed with its reason, then tells the scheduler")
    func failedDelete() async throws {
        let notifier = SchedulerEventRecorder()
        let store = InMemoryStore()
        // The room is created while the provider answers…
        let gateway = try await withSimulator { _, url in
            let gateway = await TestGateway(store: store, simulatorURL: url, notifier: notifier)
            try await gateway.test { client in
                #expect(try await client.create("B-1").status == .created)
                try await gateway.worker.runUntilIdle()
                #expect(try await client.call(.get, "/v1/sessions/B-1").room["status"] as? String == "ready")
            }
            return gateway
        }
        // …and the provider is gone when the booking is cancelled.
        try await gateway.test { client in
            #expect(try await client.call(.delete, "/v1/sessions/B-1").status == .noContent)
            try await gateway.worker.runUntilIdle()
            var room = try await client.call(.get, "/v1/sessions/B-1").room
            #expect(room["status"] as? String == "delete_failed")
            #expect((room["error"] as? [String: Any])?["code"] as? String == "provider_unavailable")
            #expect(notifier.events.isEmpty, "retries are still going on")
            for _ in 0..<4 {
                gateway.clock.advance(by: .seconds(120))
                try await gateway.worker.runUntilIdle()
            }
            room = try await client.call(.get, "/v1/sessions/B-1").room
            #expect(room["status"] as? String == "delete_failed")
            #expect(try await gateway.store.jobs(for: BookingID("B-1")!).first { $0.kind == .deleteRoom }?.state == .dead)
            #expect(notifier.events == ["B-1 room.delete_failed"])
            let trail = try await gateway.store.auditTrail(for: BookingID("B-1")!).map(\.event)
            #expect(trail.contains("room_delete_failed"))
        }
    }

    @Test("A delete that succeeds at a retry clears the failure it showed")
    func recoveredDelete() throws {
        let machine = SessionStateMachine()
        var session = Session(
            bookingID: BookingID("B-2")!,
            booking: Booking(
                service: "prestacoes-familiares", startsAt: Date(timeIntervalSince1970: 1_900_003_600),
                endsAt: Date(timeIntervalSince1970: 1_900_005_400), provider: "simulator",
                citizen: Citizen(name: "Maria", email: "maria@example.pt")),
            access: AccessCredentials.issue(using: .random()).0, createdAt: Date(timeIntervalSince1970: 1_900_000_000))
        session.state = .cancelled
        session.room.status = .ready
        let now = Date(timeIntervalSince1970: 1_900_000_100)
        let failing = try machine.apply(
            .roomDeleteFailed(code: "provider_unavailable", message: "daily: 503", isFinal: false), to: session, at: now)
        #expect(failing.session.room.status == .deleteFailed && failing.actions.isEmpty)
        let givenUp = try machine.apply(
            .roomDeleteFailed(code: "provider_unavailable", message: "daily: 503", isFinal: true), to: failing.session, at: now)
        #expect(givenUp.actions == [.notifyScheduler(.roomDeleteFailed)])
        let deleted = try machine.apply(.roomDeleted, to: failing.session, at: now)
        #expect(deleted.session.room.status == .deleted)
        #expect(deleted.session.room.errorCode == nil && deleted.session.room.errorMessage == nil)
    }
}

/// Records the scheduler events sent, as `"<booking> <type>"`.
private final class SchedulerEventRecorder: Notifier {
    private let sent = Mutex<[String]>([])

    var events: [String] { sent.withLock { $0 } }

    func notifyScheduler(_ event: SchedulerEvent, about session: Session) async throws {
        sent.withLock { $0.append("\(session.bookingID.rawValue) \(event.rawValue)") }
    }

    func sendNotice(_ notice: CitizenNotice, for session: Session, validationCode: String?) async throws {}
    func sendFallback(_ channel: FallbackChannel, for session: Session) async throws {}
}
