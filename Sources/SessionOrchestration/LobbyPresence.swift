import Foundation
import GatewayCore
import GatewayStorage
import Logging
import ServiceLifecycle
import Synchronization

/// Knows which lobby participants are present: a participant is present while one of their event
/// streams is open (or they polled their lobby within the grace). A citizen waiting in the lobby who
/// has not been present for `grace` has left (`citizenLeft`): the session goes back to `open`, or to
/// `late` with the fallbacks when the late check has passed; the attendants' console is told. A
/// citizen who opens their stream again is back in the lobby. A waiting companion who has not been
/// present for `grace` has left too (`companionLeft`): the console is told, and they are not admitted
/// until they are back.
///
/// With replicas, each replica announces its present participants to the others over the live-event
/// bus every third of the grace, so a citizen whose stream moved to another replica is not taken for
/// gone, and a replica that dies stops vouching for its streams.
public final class LobbyPresence: Service, Sendable {
    public static let eventName = "presence"

    private struct State {
        /// Open streams on this replica, by participant key.
        var openStreams: [String: Int] = [:]
        /// Participants who polled on this replica since the last announcement.
        var polled: Set<String> = []
        /// When each participant was last known present, on any replica.
        var lastSeen: [String: Date] = [:]
    }

    private let sessions: SessionService
    private let grace: Duration
    private let logger: Logger
    private let state = Mutex(State())
    private let startedAt: Date

    public init(sessions: SessionService, grace: Duration, logger: Logger) {
        self.sessions = sessions
        self.grace = grace
        self.logger = logger
        startedAt = sessions.clock.now
    }

    static func key(_ bookingID: BookingID, _ participant: String) -> String {
        "\(bookingID.rawValue) \(participant)"
    }

    /// A participant's event stream opened on this replica.
    public func streamOpened(_ bookingID: BookingID, participant: String) {
        let key = Self.key(bookingID, participant)
        let now = sessions.clock.now
        state.withLock { state in
            state.openStreams[key, default: 0] += 1
            state.lastSeen[key] = now
        }
    }

    /// A participant's event stream on this replica ended (closed page, lost connection).
    public func streamClosed(_ bookingID: BookingID, participant: String) {
        let key = Self.key(bookingID, participant)
        let now = sessions.clock.now
        state.withLock { state in
            let remaining = state.openStreams[key, default: 1] - 1
            state.openStreams[key] = remaining > 0 ? remaining : nil
            state.lastSeen[key] = now
        }
    }

    /// A participant polled their lobby.
    public func polled(_ bookingID: BookingID, participant: String) {
        let key = Self.key(bookingID, participant)
        let now = sessions.clock.now
        state.withLock { state in
            state.polled.insert(key)
            state.lastSeen[key] = now
        }
    }

    /// Whether the participant counts as present now.
    public func isPresent(_ bookingID: BookingID, participant: String) -> Bool {
        let key = Self.key(bookingID, participant)
        let now = sessions.clock.now
        return state.withLock { state in
            if state.openStreams[key] != nil { return true }
            guard let seen = state.lastSeen[key] else { return false }
            return now.timeIntervalSince(seen) < grace.timeInterval
        }
    }

    public func run() async throws {
        // Replicas vouch for their participants three times a grace; departures are looked for every
        // second (or sooner with a short grace), so one is seen soon after the grace ends.
        let announceEvery = grace / 3
        let sweepEvery = min(grace / 6, .seconds(1))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.receive() }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: announceEvery)
                    if Task.isCancelled { break }
                    self.announce()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: sweepEvery)
                    if Task.isCancelled { break }
                    await self.sweep()
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Tells every replica (this one too) who is present here.
    private func announce() {
        let present = state.withLock { state -> [String] in
            defer { state.polled = [] }
            return Array(Set(state.openStreams.keys).union(state.polled)).sorted()
        }
        // Small batches: a notification carries at most 8000 bytes.
        for start in stride(from: 0, to: present.count, by: 100) {
            let batch = present[start..<min(start + 100, present.count)].joined(separator: "\n")
            sessions.liveEvents.publishInternal(Self.eventName, data: ["present": .string(batch)])
        }
    }

    /// Takes in every replica's announcements; subscribes again when the bus ended the subscription
    /// (it ends every subscription when a replica's link comes back).
    private func receive() async {
        while !Task.isCancelled {
            let announcements = sessions.liveEvents.subscribe(after: nil, isInternal: true) {
                $0.audience == .presence && $0.name == Self.eventName
            }
            for await event in announcements.events {
                guard case .string(let list)? = event.data["present"] else { continue }
                let now = sessions.clock.now
                state.withLock { state in
                    for key in list.split(separator: "\n") { state.lastSeen[String(key)] = now }
                }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Citizens waiting in the lobby but not present for the grace have left. Nothing is decided in
    /// the first grace after a start (streams reconnect then).
    public func sweep() async {
        let now = sessions.clock.now
        guard now.timeIntervalSince(startedAt) >= grace.timeInterval else { return }
        do {
            var cursor: SessionCursor?
            repeat {
                let page = try await sessions.store.sessions(
                    matching: SessionQuery(state: .waiting, after: cursor, limit: 500))
                for stored in page where !isPresent(stored.session.bookingID, participant: "citizen") {
                    do {
                        try await sessions.handle(.citizenLeft, for: stored.session.bookingID, by: .system)
                        logger.info("citizen left the lobby", metadata: ["booking.id": "\(stored.session.bookingID)"])
                    } catch {
                        logger.warning(
                            "could not record that a citizen left", metadata: ["booking.id": "\(stored.session.bookingID)", "error": "\(error)"])
                    }
                }
                cursor = page.count == 500 ? page.last.map { SessionCursor(after: $0.session) } : nil
            } while cursor != nil
            for (bookingID, companion) in companionsGone(at: now) {
                do {
                    try await sessions.handle(.companionLeft(companion), for: bookingID, by: .system)
                } catch {
                    logger.warning(
                        "could not record that a companion left", metadata: ["booking.id": "\(bookingID)", "error": "\(error)"])
                }
            }
            forgetOld(before: now - grace * 10)
        } catch {
            logger.warning("could not check who left the lobby", metadata: ["error": "\(error)"])
        }
    }

    /// Companions this replica has heard of (their streams and polls here, the other replicas'
    /// announcements) who have not been present for the grace. Each is returned once: they are
    /// forgotten until they are seen again. The state machine leaves alone a companion who is not
    /// waiting (admitted, or gone already), so every replica may report the same one.
    private func companionsGone(at now: Date) -> [(BookingID, String)] {
        state.withLock { state in
            var gone: [(BookingID, String)] = []
            for (key, seen) in state.lastSeen
            where state.openStreams[key] == nil && now.timeIntervalSince(seen) >= grace.timeInterval {
                let parts = key.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, parts[1].hasPrefix("companion-"), let bookingID = BookingID(String(parts[0]))
                else { continue }
                gone.append((bookingID, String(parts[1])))
                state.lastSeen[key] = nil
            }
            return gone
        }
    }

    private func forgetOld(before cutoff: Date) {
        state.withLock { state in
            state.lastSeen = state.lastSeen.filter { $0.value >= cutoff || state.openStreams[$0.key] != nil }
        }
    }
}
