import Foundation
import Testing

@testable import GatewayCore

/// Sessions for the lobby's events: a companion, codes tried, messages, an admitted citizen.
enum LobbySlot {
    static let entryURL = "https://simulator.test/vg-1?t=fresh"

    static func session(_ state: SessionState, _ change: (inout Session) -> Void = { _ in }) -> Session {
        var session = Slot.session(state)
        session.booking.companions = [Companion(role: .interpreter, name: "Ana Lima")]
        session.companions = [CompanionAccess(id: "companion-1", access: AccessCredentials.issue(using: .random()).0)]
        if state == .inProgress { session.lobby.admittedAt = Slot.inWindow }
        change(&session)
        return session
    }

    static func failedAttempts(_ count: Int) -> @Sendable (inout Session) -> Void {
        { $0.access.failedAttempts = count }
    }

    static let companionWaiting: @Sendable (inout Session) -> Void = { $0.companions[0].enteredAt = Slot.inWindow }
    static let companionGone: @Sendable (inout Session) -> Void = {
        $0.companions[0].enteredAt = Slot.inWindow
        $0.companions[0].leftAt = Slot.inWindow + .seconds(30)
    }
    static let companionAdmitted: @Sendable (inout Session) -> Void = {
        $0.companions[0].enteredAt = Slot.inWindow
        $0.companions[0].admittedAt = Slot.inWindow
    }
    static let lockedLink: @Sendable (inout Session) -> Void = { $0.access.lockedUntil = Slot.inWindow + .seconds(60) }
    static let script = AttendanceScript(authenticationLevel: .strong, caller: .citizen, checks: ["greeting"], updatedAt: Slot.start)
    static let newHash = AccessCodeHasher.random().hash("123456")
}

@Suite("Lobby and attendant events")
struct LobbyEventTests {
    let machine = SessionStateMachine()

    struct Allowed: CustomTestStringConvertible, Sendable {
        let from: Session
        let event: SessionEvent
        let at: Date
        let auditName: String
        let actions: [SessionAction]
        /// Whether the event moves `updatedAt` (a link's count of wrong codes does not).
        let touches: Bool
        let expect: @Sendable (Session) -> Bool
        var testDescription: String { "\(from.state.rawValue) + \(event.name) → \(auditName)" }

        init(
            _ from: Session, _ event: SessionEvent, at: Date = Slot.inWindow, audit auditName: String,
            actions: [SessionAction] = [], touches: Bool = true, expect: @escaping @Sendable (Session) -> Bool
        ) {
            (self.from, self.event, self.at, self.auditName) = (from, event, at, auditName)
            (self.actions, self.touches, self.expect) = (actions, touches, expect)
        }
    }

