/// The life-cycle state of a booking's video session (DESIGN §2).
public enum SessionState: String, Sendable, Codable, CaseIterable {
    case scheduled
    case open
    case waiting
    case inProgress = "in_progress"
    case completed
    case late
    case noShow = "no_show"
    case cancelled
    case failed

    /// No further transition is possible except an idempotent repeat.
    public var isTerminal: Bool {
        switch self {
        case .completed, .noShow, .cancelled, .failed: true
        default: false
        }
    }
}

/// The state of the provider room behind a session.
public enum RoomStatus: String, Sendable, Codable, CaseIterable {
    case pending
    case ready
    case ended
    case deleted
    case failed
    /// The room should be gone but the provider refused or did not answer: the delete is retried.
    case deleteFailed = "delete_failed"
}

/// Whether recording is provably off for the room.
public enum RecordingState: String, Sendable, Codable {
    /// Not yet verified (the room is not provisioned yet).
    case unknown
    /// Requested off and read back off from the provider.
    case disabled
    /// A recording started at the provider anyway: the gateway stopped it, or ended the room.
    case started
}

/// How an attended call ended, or why the system closed it.
public enum SessionOutcome: String, Sendable, Codable, CaseIterable {
    case resolved
    case unresolved
    case rescheduled
    /// The citizen waited but was never admitted before the safety cap.
    case notAdmitted = "not_admitted"
    /// The call was still going at the safety cap and the room was ended.
    case endedBySafetyCap = "ended_by_safety_cap"
}

/// Who caused a transition, for the audit trail.
public enum SessionActor: Sendable, Codable, Equatable, CustomStringConvertible {
    case scheduler
    /// The scheduler client whose key carries this name (`SCHEDULER_API_KEYS` entry `name:key`).
    case schedulerClient(String)
    case attendant(id: String)
    case citizen
    case system
    case provider

    public var description: String {
        switch self {
        case .scheduler: "scheduler"
        case .schedulerClient(let name): "scheduler:\(name)"
        case .attendant(let id): "attendant:\(id)"
        case .citizen: "citizen"
        case .system: "system"
        case .provider: "provider"
        }
    }

    /// Parses the stored name written by `description`.
    public init?(storedName raw: String) {
        switch raw {
        case "scheduler": self = .scheduler
        case "citizen": self = .citizen
        case "system": self = .system
        case "provider": self = .provider
        default:
            if raw.hasPrefix("scheduler:") {
                self = .schedulerClient(String(raw.dropFirst("scheduler:".count)))
                return
            }
            guard raw.hasPrefix("attendant:") else { return nil }
            self = .attendant(id: String(raw.dropFirst("attendant:".count)))
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let actor = SessionActor(storedName: try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown actor")
        }
        self = actor
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
