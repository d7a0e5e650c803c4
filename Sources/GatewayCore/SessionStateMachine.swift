import Foundation

/// The result of applying an event: the new session value and the work to carry out.
public struct SessionTransition: Sendable, Equatable {
    public var session: Session
    public var actions: [SessionAction]
    public let previousState: SessionState
    /// What happened, for the audit trail: the event's name, or what the event came to (a wrong code
    /// that locks the link is `link_locked`).
    public let auditName: String

    /// Whether the event changed nothing (a late deadline, a repeated command).
    public var isNoOp: Bool { actions.isEmpty && session == unchangedSession }

    private let unchangedSession: Session

    init(from original: Session, to session: Session, actions: [SessionAction] = [], auditName: String) {
        self.session = session
        self.actions = actions
        self.previousState = original.state
        self.auditName = auditName
        self.unchangedSession = original
    }
}

/// Why the state machine refused an event. `code` is the stable machine code shown to clients.
public struct SessionTransitionRefusal: Error, Sendable, Equatable {
    public enum Code: String, Sendable {
        /// The session is completed, a no-show or cancelled.
        case sessionClosed = "session_closed"
        /// The session is cancelled (the citizen's link no longer works).
        case sessionCancelled = "session_cancelled"
        /// The call is in progress or the citizen is in the lobby.
        case sessionInProgress = "session_in_progress"
        /// Admission needs a citizen in the lobby.
        case notWaiting = "not_waiting"
        /// Ending needs a call in progress.
        case notInProgress = "not_in_progress"
        /// The join window has not opened yet.
        case tooEarly = "too_early"
        /// The join window has closed.
        case windowClosed = "closed"
        /// A session cannot move to another provider.
        case providerImmutable = "provider_immutable"
        /// Too many wrong codes: the link is locked for a while (`until`).
        case linkLocked = "link_locked"
        /// The session has no such participant.
        case unknownParticipant = "unknown_participant"
        /// The session already holds the most messages it may.
        case messageLimitReached = "message_limit_reached"
        /// The citizen gave no contact data for the fallback's channel.
        case missingContact = "missing_contact"
    }

    public let code: Code
    public let state: SessionState
    /// When a refusal that lasts a while ends by itself (a locked link opens again).
    public let until: Date?

    public init(_ code: Code, state: SessionState, until: Date? = nil) {
        self.code = code
        self.state = state
        self.until = until
    }
}

/// The rules of a session (DESIGN §2) as a pure function from (session, event, now) to a transition.
public struct SessionStateMachine: Sendable {
    public let policy: SessionPolicy

    public init(policy: SessionPolicy = SessionPolicy()) {
        self.policy = policy
    }

    /// A new session for a booking, with the room to provision and every deadline to arm.
    public func create(
        bookingID: BookingID, booking: Booking, access: AccessCredentials, at now: Date
    ) -> SessionTransition {
        let session = Session(bookingID: bookingID, booking: booking, access: access, createdAt: now)
        var actions: [SessionAction] = [.provisionRoom] + deadlines(for: booking)
        if booking.wantsEmail { actions.append(.notifyCitizen(.invitation)) }
        return SessionTransition(from: session, to: session, actions: actions, auditName: "created")
    }

