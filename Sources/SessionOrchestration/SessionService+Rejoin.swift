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
        // Checked before an entry is minted; the state machine checks again when it is stored.
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
        try await handle(.entryRenewed(participant, entryURL: url), for: bookingID, by: .citizen)
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
        try await handle(.auditOnly("host_link_issued"), for: bookingID, by: .attendant(id: attendant.id))
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
}
