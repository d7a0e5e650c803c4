import Foundation
import GatewayCore
import GatewayStorage
import Logging
import MeetingProviders
import Notifications
import Testing

@testable import GatewayService

/// Failed deliveries are retried and visible on the session, never silent.
@Suite("Fallback delivery")
struct FallbackDeliveryTests {
    @Test("An unreachable SMTP relay leaves the e-mail fallback queued with its reason, then failed")
    func unreachableRelay() async throws {
        let closedPort = try FreePort.loopback()
        let clock = ManualClock(Date(timeIntervalSince1970: 1_900_000_000))
        let notifier = GatewayNotifier(
            channels: .init(
                mail: CurlSMTPMailer(configuration: SMTPConfiguration(url: "smtp://127.0.0.1:\(closedPort)", timeout: .seconds(5))),
                mailFrom: MailAddress(address: "noreply@example.pt")),
            publicBaseURL: "https://video.example.pt", helpPhone: "300 502 502", clock: clock,
            logger: Logger(label: "test"))
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: nil, notifier: notifier)
        let id = BookingID("B-1")!
        var booking = Booking(
            service: "prestacoes-familiares", startsAt: gateway.clock.now + .seconds(600),
            endsAt: gateway.clock.now + .seconds(2400), provider: "simulator",
            citizen: Citizen(name: "Maria", email: "maria@example.pt"), notifyCitizen: false)
        booking.attendantID = "a-17"
        // The simulator is not configured here: provision fails, so store the session directly.
        let (credentials, _) = AccessCredentials.issue(using: .random())
        var session = Session(bookingID: id, booking: booking, access: credentials, createdAt: gateway.clock.now)
        session.room.status = .ready
        try await gateway.store.apply(
            SessionChange(
                session: session, expectedVersion: nil,
                jobs: [JobRequest(bookingID: id, kind: .deadline(.lateCheck), generation: 1, dueAt: booking.startsAt + .seconds(300))]))
        gateway.clock.advance(by: .seconds(900))
        try await gateway.worker.runUntilIdle()
        var stored = try #require(try await gateway.sessions.session(for: id))
        #expect(stored.state == .late)
        #expect(stored.fallbacks.map(\.channel) == [.email])
        #expect(stored.fallbacks.first?.status == .queued)
        #expect(stored.fallbacks.first?.reason == "delivery_failed")
        let job = try #require(try await gateway.store.jobs(for: id).first { $0.kind == .fallback(.email) })
        #expect(job.state == .pending && job.attempts == 1 && job.lastError?.contains("smtp") == true)
        for _ in 0..<3 {
            gateway.clock.advance(by: .seconds(120))
            try await gateway.worker.runUntilIdle()
        }
        stored = try #require(try await gateway.sessions.session(for: id))
        #expect(stored.fallbacks.first?.status == .failed)
        #expect(try await gateway.store.jobs(for: id).first { $0.kind == .fallback(.email) }?.state == .dead)
    }
}
