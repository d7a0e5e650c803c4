import Foundation

/// How the gateway reaches a citizen who is late (DESIGN §2).
public enum FallbackChannel: String, Sendable, Codable, CaseIterable, Comparable {
    /// A callback task for the contact centre (and an alert to the attendant).
    case phone
    /// An e-mail to the citizen with the join link.
    case email

    public static func < (lhs: FallbackChannel, rhs: FallbackChannel) -> Bool { lhs.rawValue < rhs.rawValue }
}

public enum FallbackStatus: String, Sendable, Codable {
    case queued
    case sent
    /// Given up after every retry; `reason` says why.
    case failed
}

/// One fallback of a session, as shown to the scheduler.
public struct FallbackRecord: Sendable, Equatable, Codable {
    public let channel: FallbackChannel
    public var status: FallbackStatus
    public var at: Date
    /// The last failure, also while retries continue.
    public var reason: String?

    public init(channel: FallbackChannel, status: FallbackStatus, at: Date, reason: String? = nil) {
        self.channel = channel
        self.status = status
        self.at = at
        self.reason = reason
    }
}

/// An e-mail to the citizen about the booking itself.
public enum CitizenNotice: String, Sendable, Codable, CaseIterable {
    case invitation
    case rescheduled
    case cancelled
}

/// Events POSTed to the scheduler's callback URL (DESIGN §3).
public enum SchedulerEvent: String, Sendable, Codable, CaseIterable {
    case cancelledByCitizen = "session.cancelled_by_citizen"
    case late = "session.late"
    case noShow = "session.no_show"
    case completed = "session.completed"
    case roomFailed = "room.failed"
    /// The provider room could not be deleted (or ended) after every retry: it may still exist.
    case roomDeleteFailed = "room.delete_failed"
}

/// Which fallback channels fire, by configuration.
public struct FallbackPolicy: Sendable, Equatable {
    public var enabledChannels: Set<FallbackChannel>

    public init(enabledChannels: Set<FallbackChannel> = Set(FallbackChannel.allCases)) {
        self.enabledChannels = enabledChannels
    }

    /// The enabled channels for which the citizen gave contact data, in a stable order.
    public func channels(for citizen: Citizen) -> [FallbackChannel] {
        enabledChannels.filter { channel in
            switch channel {
            case .phone: citizen.phone != nil
            case .email: citizen.email != nil
            }
        }.sorted()
    }
}
