import Foundation
import GatewayCore
import GatewayStorage

/// A session change ready to store, and the events behind it (for metrics and live events once stored).
struct PreparedChange {
    struct Step {
        let event: SessionEvent
        let before: Session
        let after: Session
    }

    var change: SessionChange
    var steps: [Step]
}

extension SessionService {
    /// Applies an event to the stored session, retrying when another writer got there first.
    /// `completingJob` is marked done in the same transaction. With a `receipt`, the provider event is
    /// marked received in the same transaction as its effect; throws `StoreError.duplicateWebhookEvent`
    /// when it was received (and acted on) before.
    @discardableResult
    public func handle(
        _ event: SessionEvent, for bookingID: BookingID, by actor: SessionActor, completingJob jobID: Int64? = nil,
        receipt: WebhookReceipt? = nil
    ) async throws -> Session {
        try await handle(for: bookingID, by: actor, completingJob: jobID, receipt: receipt) { _ in [event] }
    }

    /// Applies, one after the other and stored as one change, the events `decide` picks on the stored
    /// session; on a retry they are picked again on the session then stored. `decide` may throw (a session
    /// the caller may not see).
    @discardableResult
    func handle(
        for bookingID: BookingID, by actor: SessionActor, completingJob jobID: Int64? = nil,
        receipt: WebhookReceipt? = nil, _ decide: (Session) throws -> [SessionEvent]
    ) async throws -> Session {
        try await write(bookingID) { stored in
            guard let stored else { throw SessionCommandError.notFound(bookingID) }
            return try prepare(decide(stored.session), on: stored, by: actor, completingJob: jobID, receipt: receipt)
        }
    }

    /// The one write path: every change of a session is stored here. Reads the stored session (`nil`: none
    /// yet), lets `makeChange` make the change for it (`nil`: nothing to store), stores it atomically, and
    /// starts again from the read when another writer got there first. Then replaces the lobby's copy and
    /// tells the replicas (`announceStored`), wakes the job worker for new jobs, and counts and announces
    /// what the events did. Returns the stored session.
    @discardableResult
    func write(_ bookingID: BookingID, _ makeChange: (StoredSession?) throws -> PreparedChange?) async throws -> Session {
        for _ in 0..<5 {
            let stored = try await store.session(for: bookingID)
            guard let prepared = try makeChange(stored) else {
                guard let stored else { throw SessionCommandError.notFound(bookingID) }
                return stored.session
            }
            let saved: StoredSession
            do {
                saved = try await store.apply(prepared.change)
            } catch StoreError.versionConflict, StoreError.alreadyExists {
                continue
            }
            announceStored(saved, previous: stored?.session)
            if !prepared.change.jobs.isEmpty { wakeWorker() }
            for step in prepared.steps {
                DomainMetrics.record(step.event, from: step.before, to: step.after)
                LiveEventPublisher(bus: liveEvents).publish(from: step.before, to: step.after, after: step.event)
            }
            return saved.session
        }
        throw StoreError.versionConflict(bookingID)
    }

    /// Runs `events` through the state machine on the stored session, one after the other, and makes the
    /// change: the new session, an audit record per event that changed something (or is always audited),
    /// the jobs the actions ask for. `nil` when nothing changed and no job is to be completed.
    /// `adjust` changes the result further (credentials the state machine cannot make); `extraJobs` adds
    /// jobs for it.
    func prepare(
        _ events: [SessionEvent], on stored: StoredSession, by actor: SessionActor, completingJob jobID: Int64? = nil,
        receipt: WebhookReceipt? = nil, adjusting adjust: (inout Session) -> Void = { _ in },
        addingJobs extraJobs: (Session) throws -> [JobRequest] = { _ in [] }
    ) throws -> PreparedChange? {
        let now = clock.now
        var session = stored.session
        var before: [Session] = []
        var audit: [AuditRecord] = []
        var actions: [SessionAction] = []
        for event in events {
            let transition: SessionTransition
            do {
                transition = try machine.apply(event, to: session, at: now)
            } catch {
                throw SessionCommandError.refused(error)
            }
            if event.isAudited && (!transition.isNoOp || event.isAlwaysAudited || receipt != nil) {
                audit.append(
                    AuditRecord(
                        bookingID: session.bookingID, at: now, actor: actor, event: transition.auditName,
                        fromState: transition.previousState, toState: transition.session.state))
            }
            actions += transition.actions
            before.append(session)
            session = transition.session
        }
        adjust(&session)
        let changed = session != stored.session || !actions.isEmpty
        guard changed || !audit.isEmpty || jobID != nil else { return nil }
        let after = before.dropFirst() + [session]
        let steps = zip(events, zip(before, after)).map { PreparedChange.Step(event: $0, before: $1.0, after: $1.1) }
        var change = try self.change(
            storing: session, actions: actions, expectedVersion: stored.version, audit: audit, completingJob: jobID)
        change.erasesPersonalData = events.contains(.personalDataExpired)
        change.webhookReceipt = receipt
        change.jobs += try extraJobs(session)
        return PreparedChange(change: change, steps: steps)
    }

    /// The change that stores a new session: its `created` audit record, its jobs, the validation code
    /// sealed into the invitation.
    func prepare(creating transition: SessionTransition, by actor: SessionActor, validationCode: String) throws
        -> PreparedChange
    {
        let session = transition.session
        let audit = AuditRecord(
            bookingID: session.bookingID, at: session.createdAt, actor: actor, event: transition.auditName,
            fromState: nil, toState: session.state)
        let change = try change(
            storing: session, actions: transition.actions, expectedVersion: nil, audit: [audit],
            validationCode: validationCode)
        return PreparedChange(change: change, steps: [])
    }

    private func change(
        storing session: Session, actions: [SessionAction], expectedVersion: Int?, audit: [AuditRecord],
        completingJob: Int64? = nil, validationCode: String? = nil
    ) throws -> SessionChange {
        var change = SessionChange(session: session, expectedVersion: expectedVersion, audit: audit, completesJob: completingJob)
        let now = clock.now
        func job(_ kind: JobKind, at date: Date, payload: String? = nil) -> JobRequest {
            JobRequest(
                bookingID: session.bookingID, kind: kind, generation: session.generation, dueAt: date, payload: payload)
        }
        for action in actions {
            switch action {
            case .provisionRoom: change.jobs.append(job(.provisionRoom, at: now))
            case .updateRoom: change.jobs.append(job(.updateRoom, at: now))
            case .endRoom: change.jobs.append(job(.endRoom, at: now))
            case .stopRecording: change.jobs.append(job(.stopRecording, at: now))
            case .watchRecordings(let date):
                // Only providers that report recordings to subscribers alone need it.
                if recordingSubscriptions(for: session.booking.provider) != nil {
                    change.jobs.append(job(.watchRecordings, at: date ?? now))
                }
            case .deleteRoom: change.jobs.append(job(.deleteRoom, at: now))
            case .scheduleDeadline(let deadline, let date): change.jobs.append(job(.deadline(deadline), at: date))
            case .cancelDeadlines: change.cancelsPendingDeadlines = true
            case .sendFallback(let channel): change.jobs.append(job(.fallback(channel), at: now))
            case .notifyScheduler(let event): change.jobs.append(job(.schedulerCallback(event), at: now))
            case .notifyCitizen(let notice):
                let sealedCode = try validationCode.map { try sealer.seal($0) }
                change.jobs.append(job(.citizenNotice(notice), at: now, payload: notice == .invitation ? sealedCode : nil))
            }
        }
        return change
    }
}
