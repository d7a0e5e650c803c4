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

    /// Who to admit: the citizen, companions, or everyone waiting.
    public enum Admission: Sendable, Equatable {
        case participants([Participant])
        case everyoneWaiting
    }

    /// Admits waiting participants: mints each one's provider entry only now, and the attendant's (host's)
    /// entry. Admitting the citizen moves the session to `in_progress`.
    public func admit(
        _ bookingID: BookingID, _ admission: Admission = .participants([.citizen]), by attendant: AttendantIdentity
    ) async throws -> (Session, hostJoinURL: String, admitted: [Participant]) {
        let session = try await visibleSession(bookingID, to: attendant)
        let waitingCompanions = session.companions.filter { $0.enteredAt != nil && $0.admittedAt == nil }.map { Participant.companion($0.id) }
        let chosen: [Participant]
        switch admission {
        case .everyoneWaiting:
            chosen = (session.state == .waiting ? [.citizen] : []) + waitingCompanions
        case .participants(let list):
            chosen = list
        }
        let refusal = SessionCommandError.refused(SessionTransitionRefusal(.notWaiting, state: session.state))
        guard !chosen.isEmpty else { throw refusal }
        for participant in chosen {
            switch participant {
            case .citizen: guard session.state == .waiting else { throw refusal }
            case .companion: guard waitingCompanions.contains(participant), !session.state.isTerminal else { throw refusal }
            }
        }
        let (provider, spec, roomID) = try providerRoom(of: session)
        var entries: [Participant: String] = [:]
        for participant in chosen {
            entries[participant] = try await provider.citizenEntry(for: spec, providerRoomID: roomID).joinURL
        }
        let hostEntry = try await provider.hostEntry(
            for: spec, providerRoomID: roomID, attendantID: attendant.providerIdentity)
        var current = session
        let companionEntries = entries.compactMap { key, url -> (String, String)? in
            if case .companion(let id) = key { return (id, url) }
            return nil
        }
        if !companionEntries.isEmpty {
            current = try await admitCompanions(Dictionary(uniqueKeysWithValues: companionEntries), in: bookingID, by: attendant)
        }
        if let url = entries[.citizen] {
            current = try await handle(
                .admitted(attendantID: attendant.id, citizenEntryURL: url), for: bookingID, by: .attendant(id: attendant.id))
        }
        return (current, hostEntry.joinURL, chosen)
    }

    private func admitCompanions(_ entries: [String: String], in bookingID: BookingID, by attendant: AttendantIdentity) async throws -> Session {
        for _ in 0..<5 {
            guard let stored = try await store.session(for: bookingID) else { throw SessionCommandError.notFound(bookingID) }
            var session = stored.session
            let now = clock.now
            for (id, url) in entries {
                guard let index = session.companions.firstIndex(where: { $0.id == id }) else { continue }
                session.companions[index].admittedAt = now
                session.companions[index].entryURL = url
            }
            session.updatedAt = now
            let audit = entries.keys.sorted().map {
                AuditRecord(
                    bookingID: bookingID, at: now, actor: .attendant(id: attendant.id), event: "\($0)_admitted",
                    fromState: session.state, toState: session.state)
            }
            do {
                let saved = try await store.apply(SessionChange(session: session, expectedVersion: stored.version, audit: audit))
                for companion in saved.session.companions where entries[companion.id] != nil {
                    LiveEventPublisher(bus: liveEvents).publishCompanion(companion, in: saved.session)
                }
                return saved.session
            } catch StoreError.versionConflict {
                continue
            }
        }
        throw StoreError.versionConflict(bookingID)
    }

    /// Ends the call with the attendant's outcome.
    public func end(_ bookingID: BookingID, outcome: SessionOutcome, by attendant: AttendantIdentity) async throws -> Session {
        _ = try await visibleSession(bookingID, to: attendant)
        return try await handle(
            .ended(outcome, by: .attendant(id: attendant.id)), for: bookingID, by: .attendant(id: attendant.id))
    }

    /// Messages one session can hold; each is kept with the session and sent to every lobby stream.
    public static let maximumMessagesPerSession = 100

    /// Shows a message to the waiting citizen.
    public func postMessage(_ text: String, to bookingID: BookingID, by attendant: AttendantIdentity) async throws -> LobbyMessage {
        for _ in 0..<5 {
            guard let stored = try await store.session(for: bookingID) else { throw SessionCommandError.notFound(bookingID) }
            guard attendant.canSee(stored.session) else { throw SessionCommandError.notVisible(bookingID) }
            var session = stored.session
            guard !session.state.isTerminal else {
                throw SessionCommandError.refused(SessionTransitionRefusal(.sessionClosed, state: session.state))
            }
            guard session.lobby.messages.count < Self.maximumMessagesPerSession else {
                throw SessionCommandError.messageLimitReached(Self.maximumMessagesPerSession)
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
