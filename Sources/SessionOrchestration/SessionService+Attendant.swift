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
        let waitingCompanions = session.companions.filter(\.isWaiting).map { Participant.companion($0.id) }
        let chosen: [Participant]
        switch admission {
        case .everyoneWaiting:
            chosen = (session.state == .waiting ? [.citizen] : []) + waitingCompanions
        case .participants(let list):
            chosen = list
        }
        // Checked before any entry is minted; the state machine checks again when the admission is stored.
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
        // One change: the companions first (by id), then the citizen.
        var admissions: [SessionEvent] = entries.sorted { $0.key.description < $1.key.description }.compactMap {
            participant, url in
            guard case .companion(let id) = participant else { return nil }
            return .companionAdmitted(id, entryURL: url)
        }
        if let url = entries[.citizen] {
            admissions.append(.admitted(attendantID: attendant.id, citizenEntryURL: url))
        }
        let admitted = try await handle(for: bookingID, by: .attendant(id: attendant.id)) { _ in admissions }
        return (admitted, hostEntry.joinURL, chosen)
    }

    /// Ends the call with the attendant's outcome.
    public func end(_ bookingID: BookingID, outcome: SessionOutcome, by attendant: AttendantIdentity) async throws -> Session {
        _ = try await visibleSession(bookingID, to: attendant)
        return try await handle(
            .ended(outcome, by: .attendant(id: attendant.id)), for: bookingID, by: .attendant(id: attendant.id))
    }

    /// Messages one session can hold; each is kept with the session and sent to every lobby stream.
    public static let maximumMessagesPerSession = SessionStateMachine.maximumMessages

    /// Shows a message to the waiting citizen.
    public func postMessage(_ text: String, to bookingID: BookingID, by attendant: AttendantIdentity) async throws -> LobbyMessage {
        do {
            let session = try await handle(.messagePosted(text: text), for: bookingID, as: attendant)
            return session.lobby.messages.last!  // the state machine adds the message last
        } catch SessionCommandError.refused(let refusal) where refusal.code == .messageLimitReached {
            throw SessionCommandError.messageLimitReached(Self.maximumMessagesPerSession)
        }
    }

    /// A fallback the attendant asks for (the citizen has not come in).
    public func requestFallback(
        _ channel: FallbackChannel, for bookingID: BookingID, by attendant: AttendantIdentity
    ) async throws -> Session {
        do {
            return try await handle(.fallbackRequested(channel), for: bookingID, as: attendant)
        } catch SessionCommandError.refused(let refusal) where refusal.code == .missingContact {
            throw SessionCommandError.missingContact(channel)
        }
    }

    /// Stores the attendance script's level and ticks.
    public func saveScript(_ script: AttendanceScript, for bookingID: BookingID, by attendant: AttendantIdentity) async throws {
        try await handle(.scriptSaved(script), for: bookingID, as: attendant)
    }

    /// Applies the attendant's event to a session they may see (checked again at each attempt).
    @discardableResult
    private func handle(_ event: SessionEvent, for bookingID: BookingID, as attendant: AttendantIdentity) async throws
        -> Session
    {
        try await handle(for: bookingID, by: .attendant(id: attendant.id)) { session in
            guard attendant.canSee(session) else { throw SessionCommandError.notVisible(bookingID) }
            return [event]
        }
    }

    func visibleSession(_ bookingID: BookingID, to attendant: AttendantIdentity) async throws -> Session {
        guard let session = try await store.session(for: bookingID)?.session else {
            throw SessionCommandError.notFound(bookingID)
        }
        guard attendant.canSee(session) else { throw SessionCommandError.notVisible(bookingID) }
        return session
    }
}
