import Foundation
import GatewayCore
import GatewayStorage
import MeetingProviders

extension SessionService {
    /// Sessions of the attendant whose slot starts within `[from, to)`, by start time.
    public func agenda(for attendant: AttendantIdentity, from: Date, to: Date) async throws -> [Session] {
        var sessions: [Session] = []
        var query = SessionQuery(from: from, to: to, limit: 200)
        while true {
            let page = try await store.sessions(matching: query).map(\.session)
            sessions += page.filter(attendant.canSee)
            guard page.count == query.limit, let last = page.last else { break }
            query.after = SessionCursor(after: last)
        }
        return sessions
    }

    /// Admits the waiting citizen: mints the citizen's and the attendant's provider entries, then moves the
    /// session to `in_progress`. Returns the attendant's (host's) entry URL.
    public func admit(_ bookingID: BookingID, by attendant: AttendantIdentity) async throws -> (Session, hostJoinURL: String) {
        let session = try await visibleSession(bookingID, to: attendant)
        guard session.state == .waiting else {
            throw SessionCommandError.refused(SessionTransitionRefusal(.notWaiting, state: session.state))
        }
        guard session.room.status == .ready, let roomID = session.room.providerRoomID else {
            throw SessionCommandError.roomNotReady(bookingID)
        }
        guard let provider = providers.provider(named: session.booking.provider) else {
            throw SessionCommandError.providerNotConfigured(session.booking.provider)
        }
        let spec = RoomSpec(session: session, policy: policy)
        let citizenEntry = try await provider.citizenEntry(for: spec, providerRoomID: roomID)
        let hostEntry = try await provider.hostEntry(for: spec, providerRoomID: roomID, attendantID: attendant.id)
        let admitted = try await handle(
            .admitted(attendantID: attendant.id, citizenEntryURL: citizenEntry.joinURL), for: bookingID,
            by: .attendant(id: attendant.id))
        return (admitted, hostEntry.joinURL)
    }

    /// Ends the call with the attendant's outcome.
    public func end(_ bookingID: BookingID, outcome: SessionOutcome, by attendant: AttendantIdentity) async throws -> Session {
        _ = try await visibleSession(bookingID, to: attendant)
        return try await handle(
            .ended(outcome, by: .attendant(id: attendant.id)), for: bookingID, by: .attendant(id: attendant.id))
    }

    /// Shows a message to the waiting citizen.
    public func postMessage(_ text: String, to bookingID: BookingID, by attendant: AttendantIdentity) async throws -> LobbyMessage {
        for _ in 0..<5 {
            guard let stored = try await store.session(for: bookingID) else { throw SessionCommandError.notFound(bookingID) }
            guard attendant.canSee(stored.session) else { throw SessionCommandError.notVisible(bookingID) }
            var session = stored.session
            guard !session.state.isTerminal else {
                throw SessionCommandError.refused(SessionTransitionRefusal(.sessionClosed, state: session.state))
            }
            let message = LobbyMessage(id: "m\(session.lobby.messages.count + 1)", text: text, at: clock.now)
            session.lobby.messages.append(message)
            session.updatedAt = message.at
            let audit = AuditRecord(
                bookingID: bookingID, at: message.at, actor: .attendant(id: attendant.id), event: "message_posted",
                fromState: session.state, toState: session.state)
            do {
                let saved = try await store.apply(SessionChange(session: session, expectedVersion: stored.version, audit: [audit]))
                LiveEventPublisher(bus: liveEvents).publishMessage(message, in: saved.session)
                return message
            } catch StoreError.versionConflict {
                continue
            }
        }
        throw StoreError.versionConflict(bookingID)
    }

    /// A fallback the attendant asks for (the citizen has not come in).
    public func requestFallback(
        _ channel: FallbackChannel, for bookingID: BookingID, by attendant: AttendantIdentity
    ) async throws -> Session {
        for _ in 0..<5 {
            guard let stored = try await store.session(for: bookingID) else { throw SessionCommandError.notFound(bookingID) }
            guard attendant.canSee(stored.session) else { throw SessionCommandError.notVisible(bookingID) }
            var session = stored.session
            guard [.scheduled, .open, .late].contains(session.state) else {
                throw SessionCommandError.refused(SessionTransitionRefusal(.sessionInProgress, state: session.state))
            }
            let citizen = session.booking.citizen
            guard channel == .phone ? citizen.phone != nil : citizen.email != nil else {
                throw SessionCommandError.missingContact(channel)
            }
            let now = clock.now
            session.fallbacks.removeAll { $0.channel == channel }
            session.fallbacks.append(FallbackRecord(channel: channel, status: .queued, at: now))
            session.updatedAt = now
            let audit = AuditRecord(
                bookingID: bookingID, at: now, actor: .attendant(id: attendant.id), event: "fallback_requested",
                fromState: session.state, toState: session.state)
            let job = JobRequest(bookingID: bookingID, kind: .fallback(channel), generation: session.generation, dueAt: now)
            do {
                let saved = try await store.apply(
                    SessionChange(session: session, expectedVersion: stored.version, audit: [audit], jobs: [job]))
                wakeWorker()
                return saved.session
            } catch StoreError.versionConflict {
                continue
            }
        }
        throw StoreError.versionConflict(bookingID)
    }

    /// Stores the attendance script's level and ticks.
    public func saveScript(_ script: AttendanceScript, for bookingID: BookingID, by attendant: AttendantIdentity) async throws {
        for _ in 0..<5 {
            guard let stored = try await store.session(for: bookingID) else { throw SessionCommandError.notFound(bookingID) }
            guard attendant.canSee(stored.session) else { throw SessionCommandError.notVisible(bookingID) }
            var session = stored.session
            session.script = script
            session.updatedAt = script.updatedAt
            let audit = AuditRecord(
                bookingID: bookingID, at: script.updatedAt, actor: .attendant(id: attendant.id), event: "script_saved",
                fromState: session.state, toState: session.state)
            do {
                try await store.apply(SessionChange(session: session, expectedVersion: stored.version, audit: [audit]))
                return
            } catch StoreError.versionConflict {
                continue
            }
        }
        throw StoreError.versionConflict(bookingID)
    }

    func visibleSession(_ bookingID: BookingID, to attendant: AttendantIdentity) async throws -> Session {
        guard let session = try await store.session(for: bookingID)?.session else {
            throw SessionCommandError.notFound(bookingID)
        }
        guard attendant.canSee(session) else { throw SessionCommandError.notVisible(bookingID) }
        return session
    }
}
