import Foundation
import GatewayCore
import GatewayHTTP
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import SessionOrchestration
import Testing

@testable import GatewayService

enum Attendant {
    static func token(
        id: String = "a-17", services: [String] = ["prestacoes-familiares"], roles: [String] = ["attendant"],
        validFor: Duration = .seconds(3600), issuedAt: Date = Date(), secret: String = TestGateway.attendantSecret
    ) async throws -> String {
        try await AttendantTokenMinter.token(
            for: AttendantClaims(id: id, name: "Ana", services: services, roles: roles, issuedAt: issuedAt, validFor: validFor),
            secret: secret)
    }
}

extension TestClientProtocol {
    func create(_ id: String, startOffset: Int = 600, extra: [String: Any] = [:]) async throws -> Reply {
        try await call(.put, "/v1/sessions/\(id)", body: Body.json(Body.booking(startOffset: startOffset, extra: extra)))
    }

    func enter(_ created: Reply, code: String? = nil) async throws -> Reply {
        let token = (created.json["citizenJoinUrl"] as? String ?? "").split(separator: "/").last.map(String.init) ?? ""
        let code = code ?? created.json["validationCode"] as? String ?? ""
        return try await call(.post, "/v1/lobby/\(token)/enter", body: Body.json(["code": code]), key: nil)
    }
}

extension Reply {
    var joinToken: String { (json["citizenJoinUrl"] as? String ?? "").split(separator: "/").last.map(String.init) ?? "" }
    var cancelToken: String { (json["cancelUrl"] as? String ?? "").split(separator: "/").last.map(String.init) ?? "" }
}

