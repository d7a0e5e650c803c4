import Foundation
import GatewayCore
import GatewayStorage

/// The outcome of a citizen's attempt to enter the lobby.
public enum LobbyEntry: Sendable, Equatable {
    case entered(Session, Participant)
    case wrongCode(attemptsLeft: Int)
    case locked(until: Date)
    case tooEarly(opensAt: Date)
    case closed
    case cancelled
    case unknownToken
}

extension SessionService {
    /// How many wrong codes lock the link, and for how long (DESIGN §2).
    public static let maximumCodeAttempts = SessionStateMachine.maximumCodeAttempts
    public static let lockDuration = SessionStateMachine.codeLockDuration

    /// Checks the validation code of the link's participant and, when it is right, puts them in the lobby.
    public func enterLobby(joinToken: String, code: String) async throws -> LobbyEntry {
        guard let found = try await store.session(joinToken: joinToken),
            var participant = found.session.participant(joinToken: joinToken)
        else { return .unknownToken }
        let bookingID = found.session.bookingID
        let opensAt = policy.joinWindowOpens(for: found.session.booking)
        var accepted = false
        do {
            // The code is checked again on the stored session at each attempt to store its outcome.
            let session = try await handle(for: bookingID, by: .citizen) { session in
                guard let current = session.participant(joinToken: joinToken),
                    let credentials = session.credentials(of: current)
                else { throw SessionCommandError.refused(SessionTransitionRefusal(.unknownParticipant, state: session.state)) }
                participant = current
                accepted = codeHasher.matches(code, credentials.codeHash)
                return [accepted ? .codeAccepted(current) : .codeRejected(current)]
            }
            guard accepted else {
                let credentials = session.credentials(of: participant)
                if let lockedUntil = credentials?.lockedUntil, lockedUntil > clock.now { return .locked(until: lockedUntil) }
                return .wrongCode(attemptsLeft: Self.maximumCodeAttempts - (credentials?.failedAttempts ?? 0))
            }
            let entered: SessionEvent
            switch participant {
            case .citizen: entered = .citizenEntered
            case .companion(let id): entered = .companionEntered(id)
            }
            return .entered(try await handle(entered, for: bookingID, by: .citizen), participant)
        } catch SessionCommandError.refused(let refusal) {
            switch refusal.code {
            case .sessionCancelled: return .cancelled
            case .tooEarly: return .tooEarly(opensAt: opensAt)
            case .linkLocked: return .locked(until: refusal.until ?? clock.now)
            case .unknownParticipant: return .unknownToken
            default: return .closed
            }
        } catch SessionCommandError.notFound {
            return .unknownToken
        }
    }
}

/// Where a waiting citizen stands (`LobbyView.position`).
public enum QueuePosition: String, Sendable, Equatable {
    /// Nobody who entered before them waits for the same attendant (or, unassigned, the same service),
    /// and that attendant is in no other call.
    case next
    /// Their attendant is in another call now.
    case attendantBusy = "attendant_busy"
}

extension SessionService {
    /// The waiting citizen's place: `nil` when they are not waiting or someone entered before them.
    /// Compares with the sessions of the same service within twelve hours of theirs.
    public func queuePosition(of session: Session) async throws -> QueuePosition? {
        guard session.state == .waiting, let entered = session.lobby.enteredAt else { return nil }
        let around = SessionQuery(
            from: session.booking.startsAt - .seconds(12 * 3600), to: session.booking.startsAt + .seconds(12 * 3600),
            service: session.booking.service, limit: 1000)
        let attendant = session.booking.attendantID
        func sameQueue(_ other: Session) -> Bool {
            other.bookingID != session.bookingID && other.booking.attendantID == attendant
        }
        if attendant != nil {
            var busy = around
            busy.state = .inProgress
            if try await store.sessions(matching: busy).contains(where: { sameQueue($0.session) }) {
                return .attendantBusy
            }
        }
        var waiting = around
        waiting.state = .waiting
        let ahead = try await store.sessions(matching: waiting).contains { stored in
            guard sameQueue(stored.session), let theirs = stored.session.lobby.enteredAt else { return false }
            return (theirs, stored.session.bookingID) < (entered, session.bookingID)
        }
        return ahead ? nil : .next
    }
}
