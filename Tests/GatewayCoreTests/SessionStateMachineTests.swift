import Foundation
import Testing

@testable import GatewayCore

/// Fixed times around a booked slot 10:00–10:30.
enum Slot {
    static let start = Date(timeIntervalSince1970: 1_922_349_600)  // a Monday 10:00 UTC
    static let end = start + .seconds(1800)
    static let beforeWindow = start - .seconds(3600)
    static let inWindow = start - .seconds(600)
    static let afterGrace = start + .seconds(400)
    static let afterEnd = end + .seconds(60)
    static let purge = SessionAction.scheduleDeadline(.personalDataPurge, at: end + .seconds(30 * 24 * 3600))

    static func booking(start: Date = start, end: Date = end, provider: String = "simulator") -> Booking {
        Booking(
            service: "prestacoes-familiares", startsAt: start, endsAt: end, provider: provider, attendantID: "a-17",
            citizen: Citizen(name: "Maria Sousa", email: "maria@example.pt"))
    }

    static func session(_ state: SessionState, room: RoomStatus = .ready) -> Session {
        var session = Session(
            bookingID: BookingID("B-1")!, booking: booking(), access: AccessCredentials.issue(using: .random()).0,
            createdAt: beforeWindow)
        session.state = state
        session.room.status = room
        if room == .ready { session.room.providerRoomID = "vg-1" }
        if state == .waiting || state == .inProgress { session.lobby.enteredAt = inWindow }
        return session
    }
}

@Suite("Session state machine")
struct SessionStateMachineTests {
    let machine = SessionStateMachine()

    struct Allowed: CustomTestStringConvertible, Sendable {
        let from: SessionState
        let event: SessionEvent
        let at: Date
        let to: SessionState
        let actions: [SessionAction]
        var testDescription: String { "\(from.rawValue) + \(event.name) → \(to.rawValue)" }
    }

    static let allowed: [Allowed] = [
        .init(from: .scheduled, event: .joinWindowOpened, at: Slot.inWindow, to: .open, actions: []),
        .init(from: .scheduled, event: .citizenEntered, at: Slot.inWindow, to: .waiting, actions: []),
        .init(
            from: .scheduled, event: .lateCheckDue, at: Slot.afterGrace, to: .late,
            actions: [.notifyScheduler(.late), .sendFallback(.email)]),
        .init(from: .scheduled, event: .slotEnded, at: Slot.afterEnd, to: .noShow, actions: [.deleteRoom, .notifyScheduler(.noShow)]),
        .init(
            from: .scheduled, event: .cancelled(by: .scheduler), at: Slot.beforeWindow, to: .cancelled,
            actions: [.cancelDeadlines, Slot.purge, .deleteRoom, .notifyCitizen(.cancelled)]),
        .init(from: .open, event: .citizenEntered, at: Slot.inWindow, to: .waiting, actions: []),
        .init(
            from: .open, event: .lateCheckDue, at: Slot.afterGrace, to: .late,
            actions: [.notifyScheduler(.late), .sendFallback(.email)]),
        .init(from: .open, event: .slotEnded, at: Slot.afterEnd, to: .noShow, actions: [.deleteRoom, .notifyScheduler(.noShow)]),
        .init(
            from: .open, event: .cancelled(by: .citizen), at: Slot.inWindow, to: .cancelled,
            actions: [.cancelDeadlines, Slot.purge, .deleteRoom, .notifyScheduler(.cancelledByCitizen)]),
        .init(from: .late, event: .citizenEntered, at: Slot.afterGrace, to: .waiting, actions: []),
        .init(from: .late, event: .slotEnded, at: Slot.afterEnd, to: .noShow, actions: [.deleteRoom, .notifyScheduler(.noShow)]),
        .init(
            from: .late, event: .cancelled(by: .scheduler), at: Slot.afterGrace, to: .cancelled,
            actions: [.cancelDeadlines, Slot.purge, .deleteRoom, .notifyCitizen(.cancelled)]),
        .init(from: .waiting, event: .admitted(attendantID: "a-17", citizenEntryURL: nil), at: Slot.start, to: .inProgress, actions: []),
        .init(from: .waiting, event: .citizenLeft, at: Slot.inWindow, to: .open, actions: []),
        .init(
            from: .waiting, event: .citizenLeft, at: Slot.afterGrace, to: .late,
            actions: [.notifyScheduler(.late), .sendFallback(.email)]),
        .init(
            from: .waiting, event: .safetyCapReached, at: Slot.end + .seconds(4 * 3600), to: .completed,
            actions: [.endRoom, .notifyScheduler(.completed)]),
        .init(
            from: .waiting, event: .cancelled(by: .scheduler), at: Slot.start, to: .cancelled,
            actions: [.cancelDeadlines, Slot.purge, .deleteRoom, .notifyCitizen(.cancelled)]),
        .init(
            from: .inProgress, event: .ended(.resolved, by: .attendant(id: "a-17")), at: Slot.end, to: .completed,
            actions: [.cancelDeadlines, Slot.purge, .endRoom, .notifyScheduler(.completed)]),
        .init(
            from: .inProgress, event: .safetyCapReached, at: Slot.end + .seconds(4 * 3600), to: .completed,
            actions: [.endRoom, .notifyScheduler(.completed)]),
        .init(
            from: .failed, event: .cancelled(by: .scheduler), at: Slot.beforeWindow, to: .cancelled,
            actions: [.cancelDeadlines, Slot.purge, .deleteRoom]),
    ]

