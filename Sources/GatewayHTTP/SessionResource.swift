import Foundation
import GatewayCore

/// The session as the scheduler sees it (DESIGN §3). Carries no citizen personal data.
struct SessionResource: Encodable, Sendable {
    struct JoinWindow: Encodable, Sendable {
        let opensAt: String
        let closesAt: String
    }

    struct RoomError: Encodable, Sendable {
        let code: String
        let message: String
    }

    struct RoomBody: Encodable, Sendable {
        let status: RoomStatus
        let recording: RecordingState
        let error: RoomError?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(status, forKey: .status)
            try container.encode(recording, forKey: .recording)
            try container.encode(error, forKey: .error)
        }

        enum CodingKeys: String, CodingKey { case status, recording, error }
    }

    struct LobbyBody: Encodable, Sendable {
        let enteredAt: String?
        let admittedAt: String?
        /// A companion's: when they were taken for gone from the lobby; only present then.
        var leftAt: String? = nil

        init(enteredAt: String?, admittedAt: String?) {
            self.enteredAt = enteredAt
            self.admittedAt = admittedAt
        }

        init(_ companion: CompanionAccess) {
            enteredAt = companion.enteredAt.map(RFC3339.string(from:))
            admittedAt = companion.admittedAt.map(RFC3339.string(from:))
            leftAt = companion.leftAt.map(RFC3339.string(from:))
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(enteredAt, forKey: .enteredAt)
            try container.encode(admittedAt, forKey: .admittedAt)
            try container.encodeIfPresent(leftAt, forKey: .leftAt)
        }

        enum CodingKeys: String, CodingKey { case enteredAt, admittedAt, leftAt }
    }

    struct TopicBody: Encodable, Sendable {
        let theme: String?
        let subtheme: String?
        let reason: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(theme, forKey: .theme)
            try container.encode(subtheme, forKey: .subtheme)
            try container.encode(reason, forKey: .reason)
        }

        enum CodingKeys: String, CodingKey { case theme, subtheme, reason }
    }

    struct FallbackBody: Encodable, Sendable {
        let channel: FallbackChannel
        let status: FallbackStatus
        let at: String
        let reason: String?
    }

    struct CompanionBody: Encodable, Sendable {
        let id: String
        let role: String
        let joinUrl: String
        let lobby: LobbyBody
        /// Only in the answer that issued the companion's link.
        let validationCode: String?
    }

    let bookingId: String
    let state: SessionState
    let service: String
    let startsAt: String
    let endsAt: String
    let joinWindow: JoinWindow
    let provider: String
    let attendantId: String?
    let topic: TopicBody?
    let room: RoomBody
    let citizenJoinUrl: String
    let cancelUrl: String
    let lobby: LobbyBody
    let fallbacks: [FallbackBody]
    let outcome: SessionOutcome?
    let generation: Int
    let createdAt: String
    let updatedAt: String
    let validationCode: String?
    let companions: [CompanionBody]

    init(
        _ session: Session, policy: SessionPolicy, publicBaseURL: String, validationCode: String? = nil,
        companionCodes: [String: String] = [:]
    ) {
        let booking = session.booking
        bookingId = session.bookingID.rawValue
        state = session.state
        service = booking.service
        startsAt = RFC3339.string(from: booking.startsAt)
        endsAt = RFC3339.string(from: booking.endsAt)
        joinWindow = JoinWindow(
            opensAt: RFC3339.string(from: policy.joinWindowOpens(for: booking)),
            closesAt: RFC3339.string(from: booking.endsAt))
        provider = booking.provider
        attendantId = booking.attendantID
        topic = booking.topic.map { TopicBody(theme: $0.theme, subtheme: $0.subtheme, reason: $0.reason) }
        room = RoomBody(
            status: session.room.status, recording: session.room.recording,
            error: session.room.errorCode.map { RoomError(code: $0, message: session.room.errorMessage ?? "") })
        citizenJoinUrl = "\(publicBaseURL)/join/\(session.access.joinToken)"
        cancelUrl = "\(publicBaseURL)/cancel/\(session.access.cancelToken)"
        lobby = LobbyBody(
            enteredAt: session.lobby.enteredAt.map(RFC3339.string(from:)),
            admittedAt: session.lobby.admittedAt.map(RFC3339.string(from:)))
        fallbacks = session.fallbacks.map {
            FallbackBody(channel: $0.channel, status: $0.status, at: RFC3339.string(from: $0.at), reason: $0.reason)
        }
        outcome = session.outcome
        generation = session.generation
        createdAt = RFC3339.string(from: session.createdAt)
        updatedAt = RFC3339.string(from: session.updatedAt)
        self.validationCode = validationCode
        companions = zip(session.booking.companions, session.companions).map { companion, access in
            CompanionBody(
                id: access.id, role: companion.role.rawValue, joinUrl: "\(publicBaseURL)/join/\(access.access.joinToken)",
                lobby: LobbyBody(access),
                validationCode: companionCodes[access.id])
        }
    }

    enum CodingKeys: String, CodingKey {
        case bookingId, state, service, startsAt, endsAt, joinWindow, provider, attendantId, topic, room
        case citizenJoinUrl, cancelUrl, lobby, fallbacks, outcome, generation, createdAt, updatedAt, validationCode
        case companions
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(bookingId, forKey: .bookingId)
        try container.encode(state, forKey: .state)
        try container.encode(service, forKey: .service)
        try container.encode(startsAt, forKey: .startsAt)
        try container.encode(endsAt, forKey: .endsAt)
        try container.encode(joinWindow, forKey: .joinWindow)
        try container.encode(provider, forKey: .provider)
        try container.encode(attendantId, forKey: .attendantId)
        try container.encode(topic, forKey: .topic)
        try container.encode(room, forKey: .room)
        try container.encode(citizenJoinUrl, forKey: .citizenJoinUrl)
        try container.encode(cancelUrl, forKey: .cancelUrl)
        try container.encode(lobby, forKey: .lobby)
        try container.encode(fallbacks, forKey: .fallbacks)
        try container.encode(companions, forKey: .companions)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(generation, forKey: .generation)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encodeIfPresent(validationCode, forKey: .validationCode)
    }
}

struct SessionPageResource: Encodable, Sendable {
    let items: [SessionResource]
    let nextCursor: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)
    }

    enum CodingKeys: String, CodingKey { case items, nextCursor }
}

struct AccessCodeResource: Encodable, Sendable {
    let bookingId: String
    let validationCode: String
    /// Set when a companion's code was rotated.
    let participant: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(bookingId, forKey: .bookingId)
        try container.encode(validationCode, forKey: .validationCode)
        try container.encodeIfPresent(participant, forKey: .participant)
    }

    enum CodingKeys: String, CodingKey { case bookingId, validationCode, participant }
}
