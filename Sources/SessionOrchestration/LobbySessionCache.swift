import Foundation
import GatewayCore
import GatewayStorage
import Synchronization

/// The stored sessions lobby polls read, kept in memory so that a poll reads no database: by booking,
/// found by the link's join token, at most `capacity` of them (the one kept longest ago goes first).
/// A session is kept only inside its join window: a terminal one, or one past its end, is dropped.
///
/// Kept current by the one write path: a change this replica stores replaces its copy at once
/// (`stored(_:previous:now:)`), so a poll here never sees a session older than a change stored here.
/// Other replicas' changes arrive as `session.changed` internal events (`changed(_:)`), which drop
/// the copy: until the notification arrives, a poll may see the session as it was (and never for longer
/// than `maximumAge`, should a notification be lost). When events may have been missed (the replica
/// link reconnected) everything is forgotten (`removeAll()`).
///
/// A read of the store may be kept only when nothing changed the booking since the read started
/// (`readMark()`): otherwise a slow read could put back a session older than a change stored meanwhile.
///
/// Also keeps each waiting citizen's queue position, valid until any session of the same service changes.
///
/// Writes outside the write path: the contract tests' provider states call
/// `SessionService.forgetLobbySession`; `gateway purge` (another process) erases only sessions past
/// their end, which are never kept.
public final class LobbySessionCache: Sendable {
    /// The internal event that tells every replica a session changed.
    public static let changeEventName = "session.changed"

    /// When a read of the store started, in the order of the changes this cache heard of.
    public struct ReadMark: Sendable {
        fileprivate let counter: Int
    }

    /// What a queue position was computed from, on the waiting citizen's own session.
    private struct QueueBasis: Equatable {
        let service: String
        let attendantID: String?
        let startsAt: Date
        let enteredAt: Date?

        init(_ session: Session) {
            service = session.booking.service
            attendantID = session.booking.attendantID
            startsAt = session.booking.startsAt
            enteredAt = session.lobby.enteredAt
        }
    }

    private struct KeptPosition {
        let basis: QueueBasis
        let value: QueuePosition?
        let mark: ReadMark
        let keptAt: ContinuousClock.Instant
    }

    private struct Entry {
        var stored: StoredSession
        var keptAt: ContinuousClock.Instant
        var position: KeptPosition?
    }

    private struct State {
        var entries: BoundedDictionary<BookingID, Entry>
        var bookingByToken: [SecretDigest: BookingID] = [:]
        /// Grows by one with each change heard of.
        var counter = 0
        /// The last change heard of, by booking and by service (the most recent ones only).
        var bookingChanges: [BookingID: Int] = [:]
        var serviceChanges: [String: Int] = [:]
        /// Reads, and queue positions, that started before these marks are not kept (changes were forgotten).
        var readFloor = 0
        var positionFloor = 0
    }

    /// How many recent changes are remembered by booking and by service; beyond, all are forgotten at once.
    private static let changesRemembered = 4096

    public let capacity: Int
    /// The longest a copy is served without being read again.
    public let maximumAge: Duration
    private let state: Mutex<State>

    public init(capacity: Int = 50_000, maximumAge: Duration = .seconds(15)) {
        self.capacity = capacity
        self.maximumAge = maximumAge
        state = Mutex(State(entries: BoundedDictionary(capacity: capacity)))
    }

    /// How many sessions are kept.
    public var count: Int { state.withLock { $0.entries.count } }

    /// The kept session of the link with `joinToken`, if it is current; `nil`: read the store.
    public func session(joinToken: String, now: Date) -> StoredSession? {
        let digest = SecretDigest(of: joinToken)
        let instant = ContinuousClock.now
        return state.withLock { state -> StoredSession? in
            guard let bookingID = state.bookingByToken[digest], let entry = state.entries[bookingID] else { return nil }
            guard isKeepable(entry.stored.session, now: now), instant - entry.keptAt < maximumAge else {
                Self.remove(bookingID, from: &state)
                return nil
            }
            guard entry.stored.session.participant(joinToken: joinToken) != nil else { return nil }
            return entry.stored
        }
    }

    /// Marks the start of a read of the store whose result may be kept (`keep(_:readSince:now:)`).
    public func readMark() -> ReadMark {
        state.withLock { ReadMark(counter: $0.counter) }
    }

    /// Keeps a session read from the store since `mark`, unless a change of its booking was heard of
    /// since then, a newer copy is kept, or it is outside its join window.
    public func keep(_ stored: StoredSession, readSince mark: ReadMark, now: Date) {
        let bookingID = stored.session.bookingID
        let instant = ContinuousClock.now
        state.withLock { state in
            guard mark.counter >= state.readFloor, state.bookingChanges[bookingID, default: 0] <= mark.counter else {
                return
            }
            guard isKeepable(stored.session, now: now) else { return Self.remove(bookingID, from: &state) }
            if var entry = state.entries[bookingID], entry.stored.version >= stored.version {
                // Read again, unchanged: current for another `maximumAge`.
                if entry.stored.version == stored.version {
                    entry.keptAt = instant
                    state.entries.replace(entry, for: bookingID)
                }
                return
            }
            Self.put(Entry(stored: stored, keptAt: instant), from: &state)
        }
    }