    @Test("An allowed transition reaches its state and asks for its actions", arguments: allowed)
    func allowedTransition(_ row: Allowed) throws {
        let transition = try machine.apply(row.event, to: Slot.session(row.from), at: row.at)
        #expect(transition.session.state == row.to)
        #expect(transition.actions == row.actions)
        #expect(transition.previousState == row.from)
    }

    struct Refused: CustomTestStringConvertible, Sendable {
        let from: SessionState
        let event: SessionEvent
        let at: Date
        let code: SessionTransitionRefusal.Code
        var testDescription: String { "\(from.rawValue) refuses \(event.name) with \(code.rawValue)" }
    }

    static let refused: [Refused] = {
        var rows: [Refused] = []
        for state in SessionState.allCases where state != .waiting {
            rows.append(.init(from: state, event: .admitted(attendantID: "a-17", citizenEntryURL: nil), at: Slot.start, code: .notWaiting))
        }
        for state in [SessionState.completed, .noShow, .cancelled] {
            rows.append(
                .init(
                    from: state, event: .bookingUpdated(Slot.booking(start: Slot.start + .seconds(3600), end: Slot.end + .seconds(3600))),
                    at: Slot.beforeWindow, code: .sessionClosed))
        }
        for state in [SessionState.completed, .noShow] {
            rows.append(.init(from: state, event: .cancelled(by: .scheduler), at: Slot.afterEnd, code: .sessionClosed))
        }
        rows.append(.init(from: .inProgress, event: .cancelled(by: .scheduler), at: Slot.start, code: .sessionInProgress))
        for state in [SessionState.waiting, .inProgress] {
            rows.append(
                .init(
                    from: state, event: .bookingUpdated(Slot.booking(start: Slot.start + .seconds(3600), end: Slot.end + .seconds(3600))),
                    at: Slot.start, code: .sessionInProgress))
        }
        rows.append(
            .init(
                from: .scheduled, event: .bookingUpdated(Slot.booking(provider: "daily")), at: Slot.beforeWindow,
                code: .providerImmutable))
        rows.append(.init(from: .scheduled, event: .citizenEntered, at: Slot.beforeWindow, code: .tooEarly))
        rows.append(.init(from: .late, event: .citizenEntered, at: Slot.afterEnd, code: .windowClosed))
        rows.append(.init(from: .cancelled, event: .citizenEntered, at: Slot.inWindow, code: .sessionCancelled))
        for state in [SessionState.completed, .noShow, .failed] {
            rows.append(.init(from: state, event: .citizenEntered, at: Slot.inWindow, code: .windowClosed))
        }
        for state in [SessionState.scheduled, .open, .late, .waiting] {
            rows.append(.init(from: state, event: .ended(.resolved, by: .attendant(id: "a")), at: Slot.start, code: .notInProgress))
        }
        for state in [SessionState.completed, .noShow, .cancelled, .failed] {
            rows.append(.init(from: state, event: .ended(.resolved, by: .attendant(id: "a")), at: Slot.start, code: .sessionClosed))
        }
        return rows
    }()

