import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import Logging
import MeetingProviders
import SessionOrchestration
import Synchronization
import Testing

@testable import GatewayService

@Suite("Room reconciliation")
struct RoomReconcilerTests {
    /// A call to the simulator's Daily API behind the gateway's back.
    private func behindTheBack(_ method: String, _ url: URL, body: String? = nil) async throws -> Int {
        var headers = ["Authorization": "Bearer simulator-test-key"]
        if body != nil { headers["Content-Type"] = "application/json" }
        let request = MeetingProviders.HTTPRequest(method: method, url: url, headers: headers, body: body.map { Data($0.utf8) })
        return try await NIOHTTPTransport().send(request).status
    }

    @Test("Orphan rooms are deleted (old enough, or their session over); a live session's lost room is made again; all audited")
    func reconcile() async throws {
        try await withSimulator { simulator, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            try await gateway.test { client in
                #expect(try await client.create("B-1").status == .created)
                #expect(try await client.create("B-2").status == .created)
                try await gateway.worker.runUntilIdle()
                // B-2 is cancelled; its room's delete job has not run yet.
                #expect(try await client.call(.delete, "/v1/sessions/B-2").status == .noContent)
            }
            let liveRoom = try #require(try await gateway.store.session(for: BookingID("B-1")!)?.session.room.providerRoomID)
            let closedRoom = try #require(try await gateway.store.session(for: BookingID("B-2")!)?.session.room.providerRoomID)
            let orphan = "vg-" + String(repeating: "0", count: 24)
            #expect(try await behindTheBack("POST", url.appendingPathComponent("rooms"), body: #"{"name":"\#(orphan)"}"#) == 200)
            #expect(try await behindTheBack("DELETE", url.appendingPathComponent("rooms/\(liveRoom)")) == 200)
            #expect(!simulator.roomNames.contains(liveRoom))

            let inventory = DailyProvider(
                configuration: .init(baseURL: url, apiKey: "simulator-test-key"), transport: NIOHTTPTransport(),
                clock: gateway.clock)
            func reconciler(orphanAge: Duration) -> RoomReconciler {
                RoomReconciler(
                    sessions: gateway.sessions, inventories: ["simulator": inventory], interval: .seconds(300),
                    minimumOrphanAge: orphanAge, logger: Logger(label: "test"))
            }
            // A cautious round: the sessionless room is younger than the minimum age and stays.
            let first = try await reconciler(orphanAge: .seconds(100 * 365 * 86400)).reconcile(provider: "simulator")
            #expect(first.orphansDeleted == [closedRoom])
            #expect(first.missingRecreated == [BookingID("B-1")!])
            #expect(simulator.roomNames.contains(orphan))
            try await gateway.worker.runUntilIdle()
            #expect(simulator.roomNames.contains(liveRoom), "the live session's room is made again")
            #expect(try await gateway.store.session(for: BookingID("B-1")!)?.session.room.status == .ready)

            // An ordinary round: the sessionless room is old enough now and goes; nothing else changes.
            let second = try await reconciler(orphanAge: .seconds(60)).reconcile(provider: "simulator")
            #expect(second == RoomReconciler.Report(orphansDeleted: [orphan], missingRecreated: []))
            #expect(simulator.roomNames == [liveRoom])

            let live = try await gateway.store.auditTrail(for: BookingID("B-1")!).map(\.event)
            #expect(live.contains("room_missing"))
            let closed = try await gateway.store.auditTrail(for: BookingID("B-2")!).map(\.event)
            #expect(closed.contains("orphan_room_deleted"))
        }
    }

