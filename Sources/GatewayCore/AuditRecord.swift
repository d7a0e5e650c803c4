import Foundation

/// One recorded transition: who did what to a session, and when.
public struct AuditRecord: Sendable, Equatable, Codable {
    public let bookingID: BookingID
    public let at: Date
    public let actor: SessionActor
    public let event: String
    public let fromState: SessionState?
    public let toState: SessionState

    public init(
        bookingID: BookingID, at: Date, actor: SessionActor, event: String, fromState: SessionState?,
        toState: SessionState
    ) {
        self.bookingID = bookingID
        self.at = at
        self.actor = actor
        self.event = event
        self.fromState = fromState
        self.toState = toState
    }
}
