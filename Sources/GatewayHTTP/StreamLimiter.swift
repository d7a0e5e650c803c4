import Synchronization

/// How many event streams may be open at once for one lobby participant (whatever their tickets), one
/// attendant and one client address.
public struct StreamLimits: Sendable {
    public var perTicket: Int
    public var perAttendant: Int
    public var perAddress: Int

    public init(perTicket: Int = 3, perAttendant: Int = 5, perAddress: Int = 50) {
        self.perTicket = perTicket
        self.perAttendant = perAttendant
        self.perAddress = perAddress
    }
}

/// Counts open event streams per key (a lobby ticket, an attendant, a client address) and refuses one
/// more beyond each key's limit.
final class StreamLimiter: Sendable {
    /// Held while a stream is open; the stream's places are given back when it is released.
    final class Permit: Sendable {
        private let limiter: StreamLimiter
        private let keys: [String]

        fileprivate init(limiter: StreamLimiter, keys: [String]) {
            self.limiter = limiter
            self.keys = keys
        }

        deinit { limiter.release(keys) }
    }

    private let open = Mutex<[String: Int]>([:])

    /// A permit for a stream counted under every key, or `nil` when one key is at its limit.
    func permit(_ keys: [(key: String, limit: Int)]) -> Permit? {
        let granted = open.withLock { open -> Bool in
            guard keys.allSatisfy({ open[$0.key, default: 0] < $0.limit }) else { return false }
            for entry in keys { open[entry.key, default: 0] += 1 }
            return true
        }
        return granted ? Permit(limiter: self, keys: keys.map(\.key)) : nil
    }

    fileprivate func release(_ keys: [String]) {
        open.withLock { open in
            for key in keys {
                let count = open[key, default: 0] - 1
                open[key] = count > 0 ? count : nil
            }
        }
    }
}