    /// Applies `event` at time `now`; throws when the event is not allowed in the session's state.
    public func apply(
        _ event: SessionEvent, to session: Session, at now: Date
    ) throws(SessionTransitionRefusal) -> SessionTransition {
        var next = session
        var actions: [SessionAction] = []
        let state = session.state

        switch event {
        case .bookingUpdated(let booking):
            guard booking.provider == session.booking.provider || state == .failed else {
                throw refusal(.providerImmutable, session)
            }
            switch state {
            case .completed, .noShow, .cancelled:
                throw refusal(.sessionClosed, session)
            case .waiting, .inProgress:
                guard !booking.hasDifferentSlot(than: session.booking) else {
                    throw refusal(.sessionInProgress, session)
                }
                next.booking = booking
            case .failed:
                next.booking = booking
                next.generation += 1
                next.state = .scheduled
                next.room = Room()
                next.lobby = Lobby()
                actions = [.provisionRoom] + deadlines(for: booking)
            case .scheduled, .open, .late:
                next.booking = booking
                if booking.hasDifferentSlot(than: session.booking) {
                    next.generation += 1
                    next.state = .scheduled
                    next.lobby = Lobby()
                    let roomWork: SessionAction = session.room.status == .ready ? .updateRoom : .provisionRoom
                    actions = [.cancelDeadlines, roomWork] + deadlines(for: booking)
                    if booking.wantsEmail { actions.append(.notifyCitizen(.rescheduled)) }
                }
            }

        case .cancelled(let actor):
            switch state {
            case .cancelled:
                break
            case .completed, .noShow:
                throw refusal(.sessionClosed, session)
            case .inProgress:
                throw refusal(.sessionInProgress, session)
            case .scheduled, .open, .late, .waiting, .failed:
                next.state = .cancelled
                next.history = next.recording { $0.cancelledBy = actor == .citizen ? "citizen" : "scheduler" }
                actions = [.cancelDeadlines, purgeDeadline(for: session.booking)]
                if session.room.status != .deleted { actions.append(.deleteRoom) }
                if actor == .citizen {
                    actions.append(.notifyScheduler(.cancelledByCitizen))
                } else if session.booking.wantsEmail && state != .failed {
                    actions.append(.notifyCitizen(.cancelled))
                }
            }

        case .roomCreated(let providerRoomID):
            if next.room.status == .pending { next.room.providerRoomID = providerRoomID }

        case .roomProvisioned(let providerRoomID, let url):
            next.room = Room(status: .ready, recording: .disabled, providerRoomID: providerRoomID, url: url)
            actions = state.isTerminal ? [.deleteRoom] : [.watchRecordings(at: nil)]

        case .roomProvisioningFailed(let code, let message):
            next.room.status = .failed
            next.room.errorCode = code
            next.room.errorMessage = message
            if code == "recording_policy" { next.history = next.recording { $0.recordingPolicyEvents += 1 } }
            // A room the provider created before the failure is taken back, not left behind: also one
            // whose id never reached the gateway (an answer lost on the way), found by its name or topic.
            let cleanUp: [SessionAction] = [.deleteRoom]
            if state.isTerminal {
                actions = cleanUp
            } else {
                next.state = .failed
                actions = [.cancelDeadlines, purgeDeadline(for: session.booking)] + cleanUp + [.notifyScheduler(.roomFailed)]
            }

        case .roomDeleted:
            // A failed room keeps saying so (and why) once it is cleaned up.
            if next.room.status != .failed { next.room = next.room.settled(as: .deleted) }

        case .roomEnded:
            next.room = next.room.settled(as: .ended)

        case .roomDeleteFailed(let code, let message, let isFinal):
            // Shown while the delete is retried; a failed room keeps its own reason. The scheduler is
            // told once retries are over: the room may still exist at the provider.
            if next.room.status != .failed {
                next.room.status = .deleteFailed
                next.room.errorCode = code
                next.room.errorMessage = message
            }
            if isFinal { actions = [.notifyScheduler(.roomDeleteFailed)] }

        case .recordingSubscribed(let id, let expiresAt):
            guard !state.isTerminal, session.room.status == .ready else { break }
            next.room.recordingSubscriptionID = id
            next.room.recordingSubscriptionExpiresAt = expiresAt
            // Renewed an hour before it lapses (or half way, for a short one).
            let lead = min(3600, max(0, expiresAt.timeIntervalSince(now)) / 2)
            actions = [.watchRecordings(at: expiresAt.addingTimeInterval(-lead))]

        case .roomMissing:
            if !state.isTerminal && session.room.status == .ready {
                next.room.status = .pending
                actions = [.provisionRoom]
            }

        case .joinWindowOpened:
            if state == .scheduled { next.state = .open }

        case .citizenEntered:
            switch state {
            case .cancelled:
                throw refusal(.sessionCancelled, session)
            case .completed, .noShow, .failed:
                throw refusal(.windowClosed, session)
            case .waiting, .inProgress:
                break
            case .scheduled, .open, .late:
                guard now >= policy.joinWindowOpens(for: session.booking) else { throw refusal(.tooEarly, session) }
                guard now < session.booking.endsAt else { throw refusal(.windowClosed, session) }
                next.state = .waiting
                if next.lobby.enteredAt == nil { next.lobby.enteredAt = now }
            }

        case .citizenLeft:
            if state == .waiting {
                if now < policy.lateCheck(for: session.booking) {
                    next.state = .open
                } else {
                    // Left after the late check (which skipped a citizen then waiting): not present, so
                    // late now, with the fallbacks not sent yet and the scheduler told once.
                    (next, actions) = wentLate(session, next, at: now)
                }
            }

        case .admitted(_, let entryURL):
            guard state == .waiting else { throw refusal(.notWaiting, session) }
            next.state = .inProgress
            next.lobby.admittedAt = now
            next.lobby.citizenEntryURL = entryURL

        case .ended(let outcome, _):
            switch state {
            case .inProgress:
                next.state = .completed
                next.outcome = outcome
                actions = [.cancelDeadlines, purgeDeadline(for: session.booking), .endRoom, .notifyScheduler(.completed)]
            case .completed, .noShow, .cancelled, .failed:
                throw refusal(.sessionClosed, session)
            case .scheduled, .open, .late, .waiting:
                throw refusal(.notInProgress, session)
            }

        case .lateCheckDue:
            if state == .scheduled || state == .open { (next, actions) = wentLate(session, next, at: now) }

        case .slotEnded:
            if state == .scheduled || state == .open || state == .late {
                next.state = .noShow
                actions = [.deleteRoom, .notifyScheduler(.noShow)]
            }

        case .safetyCapReached:
            if state == .inProgress || state == .waiting {
                next.state = .completed
                next.outcome = state == .inProgress ? .endedBySafetyCap : .notAdmitted
                actions = [.endRoom, .notifyScheduler(.completed)]
            }

        case .fallbackSent(let channel):
            if let index = next.fallbacks.firstIndex(where: { $0.channel == channel }) {
                next.fallbacks[index].status = .sent
                next.fallbacks[index].at = now
            }

        case .fallbackFailed(let channel, let reason, let isFinal):
            if let index = next.fallbacks.firstIndex(where: { $0.channel == channel }) {
                next.fallbacks[index].reason = reason
                next.fallbacks[index].at = now
                if isFinal { next.fallbacks[index].status = .failed }
            }

        case .recordingStarted:
            next.room.recording = .started
            next.history = next.recording { $0.recordingPolicyEvents += 1 }
            if session.room.status == .ready { actions = [.stopRecording] }

        case .recordingStopped:
            break  // kept in the audit trail

        case .personalDataExpired:
            if next.personalDataErasedAt == nil {
                next.booking.citizen = Citizen(name: "", email: nil, phone: nil, locale: session.booking.citizen.locale)
                next.booking.companions = session.booking.companions.map { Companion(role: $0.role, name: "") }
                next.lobby.messages = []
                next.personalDataErasedAt = now
            }

        case .codeRejected(let participant):
            // A link's count of wrong codes is not a change of the session: `updatedAt` stays.
            try checkLobby(for: participant, of: session, at: now)
            let locked = rejectCode(of: participant, in: &next, at: now)
            return SessionTransition(from: session, to: next, auditName: locked ? "link_locked" : event.name)

        case .codeAccepted(let participant):
            try checkLobby(for: participant, of: session, at: now)
            acceptCode(of: participant, in: &next)
            return SessionTransition(from: session, to: next, auditName: event.name)

        case .codeRotated(let participant, let codeHash):
            guard !state.isTerminal || state == .failed else { throw refusal(.sessionClosed, session) }
            try rotateCode(of: participant, to: codeHash, in: &next)

        case .companionEntered(let id):
            try checkLobby(for: .companion(id), of: session, at: now)
            enterCompanion(id, in: &next, at: now)

        case .companionLeft(let id):
            companionLeft(id, in: &next, at: now)

        case .companionAdmitted(let id, let entryURL):
            try admitCompanion(id, entryURL: entryURL, in: &next, at: now)

        case .messagePosted(let text):
            try postMessage(text, in: &next, at: now)

        case .fallbackRequested(let channel):
            try requestFallback(channel, in: &next, at: now)
            actions = [.sendFallback(channel)]

        case .scriptSaved(let script):
            next.script = script

        case .entryRenewed(let participant, let entryURL):
            try renewEntry(of: participant, entryURL: entryURL, in: &next)
            next.updatedAt = now

        case .auditOnly:
            next.updatedAt = now
        }

        if next != session { next.updatedAt = now }
        return SessionTransition(from: session, to: next, actions: actions, auditName: event.name)
    }