    /// A change this replica stored: its copy, if kept, is replaced now; reads in flight are not kept;
    /// the queue positions of its service (and of `previous`'s, when the booking moved) are forgotten.
    public func stored(_ saved: StoredSession, previous: Session?, now: Date) {
        let session = saved.session
        let instant = ContinuousClock.now
        state.withLock { state in
            Self.noteChange(
                of: session.bookingID, services: [session.booking.service, previous?.booking.service], in: &state)
            guard let entry = state.entries[session.bookingID] else { return }
            guard isKeepable(session, now: now) else { return Self.remove(session.bookingID, from: &state) }
            if saved.version > entry.stored.version {
                Self.put(Entry(stored: saved, keptAt: instant, position: entry.position), from: &state)
            }
        }
    }

    /// A change announced by a replica (this one too): the copy is dropped unless it is already that
    /// version or newer (`version` `nil`: dropped in any case); reads in flight are not kept; the queue
    /// positions of `services` (`nil`: of every service) are forgotten.
    public func changed(_ bookingID: BookingID, version: Int?, services: [String]?) {
        state.withLock { state in
            if let services {
                Self.noteChange(of: bookingID, services: services, in: &state)
            } else {
                Self.noteChange(of: bookingID, services: [], in: &state)
                state.positionFloor = state.counter
            }
            guard let entry = state.entries[bookingID] else { return }
            if let version, entry.stored.version >= version { return }
            Self.remove(bookingID, from: &state)
        }
    }

    /// Forgets every session and position; reads in flight are not kept.
    public func removeAll() {
        state.withLock { state in
            state.entries.removeAll()
            state.bookingByToken = [:]
            state.bookingChanges = [:]
            state.serviceChanges = [:]
            state.counter += 1
            state.readFloor = state.counter
            state.positionFloor = state.counter
        }
    }

    /// The queue position kept for this waiting citizen, if nothing in their service changed since it
    /// was computed: `.some(nil)` is a known "someone is ahead"; `nil`: compute it.
    public func queuePosition(of session: Session) -> QueuePosition?? {
        let instant = ContinuousClock.now
        return state.withLock { state -> QueuePosition?? in
            guard let kept = state.entries[session.bookingID]?.position, kept.basis == QueueBasis(session),
                kept.mark.counter >= state.positionFloor,
                state.serviceChanges[kept.basis.service, default: 0] <= kept.mark.counter,
                instant - kept.keptAt < maximumAge
            else { return nil }
            return .some(kept.value)
        }
    }

    /// Keeps the queue position computed for `session` from reads that started at `mark`, while its
    /// session is kept.
    public func keep(position: QueuePosition?, of session: Session, readSince mark: ReadMark) {
        let kept = KeptPosition(basis: QueueBasis(session), value: position, mark: mark, keptAt: ContinuousClock.now)
        state.withLock { state in
            guard var entry = state.entries[session.bookingID] else { return }
            entry.position = kept
            state.entries.replace(entry, for: session.bookingID)
        }
    }

    /// Whether a session may be kept: inside its join window's end, and not over.
    private func isKeepable(_ session: Session, now: Date) -> Bool {
        !session.state.isTerminal && now < session.booking.endsAt
    }

    private static func noteChange(of bookingID: BookingID, services: [String?], in state: inout State) {
        state.counter += 1
        state.bookingChanges[bookingID] = state.counter
        for service in services.compactMap({ $0 }) { state.serviceChanges[service] = state.counter }
        if state.bookingChanges.count > changesRemembered {
            state.bookingChanges = [:]
            state.readFloor = state.counter
        }
        if state.serviceChanges.count > changesRemembered {
            state.serviceChanges = [:]
            state.positionFloor = state.counter
        }
    }

    /// Keeps `entry` (replacing the booking's copy) and indexes its join tokens.
    private static func put(_ entry: Entry, from state: inout State) {
        let bookingID = entry.stored.session.bookingID
        if let old = state.entries[bookingID] { unindex(old.stored.session, from: &state) }
        for evicted in state.entries.set(entry, for: bookingID) { unindex(evicted.value.stored.session, from: &state) }
        for token in joinTokens(of: entry.stored.session) { state.bookingByToken[SecretDigest(of: token)] = bookingID }
    }

    private static func remove(_ bookingID: BookingID, from state: inout State) {
        guard let entry = state.entries.removeValue(forKey: bookingID) else { return }
        unindex(entry.stored.session, from: &state)
    }

    private static func unindex(_ session: Session, from state: inout State) {
        for token in joinTokens(of: session) {
            let digest = SecretDigest(of: token)
            if state.bookingByToken[digest] == session.bookingID { state.bookingByToken[digest] = nil }
        }
    }

    private static func joinTokens(of session: Session) -> [String] {
        [session.access.joinToken] + session.companions.map(\.access.joinToken)
    }
}
