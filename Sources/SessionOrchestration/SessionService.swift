import Foundation
import GatewayCore
import GatewayStorage
import Logging
import MeetingProviders

/// The outcome of the scheduler's `PUT`.
public enum BookingPutResult: Sendable {
    /// A new session; the plain validation codes (citizen's and companions', by companion id) are
    /// shown this once.
    case created(Session, validationCode: String, companionCodes: [String: String])
    /// The booking changed (details or a reschedule); codes of companions added now.
    case updated(Session, companionCodes: [String: String])
    /// The same booking again: nothing changed.
    case unchanged(Session)
}

/// Why a command could not be carried out, in terms the HTTP layer maps to problems.
public enum SessionCommandError: Error, Equatable, Sendable {
    case notFound(BookingID)
    case refused(SessionTransitionRefusal)
    /// The booking names a provider this gateway does not know.
    case unknownProvider(String)
    /// The provider is known but has no credentials here.
    case providerNotConfigured(String)
    /// The session is not this attendant's.
    case notVisible(BookingID)
    /// The provider room is not ready yet.
    case roomNotReady(BookingID)
    /// The citizen gave no contact data for this channel.
    case missingContact(FallbackChannel)
    /// The session already holds the most messages it may.
    case messageLimitReached(Int)
    /// The session has no such participant.
    case unknownParticipant(String)
}

/// Carries out commands and events on sessions: runs the state machine, then stores the new session, its
/// audit records and its jobs in one atomic change, retrying on concurrent modification.
public struct SessionService: Sendable {
    public let store: any GatewayStore
    public let clock: any GatewayClock
    public let machine: SessionStateMachine
    public let providers: ProviderRegistry
    /// Seals the validation code into the invitation job until the e-mail is sent.
    public let sealer: PayloadSealer
    /// Hashes validation codes with a key derived from the sealer's, which the database never holds.
    public let codeHasher: AccessCodeHasher
    /// Live events for the SSE streams of citizens and attendants.
    public let liveEvents: LiveEventBus
    private let onJobsEnqueued: @Sendable () -> Void

    public init(
        store: any GatewayStore, clock: any GatewayClock, machine: SessionStateMachine, providers: ProviderRegistry,
        sealer: PayloadSealer = PayloadSealer(), liveEvents: LiveEventBus = LiveEventBus(),
        onJobsEnqueued: @escaping @Sendable () -> Void = {}
    ) {
        self.store = store
        self.clock = clock
        self.machine = machine
        self.providers = providers
        self.sealer = sealer
        codeHasher = AccessCodeHasher(key: sealer.derivedKey(for: "validation-code-hash"))
        self.liveEvents = liveEvents
        self.onJobsEnqueued = onJobsEnqueued
    }

    public var policy: SessionPolicy { machine.policy }

    /// Tells the job worker that work is due now.
    func wakeWorker() { onJobsEnqueued() }

    /// Creates the booking's session, or updates it; the same booking again changes nothing.
    public func put(_ booking: Booking, for bookingID: BookingID, by actor: SessionActor = .scheduler) async throws
        -> BookingPutResult
    {
        guard ProviderRegistry.knownNames.contains(booking.provider) else {
            throw SessionCommandError.unknownProvider(booking.provider)
        }
        guard providers.provider(named: booking.provider) != nil else {
            throw SessionCommandError.providerNotConfigured(booking.provider)
        }
        for _ in 0..<5 {
            if let stored = try await store.session(for: bookingID) {
                if stored.session.booking == booking { return .unchanged(stored.session) }
                do {
                    var companionCodes: [String: String] = [:]
                    let session = try await apply(
                        .bookingUpdated(booking), to: stored, by: actor,
                        adjusting: { session in
                            companionCodes = session.issueCompanionAccess(
                                using: codeHasher, previous: stored.session.booking.companions)
                        },
                        addingJobs: { session in try self.companionInvitations(companionCodes, in: session) })
                    return .updated(session, companionCodes: companionCodes)
                } catch StoreError.versionConflict {
                    continue
                }
            }
            let (credentials, code) = AccessCredentials.issue(using: codeHasher)
            let now = clock.now
            var transition = machine.create(bookingID: bookingID, booking: booking, access: credentials, at: now)
            let companionCodes = transition.session.issueCompanionAccess(using: codeHasher)
            let audit = AuditRecord(
                bookingID: bookingID, at: now, actor: actor, event: "created", fromState: nil,
                toState: transition.session.state)
            do {
                var change = try change(for: transition, expectedVersion: nil, audit: audit, validationCode: code)
                change.jobs += try companionInvitations(companionCodes, in: transition.session)
                let stored = try await store.apply(change)
                onJobsEnqueued()
                return .created(stored.session, validationCode: code, companionCodes: companionCodes)
            } catch StoreError.alreadyExists {
                continue
            }
        }
        throw StoreError.versionConflict(bookingID)
    }

    /// An invitation job, its code sealed, for each companion given a new code who has an e-mail
    /// address, when the booking asks for e-mails.
    private func companionInvitations(_ codes: [String: String], in session: Session) throws -> [JobRequest] {
        guard session.booking.notifyCitizen else { return [] }
        return try codes.keys.sorted().compactMap { id in
            guard let code = codes[id], let index = Int(id.dropFirst("companion-".count)),
                session.booking.companions.indices.contains(index - 1), session.booking.companions[index - 1].email != nil
            else { return nil }
            return JobRequest(
                bookingID: session.bookingID, kind: .companionInvitation(id), generation: session.generation,
                dueAt: clock.now, payload: try sealer.seal(code))
        }
    }