@Suite("Citizen lobby")
struct LobbyTests {
    @Test("Five wrong codes lock the link for 15 minutes; attempts left are counted down")
    func lockout() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let created = try await client.create("B-1")
            let right = try #require(created.json["validationCode"] as? String)
            let wrong = right == "000000" ? "111111" : "000000"
            for left in [4, 3, 2, 1] {
                let reply = try await client.enter(created, code: wrong)
                #expect(reply.status == .unauthorized)
                #expect(reply.code == "invalid_code")
                #expect(reply.json["attemptsLeft"] as? Int == left)
            }
            let locked = try await client.enter(created, code: wrong)
            #expect(locked.status.code == 423)
            #expect(locked.code == "locked")
            #expect(locked.json["lockedUntil"] as? String != nil)
            #expect(try await client.enter(created, code: right).status.code == 423)
            gateway.clock.advance(by: .seconds(15 * 60 + 1))
            let entered = try await client.enter(created, code: right)
            #expect(entered.status == .ok)
            #expect(entered.json["state"] as? String == "waiting")
            let trail = try await gateway.store.auditTrail(for: BookingID("B-1")!).map(\.event)
            #expect(trail.filter { $0 == "code_rejected" }.count == 4 && trail.contains("link_locked"))
        }
    }

    @Test("The window rules: too early with opensAt, closed after the slot, cancelled, unknown")
    func window() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let early = try await client.create("B-early", startOffset: 7200)
            let tooEarly = try await client.enter(early)
            #expect(tooEarly.status.code == 425)
            #expect(tooEarly.code == "too_early")
            #expect(tooEarly.json["opensAt"] as? String == Body.RFC3339String(Body.now.addingTimeInterval(7200 - 1800)))
            let cancelled = try await client.create("B-cancelled")
            _ = try await client.call(.delete, "/v1/sessions/B-cancelled")
            #expect(try await client.enter(cancelled).code == "cancelled")
            let closed = try await client.create("B-closed", startOffset: 60)
            gateway.clock.advance(by: .seconds(60 + 1800 + 1))
            let late = try await client.enter(closed)
            #expect(late.status == .gone)
            #expect(late.code == "closed")
            let unknown = try await client.call(
                .post, "/v1/lobby/AAAAAAAAAAAAAAAAAAAAAAAA/enter", body: Body.json(["code": "123456"]), key: nil)
            #expect(unknown.status == .notFound)
            let malformed = try await client.call(.post, "/v1/lobby/\(closed.joinToken)/enter", body: Body.json(["code": "12"]), key: nil)
            #expect(malformed.code == "validation_failed")
        }
    }

    @Test("A right code gives a ticket (cookie and body); the state needs it; re-entering keeps the place")
    func ticket() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let created = try await client.create("B-1")
            let other = try await client.create("B-2")
            let entered = try await client.enter(created)
            let ticket = try #require(entered.json["ticket"] as? String)
            let cookie = try #require(entered.headers[.setCookie])
            #expect(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Strict"))
            #expect(try await client.call(.get, "/v1/lobby/\(created.joinToken)", key: nil).code == "ticket_required")
            let view = try await client.call(.get, "/v1/lobby/\(created.joinToken)", key: ticket)
            #expect(view.status == .ok)
            #expect(view.json["state"] as? String == "waiting")
            #expect(view.json["joinUrl"] is NSNull)
            let firstEntry = view.json["enteredAt"] as? String
            let viaCookie = try await client.execute(
                uri: "/v1/lobby/\(created.joinToken)", method: .get,
                headers: [.cookie: "lobby_ticket=\(ticket)"]) { $0.status }
            #expect(viaCookie == .ok)
            // A ticket for one booking does not open another.
            #expect(try await client.call(.get, "/v1/lobby/\(other.joinToken)", key: ticket).status == .unauthorized)
            gateway.clock.advance(by: .seconds(30))
            _ = try await client.enter(created)
            let again = try await client.call(.get, "/v1/lobby/\(created.joinToken)", key: ticket)
            #expect(again.json["enteredAt"] as? String == firstEntry)
        }
    }

    @Test("Attempts are rate limited per link")
    func rateLimit() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let created = try await client.create("B-1")
            var statuses: [Int] = []
            for _ in 0..<12 { statuses.append(Int(try await client.enter(created, code: "999999").status.code)) }
            #expect(statuses.last == 429)
            #expect(statuses.filter { $0 == 429 }.count == 2)
        }
    }

    @Test("The citizen cancels with the cancel link's token; a GET page never cancels")
    func citizenCancel() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let created = try await client.create("B-1")
            let page = try await client.call(.get, "/cancel/\(created.cancelToken)", key: nil)
            #expect(page.status == .ok)
            #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
            #expect(try await client.call(.get, "/v1/sessions/B-1").json["state"] as? String == "scheduled")
            #expect(try await client.call(.post, "/v1/lobby/\(created.joinToken)/cancel", key: nil).status == .notFound)
            let cancelled = try await client.call(.post, "/v1/lobby/\(created.cancelToken)/cancel", key: nil)
            #expect(cancelled.status == .ok)
            #expect(cancelled.json["state"] as? String == "cancelled")
            #expect(try await client.call(.post, "/v1/lobby/\(created.cancelToken)/cancel", key: nil).status == .ok)
            let jobs = try await gateway.store.jobs(for: BookingID("B-1")!).map(\.kind)
            #expect(jobs.contains(.schedulerCallback(.cancelledByCitizen)))
            #expect(try await gateway.store.auditTrail(for: BookingID("B-1")!).last?.actor == .citizen)
        }
    }

    @Test("Pages are served with a strict policy; an unknown link is a 404 page")
    func pages() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let created = try await client.create("B-1")
            let join = try await client.call(.get, "/join/\(created.joinToken)", key: nil)
            #expect(join.status == .ok)
            #expect(join.headers[.init("Referrer-Policy")!] == "no-referrer")
            let html = String(decoding: join.body, as: UTF8.self)
            #expect(html.contains("lang=\"pt-PT\""))
            #expect(!html.contains("{{"))
            let english = try await client.call(.get, "/join/\(created.joinToken)?lang=en", key: nil)
            #expect(String(decoding: english.body, as: UTF8.self).contains("lang=\"en\""))
            #expect(try await client.call(.get, "/join/unknown-token-000000000", key: nil).status == .notFound)
            #expect(try await client.call(.get, "/console", key: nil).status == .ok)
            #expect(try await client.call(.get, "/assets/lobby.css", key: nil).status == .ok)
            #expect(try await client.call(.get, "/assets/..%2Fopenapi.yaml", key: nil).status == .notFound)
        }
    }
}

