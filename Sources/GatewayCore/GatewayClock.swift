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
