import Foundation
import GatewayCore
import GatewayStorage
import Logging
import MeetingProviders
import Metrics
import ServiceLifecycle
import Synchronization

/// Compares, every `interval`, each listable provider's rooms that carry the gateway's mark with the
/// database, as Scalelite's poller does for its servers:
/// - a room with no session behind it, or whose session is over, is an orphan (an answer lost at the
///   last attempt, a crash, a manual change): it is deleted, once older than `minimumOrphanAge` (a
///   room being provisioned right now has no stored id yet);
/// - a live session whose room is gone at the provider gets it made again (`roomMissing`), unless the
///   provider lists only running meetings (`listsRoomsNotStarted` false, BigBlueButton): there an absent
///   room may simply not have started, and the gateway creates it again on admission anyway.
/// Every action is audited on its session where there is one, logged and counted
/// (`gateway_reconciler_actions_total`); a provider that fails `unhealthyAfter` rounds in a row is
/// reported unhealthy (`gateway_reconciler_provider_healthy`, and `/readyz`'s detail).
public final class RoomReconciler: Service, Sendable {
    public struct Report: Sendable, Equatable {
        public var orphansDeleted: [String] = []
        public var missingRecreated: [BookingID] = []

        public init(orphansDeleted: [String] = [], missingRecreated: [BookingID] = []) {
            self.orphansDeleted = orphansDeleted
            self.missingRecreated = missingRecreated
        }
    }

    private let sessions: SessionService
    private let inventories: [String: any RoomInventory]
    private let interval: Duration
    private let minimumOrphanAge: Duration
    private let unhealthyAfter: Int
    private let logger: Logger
    private let failures = Mutex<[String: Int]>([:])

    public init(
        sessions: SessionService, inventories: [String: any RoomInventory], interval: Duration,
        minimumOrphanAge: Duration, unhealthyAfter: Int = 3, logger: Logger
    ) {
        self.sessions = sessions
        self.inventories = inventories
        self.interval = interval
        self.minimumOrphanAge = minimumOrphanAge
        self.unhealthyAfter = unhealthyAfter
        self.logger = logger
    }

    /// The providers that failed `unhealthyAfter` rounds in a row.
    public var unhealthyProviders: [String] {
        failures.withLock { $0.filter { $0.value >= unhealthyAfter }.keys.sorted() }
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // A stop ends the wait at once.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            for name in inventories.keys.sorted() {
                _ = try? await reconcile(provider: name)
            }
        }
    }

    /// One round for one provider.
    @discardableResult
    public func reconcile(provider name: String) async throws -> Report {
        guard let inventory = inventories[name] else { return Report() }
        do {
            // Live sessions first, then the provider's list: a room made after this read is not taken
            // for missing.
            let live = inventory.listsRoomsNotStarted ? try await liveSessions(on: name) : []
            let listed = try await inventory.listGatewayRooms()
            var report = Report()
            report.orphansDeleted = try await deleteOrphans(listed, on: name, inventory)
            if inventory.listsRoomsNotStarted {
                report.missingRecreated = try await recreateMissing(live, listed: Set(listed.map(\.id)))
            }
            failures.withLock { $0[name] = 0 }
            Gauge(label: "gateway_reconciler_provider_healthy", dimensions: [("provider", name)]).record(1)
            return report
        } catch {
            let count = failures.withLock { failures in
                failures[name, default: 0] += 1
                return failures[name, default: 0]
            }
            if count >= unhealthyAfter {
                Gauge(label: "gateway_reconciler_provider_healthy", dimensions: [("provider", name)]).record(0)
            }
            logger.warning(
                "could not reconcile the provider's rooms",
                metadata: ["provider": "\(name)", "rounds.failed": "\(count)", "error": "\(error)"])
            throw error
        }
    }

    private func deleteOrphans(_ listed: [ListedRoom], on name: String, _ inventory: any RoomInventory) async throws
        -> [String]
    {
        let now = sessions.clock.now
        var deleted: [String] = []
        for room in listed {
            let session = try await sessions.store.session(providerRoomID: room.id)?.session
            // A live session's room stays; so does a room another provider's session names (two names for
            // one account): only this provider's view of its own sessions decides.
            if let session, session.booking.provider != name || !session.state.isTerminal { continue }
            if session == nil {
                // Without a session, only a room old enough cannot be one being provisioned now.
                guard let created = room.createdAt, now.timeIntervalSince(created) >= minimumOrphanAge.timeInterval
                else { continue }
            }
            try await inventory.deleteListedRoom(room.id)
            deleted.append(room.id)
            count("orphan_deleted", on: name)
            logger.warning(
                "orphan room deleted",
                metadata: ["provider": "\(name)", "room": "\(room.id)", "booking.id": "\(session?.bookingID.rawValue ?? "none")"])
            if let session {
                _ = try? await sessions.handle(.auditOnly("orphan_room_deleted"), for: session.bookingID, by: .system)
                // A room whose delete job gave up reads deleted now: the scheduler was told it may remain.
                if session.room.status == .deleteFailed, session.room.providerRoomID == room.id {
                    _ = try? await sessions.handle(.roomDeleted, for: session.bookingID, by: .system)
                }
            }
        }
        return deleted
    }

    private func recreateMissing(_ live: [Session], listed: Set<String>) async throws -> [BookingID] {
        var recreated: [BookingID] = []
        for session in live where session.room.status == .ready {
            guard let roomID = session.room.providerRoomID, !listed.contains(roomID) else { continue }
            let after = try await sessions.handle(.roomMissing, for: session.bookingID, by: .system)
            guard after.room.status == .pending else { continue }
            recreated.append(session.bookingID)
            count("missing_recreated", on: session.booking.provider)
            logger.warning(
                "a live session's room was gone at the provider; making it again",
                metadata: ["provider": "\(session.booking.provider)", "booking.id": "\(session.bookingID)"])
        }
        return recreated
    }

    /// Sessions on `provider` that are not over, whatever their date.
    private func liveSessions(on provider: String) async throws -> [Session] {
        var live: [Session] = []
        for state in SessionState.allCases where !state.isTerminal {
            var cursor: SessionCursor?
            repeat {
                let page = try await sessions.store.sessions(matching: SessionQuery(state: state, after: cursor, limit: 500))
                live += page.map(\.session).filter { $0.booking.provider == provider }
                cursor = page.count == 500 ? page.last.map { SessionCursor(after: $0.session) } : nil
            } while cursor != nil
        }
        return live
    }

    private func count(_ action: String, on provider: String) {
        Counter(label: "gateway_reconciler_actions_total", dimensions: [("provider", provider), ("action", action)])
            .increment()
    }
}
