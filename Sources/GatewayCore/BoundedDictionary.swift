/// A dictionary that holds at most `capacity` entries: setting a value in a full one removes the
/// entry set longest ago (a value set again counts as set now). Not synchronised: its owner keeps it
/// behind a lock.
public struct BoundedDictionary<Key: Hashable, Value> {
    public let capacity: Int
    private var entries: [Key: (value: Value, serial: Int)] = [:]
    /// Keys in the order they were set, oldest first from `head`; a key set again or removed leaves a
    /// stale element behind, skipped by its serial.
    private var order: [(key: Key, serial: Int)] = []
    private var head = 0
    private var nextSerial = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "a bounded dictionary holds at least one entry")
        self.capacity = capacity
    }

    public var count: Int { entries.count }

    public subscript(key: Key) -> Value? { entries[key]?.value }

    /// Sets `value` for `key`; returns the entries removed to stay within the capacity, oldest first.
    @discardableResult
    public mutating func set(_ value: Value, for key: Key) -> [(key: Key, value: Value)] {
        let serial = nextSerial
        nextSerial += 1
        entries[key] = (value, serial)
        order.append((key, serial))
        var evicted: [(key: Key, value: Value)] = []
        while entries.count > capacity, head < order.count {
            let oldest = order[head]
            head += 1
            if let entry = entries[oldest.key], entry.serial == oldest.serial {
                entries[oldest.key] = nil
                evicted.append((oldest.key, entry.value))
            }
        }
        compactIfNeeded()
        return evicted
    }

    /// Changes the value of a key that is present without making it newer; `false` when absent.
    @discardableResult
    public mutating func replace(_ value: Value, for key: Key) -> Bool {
        guard let serial = entries[key]?.serial else { return false }
        entries[key] = (value, serial)
        return true
    }

    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        let removed = entries.removeValue(forKey: key)?.value
        compactIfNeeded()
        return removed
    }

    public mutating func removeAll() {
        entries = [:]
        order = []
        head = 0
    }

    /// Drops the elements of `order` already passed, and rebuilds it once stale ones outnumber the entries.
    private mutating func compactIfNeeded() {
        if order.count - head > 2 * entries.count + 64 {
            order = entries.map { (key: $0.key, serial: $0.value.serial) }.sorted { $0.serial < $1.serial }
            head = 0
        } else if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}

extension BoundedDictionary: Sendable where Key: Sendable, Value: Sendable {}
