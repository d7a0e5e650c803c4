import Foundation
import GatewayCore
import MeetingProviders
import Testing

@testable import GatewayService

/// The Zoom and BigBlueButton inventories over libcurl against the real `pact stub` serving their
/// provider's pact: the list the reconciler reads, and the delete of an orphan.
@Suite("Room inventories against pact stub", .enabled(if: PactStub.cli != nil, "the pact CLI is not installed"))
struct RoomInventoryStubTests {
    @Test("Zoom lists the host's meetings whose topic carries the mark, over every page, and ends and deletes an orphan")
    func zoom() async throws {
        try await PactStub.serving("video-gateway-zoom.json") { stub in
            let transport = ProviderStateTransport()
            let inventory = try #require(
                ProviderFixtures.adapter("zoom", base: stub.base, transport: transport, clock: ManualClock(ProviderFixtures.now))
                    as? ZoomProvider)
            transport.states { request in
                if request.url.path == "/oauth/token" { return "the Zoom Server-to-Server OAuth app is active" }
                return request.method == "GET"
                    ? "the Zoom host has the gateway's meetings of bookings B-1 and B-9 and a meeting of its own"
                    : "Zoom meeting 85746065432 is recorded for booking B-1"
            }
            let listed = try await inventory.listGatewayRooms()
            #expect(listed.map(\.id) == [ProviderFixtures.zoomMeetingID, "86001122334"], "\(transport.log)")
            #expect(listed.last?.createdAt == RFC3339.date(from: "2026-11-28T08:00:00Z"))
            try await inventory.deleteListedRoom("86001122334")
            #expect(
                transport.log.suffix(2) == ["PUT /v2/meetings/86001122334/status 204", "DELETE /v2/meetings/86001122334 204"],
                "\(transport.log)")
        }
    }

    @Test("BigBlueButton lists the meetings whose metadata names the gateway as origin, and ends an orphan")
    func bigBlueButton() async throws {
        try await PactStub.serving("video-gateway-bigbluebutton.json") { stub in
            let transport = ProviderStateTransport()
            let inventory = try #require(
                ProviderFixtures.adapter(
                    "bigbluebutton", base: stub.base, transport: transport, clock: ManualClock(ProviderFixtures.now))
                    as? BigBlueButtonProvider)
            transport.states { request in
                request.url.path.hasSuffix("/getMeetings")
                    ? "BigBlueButton has the gateway's meetings B-1 and B-9 and a meeting of another application"
                    : "BigBlueButton meeting B-1 is running"
            }
            #expect(!inventory.listsRoomsNotStarted, "BigBlueButton lists running meetings only")
            let listed = try await inventory.listGatewayRooms()
            #expect(listed.map(\.id) == ["B-1", "B-9"], "\(transport.log)")
            #expect(listed.first?.createdAt == Date(timeIntervalSince1970: 1_796_117_400.123))
            try await inventory.deleteListedRoom("B-1")
            #expect(transport.log.last == "GET /bigbluebutton/api/end 200", "\(transport.log)")
        }
    }
}