    static let allowed: [Allowed] = [
        .init(
            LobbySlot.session(.open), .codeRejected(.citizen), audit: "code_rejected", touches: false,
            expect: { $0.access.failedAttempts == 1 && $0.access.lockedUntil == nil }),
        .init(
            LobbySlot.session(.open, LobbySlot.failedAttempts(4)), .codeRejected(.citizen), audit: "link_locked",
            touches: false,
            expect: { $0.access.failedAttempts == 0 && $0.access.lockedUntil == Slot.inWindow + .seconds(15 * 60) }),
        .init(
            LobbySlot.session(.open), .codeRejected(.companion("companion-1")), audit: "code_rejected", touches: false,
            expect: { $0.companions[0].access.failedAttempts == 1 && $0.access.failedAttempts == 0 }),
        .init(
            LobbySlot.session(.open, LobbySlot.failedAttempts(3)), .codeAccepted(.citizen), audit: "code_accepted",
            touches: false, expect: { $0.access.failedAttempts == 0 && $0.access.lockedUntil == nil }),
        .init(
            LobbySlot.session(.late) { $0.access.lockedUntil = Slot.inWindow - .seconds(1) }, .codeAccepted(.citizen),
            at: Slot.afterGrace, audit: "code_accepted", touches: false, expect: { $0.access.lockedUntil == nil }),
        .init(
            LobbySlot.session(.inProgress), .codeRejected(.citizen), at: Slot.afterEnd, audit: "code_rejected",
            touches: false, expect: { $0.access.failedAttempts == 1 }),
        .init(
            LobbySlot.session(.scheduled, LobbySlot.lockedLink), .codeRotated(.citizen, codeHash: LobbySlot.newHash),
            audit: "access_code_rotated",
            expect: { $0.access.codeHash == LobbySlot.newHash && $0.access.lockedUntil == nil }),
        .init(
            LobbySlot.session(.failed, LobbySlot.failedAttempts(2)),
            .codeRotated(.companion("companion-1"), codeHash: LobbySlot.newHash), audit: "access_code_rotated",
            expect: { $0.companions[0].access.codeHash == LobbySlot.newHash && $0.access.failedAttempts == 2 }),
        .init(
            LobbySlot.session(.open), .companionEntered("companion-1"), audit: "companion-1_entered",
            expect: { $0.companions[0].enteredAt == Slot.inWindow && $0.state == .open }),
        .init(
            LobbySlot.session(.waiting, LobbySlot.companionWaiting), .companionLeft("companion-1"), audit: "companion-1_left",
            expect: { $0.companions[0].leftAt == Slot.inWindow && !$0.companions[0].isWaiting }),
        .init(
            LobbySlot.session(.open, LobbySlot.companionGone), .companionEntered("companion-1"), at: Slot.start,
            audit: "companion-1_entered",
            expect: { $0.companions[0].leftAt == nil && $0.companions[0].enteredAt == Slot.inWindow && $0.companions[0].isWaiting }),
        .init(
            LobbySlot.session(.inProgress, LobbySlot.companionWaiting),
            .companionAdmitted("companion-1", entryURL: LobbySlot.entryURL), at: Slot.start, audit: "companion-1_admitted",
            expect: { $0.companions[0].admittedAt == Slot.start && $0.companions[0].entryURL == LobbySlot.entryURL }),
        .init(
            LobbySlot.session(.waiting), .messagePosted(text: "Um momento, por favor."), audit: "message_posted",
            expect: { $0.lobby.messages == [LobbyMessage(id: "m1", text: "Um momento, por favor.", at: Slot.inWindow)] }),
        .init(
            LobbySlot.session(.late) { $0.fallbacks = [FallbackRecord(channel: .email, status: .sent, at: Slot.afterGrace)] },
            .fallbackRequested(.email), at: Slot.start + .seconds(600), audit: "fallback_requested",
            actions: [.sendFallback(.email)],
            expect: { $0.fallbacks == [FallbackRecord(channel: .email, status: .queued, at: Slot.start + .seconds(600))] }),
        .init(
            LobbySlot.session(.open) { $0.booking.citizen.phone = "+351912345678" }, .fallbackRequested(.phone),
            audit: "fallback_requested", actions: [.sendFallback(.phone)],
            expect: { $0.fallbacks.map(\.channel) == [.phone] && $0.state == .open }),
        .init(
            LobbySlot.session(.inProgress), .scriptSaved(LobbySlot.script), at: Slot.start, audit: "script_saved",
            expect: { $0.script == LobbySlot.script }),
        .init(
            LobbySlot.session(.inProgress), .entryRenewed(.citizen, entryURL: LobbySlot.entryURL), at: Slot.start,
            audit: "citizen_rejoined", expect: { $0.lobby.citizenEntryURL == LobbySlot.entryURL }),
        .init(
            LobbySlot.session(.waiting, LobbySlot.companionAdmitted),
            .entryRenewed(.companion("companion-1"), entryURL: LobbySlot.entryURL), at: Slot.start,
            audit: "companion-1_rejoined", expect: { $0.companions[0].entryURL == LobbySlot.entryURL }),
        .init(
            LobbySlot.session(.inProgress), .auditOnly("host_link_issued"), at: Slot.start, audit: "host_link_issued",
            expect: { $0.state == .inProgress }),
        .init(
            LobbySlot.session(.cancelled), .auditOnly("orphan_room_deleted"), at: Slot.afterEnd,
            audit: "orphan_room_deleted", expect: { $0.state == .cancelled }),
    ]

    @Test("An allowed event changes what it names, keeps the state and is audited under its name", arguments: allowed)
    func allowedEvent(_ row: Allowed) throws {
        let transition = try machine.apply(row.event, to: row.from, at: row.at)
        #expect(row.expect(transition.session))
        #expect(transition.session.state == row.from.state)
        #expect(transition.auditName == row.auditName)
        #expect(transition.actions == row.actions)
        #expect(transition.session.updatedAt == (row.touches ? row.at : row.from.updatedAt))
        #expect(!transition.isNoOp)
    }

    struct Refused: CustomTestStringConvertible, Sendable {
        let from: Session
        let event: SessionEvent
        let at: Date
        let refusal: SessionTransitionRefusal
        var testDescription: String { "\(from.state.rawValue) refuses \(event.name) with \(refusal.code.rawValue)" }

