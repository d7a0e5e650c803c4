import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import Logging
import MeetingProviders
import SessionOrchestration
import Testing

@testable import GatewayService

@Suite("Lobby polls served from memory")
struct LobbyFromMemoryTests {
    /// A waiting citizen of `id`: the booking, the link's token and their ticket.
    private func waiting(_ id: String, _ gateway: TestGateway, _ client: some TestClientProtocol) async throws
        -> (created: Reply, ticket: String)
    {
        let created = try await client.create(id)
        try await gateway.worker.runUntilIdle()
        let ticket = try #require(try await client.enter(created).json["ticket"] as? String)
        return (created, ticket)
    }

    @Test("A poll reads no store: the session is answered from memory once read")
    func servedFromMemory() async throws {
        try await withSimulator { _, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            try await gateway.test { client in
                let (created, ticket) = try await waiting("B-1", gateway, client)
                let path = "/v1/lobby/\(created.joinToken)"
                #expect(try await client.call(.get, path, key: ticket).json["position"] as? String == "next")
                #expect(gateway.sessions.lobbySessions.count == 1)
                // Removed from the store behind the gateway's back: the poll still answers from memory…
                try await gateway.store.removeSession(BookingID("B-1")!)
                let remembered = try await client.call(.get, path, key: ticket)
                #expect(remembered.status == .ok)
                #expect(remembered.json["state"] as? String == "waiting")
                #expect(remembered.json["position"] as? String == "next", "the position too")
                // …until the copy is dropped, as a write outside the write path does.
                gateway.sessions.forgetLobbySession(BookingID("B-1")!, service: nil)
                #expect(try await client.call(.get, path, key: ticket).code == "unknown_token")
            }
        }
    }

    @Test("The next poll shows each change: a message, the admission, the end; a wrong ticket is still refused")
    func nextPollShowsAttendantChanges() async throws {
        try await withSimulator { _, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            let attendant = try await Attendant.token()
            try await gateway.test { client in
                let (created, ticket) = try await waiting("B-1", gateway, client)
                let path = "/v1/lobby/\(created.joinToken)"
                #expect(try await client.call(.get, path, key: ticket).json["state"] as? String == "waiting")

                let posted = try await client.call(
                    .post, "/v1/sessions/B-1/messages", body: Body.json(["text": "Um momento."]), key: attendant)
                #expect(posted.status == .accepted)
                let messages = try await client.call(.get, path, key: ticket).json["messages"] as? [[String: Any]]
                #expect(messages?.map { $0["text"] as? String } == ["Um momento."])

                #expect(try await client.call(.post, "/v1/sessions/B-1/admit", key: attendant).status == .ok)
                let admitted = try await client.call(.get, path, key: ticket)
                #expect(admitted.json["state"] as? String == "in_progress")
                #expect(admitted.json["joinUrl"] is String)
                #expect(admitted.json["position"] is NSNull)

                let ended = try await client.call(
                    .post, "/v1/sessions/B-1/end", body: Body.json(["outcome": "resolved"]), key: attendant)
                #expect(ended.status == .ok)
                let over = try await client.call(.get, path, key: ticket)
                #expect(over.json["state"] as? String == "completed")
                #expect(gateway.sessions.lobbySessions.count == 0, "a session over is not kept")

                #expect(try await client.call(.get, path, key: "not-a-ticket").status == .unauthorized)
                #expect(try await client.call(.get, path, key: nil).status == .unauthorized)
            }
        }
    }

    @Test("The next poll shows the citizen gone from the lobby, and the scheduler's cancellation")
    func nextPollShowsLeftAndCancelled() async throws {
        try await withSimulator { _, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            let presence = LobbyPresence(sessions: gateway.sessions, grace: .seconds(10), logger: Logger(label: "test"))
            try await gateway.test { client in
                let (created, ticket) = try await waiting("B-1", gateway, client)
                let path = "/v1/lobby/\(created.joinToken)"
                #expect(try await client.call(.get, path, key: ticket).json["state"] as? String == "waiting")

                gateway.clock.advance(by: .seconds(11))
                await presence.sweep()
                let left = try await client.call(.get, path, key: ticket)
                #expect(left.json["state"] as? String == "open")
                #expect(left.json["position"] is NSNull)

                #expect(try await client.call(.delete, "/v1/sessions/B-1").status == .noContent)
                let cancelled = try await client.call(.get, path, key: ticket)
                #expect(cancelled.json["state"] as? String == "cancelled")
            }
        }
    }