@Suite("Attendant API")
struct AttendantAPITests {
    @Test("Tokens: missing, wrong secret, expired or without a role are refused")
    func authentication() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        let expired = try await Attendant.token(validFor: .seconds(3600), issuedAt: Date().addingTimeInterval(-7200))
        let forged = try await Attendant.token(secret: "another-secret-of-at-least-32-bytes-long")
        let roleless = try await Attendant.token(roles: ["viewer"])
        try await gateway.test { client in
            for key in [nil, "not-a-jwt", expired, forged] as [String?] {
                let agenda = try await client.call(.get, "/v1/attendant/agenda", key: key)
                let admit = try await client.call(.post, "/v1/sessions/B-1/admit", key: key)
                #expect(agenda.status == .unauthorized)
                #expect(admit.status == .unauthorized)
            }
            let noRole = try await client.call(.get, "/v1/attendant/agenda", key: roleless)
            #expect(noRole.status == .forbidden)
            // A scheduler key is not an attendant token.
            let schedulerKey = try await client.call(.post, "/v1/sessions/B-1/admit")
            #expect(schedulerKey.status == .unauthorized)
        }
    }

    @Test("The agenda holds my sessions and unassigned ones of my services, with the waiting time")
    func agenda() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        let token = try await Attendant.token()
        try await gateway.test { client in
            let mine = try await client.create("B-mine")
            _ = try await client.create("B-free", extra: ["attendantId": NSNull()])
            _ = try await client.create("B-other", extra: ["attendantId": "a-99"])
            _ = try await client.create("B-pensions", extra: ["service": "pensoes"])
            _ = try await client.enter(mine)
            gateway.clock.advance(by: .seconds(42))
            let date = String(Body.RFC3339String(gateway.clock.now).prefix(10))
            let agenda = try await client.call(.get, "/v1/attendant/agenda?date=\(date)", key: token)
            #expect(agenda.status == .ok)
            let items = agenda.json["items"] as? [[String: Any]] ?? []
            #expect(Set(items.compactMap { $0["bookingId"] as? String }) == ["B-mine", "B-free"])
            let waiting = try #require(items.first { $0["bookingId"] as? String == "B-mine" })
            #expect(waiting["waitingSeconds"] as? Int == 42)
            #expect((waiting["citizen"] as? [String: Any])?["phone"] as? String == "+351912345678")
            let supervisor = try await Attendant.token(id: "s-1", services: ["*"], roles: ["supervisor"])
            let all = try await client.call(.get, "/v1/attendant/agenda?date=\(date)", key: supervisor)
            #expect((all.json["items"] as? [[String: Any]])?.count == 4)
            #expect(try await client.call(.get, "/v1/attendant/agenda?date=tomorrow", key: token).code == "validation_failed")
        }
    }

    @Test("Admission mints the citizen's entry only then; not waiting is 409, someone else's is 403")
    func admission() async throws {
        try await withSimulator { simulator, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            let token = try await Attendant.token()
            let stranger = try await Attendant.token(id: "a-99")
            try await gateway.test { client in
                let created = try await client.create("B-1")
                try await gateway.worker.runUntilIdle()
                #expect(try await client.call(.post, "/v1/sessions/B-1/admit", key: token).code == "not_waiting")
                let entered = try await client.enter(created)
                let ticket = try #require(entered.json["ticket"] as? String)
                #expect(try await client.call(.get, "/v1/lobby/\(created.joinToken)", key: ticket).json["joinUrl"] is NSNull)
                #expect(try await client.call(.post, "/v1/sessions/B-1/admit", key: stranger).status == .forbidden)
                let admitted = try await client.call(.post, "/v1/sessions/B-1/admit", key: token)
                #expect(admitted.status == .ok)
                let host = try #require(admitted.json["hostJoinUrl"] as? String)
                #expect(host.hasPrefix(url.deletingLastPathComponent().absoluteString) && host.contains("?t="))
                let view = try await client.call(.get, "/v1/lobby/\(created.joinToken)", key: ticket)
                #expect(view.json["state"] as? String == "in_progress")
                let citizenURL = try #require(view.json["joinUrl"] as? String)
                #expect(citizenURL != host && citizenURL.contains("?t="))
                #expect(simulator.roomsCreated == 1)
                #expect(try await client.call(.post, "/v1/sessions/B-1/admit", key: token).code == "not_waiting")
                let ended = try await client.call(.post, "/v1/sessions/B-1/end", body: Body.json(["outcome": "resolved"]), key: token)
                #expect(ended.json["state"] as? String == "completed")
                let trail = try await gateway.store.auditTrail(for: BookingID("B-1")!)
                #expect(trail.contains { $0.event == "admitted" && $0.actor == .attendant(id: "a-17") })
            }
        }
    }

    @Test("Messages reach the waiting citizen; bad outcomes, channels and scripts are field errors")
    func messagesFallbackScript() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        let token = try await Attendant.token()
        try await gateway.test { client in
            let created = try await client.create("B-1")
            let ticket = try #require(try await client.enter(created).json["ticket"] as? String)
            let posted = try await client.call(.post, "/v1/sessions/B-1/messages", body: Body.json(["text": "Um momento, por favor."]), key: token)
            #expect(posted.status == .accepted)
            let messages = try await client.call(.get, "/v1/lobby/\(created.joinToken)", key: ticket).json["messages"] as? [[String: Any]]
            #expect(messages?.first?["text"] as? String == "Um momento, por favor.")
            #expect(try await client.call(.post, "/v1/sessions/B-1/messages", body: Body.json(["text": ""]), key: token).code == "validation_failed")
            #expect(try await client.call(.post, "/v1/sessions/B-1/end", body: Body.json(["outcome": "great"]), key: token).code == "validation_failed")
            #expect(try await client.call(.post, "/v1/sessions/B-1/end", body: Body.json(["outcome": "resolved"]), key: token).code == "not_in_progress")
            // The citizen is in the lobby: no fallback needed.
            #expect(try await client.call(.post, "/v1/sessions/B-1/fallback", body: Body.json(["channel": "phone"]), key: token).status == .conflict)
            _ = try await client.create("B-2")
            let fallback = try await client.call(.post, "/v1/sessions/B-2/fallback", body: Body.json(["channel": "phone"]), key: token)
            #expect(fallback.status == .accepted)
            #expect(try await gateway.store.jobs(for: BookingID("B-2")!).contains { $0.kind == .fallback(.phone) })
            #expect(try await client.call(.post, "/v1/sessions/B-2/fallback", body: Body.json(["channel": "fax"]), key: token).code == "validation_failed")
            let script = try await client.call(
                .post, "/v1/sessions/B-1/script", body: Body.json(["authenticationLevel": "strong", "caller": "citizen", "checks": ["greeting", "no_recording"]]), key: token)
            #expect(script.status == .ok)
            let saved = try #require(try await gateway.sessions.session(for: BookingID("B-1")!)?.script)
            #expect(saved.authenticationLevel == .strong && saved.checks == ["greeting", "no_recording"])
            let bad = try await client.call(
                .post, "/v1/sessions/B-1/script", body: Body.json(["authenticationLevel": "nif", "caller": "x", "checks": ["nif:123456789"]]), key: token)
            #expect(Set((bad.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }) == ["authenticationLevel", "caller", "checks"])
        }
    }
}

