import Foundation
import GatewayCore
import Synchronization

/// The citizen's lobby ticket after a right code: the booking, the participant, an expiry and the
/// mark of the code it was issued for, sealed by the gateway. A new code for that participant ends it.
enum LobbyTicket {
    /// What an opened ticket says.
    struct Claims: Sendable, Equatable {
        let bookingID: String
        let participant: Participant
        /// Seconds since 1970.
        let expiry: TimeInterval
        /// The generation mark of the code hash the ticket was issued for.
        let codeMark: String

        /// The participant, when the ticket is for this session, unexpired, and their code is still the
        /// one it was issued for.
        func participant(for session: Session, now: Date) -> Participant? {
            guard bookingID == session.bookingID.rawValue, now.timeIntervalSince1970 < expiry,
                let current = session.credentials(of: participant)?.codeHash.generationMark,
                SecureToken.constantTimeEquals(current, codeMark)
            else { return nil }
            return participant
        }
    }

    static func issue(for session: Session, participant: Participant, sealer: PayloadSealer) throws -> String {
        let expiry = Int(session.booking.endsAt.timeIntervalSince1970) + 4 * 3600
        let mark = session.credentials(of: participant)?.codeHash.generationMark ?? ""
        let sealed = try sealer.seal("\(session.bookingID.rawValue)|\(participant)|\(expiry)|\(mark)")
        return Data(base64Encoded: sealed)?.base64URLEncodedString() ?? sealed
    }

    /// Opens a ticket sealed by this gateway; `nil` for anything else.
    static func open(_ ticket: String, sealer: PayloadSealer) -> Claims? {
        guard let data = Data(base64URLEncoded: ticket), let opened = try? sealer.open(data.base64EncodedString())
        else { return nil }
        let parts = opened.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, let expiry = TimeInterval(parts[2]), let participant = Participant(parts[1]) else {
            return nil
        }
        return Claims(bookingID: parts[0], participant: participant, expiry: expiry, codeMark: parts[3])
    }
}

/// Opened lobby tickets, so that a poll does not open (AES-GCM) the same ticket again: keyed by the
/// SHA-256 of the ticket (never the ticket), at most `capacity` (the oldest go first), each kept until
/// its expiry. What a ticket says is still checked against the current session on each use.
final class LobbyTicketCache: Sendable {
    private let opened: Mutex<BoundedDictionary<SecretDigest, LobbyTicket.Claims>>

    init(capacity: Int = 50_000) {
        opened = Mutex(BoundedDictionary(capacity: capacity))
    }

    /// What `ticket` says, if this gateway sealed it and it has not expired.
    func claims(of ticket: String, sealer: PayloadSealer, now: Date) -> LobbyTicket.Claims? {
        let digest = SecretDigest(of: ticket)
        let known = opened.withLock { opened -> LobbyTicket.Claims? in
            guard let claims = opened[digest] else { return nil }
            guard now.timeIntervalSince1970 < claims.expiry else {
                opened.removeValue(forKey: digest)
                return nil
            }
            return claims
        }
        if let known { return known }
        guard let claims = LobbyTicket.open(ticket, sealer: sealer), now.timeIntervalSince1970 < claims.expiry else {
            return nil
        }
        opened.withLock { _ = $0.set(claims, for: digest) }
        return claims
    }
}
