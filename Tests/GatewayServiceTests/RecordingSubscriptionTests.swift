import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import MeetingProviders
import SessionOrchestration
import Synchronization
import Testing

@testable import GatewayService

/// Rooms from the simulator, and recording subscriptions kept in memory: the orchestration around a
/// provider that reports recordings only to subscribers (the Teams adapter's own calls are checked
/// against Graph's pact in ProviderContractTests).
private final class SubscribingProvider: MeetingProvider, RecordingSubscriptions {
    let rooms: DailyProvider
    let calls = Mutex<[String]>([])
    let maximumSubscriptionLifetime: Duration = .seconds(3 * 86_400)
    let canSubscribe = true
    let clock: any GatewayClock

    init(rooms: DailyProvider, clock: any GatewayClock) {
        self.rooms = rooms
        self.clock = clock
    }

    func createOrGetRoom(for spec: RoomSpec, knownRoomID: String?, roomCreated: RoomCreated) async throws -> ProvisionedRoom {
        try await rooms.createOrGetRoom(for: spec, knownRoomID: knownRoomID, roomCreated: roomCreated)
    }
    func updateRoom(_ providerRoomID: String, for spec: RoomSpec) async throws -> ProvisionedRoom {
        try await rooms.updateRoom(providerRoomID, for: spec)
    }
    func deleteRoom(for spec: RoomSpec, providerRoomID: String?) async throws {
        try await rooms.deleteRoom(for: spec, providerRoomID: providerRoomID)
    }
    func citizenEntry(for spec: RoomSpec, providerRoomID: String) async throws -> RoomEntry {
        try await rooms.citizenEntry(for: spec, providerRoomID: providerRoomID)
    }
    func hostEntry(for spec: RoomSpec, providerRoomID: String, attendantID: String) async throws -> RoomEntry {
        try await rooms.hostEntry(for: spec, providerRoomID: providerRoomID, attendantID: attendantID)
    }
    func stopRecording(in providerRoomID: String) async throws -> Bool { false }
    func recordingState(of providerRoomID: String) async throws -> RecordingReadback { .off }

    func createRecordingSubscription(for providerRoomID: String) async throws -> RecordingSubscription {
        calls.withLock { $0.append("create \(providerRoomID)") }
        return RecordingSubscription(id: "sub-1", expiresAt: clock.now + maximumSubscriptionLifetime)
    }
    func renewSubscription(_ id: String, until: Date) async throws -> RecordingSubscription {
        calls.withLock { $0.append("renew \(id)") }
        return RecordingSubscription(id: id, expiresAt: until)
    }
    func deleteSubscription(_ id: String) async throws {
        calls.withLock { $0.append("delete \(id)") }
    }
}

@Suite("Recording subscriptions")
struct RecordingSubscriptionTests {
    @Test("A ready room is subscribed to, renewed an hour before it lapses for as long as it lives, and let go with it")
    func lifecycle() async throws {
        try await withSimulator { simulator, url in
            let holder = Mutex<SubscribingProvider?>(nil)
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url) { clock in
                let provider = SubscribingProvider(
                    rooms: DailyProvider(
                        configuration: .init(baseURL: url, apiKey: "simulator-test-key"), transport: NIOHTTPTransport(),
                        clock: clock),
                    clock: clock)
                holder.withLock { $0 = provider }
                return ["msteams": provider]
            }
            let provider = try #require(holder.withLock { $0 })
            try await gateway.test { client in
                let created = try await client.call(
                    .put, "/v1/sessions/B-1", body: Body.json(Body.booking(startOffset: 7 * 86_400, provider: "msteams")))
                #expect(created.status == .created)
                // A session on the simulator is not watched: it reports recordings by webhook to everyone.
                #expect(try await client.create("B-2").status == .created)
            }
            try await gateway.worker.runUntilIdle()
            let room = try #require(try await gateway.store.session(for: BookingID("B-1")!)?.session.room)
            #expect(provider.calls.withLock { $0 } == ["create \(room.providerRoomID ?? "")"])
            #expect(room.recordingSubscriptionID == "sub-1")
            let lapses = try #require(room.recordingSubscriptionExpiresAt)
            let watch = try await gateway.store.jobs(for: BookingID("B-1")!).filter { $0.kind == .watchRecordings }
            #expect(watch.map(\.state) == [.pending] && watch.first?.dueAt == lapses - .seconds(3600))
            #expect(try await gateway.store.jobs(for: BookingID("B-2")!).allSatisfy { $0.kind != .watchRecordings })

            // Just before it lapses: renewed, and armed again.
            gateway.clock.advance(by: .seconds(3 * 86_400 - 3600))
            try await gateway.worker.runUntilIdle()
            #expect(provider.calls.withLock { $0 }.last == "renew sub-1")
            let renewed = try #require(try await gateway.store.session(for: BookingID("B-1")!)?.session.room)
            #expect(try #require(renewed.recordingSubscriptionExpiresAt) > lapses)

            // Cancelled: the subscription goes with the room.
            let cancelled = try await gateway.test { client in try await client.call(.delete, "/v1/sessions/B-1").status }
            #expect(cancelled == .noContent)
            try await gateway.worker.runUntilIdle()
            #expect(provider.calls.withLock { $0 }.contains("delete sub-1"))
            #expect(!simulator.roomNames.contains(room.providerRoomID ?? ""))
        }
    }
}