@Suite("Live events")
struct LiveEventBusTests {
    /// A session to publish about: only its booking id and service matter here.
    static func session(_ id: String) -> Session {
        Session(
            bookingID: BookingID(id)!,
            booking: Booking(
                service: "s", startsAt: Date(), endsAt: Date().addingTimeInterval(60), provider: "simulator",
                citizen: Citizen(name: "x", email: "x@example.pt")),
            access: AccessCredentials.issue(using: .random()).0, createdAt: Date())
    }

    @Test("A subscriber gets its own events; a resume replays what it missed, in order")
    func replay() async throws {
        let bus = LiveEventBus()
        let sessions = ["B-1", "B-2"].map(Self.session)
        let live = bus.subscribe(after: nil) { $0.bookingID.rawValue == "B-1" && $0.audience == .citizen }
        bus.publish("state", to: .citizen, about: sessions[0], data: ["state": .string("waiting")])
        bus.publish("state", to: .citizen, about: sessions[1], data: ["state": .string("waiting")])
        bus.publish("admitted", to: .citizen, about: sessions[0], data: ["joinUrl": .string("https://room")])
        var iterator = live.events.makeAsyncIterator()
        let first = await iterator.next()
        let second = await iterator.next()
        #expect(first?.name == "state" && second?.name == "admitted")
        let resumed = bus.subscribe(after: first?.sequence) { $0.bookingID.rawValue == "B-1" }
        #expect(resumed.replay.map(\.name) == ["admitted"])
        #expect(resumed.replay.first?.data["joinUrl"] == .string("https://room"))
        bus.finishAll()
        #expect(bus.subscriberCount == 0)
    }