    @Test("A room whose delete gave up is deleted by the next round, and its session's room reads deleted")
    func roomWhoseDeleteGaveUp() async throws {
        try await withSimulator { simulator, url in
            let store = InMemoryStore()
            let gateway = await TestGateway(store: store, simulatorURL: url)
            try await gateway.test { client in
                #expect(try await client.create("B-1").status == .created)
                try await gateway.worker.runUntilIdle()
            }
            let bookingID = BookingID("B-1")!
            let roomID = try #require(try await store.session(for: bookingID)?.session.room.providerRoomID)
            // The same gateway while its provider is unreachable: the cancellation's delete gives up.
            let closedPort = try FreePort.loopback()
            let unreachable = URL(string: "http://127.0.0.1:\(closedPort)/v1")!
            let cut = await TestGateway(store: store, simulatorURL: unreachable)
            let cancelled = try await cut.test { client in try await client.call(.delete, "/v1/sessions/B-1").status }
            #expect(cancelled == .noContent)
            for _ in 0..<3 {
                try await cut.worker.runUntilIdle()
                cut.clock.advance(by: .seconds(120))
            }
            #expect(try await store.jobs(for: bookingID).first { $0.kind == .deleteRoom }?.state == .dead)
            #expect(try await store.session(for: bookingID)?.session.room.status == .deleteFailed)
            #expect(simulator.roomNames.contains(roomID))

            let inventory = DailyProvider(
                configuration: .init(baseURL: url, apiKey: "simulator-test-key"), transport: NIOHTTPTransport(), clock: gateway.clock)
            let reconciler = RoomReconciler(
                sessions: gateway.sessions, inventories: ["simulator": inventory], interval: .seconds(300),
                minimumOrphanAge: .seconds(900), logger: Logger(label: "test"))
            let report = try await reconciler.reconcile(provider: "simulator")
            #expect(report.orphansDeleted == [roomID])
            #expect(!simulator.roomNames.contains(roomID))
            let room = try #require(try await store.session(for: bookingID)?.session.room)
            #expect(room.status == .deleted)
            #expect(room.errorCode == nil)
            let trail = try await store.auditTrail(for: bookingID).map(\.event)
            #expect(trail.suffix(3) == ["room_delete_failed", "orphan_room_deleted", "room_deleted"])
        }
    }

    @Test(
        "A live session's room absent from the list is made again only where the list shows rooms not yet started (not BigBlueButton's); orphans go either way",
        arguments: [true, false])
    func absenceCountsOnlyWhereNotStartedRoomsAreListed(listsRoomsNotStarted: Bool) async throws {
        try await withSimulator { _, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            try await gateway.test { client in
                #expect(try await client.create("B-1").status == .created)
                try await gateway.worker.runUntilIdle()
            }
            let bookingID = BookingID("B-1")!
            #expect(try await gateway.store.session(for: bookingID)?.session.room.status == .ready)
            let inventory = OneOrphanInventory(listsRoomsNotStarted: listsRoomsNotStarted)
            let reconciler = RoomReconciler(
                sessions: gateway.sessions, inventories: ["simulator": inventory], interval: .seconds(300),
                minimumOrphanAge: .seconds(60), logger: Logger(label: "test"))

            let report = try await reconciler.reconcile(provider: "simulator")
            #expect(report.orphansDeleted == [OneOrphanInventory.orphan])
            #expect(inventory.deleted == [OneOrphanInventory.orphan])
            let trail = try await gateway.store.auditTrail(for: bookingID).map(\.event)
            let room = try await gateway.store.session(for: bookingID)?.session.room
            if listsRoomsNotStarted {
                #expect(report.missingRecreated == [bookingID])
                #expect(trail.contains("room_missing"))
            } else {
                #expect(report.missingRecreated.isEmpty)
                #expect(!trail.contains("room_missing"))
                #expect(room?.status == .ready, "the room is left alone")
            }
        }
    }

    @Test("A provider that cannot be listed several rounds in a row is reported unhealthy, and healthy again after")
    func unhealthy() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: nil)
        let nowhere = URL(string: "http://127.0.0.1:\(try FreePort.loopback())/v1")!
        let inventory = DailyProvider(
            configuration: .init(baseURL: nowhere, apiKey: "k", timeout: .seconds(2)), transport: NIOHTTPTransport(),
            clock: gateway.clock)
        let reconciler = RoomReconciler(
            sessions: gateway.sessions, inventories: ["daily": inventory], interval: .seconds(300),
            minimumOrphanAge: .seconds(60), unhealthyAfter: 2, logger: Logger(label: "test"))
        await #expect(throws: (any Error).self) { try await reconciler.reconcile(provider: "daily") }
        #expect(reconciler.unhealthyProviders.isEmpty)
        await #expect(throws: (any Error).self) { try await reconciler.reconcile(provider: "daily") }
        #expect(reconciler.unhealthyProviders == ["daily"])
    }
}

/// Lists one old sessionless room (never the live session's) and keeps the ids it is asked to delete.
private final class OneOrphanInventory: RoomInventory {
    static let orphan = "orphan-room-1"

    let listsRoomsNotStarted: Bool
    private let deletions = Mutex<[String]>([])

    init(listsRoomsNotStarted: Bool) {
        self.listsRoomsNotStarted = listsRoomsNotStarted
    }

    var deleted: [String] { deletions.withLock { $0 } }

    func listGatewayRooms() async throws -> [ListedRoom] {
        [ListedRoom(id: Self.orphan, createdAt: Date(timeIntervalSince1970: 0))]
    }

    func deleteListedRoom(_ id: String) async throws {
        deletions.withLock { $0.append(id) }
    }
}