    @Test("A refused transition names its reason and changes nothing", arguments: refused)
    func refusedTransition(_ row: Refused) {
        #expect(throws: SessionTransitionRefusal(row.code, state: row.from)) {
            try machine.apply(row.event, to: Slot.session(row.from), at: row.at)
        }
    }

    struct Ignored: CustomTestStringConvertible, Sendable {
        let from: SessionState
        let event: SessionEvent
        var testDescription: String { "\(from.rawValue) ignores \(event.name)" }
    }

    static let ignored: [Ignored] = {
        var rows: [Ignored] = []
        for state in SessionState.allCases where state != .scheduled {
            rows.append(.init(from: state, event: .joinWindowOpened))
        }
        for state in SessionState.allCases where state != .scheduled && state != .open {
            rows.append(.init(from: state, event: .lateCheckDue))
        }
        for state in SessionState.allCases where ![.scheduled, .open, .late].contains(state) {
            rows.append(.init(from: state, event: .slotEnded))
        }
        for state in SessionState.allCases where state != .inProgress && state != .waiting {
            rows.append(.init(from: state, event: .safetyCapReached))
        }
        rows.append(.init(from: .cancelled, event: .cancelled(by: .scheduler)))
        rows.append(.init(from: .waiting, event: .citizenEntered))
        rows.append(.init(from: .inProgress, event: .citizenEntered))
        return rows
    }()

    @Test("A deadline or repeat that no longer applies is a no-op", arguments: ignored)
    func ignoredEvent(_ row: Ignored) throws {
        let session = Slot.session(row.from)
        let transition = try machine.apply(row.event, to: session, at: Slot.start)
        #expect(transition.isNoOp)
        #expect(transition.session == session)
    }

    @Test("A ready room is watched for recordings; a subscription is kept and renewed an hour before it lapses")
    func recordingSubscriptions() throws {
        let provisioned = try machine.apply(
            .roomProvisioned(providerRoomID: "vg-1", url: nil), to: Slot.session(.open, room: .pending), at: Slot.inWindow)
        #expect(provisioned.actions == [.watchRecordings(at: nil)])
        let lapses = Slot.inWindow + .seconds(3 * 86_400)
        let subscribed = try machine.apply(
            .recordingSubscribed(subscriptionID: "sub-1", expiresAt: lapses), to: provisioned.session, at: Slot.inWindow)
        #expect(subscribed.session.room.recordingSubscriptionID == "sub-1")
        #expect(subscribed.session.room.recordingSubscriptionExpiresAt == lapses)
        #expect(subscribed.actions == [.watchRecordings(at: lapses - .seconds(3600))])
        let short = try machine.apply(
            .recordingSubscribed(subscriptionID: "sub-1", expiresAt: Slot.inWindow + .seconds(600)), to: provisioned.session,
            at: Slot.inWindow)
        #expect(short.actions == [.watchRecordings(at: Slot.inWindow + .seconds(300))], "half way for a short one")
        var closed = provisioned.session
        closed.state = .completed
        #expect(try machine.apply(.recordingSubscribed(subscriptionID: "sub-1", expiresAt: lapses), to: closed, at: Slot.end).isNoOp)
    }

    @Test("A live session whose room is gone at the provider provisions it again; a closed one does not")
    func roomMissing() throws {
        for state in SessionState.allCases {
            var session = Slot.session(state)
            session.room.status = .ready
            session.room.providerRoomID = "vg-1"
            let transition = try machine.apply(.roomMissing, to: session, at: Slot.start)
            if state.isTerminal {
                #expect(transition.isNoOp, "\(state)")
            } else {
                #expect(transition.session.room.status == .pending && transition.actions == [.provisionRoom], "\(state)")
                #expect(transition.session.state == state)
            }
        }
        let pending = Slot.session(.open, room: .pending)
        #expect(try machine.apply(.roomMissing, to: pending, at: Slot.start).isNoOp, "a room not made yet is not missing")
    }

    @Test("Creating a session provisions the room and arms every deadline from the policy")
    func creation() {
        let booking = Slot.booking()
        let transition = machine.create(
            bookingID: BookingID("B-1")!, booking: booking, access: AccessCredentials.issue(using: .random()).0, at: Slot.beforeWindow)
        #expect(transition.session.state == .scheduled)
        #expect(transition.session.room.status == .pending)
        #expect(transition.session.generation == 1)
        #expect(
            transition.actions == [
                .provisionRoom,
                .scheduleDeadline(.joinWindowOpens, at: Slot.start - .seconds(1800)),
                .scheduleDeadline(.lateCheck, at: Slot.start + .seconds(300)),
                .scheduleDeadline(.slotEnd, at: Slot.end),
                .scheduleDeadline(.safetyCap, at: Slot.end + .seconds(4 * 3600)),
                Slot.purge,
                .notifyCitizen(.invitation),
            ])
    }

    @Test("A reschedule starts a new generation, keeps the link and code, and moves the room")
    func reschedule() throws {
        let session = Slot.session(.open)
        let later = Slot.booking(start: Slot.start + .seconds(7200), end: Slot.end + .seconds(7200))
        let transition = try machine.apply(.bookingUpdated(later), to: session, at: Slot.inWindow)
        #expect(transition.session.generation == 2)
        #expect(transition.session.state == .scheduled)
        #expect(transition.session.access == session.access)
        #expect(transition.actions.first == .cancelDeadlines)
        #expect(transition.actions.contains(.updateRoom))
        #expect(transition.actions.contains(.scheduleDeadline(.lateCheck, at: later.startsAt + .seconds(300))))
        #expect(transition.actions.last == .notifyCitizen(.rescheduled))
    }

    @Test("A reschedule before the room exists provisions it instead of updating it")
    func rescheduleOfPendingRoom() throws {
        let session = Slot.session(.scheduled, room: .pending)
        let later = Slot.booking(start: Slot.start + .seconds(7200), end: Slot.end + .seconds(7200))
        let transition = try machine.apply(.bookingUpdated(later), to: session, at: Slot.beforeWindow)
        #expect(transition.actions.contains(.provisionRoom))
        #expect(!transition.actions.contains(.updateRoom))
    }

    @Test("Changing only the contact data is an update without new generation or room work")
    func detailsUpdate() throws {
        var booking = Slot.booking()
        booking.citizen.phone = "+351912345678"
        let transition = try machine.apply(.bookingUpdated(booking), to: Slot.session(.scheduled), at: Slot.beforeWindow)
        #expect(transition.session.generation == 1)
        #expect(transition.actions.isEmpty)
        #expect(transition.session.booking.citizen.phone == "+351912345678")
    }

    @Test("A failed session can be booked again and provisions a new room")
    func recoveryFromFailure() throws {
        let transition = try machine.apply(.bookingUpdated(Slot.booking()), to: Slot.session(.failed, room: .failed), at: Slot.beforeWindow)
        #expect(transition.session.state == .scheduled)
        #expect(transition.session.room.status == .pending)
        #expect(transition.actions.contains(.provisionRoom))
    }

    @Test("A room that arrives after the session closed is deleted")
    func lateRoomIsDeleted() throws {
        let transition = try machine.apply(
            .roomProvisioned(providerRoomID: "vg-1", url: nil), to: Slot.session(.cancelled, room: .pending),
            at: Slot.beforeWindow)
        #expect(transition.actions == [.deleteRoom])
        #expect(transition.session.state == .cancelled)
    }

    @Test("Provisioning failure fails the session, drops its deadlines and takes back a room whose answer was lost")
    func provisioningFailure() throws {
        let transition = try machine.apply(
            .roomProvisioningFailed(code: "recording_policy", message: "on"), to: Slot.session(.scheduled, room: .pending),
            at: Slot.beforeWindow)
        #expect(transition.session.state == .failed)
        #expect(transition.session.room.errorCode == "recording_policy")
        #expect(transition.actions == [.cancelDeadlines, Slot.purge, .deleteRoom, .notifyScheduler(.roomFailed)])
    }

    @Test("A room created before provisioning failed is deleted, and still reads failed afterwards")
    func provisioningFailureAfterCreate() throws {
        var session = Slot.session(.scheduled, room: .pending)
        session.room.providerRoomID = "85746065432"
        let failed = try machine.apply(
            .roomProvisioningFailed(code: "provider_unavailable", message: "zoom 503"), to: session, at: Slot.beforeWindow)
        #expect(failed.actions == [.cancelDeadlines, Slot.purge, .deleteRoom, .notifyScheduler(.roomFailed)])
        let deleted = try machine.apply(.roomDeleted, to: failed.session, at: Slot.beforeWindow)
        #expect(deleted.session.room.status == .failed)
        #expect(deleted.session.room.errorCode == "provider_unavailable")
    }

    @Test("Re-entering the lobby keeps the first entry time")
    func reentryKeepsPlace() throws {
        var session = Slot.session(.open)
        session.lobby.enteredAt = Slot.inWindow - .seconds(60)
        let transition = try machine.apply(.citizenEntered, to: session, at: Slot.inWindow)
        #expect(transition.session.lobby.enteredAt == Slot.inWindow - .seconds(60))
    }

    @Test("Admission records when it happened")
    func admissionTime() throws {
        let transition = try machine.apply(.admitted(attendantID: "a-17", citizenEntryURL: nil), to: Slot.session(.waiting), at: Slot.start)
        #expect(transition.session.lobby.admittedAt == Slot.start)
        #expect(transition.session.updatedAt == Slot.start)
    }

    @Test("The late check fires one fallback per enabled channel with contact data, once", arguments: [
        (Set(FallbackChannel.allCases), "+351912345678" as String?, [FallbackChannel.email, .phone]),
        (Set(FallbackChannel.allCases), nil, [.email]),
        (Set([FallbackChannel.phone]), "+351912345678", [.phone]),
        (Set<FallbackChannel>(), "+351912345678", []),
    ])
    func lateFallback(_ enabled: Set<FallbackChannel>, _ phone: String?, _ expected: [FallbackChannel]) throws {
        let machine = SessionStateMachine(policy: SessionPolicy(fallback: FallbackPolicy(enabledChannels: enabled)))
        var session = Slot.session(.open)
        session.booking.citizen.phone = phone
        let transition = try machine.apply(.lateCheckDue, to: session, at: Slot.afterGrace)
        #expect(transition.session.state == .late)
        #expect(transition.actions == [.notifyScheduler(.late)] + expected.map { .sendFallback($0) })
        #expect(transition.session.fallbacks.map(\.channel) == expected)
        #expect(transition.session.fallbacks.allSatisfy { $0.status == .queued && $0.at == Slot.afterGrace })
        let again = try machine.apply(.lateCheckDue, to: transition.session, at: Slot.afterGrace)
        #expect(again.isNoOp)
    }

    @Test("A citizen in the lobby at the late check gets no fallback")
    func noFallbackForWaitingCitizen() throws {
        let transition = try machine.apply(.lateCheckDue, to: Slot.session(.waiting), at: Slot.afterGrace)
        #expect(transition.isNoOp)
        #expect(transition.session.fallbacks.isEmpty)
    }

    @Test("A citizen who left the lobby after the late check gets the fallback then, once; coming back and leaving again sends nothing more")
    func leftAfterLateCheck() throws {
        let waiting = Slot.session(.waiting)
        let skipped = try machine.apply(.lateCheckDue, to: waiting, at: Slot.afterGrace)
        #expect(skipped.isNoOp)
        let left = try machine.apply(.citizenLeft, to: waiting, at: Slot.afterGrace + .seconds(30))
        #expect(left.session.state == .late)
        #expect(left.actions == [.notifyScheduler(.late), .sendFallback(.email)])
        let back = try machine.apply(.citizenEntered, to: left.session, at: Slot.afterGrace + .seconds(60))
        #expect(back.session.state == .waiting)
        let leftAgain = try machine.apply(.citizenLeft, to: back.session, at: Slot.afterGrace + .seconds(90))
        #expect(leftAgain.session.state == .late)
        #expect(leftAgain.actions.isEmpty)
        #expect(leftAgain.session.fallbacks.count == 1)
    }

    @Test("Fallback results are recorded on the session")
    func fallbackResults() throws {
        let late = try machine.apply(.lateCheckDue, to: Slot.session(.open), at: Slot.afterGrace).session
        let failedOnce = try machine.apply(
            .fallbackFailed(.email, reason: "delivery_failed", isFinal: false), to: late, at: Slot.afterGrace + .seconds(5)
        ).session
        #expect(failedOnce.fallbacks.first?.status == .queued)
        #expect(failedOnce.fallbacks.first?.reason == "delivery_failed")
        let sent = try machine.apply(.fallbackSent(.email), to: failedOnce, at: Slot.afterGrace + .seconds(9)).session
        #expect(sent.fallbacks.first?.status == .sent)
        #expect(sent.fallbacks.first?.at == Slot.afterGrace + .seconds(9))
        let dead = try machine.apply(
            .fallbackFailed(.email, reason: "not_configured", isFinal: true), to: late, at: Slot.afterGrace).session
        #expect(dead.fallbacks.first?.status == .failed)
    }

    @Test("Retention erases the citizen's personal data and keeps the record")
    func personalDataErasure() throws {
        let session = Slot.session(.completed)
        let erased = try machine.apply(.personalDataExpired, to: session, at: Slot.end + .seconds(31 * 24 * 3600)).session
        #expect(erased.booking.citizen.name.isEmpty)
        #expect(erased.booking.citizen.email == nil && erased.booking.citizen.phone == nil)
        #expect(erased.personalDataErasedAt != nil)
        #expect(erased.state == .completed && erased.booking.service == session.booking.service)
    }
}