        init(_ from: Session, _ event: SessionEvent, at: Date = Slot.inWindow, _ code: SessionTransitionRefusal.Code) {
            (self.from, self.event, self.at) = (from, event, at)
            refusal = SessionTransitionRefusal(code, state: from.state)
        }

        init(_ from: Session, _ event: SessionEvent, at: Date = Slot.inWindow, refusal: SessionTransitionRefusal) {
            (self.from, self.event, self.at, self.refusal) = (from, event, at, refusal)
        }
    }

    static let refused: [Refused] = {
        var rows: [Refused] = []
        for event in [SessionEvent.codeRejected(.citizen), .codeAccepted(.citizen), .companionEntered("companion-1")] {
            rows.append(.init(LobbySlot.session(.cancelled), event, .sessionCancelled))
            for state in [SessionState.completed, .noShow, .failed] {
                rows.append(.init(LobbySlot.session(state), event, .windowClosed))
            }
            rows.append(.init(LobbySlot.session(.scheduled), event, at: Slot.beforeWindow, .tooEarly))
            rows.append(.init(LobbySlot.session(.late), event, at: Slot.afterEnd, .windowClosed))
            rows.append(.init(LobbySlot.session(.waiting), event, at: Slot.afterEnd, .windowClosed))
        }
        for event in [SessionEvent.codeRejected(.citizen), .codeAccepted(.citizen)] {
            rows.append(
                .init(
                    LobbySlot.session(.open, LobbySlot.lockedLink), event,
                    refusal: SessionTransitionRefusal(.linkLocked, state: .open, until: Slot.inWindow + .seconds(60))))
        }
        rows.append(.init(LobbySlot.session(.open), .codeRejected(.companion("companion-2")), .unknownParticipant))
        rows.append(.init(LobbySlot.session(.open), .companionEntered("companion-2"), .unknownParticipant))
        for state in [SessionState.completed, .noShow, .cancelled] {
            rows.append(.init(LobbySlot.session(state), .codeRotated(.citizen, codeHash: LobbySlot.newHash), .sessionClosed))
            rows.append(.init(LobbySlot.session(state), .messagePosted(text: "Olá"), .sessionClosed))
            rows.append(
                .init(
                    LobbySlot.session(state, LobbySlot.companionWaiting),
                    .companionAdmitted("companion-1", entryURL: LobbySlot.entryURL), .notWaiting))
        }
        rows.append(
            .init(
                LobbySlot.session(.open), .codeRotated(.companion("companion-2"), codeHash: LobbySlot.newHash),
                .unknownParticipant))
        rows.append(.init(LobbySlot.session(.waiting), .companionAdmitted("companion-1", entryURL: LobbySlot.entryURL), .notWaiting))
        rows.append(
            .init(
                LobbySlot.session(.waiting, LobbySlot.companionAdmitted),
                .companionAdmitted("companion-1", entryURL: LobbySlot.entryURL), .notWaiting))
        rows.append(.init(LobbySlot.session(.waiting), .companionAdmitted("companion-2", entryURL: LobbySlot.entryURL), .notWaiting))
        rows.append(
            .init(
                LobbySlot.session(.inProgress, LobbySlot.companionGone),
                .companionAdmitted("companion-1", entryURL: LobbySlot.entryURL), .notWaiting))
        rows.append(
            .init(
                LobbySlot.session(.waiting) { session in
                    session.lobby.messages = (1...100).map { LobbyMessage(id: "m\($0)", text: "…", at: Slot.inWindow) }
                }, .messagePosted(text: "Mais uma"), .messageLimitReached))
        for state in [SessionState.waiting, .inProgress, .completed, .noShow, .cancelled, .failed] {
            rows.append(.init(LobbySlot.session(state), .fallbackRequested(.email), .sessionInProgress))
        }
        rows.append(.init(LobbySlot.session(.late), .fallbackRequested(.phone), .missingContact))
        rows.append(.init(LobbySlot.session(.late) { $0.booking.citizen.email = nil }, .fallbackRequested(.email), .missingContact))
        for state in [SessionState.waiting, .completed, .late] {
            rows.append(.init(LobbySlot.session(state), .entryRenewed(.citizen, entryURL: LobbySlot.entryURL), .notInProgress))
        }
        rows.append(
            .init(
                LobbySlot.session(.inProgress) { $0.lobby.admittedAt = nil }, .entryRenewed(.citizen, entryURL: LobbySlot.entryURL),
                .notInProgress))
        rows.append(
            .init(
                LobbySlot.session(.inProgress, LobbySlot.companionWaiting),
                .entryRenewed(.companion("companion-1"), entryURL: LobbySlot.entryURL), .notInProgress))
        rows.append(
            .init(
                LobbySlot.session(.completed, LobbySlot.companionAdmitted),
                .entryRenewed(.companion("companion-1"), entryURL: LobbySlot.entryURL), .notInProgress))
        return rows
    }()

