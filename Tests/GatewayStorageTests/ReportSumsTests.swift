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
}