    @Test("The queue position follows other sessions of the service at the next poll")
    func positionFollowsTheService() async throws {
        try await withSimulator { _, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            let attendant = try await Attendant.token()
            try await gateway.test { client in
                let first = try await waiting("B-1", gateway, client)
                gateway.clock.advance(by: .seconds(5))
                let second = try await waiting("B-2", gateway, client)
                func position() async throws -> Any? {
                    try await client.call(.get, "/v1/lobby/\(second.created.joinToken)", key: second.ticket).json["position"]
                }
                #expect(try await position() is NSNull, "B-1 entered first")
                #expect(try await position() is NSNull, "again, from memory")
                #expect(try await client.call(.post, "/v1/sessions/B-1/admit", key: attendant).status == .ok)
                #expect(try await position() as? String == "attendant_busy")
                let ended = try await client.call(
                    .post, "/v1/sessions/B-1/end", body: Body.json(["outcome": "resolved"]), key: attendant)
                #expect(ended.status == .ok)
                #expect(try await position() as? String == "next")
                _ = first
            }
        }
    }
}

@Suite("Lobby session cache")
struct LobbySessionCacheTests {
    static let now = Date(timeIntervalSince1970: 1_900_000_000)

    private func session(_ id: String, state: SessionState = .waiting, endsIn: TimeInterval = 3600) -> Session {
        let booking = Booking(
            service: "prestacoes-familiares", startsAt: Self.now, endsAt: Self.now + endsIn, provider: "simulator",
            attendantID: "a-17", citizen: Citizen(name: "Maria Sousa", email: "maria@example.pt"))
        var session = Session(
            bookingID: BookingID(id)!, booking: booking, access: AccessCredentials.issue(using: .random()).0,
            createdAt: Self.now)
        session.state = state
        session.lobby.enteredAt = Self.now
        return session
    }

    @Test("Bounded: keeping one more than the capacity drops the one kept longest ago")
    func bounded() {
        let cache = LobbySessionCache(capacity: 2)
        let sessions = ["B-1", "B-2", "B-3"].map { session($0) }
        for session in sessions {
            cache.keep(StoredSession(session: session, version: 1), readSince: cache.readMark(), now: Self.now)
        }
        #expect(cache.count == 2)
        #expect(cache.session(joinToken: sessions[0].access.joinToken, now: Self.now) == nil)
        #expect(cache.session(joinToken: sessions[1].access.joinToken, now: Self.now)?.session == sessions[1])
        #expect(cache.session(joinToken: sessions[2].access.joinToken, now: Self.now)?.session == sessions[2])
        #expect(cache.session(joinToken: "someone-else-s-token", now: Self.now) == nil)
    }

    @Test("Terminal sessions and sessions past their end are not kept; a stored change that ends one drops it")
    func windowOnly() {
        let cache = LobbySessionCache()
        let over = session("B-1", state: .cancelled)
        cache.keep(StoredSession(session: over, version: 1), readSince: cache.readMark(), now: Self.now)
        let ended = session("B-2", endsIn: 60)
        cache.keep(StoredSession(session: ended, version: 1), readSince: cache.readMark(), now: Self.now + 61)
        #expect(cache.count == 0)

        let waiting = session("B-3", endsIn: 60)
        cache.keep(StoredSession(session: waiting, version: 1), readSince: cache.readMark(), now: Self.now)
        #expect(cache.session(joinToken: waiting.access.joinToken, now: Self.now)?.version == 1)
        #expect(cache.session(joinToken: waiting.access.joinToken, now: Self.now + 60) == nil, "past its end")
        #expect(cache.count == 0)

        cache.keep(StoredSession(session: waiting, version: 1), readSince: cache.readMark(), now: Self.now)
        var completed = waiting
        completed.state = .completed
        cache.stored(StoredSession(session: completed, version: 2), previous: waiting, now: Self.now)
        #expect(cache.count == 0)
    }

