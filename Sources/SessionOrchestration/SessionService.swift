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

/// Carries out commands and events on sessions: every change is an event of the state machine, stored
/// with its audit records and jobs in one atomic change by the one write path (`write`), which retries
/// on concurrent modification.
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
    /// The sessions lobby polls read, kept current by the write path and by `session.changed` events.
    public let lobbySessions: LobbySessionCache
    private let onJobsEnqueued: @Sendable () -> Void

    public init(
        store: any GatewayStore, clock: any GatewayClock, machine: SessionStateMachine, providers: ProviderRegistry,
        sealer: PayloadSealer = PayloadSealer(), liveEvents: LiveEventBus = LiveEventBus(),
        lobbySessions: LobbySessionCache = LobbySessionCache(), onJobsEnqueued: @escaping @Sendable () -> Void = {}
    ) {
        self.store = store
        self.clock = clock
        self.machine = machine
        self.providers = providers
        self.sealer = sealer
        codeHasher = AccessCodeHasher(key: sealer.derivedKey(for: "validation-code-hash"))
        self.liveEvents = liveEvents
        self.lobbySessions = lobbySessions
        self.onJobsEnqueued = onJobsEnqueued
        liveEvents.observeInternalEvents { lobbySessions.receive($0) }
        liveEvents.onMissedEvents { lobbySessions.removeAll() }
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
        // What the last attempt did, decided on the session stored at that time.
        var validationCode: String?
        var companionCodes: [String: String] = [:]
        var unchanged = false
        let session = try await write(bookingID) { stored in
            (validationCode, companionCodes, unchanged) = (nil, [:], false)
            guard let stored else {
                let (credentials, code) = AccessCredentials.issue(using: codeHasher)
                var transition = machine.create(bookingID: bookingID, booking: booking, access: credentials, at: clock.now)
                companionCodes = transition.session.issueCompanionAccess(using: codeHasher)
                validationCode = code
                var prepared = try prepare(creating: transition, by: actor, validationCode: code)
                prepared.change.jobs += try companionInvitations(companionCodes, in: transition.session)
                return prepared
            }
            if stored.session.booking == booking {
                unchanged = true
                return nil
            }
            return try prepare(
                [.bookingUpdated(booking)], on: stored, by: actor,
                adjusting: { session in
                    companionCodes = session.issueCompanionAccess(using: codeHasher, previous: stored.session.booking.companions)
                },
                addingJobs: { session in try self.companionInvitations(companionCodes, in: session) })
        }
        if unchanged { return .unchanged(session) }
        if let validationCode { return .created(session, validationCode: validationCode, companionCodes: companionCodes) }
        return .updated(session, companionCodes: companionCodes)
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

    /// Replaces the validation code of `participant` (the citizen by default); their lobby tickets end.
    /// Returns the session and the new plain code, shown this once.
    public func rotateAccessCode(
        for bookingID: BookingID, participant: Participant = .citizen, by actor: SessionActor = .scheduler
    ) async throws -> (Session, code: String) {
        let code = AccessCode.make()
        do {
            let session = try await handle(.codeRotated(participant, codeHash: codeHasher.hash(code)), for: bookingID, by: actor)
            return (session, code)
        } catch SessionCommandError.refused(let refusal) where refusal.code == .unknownParticipant {
            throw SessionCommandError.unknownParticipant(participant.description)
        }
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
