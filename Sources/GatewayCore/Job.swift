import Foundation

/// A kind of durable work. Stable names: they are stored.
public enum JobKind: Sendable, Hashable, Codable, CustomStringConvertible {
    case provisionRoom
    case updateRoom
    case endRoom
    case stopRecording
    /// Take or renew the subscription to the room's recordings (Teams).
    case watchRecordings
    case deleteRoom
    case deadline(Deadline)
    case fallback(FallbackChannel)
    case citizenNotice(CitizenNotice)
    /// The invitation of one companion (`companion-1`, `companion-2`): their own link and code.
    case companionInvitation(String)
    case schedulerCallback(SchedulerEvent)

    public var description: String {
        switch self {
        case .provisionRoom: "room.provision"
        case .updateRoom: "room.update"
        case .endRoom: "room.end"
        case .stopRecording: "room.stop_recording"
        case .watchRecordings: "room.watch_recordings"
        case .deleteRoom: "room.delete"
        case .deadline(let deadline): "deadline.\(deadline.rawValue)"
        case .fallback(let channel): "fallback.\(channel.rawValue)"
        case .citizenNotice(let notice): "notice.\(notice.rawValue)"
        case .companionInvitation(let id): "notice.companion_invitation.\(id)"
        case .schedulerCallback(let event): "callback.\(event.rawValue)"
        }
    }

    public init?(_ name: String) {
        switch name {
        case "room.provision": self = .provisionRoom
        case "room.update": self = .updateRoom
        case "room.end": self = .endRoom
        case "room.stop_recording": self = .stopRecording
        case "room.watch_recordings": self = .watchRecordings
        case "room.delete": self = .deleteRoom
        default:
            let (prefix, rest) = (name.prefix { $0 != "." }, String(name.drop { $0 != "." }.dropFirst()))
            switch prefix {
            case "deadline":
                guard let deadline = Deadline(rawValue: rest) else { return nil }
                self = .deadline(deadline)
            case "fallback":
                guard let channel = FallbackChannel(rawValue: rest) else { return nil }
                self = .fallback(channel)
            case "notice":
                if let notice = CitizenNotice(rawValue: rest) {
                    self = .citizenNotice(notice)
                } else if rest.hasPrefix("companion_invitation."), Participant(String(rest.dropFirst("companion_invitation.".count))) != nil {
                    self = .companionInvitation(String(rest.dropFirst("companion_invitation.".count)))
                } else {
                    return nil
                }
            case "callback":
                guard let event = SchedulerEvent(rawValue: rest) else { return nil }
                self = .schedulerCallback(event)
            default:
                return nil
            }
        }
    }

    /// Work that stays due after a new generation: ending or stopping the room of a call, and messages
    /// about what happened. Deleting a room does not: a failed booking booked again gets the same room
    /// back (the provider's create-or-get), which the older generation's clean-up must not remove.
    public var outlivesGeneration: Bool {
        switch self {
        case .endRoom, .stopRecording, .citizenNotice, .companionInvitation, .schedulerCallback: true
        case .provisionRoom, .updateRoom, .watchRecordings, .deleteRoom, .deadline, .fallback: false
        }
    }

    public var isDeadline: Bool {
        if case .deadline = self { return true }
        return false
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let kind = JobKind(try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown job kind")
        }
        self = kind
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A request to run work at `dueAt`; unique per (booking, kind, generation).
public struct JobRequest: Sendable, Equatable {
    public let bookingID: BookingID
    public let kind: JobKind
    public let generation: Int
    public let dueAt: Date
    /// Sealed data the job needs and the session must not keep (the plain validation code of an
    /// invitation); erased when the job is done.
    public let payload: String?

    public init(bookingID: BookingID, kind: JobKind, generation: Int, dueAt: Date, payload: String? = nil) {
        self.bookingID = bookingID
        self.kind = kind
        self.generation = generation
        self.dueAt = dueAt
        self.payload = payload
    }
}

public enum JobState: String, Sendable, Codable, CaseIterable {
    case pending
    /// Claimed by a worker until its lease ends; a crashed worker's job is claimed again afterwards.
    case running
    case done
    /// Gave up after the maximum number of attempts.
    case dead
}

/// A stored unit of durable work.
public struct Job: Sendable, Equatable, Identifiable {
    public let id: Int64
    public let bookingID: BookingID
    public let kind: JobKind
    public let generation: Int
    public var dueAt: Date
    public var state: JobState
    /// Attempts started so far, including the current one.
    public var attempts: Int
    public var lastError: String?
    public var payload: String?

    public init(
        id: Int64, bookingID: BookingID, kind: JobKind, generation: Int, dueAt: Date, state: JobState,
        attempts: Int, lastError: String?, payload: String? = nil
    ) {
        self.id = id
        self.bookingID = bookingID
        self.kind = kind
        self.generation = generation
        self.dueAt = dueAt
        self.state = state
        self.attempts = attempts
        self.lastError = lastError
        self.payload = payload
    }
}

/// How the worker leaves a job after an attempt.
public enum JobResolution: Sendable, Equatable {
    case done
    case retry(at: Date, error: String)
    case dead(error: String)
}

/// Exponential back-off with jitter and a maximum number of attempts.
public struct RetryPolicy: Sendable, Equatable {
    public var maximumAttempts: Int
    public var baseDelay: Duration
    public var maximumDelay: Duration
    /// The fraction of the delay that is randomised, 0...1.
    public var jitter: Double

    public init(
        maximumAttempts: Int = 8, baseDelay: Duration = .seconds(2), maximumDelay: Duration = .seconds(600),
        jitter: Double = 0.2
    ) {
        self.maximumAttempts = maximumAttempts
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
        self.jitter = jitter
    }

    /// The resolution of a failed attempt number `attempt` (1-based): retry later, or dead.
    public func resolution(
        afterFailedAttempt attempt: Int, error: String, at now: Date, notBefore: Date? = nil,
        random: Double = Double.random(in: 0...1)
    ) -> JobResolution {
        guard attempt < maximumAttempts else { return .dead(error: error) }
        let exponential = baseDelay.timeInterval * pow(2, Double(attempt - 1))
        let capped = min(exponential, maximumDelay.timeInterval)
        let jittered = capped * (1 - jitter + 2 * jitter * random)
        var retryAt = now.addingTimeInterval(jittered)
        if let notBefore, notBefore > retryAt { retryAt = notBefore }
        return .retry(at: retryAt, error: error)
    }
}
