import Foundation
import GatewayCore
import GatewayStorage
import MeetingProviders

extension SessionService {
    /// A fresh provider entry for an admitted participant while the call is on (their connection dropped,
    /// their meeting token expired): minted now, stored as their entry, audited, and sent to their page.
    public func rejoin(_ bookingID: BookingID, participant: Participant) async throws -> String {
        guard let stored = try await store.session(for: bookingID) else { throw SessionCommandError.notFound(bookingID) }
        let session = stored.session
        let notInCall = SessionCommandError.refused(SessionTransitionRefusal(.notInProgress, state: session.state))
        switch participant {
        case .citizen:
            guard session.state == .inProgress, session.lobby.admittedAt != nil else { throw notInCall }
        case .companion(let id):
            guard !session.state.isTerminal, session.companions.first(where: { $0.id == id })?.admittedAt != nil
            else { throw notInCall }
        }
        let (provider, spec, roomID) = try providerRoom(of: session)
        let url = try await provider.citizenEntry(for: spec, providerRoomID: roomID).joinURL
        let saved = try await update(bookingID, actor: .citizen, event: "\(participant)_rejoined") { session in
            switch participant {
            case .citizen:
                guard session.state == .inProgress else { throw notInCall }
                session.lobby.citizenEntryURL = url
            case .companion(let id):
                guard let index = session.companions.firstIndex(where: { $0.id == id }) else { throw notInCall }
                session.companions[index].entryURL = url
            }
        }
        liveEvents.publish(
            "admitted", to: .citizen, about: saved, data: ["joinUrl": .string(url)], participant: participant.description)
        return url
    }

    /// A fresh host entry for the attendant while the call is on (a dropped connection, another device).
    public func hostLink(_ bookingID: BookingID, for attendant: AttendantIdentity) async throws -> String {
        let session = try await visibleSession(bookingID, to: attendant)
        guard session.state == .inProgress else {
            throw SessionCommandError.refused(SessionTransitionRefusal(.notInProgress, state: session.state))
        }
        let (provider, spec, roomID) = try providerRoom(of: session)
        let url = try await provider.hostEntry(for: spec, providerRoomID: roomID, attendantID: attendant.providerIdentity).joinURL
        _ = try await update(bookingID, actor: .attendant(id: attendant.id), event: "host_link_issued") { _ in }
        return url
    }

    /// The session's provider, room description and room id, for minting entries.
    func providerRoom(of session: Session) throws -> (any MeetingProvider, RoomSpec, String) {
        guard session.room.status == .ready, let roomID = session.room.providerRoomID else {
            throw SessionCommandError.roomNotReady(session.bookingID)
        }
        guard let provider = providers.provider(named: session.booking.provider) else {
            throw SessionCommandError.providerNotConfigured(session.booking.provider)
        }
        return (provider, RoomSpec(session: session, policy: policy), roomID)
    }

    /// A change outside the state machine's transitions (entries, companions), with its audit record,
    /// retried on concurrent modification: `change` runs on the latest stored session each time.
    func update(
        _ bookingID: BookingID, actor: SessionActor, event: String, _ change: (inout Session) throws -> Void
    ) async throws -> Session {
        for _ in 0..<5 {
            guard let stored = try await store.session(for: bookingID) else { throw SessionCommandError.notFound(bookingID) }
            var session = stored.session
            try change(&session)
            let now = clock.now
            session.updatedAt = now
            let audit = AuditRecord(
                bookingID: bookingID, at: now, actor: actor, event: event, fromState: session.state, toState: session.state)
            do {
                return try await store.apply(SessionChange(session: session, expectedVersion: stored.version, audit: [audit]))
                    .session
            } catch StoreError.versionConflict {
                continue
            }
        }
        throw StoreError.versionConflict(bookingID)
    }
}
