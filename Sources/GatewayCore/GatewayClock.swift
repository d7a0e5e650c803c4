import Foundation
import Synchronization

/// The source of "now" for every policy decision; injected so tests never sleep.
public protocol GatewayClock: Sendable {
    var now: Date { get }
}

/// The wall clock.
public struct SystemClock: GatewayClock {
    public init() {}
    public var now: Date { Date() }
}

/// A clock that only moves when told to; for tests and for frozen provider states.
public final class ManualClock: GatewayClock {
    private let current: Mutex<Date>

    public init(_ start: Date) {
        current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }

    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }

    public func advance(by duration: Duration) {
        current.withLock { $0 = $0 + duration }
    }
}

/// The wall clock, which a test run can freeze at a chosen instant (provider states of contract tests).
public final class FreezableClock: GatewayClock {
    private let frozen = Mutex<Date?>(nil)

    public init() {}

    public var now: Date { frozen.withLock { $0 } ?? Date() }

    /// Freezes the clock at `date`, or lets it run again with `nil`.
    public func freeze(at date: Date?) {
        frozen.withLock { $0 = date }
    }
}
