import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import Logging
import SessionOrchestration
import Testing

@testable import GatewayService

@Suite("Lobby presence and queue position")
struct PresenceAndQueueTests {
    /// A gateway whose provider is the simulator (a booking needs a provider it knows).
    private func withGateway(_ body: (TestGateway) async throws -> Void) async throws {
        try await withSimulator { _, url in try await body(await TestGateway(store: InMemoryStore(), simulatorURL: url)) }
    }

    private func entered(_ gateway: TestGateway, _ id: String, startOffset: Int = 600) async throws -> BookingID {
        try await gateway.test { client in
            let created = try await client.create(id, startOffset: startOffset)
            #expect(try await client.enter(created).status == .ok)
        }
        return BookingID(id)!
    }

    @Test("A waiting citizen with no stream and no poll for the grace has left; an open stream keeps them present")
    func leavesAfterGrace() async throws {
        try await withGateway { gateway in
            let presence = LobbyPresence(sessions: gateway.sessions, grace: .seconds(10), logger: Logger(label: "test"))
            let streaming = try await entered(gateway, "B-1")
            let gone = try await entered(gateway, "B-2")
            presence.polled(gone, participant: "citizen")
            presence.streamOpened(streaming, participant: "citizen")

            gateway.clock.advance(by: .seconds(5))
            await presence.sweep()
            #expect(try await gateway.store.session(for: gone)?.session.state == .waiting, "within the grace")

            gateway.clock.advance(by: .seconds(6))
            await presence.sweep()
            #expect(try await gateway.store.session(for: gone)?.session.state == .open)
            #expect(try await gateway.store.session(for: streaming)?.session.state == .waiting, "their stream is open")
            let trail = try await gateway.store.auditTrail(for: gone)
            #expect(trail.last?.event == "citizen_left" && trail.last?.actor == .system)

            presence.streamClosed(streaming, participant: "citizen")
            gateway.clock.advance(by: .seconds(9))
            await presence.sweep()
            #expect(try await gateway.store.session(for: streaming)?.session.state == .waiting)
            gateway.clock.advance(by: .seconds(2))
            await presence.sweep()
            #expect(try await gateway.store.session(for: streaming)?.session.state == .open)
        }
    }

    @Test("A citizen never seen since the start is not taken for gone within the first grace")
    func graceAfterStart() async throws {
        try await withGateway { gateway in
            let booking = try await entered(gateway, "B-1")
            let presence = LobbyPresence(sessions: gateway.sessions, grace: .seconds(10), logger: Logger(label: "test"))
            gateway.clock.advance(by: .seconds(9))
            await presence.sweep()
            #expect(try await gateway.store.session(for: booking)?.session.state == .waiting)
            gateway.clock.advance(by: .seconds(2))
            await presence.sweep()
            #expect(try await gateway.store.session(for: booking)?.session.state == .open)
        }
    }

    @Test("A waiting companion not present for the grace has left: audited once, not admitted until back")
    func companionLeaves() async throws {
        try await withGateway { gateway in
            let presence = LobbyPresence(sessions: gateway.sessions, grace: .seconds(10), logger: Logger(label: "test"))
            let token = try await Attendant.token()
            try await gateway.test { client in
                let created = try await client.create("B-1", extra: ["companions": [CompanionTests.interpreter]])
                let companion = try #require((created.json["companions"] as? [[String: Any]])?.first)
                let link = String((companion["joinUrl"] as? String ?? "").split(separator: "/").last ?? "")
                let entered = try await client.call(
                    .post, "/v1/lobby/\(link)/enter", body: Body.json(["code": companion["validationCode"] as? String ?? ""]), key: nil)
                #expect(entered.status == .ok)
            }
            let booking = BookingID("B-1")!
            presence.polled(booking, participant: "companion-1")
            gateway.clock.advance(by: .seconds(9))
            await presence.sweep()
            #expect(try await gateway.store.session(for: booking)?.session.companions[0].leftAt == nil, "within the grace")

            let stateBefore = try await gateway.store.session(for: booking)?.session.state
            let events = gateway.sessions.liveEvents.subscribe(after: nil) { $0.name == "companion.left" }
            gateway.clock.advance(by: .seconds(2))
            await presence.sweep()
            await presence.sweep()  // reported once
            let left = try #require(try await gateway.store.session(for: booking)?.session)
            #expect(left.companions[0].leftAt == gateway.clock.now)
            #expect(left.state == stateBefore, "the citizen's place is their own")
            let trail = try await gateway.store.auditTrail(for: booking)
            #expect(trail.filter { $0.event == "companion-1_left" }.count == 1)
            var iterator = events.events.makeAsyncIterator()
            let event = try #require(await iterator.next())
            #expect(event.data["participant"] == .string("companion-1"))

            try await gateway.test { client in
                let refused = try await client.call(
                    .post, "/v1/sessions/B-1/admit", body: Body.json(["participants": ["companion-1"]]), key: token)
                #expect(refused.code == "not_waiting")
                let agenda = try await client.call(
                    .get, "/v1/attendant/agenda?date=\(String(Body.RFC3339String(gateway.clock.now).prefix(10)))", key: token)
                let listed = ((agenda.json["items"] as? [[String: Any]])?.first?["companions"] as? [[String: Any]]) ?? []
                #expect((listed.first?["lobby"] as? [String: Any])?["leftAt"] is String)
            }

            // Back (their page polls again): waiting again and admissible.
            _ = try await gateway.sessions.handle(.companionEntered("companion-1"), for: booking, by: .citizen)
            let back = try #require(try await gateway.store.session(for: booking)?.session)
            #expect(back.companions[0].isWaiting)
        }
    }

