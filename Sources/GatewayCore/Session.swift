import Foundation

/// The provider room behind a session.
public struct Room: Sendable, Equatable, Codable {
    public var status: RoomStatus
    public var recording: RecordingState
    /// The provider's identifier of the room (a Daily room name, a Zoom meeting id, …).
    public var providerRoomID: String?
    /// The provider's URL of the room, without any participant token.
    public var url: String?
    /// A stable machine code when provisioning failed.
    public var errorCode: String?
    public var errorMessage: String?

    public init(
        status: RoomStatus = .pending, recording: RecordingState = .unknown, providerRoomID: String? = nil,
        url: String? = nil, errorCode: String? = nil, errorMessage: String? = nil
    ) {
        self.status = status
        self.recording = recording
        self.providerRoomID = providerRoomID
        self.url = url
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }
}

/// When the citizen entered the lobby and was admitted.
public struct Lobby: Sendable, Equatable, Codable {
    public var enteredAt: Date?
    public var admittedAt: Date?

    public init(enteredAt: Date? = nil, admittedAt: Date? = nil) {
        self.enteredAt = enteredAt
        self.admittedAt = admittedAt
    }
}

/// A booking's video session: the aggregate the state machine changes.
public struct Session: Sendable, Equatable, Codable {
    public let bookingID: BookingID
    public var state: SessionState
    public var booking: Booking
    /// Grows by one on every reschedule; jobs of older generations become no-ops.
    public var generation: Int
    public var room: Room
    public var access: AccessCredentials
    public var lobby: Lobby
    public var outcome: SessionOutcome?
    public var fallbacks: [FallbackRecord]
    /// When the citizen's personal data was erased (retention ended).
    public var personalDataErasedAt: Date?
    public let createdAt: Date
    public var updatedAt: Date

    public init(bookingID: BookingID, booking: Booking, access: AccessCredentials, createdAt: Date) {
        self.bookingID = bookingID
        self.state = .scheduled
        self.booking = booking
        self.generation = 1
        self.room = Room()
        self.access = access
        self.lobby = Lobby()
        self.outcome = nil
        self.fallbacks = []
        self.personalDataErasedAt = nil
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }
}
