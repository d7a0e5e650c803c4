import Foundation
import GatewayCore
import GatewayStorage

/// The outcome of a citizen's attempt to enter the lobby.
public enum LobbyEntry: Sendable, Equatable {
    case entered(Session)
    case wrongCode(attemptsLeft: Int)
    case locked(until: Date)
    case tooEarly(opensAt: Date)
    case closed
    case cancelled
    case unknownToken
}

extension SessionService {
    /// How many wrong codes lock the link, and for how long (DESIGN §2).
    public static let maximumCodeAttempts = 5
    public static let lockDuration: Duration = .seconds(15 * 60)

    /// Checks the citizen's validation code and, when it is right, puts the citizen in the lobby.
    public func enterLobby(joinToken: String, code: String) async throws -> LobbyEntry {
        for _ in 0..<5 {
            guard let stored = try await store.session(joinToken: joinToken),
                SecureToken.constantTimeEquals(stored.session.access.joinToken, joinToken)
            else { return .unknownToken }
            var session = stored.session
            let now = clock.now
            switch session.state {
            case .cancelled: return .cancelled
            case .completed, .noShow, .failed: return .closed
            default: break
            }
            if let lockedUntil = session.access.lockedUntil, lockedUntil > now { return .locked(until: lockedUntil) }
            let opensAt = policy.joinWindowOpens(for: session.booking)
            guard now >= opensAt else { return .tooEarly(opensAt: opensAt) }
            guard now < session.booking.endsAt || session.state == .inProgress else { return .closed }

            guard session.access.codeHash.matches(code) else {
                session.access.failedAttempts += 1
                let isLocked = session.access.failedAttempts >= Self.maximumCodeAttempts
                if isLocked {
                    session.access.failedAttempts = 0
                    session.access.lockedUntil = now + Self.lockDuration
                }
                let audit = AuditRecord(
                    bookingID: session.bookingID, at: now, actor: .citizen,
                    event: isLocked ? "link_locked" : "code_rejected", fromState: session.state, toState: session.state)
                do {
                    try await store.apply(SessionChange(session: session, expectedVersion: stored.version, audit: [audit]))
                } catch StoreError.versionConflict {
                    continue
                }
                return isLocked
                    ? .locked(until: now + Self.lockDuration)
                    : .wrongCode(attemptsLeft: Self.maximumCodeAttempts - session.access.failedAttempts)
            }
            if session.access.failedAttempts != 0 || session.access.lockedUntil != nil {
                session.access.failedAttempts = 0
                session.access.lockedUntil = nil
                do {
                    try await store.apply(SessionChange(session: session, expectedVersion: stored.version))
                } catch StoreError.versionConflict {
                    continue
                }
            }
            do {
                return .entered(try await handle(.citizenEntered, for: session.bookingID, by: .citizen))
            } catch SessionCommandError.refused(let refusal) {
                switch refusal.code {
                case .sessionCancelled: return .cancelled
                case .tooEarly: return .tooEarly(opensAt: opensAt)
                default: return .closed
                }
            }
        }
        throw StoreError.versionConflict(BookingID("lobby")!)
    }
}
