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
    /// Where the provider reports recordings only to subscribers (Teams): the subscription and when it
    /// lapses unless renewed.
    public var recordingSubscriptionID: String?
    public var recordingSubscriptionExpiresAt: Date?

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

/// When the citizen entered the lobby and was admitted, what the attendant wrote to them, and their
/// way into the room once admitted.
public struct Lobby: Sendable, Equatable, Codable {
    public var enteredAt: Date?
    public var admittedAt: Date?
    /// The provider entry minted on admission; revealed to the citizen only from then on.
    public var citizenEntryURL: String?
    public var messages: [LobbyMessage]

    public init(enteredAt: Date? = nil, admittedAt: Date? = nil) {
        self.enteredAt = enteredAt
        self.admittedAt = admittedAt
        self.citizenEntryURL = nil
        self.messages = []
    }
}

/// A companion's own way in: link, code and place in the lobby. `id` is `companion-1` or `companion-2`.
public struct CompanionAccess: Sendable, Equatable, Codable {
    public let id: String
    public var access: AccessCredentials
    public var enteredAt: Date?
    public var admittedAt: Date?
    /// When the companion, waiting in the lobby, was last taken for gone; nil while present.
    public var leftAt: Date?
    public var entryURL: String?

    public init(id: String, access: AccessCredentials) {
        self.id = id
        self.access = access
    }

    /// In the lobby, present and not admitted yet.
    public var isWaiting: Bool { enteredAt != nil && admittedAt == nil && leftAt == nil }
}

/// Who uses a link: the citizen, or one of the companions.
public enum Participant: Sendable, Hashable, CustomStringConvertible {
    case citizen
    case companion(String)

    public init?(_ name: String) {
        if name == "citizen" {
            self = .citizen
        } else if name.hasPrefix("companion-") {
            self = .companion(name)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .citizen: "citizen"
        case .companion(let id): id
        }
    }
}

/// A short text from the attendant to the waiting citizen.
public struct LobbyMessage: Sendable, Equatable, Codable {
    public let id: String
    public let text: String
    public let at: Date

    public init(id: String, text: String, at: Date) {
        self.id = id
        self.text = text
        self.at = at
    }
}

/// What the attendant ticked in the attendance script. Only the level and the ticks are kept — never
/// the numbers the citizen says.
public struct AttendanceScript: Sendable, Equatable, Codable {
    public enum AuthenticationLevel: String, Sendable, Codable, CaseIterable {
        case none, weak, strong
    }

    public enum Caller: String, Sendable, Codable, CaseIterable {
        case citizen
        case thirdParty = "third_party"
    }

    public static let checkNames: Set<String> = [
        "greeting", "no_recording", "identification", "more_questions", "other_bookings", "farewell",
    ]

    public var authenticationLevel: AuthenticationLevel
    public var caller: Caller
    public var checks: [String]
    public var updatedAt: Date

    public init(authenticationLevel: AuthenticationLevel, caller: Caller, checks: [String], updatedAt: Date) {
        self.authenticationLevel = authenticationLevel
        self.caller = caller
        self.checks = checks
        self.updatedAt = updatedAt
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
    public var script: AttendanceScript?
    /// One entry per companion of the booking, in the same order.
    public var companions: [CompanionAccess]
    /// When the citizen's personal data was erased (retention ended).
    public var personalDataErasedAt: Date?
    /// What reports count beyond the state (`nil`: nothing yet; older stored sessions have none).
    public var history: SessionHistory?
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
        self.script = nil
        self.companions = []
        self.personalDataErasedAt = nil
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }
}

extension Session {
    /// The participant whose link carries `token`, if any.
    public func participant(joinToken token: String) -> Participant? {
        if SecureToken.constantTimeEquals(access.joinToken, token) { return .citizen }
        return companions.first { SecureToken.constantTimeEquals($0.access.joinToken, token) }.map { .companion($0.id) }
    }

    /// The credentials of a participant.
    public func credentials(of participant: Participant) -> AccessCredentials? {
        switch participant {
        case .citizen: access
        case .companion(let id): companions.first { $0.id == id }?.access
        }
    }

    /// Replaces the credentials of a participant; an unknown companion is left alone.
    public mutating func setCredentials(_ credentials: AccessCredentials, of participant: Participant) {
        switch participant {
        case .citizen:
            access = credentials
        case .companion(let id):
            if let index = companions.firstIndex(where: { $0.id == id }) { companions[index].access = credentials }
        }
    }

    /// Gives each companion of the booking its own link and code, keeping those already issued to the
    /// same person; a companion who is now someone else (another name or e-mail than in `previous`)
    /// gets a new link and code, and the old ones stop working. Returns the plain codes of the new
    /// ones, by companion id.
    public mutating func issueCompanionAccess(using hasher: AccessCodeHasher, previous: [Companion] = [])
        -> [String: String]
    {
        var codes: [String: String] = [:]
        var updated: [CompanionAccess] = []
        for (index, companion) in booking.companions.enumerated() {
            let id = "companion-\(index + 1)"
            let samePerson = previous.indices.contains(index)
                && previous[index].name == companion.name && previous[index].email == companion.email
            if samePerson, let existing = companions.first(where: { $0.id == id }) {
                updated.append(existing)
            } else {
                let (credentials, code) = AccessCredentials.issue(using: hasher)
                updated.append(CompanionAccess(id: id, access: credentials))
                codes[id] = code
            }
        }
        companions = updated
        return codes
    }
}
