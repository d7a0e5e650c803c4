import Foundation
import GatewayCore
import GatewayStorage
import Logging
import MeetingProviders

/// What each kind of job does. Every handler is idempotent: it checks the stored session first and
/// completes the job in the same transaction as the session change it causes.
struct JobHandler: Sendable {
    let sessions: SessionService
    let notifier: any Notifier
    let logger: Logger

    func run(_ job: Job) async throws {
        guard let stored = try await sessions.store.session(for: job.bookingID) else {
            return try await finish(job)
        }
        let session = stored.session
        guard job.generation == session.generation || job.kind.outlivesGeneration else {
            logger.debug("job belongs to an earlier generation; nothing to do")
            return try await finish(job)
        }
        switch job.kind {
        case .deadline(let deadline):
            try await sessions.handle(deadline.event, for: job.bookingID, by: .system, completingJob: job.id)
        case .provisionRoom:
            try await provision(session, job)
        case .updateRoom:
            try await update(session, job)
        case .deleteRoom:
            try await remove(session, job, event: .roomDeleted)
        case .endRoom:
            try await remove(session, job, event: .roomEnded)
        case .stopRecording:
            try await stopRecording(session, job)
        case .watchRecordings:
            try await watchRecordings(session, job)
        case .fallback(let channel):
            try await sendFallback(channel, session, job)
        case .citizenNotice(let notice):
            let code = try job.payload.map { try sessions.sealer.open($0) }
            try await notifier.sendNotice(notice, for: session, validationCode: code)
            try await finish(job)
        case .companionInvitation(let id):
            guard let code = try job.payload.map({ try sessions.sealer.open($0) }) else {
                throw NotificationError.permanent("the invitation's validation code is no longer available")
            }
            try await notifier.sendCompanionInvitation(id, for: session, validationCode: code)
            try await finish(job)
        case .schedulerCallback(let event):
            try await notifier.notifyScheduler(event, about: session)
            try await finish(job)
        }
    }

    private func sendFallback(_ channel: FallbackChannel, _ session: Session, _ job: Job) async throws {
        guard [.scheduled, .open, .late].contains(session.state) else {
            try await sessions.handle(
                .fallbackFailed(channel, reason: "not_needed: the session is \(session.state.rawValue)", isFinal: true),
                for: job.bookingID, by: .system, completingJob: job.id)
            return
        }
        try await notifier.sendFallback(channel, for: session)
        try await sessions.handle(.fallbackSent(channel), for: job.bookingID, by: .system, completingJob: job.id)
    }

    private func provision(_ session: Session, _ job: Job) async throws {
        guard session.room.status == .pending, !session.state.isTerminal else { return try await finish(job) }
        let provider = try provider(for: session)
        let spec = RoomSpec(session: session, policy: sessions.policy)
        let bookingID = job.bookingID
        let room = try await provider.createOrGetRoom(
            for: spec, knownRoomID: session.room.providerRoomID,
            roomCreated: { [sessions] id in
                try await sessions.handle(.roomCreated(providerRoomID: id), for: bookingID, by: .provider)
            })
        if case .on(let setting) = room.recording {
            logger.error("provider answered with recording on; deleting the room", metadata: ["recording": "\(setting)"])
            try await provider.deleteRoom(for: spec, providerRoomID: room.providerRoomID)
            try await sessions.handle(
                .roomProvisioningFailed(code: "recording_policy", message: "the provider reported recording on"),
                for: job.bookingID, by: .provider, completingJob: job.id)
            return
        }
        try await sessions.handle(
            .roomProvisioned(providerRoomID: room.providerRoomID, url: room.url), for: job.bookingID, by: .provider,
            completingJob: job.id)
    }

    private func update(_ session: Session, _ job: Job) async throws {
        guard session.room.status == .ready, let roomID = session.room.providerRoomID, !session.state.isTerminal else {
            return try await finish(job)
        }
        let provider = try provider(for: session)
        let spec = RoomSpec(session: session, policy: sessions.policy)
        let room = try await provider.updateRoom(roomID, for: spec)
        if case .on = room.recording {
            try await provider.deleteRoom(for: spec, providerRoomID: roomID)
            try await sessions.handle(
                .roomProvisioningFailed(code: "recording_policy", message: "the provider reported recording on"),
                for: job.bookingID, by: .provider, completingJob: job.id)
            return
        }
        try await finish(job)
    }

    /// Stops the recording through the provider's API; where there is none, or the call fails in any way,
    /// the room is ended at once: no call goes on being recorded.
    private func stopRecording(_ session: Session, _ job: Job) async throws {
        guard session.room.status == .ready, let roomID = session.room.providerRoomID else { return try await finish(job) }
        let provider = try provider(for: session)
        var stopped = false
        do {
            stopped = try await provider.stopRecording(in: roomID)
        } catch let error as ProviderError {
            // No waiting for a retry while the call is being recorded.
            logger.error("the recording could not be stopped", metadata: ["error": "\(error.code)"])
        }
        if stopped {
            logger.warning("recording stopped through the provider's API")
            try await sessions.handle(.recordingStopped, for: job.bookingID, by: .provider, completingJob: job.id)
        } else {
            logger.error("the recording cannot be stopped through the provider's API; ending the room")
            try await remove(session, job, event: .roomEnded)
        }
    }

    /// Takes the subscription to the room's recordings, or renews it; the renewal is armed again by the
    /// `recordingSubscribed` transition. A closed session's subscription is let go.
    private func watchRecordings(_ session: Session, _ job: Job) async throws {
        guard let subscriptions = sessions.recordingSubscriptions(for: session.booking.provider) else {
            return try await finish(job)
        }
        guard !session.state.isTerminal, session.room.status == .ready, let roomID = session.room.providerRoomID else {
            if let id = session.room.recordingSubscriptionID { try? await subscriptions.deleteSubscription(id) }
            return try await finish(job)
        }
        let subscription: RecordingSubscription
        if let id = session.room.recordingSubscriptionID {
            subscription = try await subscriptions.renewSubscription(
                id, until: sessions.clock.now + subscriptions.maximumSubscriptionLifetime)
        } else {
            subscription = try await subscriptions.createRecordingSubscription(for: roomID)
        }
        try await sessions.handle(
            .recordingSubscribed(subscriptionID: subscription.id, expiresAt: subscription.expiresAt),
            for: job.bookingID, by: .provider, completingJob: job.id)
    }

    private func remove(_ session: Session, _ job: Job, event: SessionEvent) async throws {
        guard session.room.status != .deleted, session.room.status != .ended else { return try await finish(job) }
        if let id = session.room.recordingSubscriptionID,
            let subscriptions = sessions.recordingSubscriptions(for: session.booking.provider)
        {
            // Best effort: a subscription lapses by itself, and the room's end must not wait for it.
            try? await subscriptions.deleteSubscription(id)
        }
        let provider = try provider(for: session)
        let spec = RoomSpec(session: session, policy: sessions.policy)
        try await provider.deleteRoom(for: spec, providerRoomID: session.room.providerRoomID)
        try await sessions.handle(event, for: job.bookingID, by: .provider, completingJob: job.id)
    }

    private func provider(for session: Session) throws -> any MeetingProvider {
        guard let provider = sessions.providers.provider(named: session.booking.provider) else {
            throw ProviderError.rejected(
                code: "provider_not_configured", message: "provider \(session.booking.provider) is not configured")
        }
        return provider
    }

    private func finish(_ job: Job) async throws {
        try await sessions.store.resolve(job, as: .done, at: sessions.clock.now)
    }
}
