import Foundation
import GatewayCore
import Testing

@testable import GatewayStorage

/// The management-report sums every store keeps beside its sessions.
@Suite("Report sums")
struct ReportSumsTests {
    @Test("Report sums follow each session's latest figures in the same write, on every store", arguments: StoreKind.allCases)
    func sumsFollowChanges(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        var session = Fixture.session("B-1")
        let day = ReportFigures.day(of: session.booking.startsAt)
        try await store.apply(SessionChange(session: session, expectedVersion: nil))
        #expect(try await store.reportCounts(fromDay: day, toDay: "9999", services: nil).values.first == ["sessions": 1])
        session.state = .cancelled
        session.history = SessionHistory(cancelledBy: "citizen")
        try await store.apply(SessionChange(session: session, expectedVersion: 1))
        let key = ReportFigures.Key(service: session.booking.service, day: day)
        #expect(try await store.reportCounts(fromDay: day, toDay: "9999", services: nil) == [key: ["sessions": 1, "cancelled_by_citizen": 1]])
        #expect(try await store.reportCounts(fromDay: day, toDay: "9999", services: ["pensoes"]).isEmpty)
        #expect(try await store.reportCounts(fromDay: "2000-01-01", toDay: day, services: nil).isEmpty)
    }

    @Test("Lobby waits are summarised alike by every store: count, nearest-rank p50 and p90, maximum", arguments: StoreKind.allCases)
    func waitSummary(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        for (index, wait) in [45, 90, 200, 90, 3700].enumerated() {
            var session = Fixture.session("W-\(index)")
            session.state = .completed
            session.lobby.enteredAt = Fixture.now
            session.lobby.admittedAt = Fixture.now + .seconds(wait)
            try await store.apply(SessionChange(session: session, expectedVersion: nil))
        }
        let day = ReportFigures.day(of: Fixture.session("W-0").booking.startsAt)
        let counts = try #require(try await store.reportCounts(fromDay: day, toDay: "9999", services: nil).values.first)
        #expect(counts["lobby_waits"] == 5)
        #expect(counts["lobby_wait_p50"] == 90)
        #expect(counts["lobby_wait_p90"] == 3600)  // 3,700 s counts in the 5-minute bucket that starts at 3,600
        #expect(counts["lobby_wait_max"] == 3600)
        #expect(counts["completed"] == 5)
        #expect(!counts.keys.contains { $0.hasPrefix(ReportFigures.waitPrefix) })
    }
}
