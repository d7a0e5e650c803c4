import Foundation
import GatewayCore
import GatewayStorage

extension SessionService {
    /// Sessions whose retention period has ended and whose personal data is still there, oldest first.
    /// `progress` is told how many sessions were looked at so far.
    public func sessionsDueForErasure(progress: (Int) -> Void = { _ in }) async throws -> [Session] {
        let now = clock.now
        // A slot ends at most `maximumSlotLength` after it starts: look at every start before the cut-off.
        let lastStart = now - policy.personalDataRetention
        var due: [Session] = []
        var query = SessionQuery(to: lastStart, limit: 200)
        var looked = 0
        while true {
            let page = try await store.sessions(matching: query)
            looked += page.count
            progress(looked)
            due += page.map(\.session).filter {
                $0.personalDataErasedAt == nil && policy.personalDataExpires(for: $0.booking) <= now
            }
            guard page.count == query.limit, let last = page.last?.session else { return due }
            query.after = SessionCursor(
                startsAtMilliseconds: last.booking.startsAt.millisecondsSince1970, bookingID: last.bookingID)
        }
    }

    /// Erases the personal data of a session whose retention ended, through the state machine (the same
    /// change the retention deadline makes), audited as done by the system.
    @discardableResult
    public func erasePersonalData(of bookingID: BookingID) async throws -> Session {
        try await handle(.personalDataExpired, for: bookingID, by: .system)
    }
}
