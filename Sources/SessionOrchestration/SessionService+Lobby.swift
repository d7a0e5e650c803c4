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
    public static let maximumCodeAttempts = 5
    public static let lockDuration: Duration = .seconds(15 * 60)

    /// Checks the citizen's validation code and, when it is right, puts the citizen in the lobby.
    public func enterLobby(joinToken: String, code: String) async throws -> LobbyEntry {
        for _ in 0..<5 {
            guard let stored = try await store.session(joinToken: joinToken),
                let participant = stored.session.participant(joinToken: joinToken),
                var credentials = stored.session.credentials(of: participant)
            else { return .unknownToken }
            var session = stored.session
            let now = clock.now
            switch session.state {
            case .cancelled: return .cancelled
            case .completed, .noShow, .failed: return .closed
            default: break
            }
            if let lockedUntil = credentials.lockedUntil, lockedUntil > now { return .locked(until: lockedUntil) }
            let opensAt = policy.joinWindowOpens(for: session.booking)
            guard now >= opensAt else { return .tooEarly(opensAt: opensAt) }
            guard now < session.booking.endsAt || session.state == .inProgress else { return .closed }

            guard codeHasher.matches(code, credentials.codeHash) else {
                credentials.failedAttempts += 1
                let isLocked = credentials.failedAttempts >= Self.maximumCodeAttempts
                if isLocked {
                    credentials.failedAttempts = 0
                    credentials.lockedUntil = now + Self.lockDuration
                }
                session.setCredentials(credentials, of: participant)
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
                    : .wrongCode(attemptsLeft: Self.maximumCodeAttempts - credentials.failedAttempts)
            }
            var stillStored = stored
            if credentials.failedAttempts != 0 || credentials.lockedUntil != nil {
                credentials.failedAttempts = 0
                credentials.lockedUntil = nil
                session.setCredentials(credentials, of: participant)
                do {
                    stillStored = try await store.apply(SessionChange(session: session, expectedVersion: stored.version))
                } catch StoreError.versionConflict {
                    continue
                }
            }
            if case .companion(let id) = participant {
                do {
                    return .entered(try await companionEntered(id, stillStored), participant)
                } catch StoreError.versionConflict {
                    continue
                }
            }
            do {
                return .entered(try await handle(.citizenEntered, for: session.bookingID, by: .citizen), participant)
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

    /// A companion is in the lobby: the first entry time is kept; the attendants are told.
    private func companionEntered(_ id: String, _ stored: StoredSession) async throws -> Session {
        var session = stored.session
        guard let index = session.companions.firstIndex(where: { $0.id == id }) else { return session }
        guard session.companions[index].enteredAt == nil else { return session }
        session.companions[index].enteredAt = clock.now
        session.updatedAt = clock.now
        let audit = AuditRecord(
            bookingID: session.bookingID, at: clock.now, actor: .citizen, event: "\(id)_entered",
            fromState: session.state, toState: session.state)
        let saved = try await store.apply(SessionChange(session: session, expectedVersion: stored.version, audit: [audit]))
        LiveEventPublisher(bus: liveEvents).publishCompanion(saved.session.companions[index], in: saved.session)
        return saved.session
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