    @Test("A refused event names its reason", arguments: refused)
    func refusedEvent(_ row: Refused) {
        #expect(throws: row.refusal) {
            try machine.apply(row.event, to: row.from, at: row.at)
        }
    }

    @Test("Only a companion waiting in the lobby of a live session can leave it; anything else changes nothing")
    func companionLeavesOnlyFromTheLobby() throws {
        let cases: [Session] = [
            LobbySlot.session(.open),  // never entered
            LobbySlot.session(.inProgress, LobbySlot.companionAdmitted),
            LobbySlot.session(.open, LobbySlot.companionGone),
            LobbySlot.session(.completed, LobbySlot.companionWaiting),
            LobbySlot.session(.cancelled, LobbySlot.companionWaiting),
        ]
        for session in cases {
            let transition = try machine.apply(.companionLeft("companion-1"), to: session, at: Slot.start)
            #expect(transition.isNoOp, "\(session.state) \(session.companions[0])")
        }
        #expect(try machine.apply(.companionLeft("companion-2"), to: LobbySlot.session(.waiting), at: Slot.start).isNoOp)
    }

    @Test("A repeat that changes nothing is a no-op: a companion back in the lobby, a right code with nothing to forget")
    func repeats() throws {
        let waiting = LobbySlot.session(.open, LobbySlot.companionWaiting)
        let again = try machine.apply(.companionEntered("companion-1"), to: waiting, at: Slot.inWindow + .seconds(60))
        #expect(again.isNoOp)
        #expect(again.session.companions[0].enteredAt == Slot.inWindow)
        #expect(try machine.apply(.codeAccepted(.citizen), to: LobbySlot.session(.open), at: Slot.inWindow).isNoOp)
    }

    @Test("Five wrong codes in a row lock the link for 15 minutes; then codes are counted again")
    func lockout() throws {
        var session = LobbySlot.session(.open)
        var names: [String] = []
        for _ in 1...5 {
            let transition = try machine.apply(.codeRejected(.citizen), to: session, at: Slot.inWindow)
            names.append(transition.auditName)
            session = transition.session
        }
        #expect(names == ["code_rejected", "code_rejected", "code_rejected", "code_rejected", "link_locked"])
        let opensAt = Slot.inWindow + .seconds(15 * 60)
        #expect(throws: SessionTransitionRefusal(.linkLocked, state: .open, until: opensAt)) {
            try machine.apply(.codeAccepted(.citizen), to: session, at: opensAt - .seconds(1))
        }
        let later = try machine.apply(.codeRejected(.citizen), to: session, at: opensAt)
        #expect(later.session.access.failedAttempts == 1)
        #expect(later.auditName == "code_rejected")
    }

    @Test("Audit names: the ones the audit trail has always used")
    func auditNames() {
        let names: [(SessionEvent, String)] = [
            (.codeRejected(.citizen), "code_rejected"),
            (.codeAccepted(.citizen), "code_accepted"),
            (.codeRotated(.citizen, codeHash: LobbySlot.newHash), "access_code_rotated"),
            (.companionEntered("companion-2"), "companion-2_entered"),
            (.companionAdmitted("companion-2", entryURL: LobbySlot.entryURL), "companion-2_admitted"),
            (.messagePosted(text: "Olá"), "message_posted"),
            (.fallbackRequested(.phone), "fallback_requested"),
            (.scriptSaved(LobbySlot.script), "script_saved"),
            (.entryRenewed(.companion("companion-1"), entryURL: LobbySlot.entryURL), "companion-1_rejoined"),
            (.auditOnly("orphan_room_deleted"), "orphan_room_deleted"),
        ]
        for (event, name) in names { #expect(event.name == name) }
        #expect(!SessionEvent.codeAccepted(.citizen).isAudited)
        #expect(SessionEvent.codeRejected(.citizen).isAudited)
        #expect(SessionEvent.scriptSaved(LobbySlot.script).isAlwaysAudited)
        #expect(SessionEvent.auditOnly("host_link_issued").isAlwaysAudited)
    }
}
