import Foundation

/// The configurable time rules of DESIGN §2.
public struct SessionPolicy: Sendable, Equatable {
    /// How long before `startsAt` the citizen's link starts to work.
    public var joinWindowOpensBefore: Duration
    /// How long after `startsAt` a citizen who has not entered the lobby counts as late.
    public var lateGrace: Duration
    /// How long after `endsAt` a call still in progress is ended by force.
    public var safetyCap: Duration
    /// How long after `endsAt` the citizen's personal data is kept.
    public var personalDataRetention: Duration
    /// The longest booked slot accepted.
    public var maximumSlotLength: Duration
    /// Which channels the late fallback uses.
    public var fallback: FallbackPolicy

    public init(
        joinWindowOpensBefore: Duration = .seconds(1800),
        lateGrace: Duration = .seconds(300),
        safetyCap: Duration = .seconds(4 * 3600),
        personalDataRetention: Duration = .seconds(30 * 24 * 3600),
        maximumSlotLength: Duration = .seconds(8 * 3600),
        fallback: FallbackPolicy = FallbackPolicy()
    ) {
        self.joinWindowOpensBefore = joinWindowOpensBefore
        self.lateGrace = lateGrace
        self.safetyCap = safetyCap
        self.personalDataRetention = personalDataRetention
        self.maximumSlotLength = maximumSlotLength
        self.fallback = fallback
    }

    public func joinWindowOpens(for booking: Booking) -> Date {
        booking.startsAt - joinWindowOpensBefore
    }

    public func lateCheck(for booking: Booking) -> Date {
        booking.startsAt + lateGrace
    }

    public func safetyCapReached(for booking: Booking) -> Date {
        booking.endsAt + safetyCap
    }

    public func personalDataExpires(for booking: Booking) -> Date {
        booking.endsAt + personalDataRetention
    }
}

extension Date {
    public static func + (date: Date, duration: Duration) -> Date {
        date.addingTimeInterval(duration.timeInterval)
    }

    public static func - (date: Date, duration: Duration) -> Date {
        date.addingTimeInterval(-duration.timeInterval)
    }
}

extension Duration {
    /// The duration in seconds as a floating-point interval.
    public var timeInterval: TimeInterval {
        let parts = components
        return TimeInterval(parts.seconds) + TimeInterval(parts.attoseconds) / 1e18
    }

    /// The duration in whole milliseconds (rounded down).
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
