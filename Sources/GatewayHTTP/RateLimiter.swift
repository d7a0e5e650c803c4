import Foundation
import Synchronization

/// Fixed-window counters per key (an IP address, a link token), kept in memory.
final class RateLimiter: Sendable {
    private struct Window {
        var start: Date
        var count: Int
    }

    private let windows = Mutex([String: Window]())

    /// Counts one attempt for `key`; returns the seconds to wait when over `limit` per `window`.
    func retryAfter(key: String, limit: Int, window: TimeInterval = 60, now: Date = Date()) -> Int? {
        windows.withLock { windows in
            if windows.count > 50_000 { windows = windows.filter { now.timeIntervalSince($0.value.start) < window } }
            var current = windows[key] ?? Window(start: now, count: 0)
            if now.timeIntervalSince(current.start) >= window { current = Window(start: now, count: 0) }
            current.count += 1
            windows[key] = current
            guard current.count > limit else { return nil }
            return max(1, Int((window - now.timeIntervalSince(current.start)).rounded(.up)))
        }
    }
}