    @Test("Leaving after the late check makes the session late with its fallback, once")
    func leftAfterLateCheck() async throws {
        try await withGateway { gateway in
            let presence = LobbyPresence(sessions: gateway.sessions, grace: .seconds(10), logger: Logger(label: "test"))
            let booking = try await entered(gateway, "B-1", startOffset: 60)
            gateway.clock.advance(by: .seconds(60 + 300 + 5))  // past start + LATE_GRACE_SECONDS
            try await gateway.worker.runUntilIdle()
            #expect(try await gateway.store.session(for: booking)?.session.state == .waiting)
            await presence.sweep()
            let left = try #require(try await gateway.store.session(for: booking)?.session)
            #expect(left.state == .late)
            #expect(left.fallbacks.map(\.channel).sorted { $0.rawValue < $1.rawValue } == [.email, .phone])
            let jobs = try await gateway.store.jobs(for: booking).map(\.kind.description)
            #expect(jobs.filter { $0.hasPrefix("fallback.") }.count == 2)
        }
    }

    @Test("Queue position: next in line, someone ahead (null), attendant busy in another call")
    func queuePosition() async throws {
        try await withSimulator { _, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            let attendant = try await Attendant.token()
            try await gateway.test { client in
                let first = try await client.create("B-1")
                let second = try await client.create("B-2")
                try await gateway.worker.runUntilIdle()
                let firstTicket = try #require(try await client.enter(first).json["ticket"] as? String)
                gateway.clock.advance(by: .seconds(5))
                let secondTicket = try #require(try await client.enter(second).json["ticket"] as? String)
                func position(_ reply: Reply, _ ticket: String) async throws -> Any? {
                    try await client.call(.get, "/v1/lobby/\(reply.joinToken)", key: ticket).json["position"]
                }
                #expect(try await position(first, firstTicket) as? String == "next")
                #expect(try await position(second, secondTicket) is NSNull)
                #expect(try await client.call(.post, "/v1/sessions/B-1/admit", key: attendant).status == .ok)
                #expect(try await position(second, secondTicket) as? String == "attendant_busy")
                #expect(try await position(first, firstTicket) is NSNull, "not waiting any more")
                let ended = try await client.call(
                    .post, "/v1/sessions/B-1/end", body: Body.json(["outcome": "resolved"]), key: attendant)
                #expect(ended.status == .ok)
                #expect(try await position(second, secondTicket) as? String == "next")
            }
        }
    }
}

@Suite("Rejoining the call")
struct RejoinTests {
    @Test("An admitted citizen gets a fresh entry while the call is on; the host a fresh host link; both audited")
    func rejoin() async throws {
        try await withSimulator { _, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            let attendant = try await Attendant.token()
            let stranger = try await Attendant.token(id: "a-99")
            try await gateway.test { client in
                let created = try await client.create("B-1")
                try await gateway.worker.runUntilIdle()
                let ticket = try #require(try await client.enter(created).json["ticket"] as? String)
                let path = "/v1/lobby/\(created.joinToken)/rejoin"
                #expect(try await client.call(.post, path, key: ticket).code == "not_in_progress")
                #expect(try await client.call(.post, path, key: nil).status == .unauthorized)
                #expect(try await client.call(.post, "/v1/sessions/B-1/host-link", key: attendant).code == "not_in_progress")

                #expect(try await client.call(.post, "/v1/sessions/B-1/admit", key: attendant).status == .ok)
                let first = try #require(
                    try await client.call(.get, "/v1/lobby/\(created.joinToken)", key: ticket).json["joinUrl"] as? String)
                gateway.clock.advance(by: .seconds(20 * 60))  // the first entry has expired
                let again = try await client.call(.post, path, key: ticket)
                #expect(again.status == .ok)
                let fresh = try #require(again.json["joinUrl"] as? String)
                #expect(fresh != first && fresh.contains("?t="))
                let view = try await client.call(.get, "/v1/lobby/\(created.joinToken)", key: ticket)
                #expect(view.json["joinUrl"] as? String == fresh)

                #expect(try await client.call(.post, "/v1/sessions/B-1/host-link", key: stranger).status == .forbidden)
                let host = try await client.call(.post, "/v1/sessions/B-1/host-link", key: attendant)
                #expect(host.status == .ok)
                #expect((host.json["hostJoinUrl"] as? String)?.contains("?t=") == true)
                let events = try await gateway.store.auditTrail(for: BookingID("B-1")!).map(\.event)
                #expect(events.contains("citizen_rejoined") && events.contains("host_link_issued"))

                _ = try await client.call(.post, "/v1/sessions/B-1/end", body: Body.json(["outcome": "resolved"]), key: attendant)
                #expect(try await client.call(.post, path, key: ticket).status == .conflict)
            }
        }
    }
}