    @Test("A stored change replaces the copy; a read that started before it is not kept")
    func storedChange() {
        let cache = LobbySessionCache()
        let before = session("B-1")
        let mark = cache.readMark()
        cache.keep(StoredSession(session: before, version: 1), readSince: mark, now: Self.now)
        var after = before
        after.state = .inProgress
        cache.stored(StoredSession(session: after, version: 2), previous: before, now: Self.now)
        #expect(cache.session(joinToken: before.access.joinToken, now: Self.now)?.session.state == .inProgress)
        // A slow read of version 1 (started before the change) comes back late: ignored.
        cache.keep(StoredSession(session: before, version: 1), readSince: mark, now: Self.now)
        #expect(cache.session(joinToken: before.access.joinToken, now: Self.now)?.version == 2)

        // Not kept at the time of the change: the slow read is not kept either.
        let other = session("B-2")
        let slow = cache.readMark()
        cache.stored(StoredSession(session: other, version: 5), previous: other, now: Self.now)
        cache.keep(StoredSession(session: other, version: 4), readSince: slow, now: Self.now)
        #expect(cache.session(joinToken: other.access.joinToken, now: Self.now) == nil)
    }

    @Test("A session.changed event of a newer version drops the copy; of the same version keeps it")
    func invalidationEvents() async throws {
        let bus = LiveEventBus()
        let service = SessionService(
            store: InMemoryStore(), clock: ManualClock(Self.now), machine: SessionStateMachine(),
            providers: ProviderRegistry([:]), liveEvents: bus)
        let cache = service.lobbySessions
        let kept = session("B-1")
        cache.keep(StoredSession(session: kept, version: 3), readSince: cache.readMark(), now: Self.now)
        func changed(_ version: String?) {
            bus.publishInternal(
                LobbySessionCache.changeEventName,
                data: ["bookingId": .string("B-1"), "version": LiveValue(version), "service": .string("prestacoes-familiares")])
        }
        changed("3")
        #expect(cache.count == 1, "this replica's own announcement, relayed back")
        changed("4")
        #expect(cache.count == 0)
        cache.keep(StoredSession(session: kept, version: 4), readSince: cache.readMark(), now: Self.now)
        changed(nil)
        #expect(cache.count == 0, "no version: dropped whatever it is")

        cache.keep(StoredSession(session: kept, version: 4), readSince: cache.readMark(), now: Self.now)
        bus.announceMissedEvents()
        #expect(cache.count == 0, "the replica link reconnected")
    }

    @Test("Replicas: a change stored on one is on the other's next poll once the notification arrives")
    func replicas() async throws {
        try await withSimulator { _, url in
            // One database and one sealing key, as replicas share.
            let store = InMemoryStore()
            let sealer = PayloadSealer()
            let replicas = [
                await TestGateway(store: store, simulatorURL: url, sealer: sealer),
                await TestGateway(store: store, simulatorURL: url, sealer: sealer),
            ]
            // The relay between replicas, held until `flush()` (a notification on its way).
            let relay = HeldRelay()
            let buses = replicas.map(\.sessions.liveEvents)
            relay.deliver = { event in for bus in buses { bus.deliver(event) } }
            for bus in buses { bus.relay { relay.hold($0) } }

            let (token, ticket) = try await replicas[0].test { client in
                let created = try await client.create("B-1")
                try await replicas[0].worker.runUntilIdle()
                let ticket = try #require(try await client.enter(created).json["ticket"] as? String)
                return (created.joinToken, ticket)
            }
            relay.flush()
            func state(on replica: TestGateway) async throws -> String? {
                try await replica.test { client in
                    try await client.call(.get, "/v1/lobby/\(token)", key: ticket).json["state"] as? String
                }
            }
            #expect(try await state(on: replicas[1]) == "waiting")
            #expect(replicas[1].sessions.lobbySessions.count == 1)
            #expect(try await state(on: replicas[0]) == "waiting")

            _ = try await replicas[0].sessions.cancel(BookingID("B-1")!, by: .scheduler)
            #expect(try await state(on: replicas[0]) == "cancelled", "where it was stored: at once")
            #expect(try await state(on: replicas[1]) == "waiting", "the notification is on its way")
            relay.flush()
            #expect(try await state(on: replicas[1]) == "cancelled")
            #expect(replicas[1].sessions.lobbySessions.count == 0)
        }
    }
}

/// Holds relayed events until `flush()`, then numbers and delivers them (as PostgreSQL's notifications would).
private final class HeldRelay: @unchecked Sendable {
    private let lock = NSLock()
    private var held: [LiveEvent] = []
    private var sequence = 0
    var deliver: @Sendable (LiveEvent) -> Void = { _ in }

    func hold(_ event: LiveEvent) {
        lock.withLock { held.append(event) }
    }

    func flush() {
        let events = lock.withLock { () -> [LiveEvent] in
            defer { held = [] }
            return held.map { event in
                sequence += 1
                return event.numbered(sequence)
            }
        }
        for event in events { deliver(event) }
    }
}