    /// The citizen is not present at the late check: late, each enabled fallback queued once, the
    /// scheduler told once.
    private func wentLate(_ session: Session, _ next: Session, at now: Date) -> (Session, [SessionAction]) {
        var next = next
        next.state = .late
        var actions: [SessionAction] = []
        if session.history?.wentLateAt == nil {
            next.history = next.recording { $0.wentLateAt = now }
            actions.append(.notifyScheduler(.late))
        }
        for channel in policy.fallback.channels(for: session.booking.citizen)
        where !session.fallbacks.contains(where: { $0.channel == channel }) {
            next.fallbacks.append(FallbackRecord(channel: channel, status: .queued, at: now))
            actions.append(.sendFallback(channel))
        }
        return (next, actions)
    }

    private func deadlines(for booking: Booking) -> [SessionAction] {
        [
            .scheduleDeadline(.joinWindowOpens, at: policy.joinWindowOpens(for: booking)),
            .scheduleDeadline(.lateCheck, at: policy.lateCheck(for: booking)),
            .scheduleDeadline(.slotEnd, at: booking.endsAt),
            .scheduleDeadline(.safetyCap, at: policy.safetyCapReached(for: booking)),
            purgeDeadline(for: booking),
        ]
    }

    private func purgeDeadline(for booking: Booking) -> SessionAction {
        .scheduleDeadline(.personalDataPurge, at: policy.personalDataExpires(for: booking))
    }

    func refusal(_ code: SessionTransitionRefusal.Code, _ session: Session) -> SessionTransitionRefusal {
        SessionTransitionRefusal(code, state: session.state)
    }
}

extension Session {
    /// The history with `change` applied.
    fileprivate func recording(_ change: (inout SessionHistory) -> Void) -> SessionHistory {
        var history = self.history ?? SessionHistory()
        change(&history)
        return history
    }
}

extension Room {
    /// The room gone (`deleted` or `ended`); a delete failure shown meanwhile is cleared.
    fileprivate func settled(as status: RoomStatus) -> Room {
        var room = self
        if room.status == .deleteFailed {
            room.errorCode = nil
            room.errorMessage = nil
        }
        room.status = status
        return room
    }
}
