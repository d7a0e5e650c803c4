import Foundation

/// The rules of links and codes, companions, the attendant's messages, fallbacks asked for by hand and
/// fresh entries, for `SessionStateMachine.apply`.
extension SessionStateMachine {
    /// How many wrong codes in a row lock a link, and for how long (DESIGN §2).
    public static let maximumCodeAttempts = 5
    public static let codeLockDuration: Duration = .seconds(15 * 60)
    /// The most messages one session holds.
    public static let maximumMessages = 100

    /// The lobby takes a participant of a live session within the join window (or during the call),
    /// while their link is not locked.
    func checkLobby(for participant: Participant, of session: Session, at now: Date) throws(SessionTransitionRefusal) {
        guard let credentials = session.credentials(of: participant) else { throw refusal(.unknownParticipant, session) }
        switch session.state {
        case .cancelled: throw refusal(.sessionCancelled, session)
        case .completed, .noShow, .failed: throw refusal(.windowClosed, session)
        default: break
        }
        if let lockedUntil = credentials.lockedUntil, lockedUntil > now {
            throw SessionTransitionRefusal(.linkLocked, state: session.state, until: lockedUntil)
        }
        guard now >= policy.joinWindowOpens(for: session.booking) else { throw refusal(.tooEarly, session) }
        guard now < session.booking.endsAt || session.state == .inProgress else { throw refusal(.windowClosed, session) }
    }

    /// Counts a wrong code; the last one allowed locks the link, and the count starts again. Returns
    /// whether the link is now locked.
    func rejectCode(of participant: Participant, in session: inout Session, at now: Date) -> Bool {
        guard var credentials = session.credentials(of: participant) else { return false }
        credentials.failedAttempts += 1
        let locks = credentials.failedAttempts >= Self.maximumCodeAttempts
        if locks {
            credentials.failedAttempts = 0
            credentials.lockedUntil = now + Self.codeLockDuration
        }
        session.setCredentials(credentials, of: participant)
        return locks
    }

    func acceptCode(of participant: Participant, in session: inout Session) {
        guard var credentials = session.credentials(of: participant) else { return }
        credentials.failedAttempts = 0
        credentials.lockedUntil = nil
        session.setCredentials(credentials, of: participant)
    }

    func rotateCode(of participant: Participant, to codeHash: AccessCodeHash, in session: inout Session)
        throws(SessionTransitionRefusal)
    {
        guard var credentials = session.credentials(of: participant) else { throw refusal(.unknownParticipant, session) }
        credentials.codeHash = codeHash
        credentials.failedAttempts = 0
        credentials.lockedUntil = nil
        session.setCredentials(credentials, of: participant)
    }

    /// A companion keeps the time they first entered the lobby; one who had left is back.
    func enterCompanion(_ id: String, in session: inout Session, at now: Date) {
        guard let index = session.companions.firstIndex(where: { $0.id == id }) else { return }
        if session.companions[index].enteredAt == nil { session.companions[index].enteredAt = now }
        session.companions[index].leftAt = nil
    }

    /// Only a companion waiting in the lobby of a live session can leave it; anything else (admitted,
    /// never entered, gone already, a session over) changes nothing, so that every replica may report it.
    func companionLeft(_ id: String, in session: inout Session, at now: Date) {
        guard !session.state.isTerminal, let index = session.companions.firstIndex(where: { $0.id == id }),
            session.companions[index].isWaiting
        else { return }
        session.companions[index].leftAt = now
    }

    /// Only a companion waiting (and present) in the lobby of a live session is admitted.
    func admitCompanion(_ id: String, entryURL: String, in session: inout Session, at now: Date)
        throws(SessionTransitionRefusal)
    {
        guard !session.state.isTerminal, let index = session.companions.firstIndex(where: { $0.id == id }),
            session.companions[index].isWaiting
        else { throw refusal(.notWaiting, session) }
        session.companions[index].admittedAt = now
        session.companions[index].entryURL = entryURL
    }

    func postMessage(_ text: String, in session: inout Session, at now: Date) throws(SessionTransitionRefusal) {
        guard !session.state.isTerminal else { throw refusal(.sessionClosed, session) }
        guard session.lobby.messages.count < Self.maximumMessages else { throw refusal(.messageLimitReached, session) }
        session.lobby.messages.append(LobbyMessage(id: "m\(session.lobby.messages.count + 1)", text: text, at: now))
    }

    /// A fallback asked for by hand is queued again even if one went out on the channel before.
    func requestFallback(_ channel: FallbackChannel, in session: inout Session, at now: Date)
        throws(SessionTransitionRefusal)
    {
        guard [.scheduled, .open, .late].contains(session.state) else { throw refusal(.sessionInProgress, session) }
        let citizen = session.booking.citizen
        guard channel == .phone ? citizen.phone != nil : citizen.email != nil else {
            throw refusal(.missingContact, session)
        }
        session.fallbacks.removeAll { $0.channel == channel }
        session.fallbacks.append(FallbackRecord(channel: channel, status: .queued, at: now))
    }

    /// A fresh entry is only for a participant admitted to the call that is still on.
    func renewEntry(of participant: Participant, entryURL: String, in session: inout Session)
        throws(SessionTransitionRefusal)
    {
        switch participant {
        case .citizen:
            guard session.state == .inProgress, session.lobby.admittedAt != nil else {
                throw refusal(.notInProgress, session)
            }
            session.lobby.citizenEntryURL = entryURL
        case .companion(let id):
            guard !session.state.isTerminal, let index = session.companions.firstIndex(where: { $0.id == id }),
                session.companions[index].admittedAt != nil
            else { throw refusal(.notInProgress, session) }
            session.companions[index].entryURL = entryURL
        }
    }
}