    public func session(for bookingID: BookingID) async throws -> Session? {
        try await store.session(for: bookingID)?.session
    }

    /// Cancels the session; cancelling a cancelled session again succeeds and changes nothing.
    public func cancel(_ bookingID: BookingID, by actor: SessionActor) async throws -> Session {
        try await handle(.cancelled(by: actor), for: bookingID, by: actor)
    }

    /// Replaces the validation code; returns the session and the new plain code, shown this once.
    /// Replaces the validation code of `participant` (the citizen by default); their lobby tickets end.
    public func rotateAccessCode(
        for bookingID: BookingID, participant: Participant = .citizen, by actor: SessionActor = .scheduler
    ) async throws -> (Session, code: String) {
        for _ in 0..<5 {
            guard let stored = try await store.session(for: bookingID) else {
                throw SessionCommandError.notFound(bookingID)
            }
            let state = stored.session.state
            guard !state.isTerminal || state == .failed else {
                throw SessionCommandError.refused(SessionTransitionRefusal(.sessionClosed, state: state))
            }
            var session = stored.session
            guard var credentials = session.credentials(of: participant) else {
                throw SessionCommandError.unknownParticipant(participant.description)
            }
            let code = AccessCode.make()
            credentials.codeHash = codeHasher.hash(code)
            credentials.failedAttempts = 0
            credentials.lockedUntil = nil
            session.setCredentials(credentials, of: participant)
            session.updatedAt = clock.now
            let audit = AuditRecord(
                bookingID: bookingID, at: session.updatedAt, actor: actor, event: "access_code_rotated",
                fromState: state, toState: state)
            do {
                let saved = try await store.apply(
                    SessionChange(session: session, expectedVersion: stored.version, audit: [audit]))
                return (saved.session, code)
            } catch StoreError.versionConflict {
                continue
            }
        }
        throw StoreError.versionConflict(bookingID)
    }

    /// Applies an event to the stored session, retrying when another writer got there first.
    /// `completingJob` is marked done in the same transaction.
    @discardableResult
    /// With a `receipt`, the provider event is marked received in the same transaction as its effect;
    /// throws `StoreError.duplicateWebhookEvent` when it was received (and acted on) before.
    public func handle(
        _ event: SessionEvent, for bookingID: BookingID, by actor: SessionActor, completingJob jobID: Int64? = nil,
        receipt: WebhookReceipt? = nil
    ) async throws -> Session {
        for _ in 0..<5 {
            guard let stored = try await store.session(for: bookingID) else {
                throw SessionCommandError.notFound(bookingID)
            }
            do {
                return try await apply(event, to: stored, by: actor, completingJob: jobID, receipt: receipt)
            } catch StoreError.versionConflict {
                continue
            }
        }
        throw StoreError.versionConflict(bookingID)
    }

    private func apply(
        _ event: SessionEvent, to stored: StoredSession, by actor: SessionActor, completingJob jobID: Int64? = nil,
        receipt: WebhookReceipt? = nil, adjusting adjust: (inout Session) -> Void = { _ in },
        addingJobs extraJobs: (Session) throws -> [JobRequest] = { _ in [] }
    ) async throws -> Session {
        let now = clock.now
        var transition: SessionTransition
        do {
            transition = try machine.apply(event, to: stored.session, at: now)
        } catch {
            throw SessionCommandError.refused(error)
        }
        adjust(&transition.session)
        let audited = !transition.isNoOp || event.isAlwaysAudited || receipt != nil
        if !audited && jobID == nil { return stored.session }
        let audit = AuditRecord(
            bookingID: stored.session.bookingID, at: now, actor: actor, event: event.name,
            fromState: transition.previousState, toState: transition.session.state)
        var change = try change(
            for: transition, expectedVersion: stored.version, audit: audited ? audit : nil,
            completingJob: jobID)
        change.erasesPersonalData = event == .personalDataExpired
        change.webhookReceipt = receipt
        change.jobs += try extraJobs(transition.session)
        let saved = try await store.apply(change)
        if !change.jobs.isEmpty { onJobsEnqueued() }
        DomainMetrics.record(event, from: stored.session, to: saved.session)
        LiveEventPublisher(bus: liveEvents).publish(from: stored.session, to: saved.session, after: event)
        return saved.session
    }

    private func change(
        for transition: SessionTransition, expectedVersion: Int?, audit: AuditRecord?, completingJob: Int64? = nil,
        validationCode: String? = nil
    ) throws -> SessionChange {
        let session = transition.session
        var change = SessionChange(
            session: session, expectedVersion: expectedVersion, audit: audit.map { [$0] } ?? [],
            completesJob: completingJob)
        let now = clock.now
        func job(_ kind: JobKind, at date: Date, payload: String? = nil) -> JobRequest {
            JobRequest(
                bookingID: session.bookingID, kind: kind, generation: session.generation, dueAt: date, payload: payload)
        }
        for action in transition.actions {
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

extension SessionService {
    /// The provider's recording subscriptions, when it reports recordings only to subscribers.
    func recordingSubscriptions(for providerName: String) -> (any RecordingSubscriptions)? {
        let provider = providers.provider(named: providerName)
        let subscriptions = ((provider as? MeteredProvider)?.provider ?? provider) as? any RecordingSubscriptions
        return subscriptions?.canSubscribe == true ? subscriptions : nil
    }
}