    @Test("Heartbeats come from the bus to the streams that asked; a reader too far behind has its stream ended")
    func heartbeatsAndSlowReaders() async throws {
        let bus = LiveEventBus()
        let session = Self.session("B-1")
        let beating = bus.subscribe(after: nil, heartbeatEvery: .milliseconds(50)) { _ in true }
        let quiet = bus.subscribe(after: nil) { _ in true }
        var beats = beating.events.makeAsyncIterator()
        #expect(await beats.next()?.isHeartbeat == true)
        bus.publish("state", to: .citizen, about: session, data: [:])
        var events = quiet.events.makeAsyncIterator()
        #expect(await events.next()?.name == "state", "no heartbeat for a subscriber that did not ask")

        // Nobody reads `stalled`: past the buffer its stream ends (the client resumes with Last-Event-ID).
        let stalled = bus.subscribe(after: nil) { $0.name == "burst" }
        for _ in 0...LiveEventBus.subscriberBuffer {
            bus.publish("burst", to: .citizen, about: session, data: [:])
        }
        var received: [Int] = []
        for await event in stalled.events { received.append(event.sequence) }
        #expect(received.count == LiveEventBus.subscriberBuffer, "the buffered events, then the end")
        #expect(received == received.sorted() && Set(received).count == received.count)
        let resumed = bus.subscribe(after: received.last) { $0.name == "burst" }
        #expect(resumed.replay.count == 1, "the one not taken comes with the resume")
        bus.finishAll()
    }

    @Test("A booking's subscriber gets that booking's events only, and its replay too; the others get every booking's")
    func indexedByBooking() async throws {
        let bus = LiveEventBus()
        let sessions = ["B-1", "B-2"].map(Self.session)
        bus.publish("state", to: .citizen, about: sessions[1], data: [:])
        // A filter that accepts everything: only the index keeps B-2's events away.
        let one = bus.subscribe(after: 0, booking: sessions[0].bookingID) { _ in true }
        #expect(one.replay.isEmpty)
        let all = bus.subscribe(after: nil) { _ in true }
        bus.publish("state", to: .citizen, about: sessions[1], data: ["n": .string("1")])
        bus.publish("state", to: .citizen, about: sessions[0], data: ["n": .string("2")])
        var mine = one.events.makeAsyncIterator()
        #expect(await mine.next()?.bookingID == sessions[0].bookingID)
        var every = all.events.makeAsyncIterator()
        let first = await every.next()
        let second = await every.next()
        #expect([first?.bookingID.rawValue, second?.bookingID.rawValue] == ["B-2", "B-1"])
        #expect(bus.subscriberCount == 2)
        bus.finishAll()
        #expect(bus.subscriberCount == 0)
    }
}
