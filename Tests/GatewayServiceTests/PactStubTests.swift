import Foundation
import GatewayCore
import Hummingbird
import HummingbirdTesting
import MeetingProviders
import Testing

@testable import GatewayService

/// Every adapter end to end over libcurl against the real `pact stub` serving its provider's pact: the
/// whole life of a room with recording verified off, and a provider answer with recording on that
/// makes the session fail closed.
@Suite("Provider adapters against pact stub", .enabled(if: PactStub.cli != nil, "the pact CLI is not installed"))
struct PactStubTests {
    @Test("create → create again (same room) → update → admit → delete, recording off", arguments: StubProfile.all)
    func roomLifecycle(_ profile: StubProfile) async throws {
        try await PactStub.serving(profile.file) { stub in try await Self.lifecycle(profile, stub) }
    }

    static func lifecycle(_ profile: StubProfile, _ stub: PactStub) async throws {
        let transport = ProviderStateTransport()
        let adapter = ProviderFixtures.adapter(
            profile.provider, base: stub.base, transport: transport, clock: ManualClock(ProviderFixtures.now))
        let spec = ProviderFixtures.spec
        let created = CreatedRooms()

        transport.states(profile.states(.fresh))
        let room = try await adapter.createOrGetRoom(for: spec, knownRoomID: nil, roomCreated: created.record)
        #expect(room.providerRoomID == profile.roomID && room.recording == .off, "\(transport.log)")
        #expect(created.ids == [profile.roomID])

        transport.states(profile.states(.existing))
        let again = try await adapter.createOrGetRoom(for: spec, knownRoomID: room.providerRoomID, roomCreated: created.record)
        #expect(again.providerRoomID == room.providerRoomID && again.recording == .off, "\(transport.log)")
        #expect(Set(created.ids) == [profile.roomID])

        let moved = try await adapter.updateRoom(room.providerRoomID, for: spec)
        #expect(moved.providerRoomID == room.providerRoomID && moved.recording == .off)

        let citizen = try await adapter.citizenEntry(for: spec, providerRoomID: room.providerRoomID)
        let host = try await adapter.hostEntry(for: spec, providerRoomID: room.providerRoomID, attendantID: "a-17")
        #expect(URL(string: citizen.joinURL)?.scheme?.hasPrefix("http") == true)
        #expect(URL(string: host.joinURL)?.scheme?.hasPrefix("http") == true)
        #expect(try await adapter.recordingState(of: room.providerRoomID) == .off)

        try await adapter.deleteRoom(for: spec, providerRoomID: room.providerRoomID)
        #expect(transport.log.last?.hasPrefix(profile.deleteCall) == true, "\(transport.log)")
        #expect(transport.log.allSatisfy { !$0.hasSuffix(" 500") }, "the stub matched every request: \(transport.log)")
    }

    @Test("A provider answer with recording on fails the session closed: room deleted, recording_policy",
          arguments: StubProfile.all)
    func recordingOnFailsClosed(_ profile: StubProfile) async throws {
        try await PactStub.serving(profile.file) { stub in try await Self.failClosed(profile, stub) }
    }

    @Test("A recording that starts anyway is stopped through the API, or the room is ended", arguments: StubProfile.all)
    func recordingStartedIsStopped(_ profile: StubProfile) async throws {
        try await PactStub.serving(profile.file) { stub in try await Self.stopRecording(profile, stub) }
    }

    static func stopRecording(_ profile: StubProfile, _ stub: PactStub) async throws {
        let transport = ProviderStateTransport()
        transport.states(profile.states(.fresh))
        let gateway = try await gateway(with: profile, stub, transport)
        let bookingID = BookingID("B-1")!
        try await gateway.test { client in
            _ = try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking(provider: profile.registryName)))
            try await gateway.worker.runUntilIdle()
            #expect(try await client.call(.get, "/v1/sessions/B-1").room["recording"] as? String == "disabled")

            transport.states(profile.states(.recordingRunning))
            try await gateway.sessions.handle(.recordingStarted, for: bookingID, by: .provider)
            try await gateway.worker.runUntilIdle()
            let session = try await client.call(.get, "/v1/sessions/B-1")
            #expect(session.room["recording"] as? String == "started")
            let trail = try await gateway.store.auditTrail(for: bookingID).map(\.event)
            if profile.recordingRunning != nil {
                #expect(trail.contains("recording_stopped"), "\(trail) \(transport.log)")
                #expect(session.room["status"] as? String == "ready")
            } else {
                #expect(!trail.contains("recording_stopped"))
                #expect(session.room["status"] as? String == "ended", "\(transport.log)")
                #expect(transport.log.last?.hasPrefix(profile.deleteCall) == true, "\(transport.log)")
            }
        }
    }

    /// A gateway on SQLite whose only provider is `profile`'s adapter, talking to the stub.
    static func gateway(with profile: StubProfile, _ stub: PactStub, _ transport: ProviderStateTransport) async throws
        -> TestGateway
    {
        await TestGateway(
            store: try await ProvisioningTests.sqliteStore(), simulatorURL: nil,
            providers: { clock in
                [profile.registryName: ProviderFixtures.adapter(profile.provider, base: stub.base, transport: transport, clock: clock)]
            })
    }

    static func failClosed(_ profile: StubProfile, _ stub: PactStub) async throws {
        let transport = ProviderStateTransport()
        transport.states(profile.states(.recordingOn))
        let gateway = try await gateway(with: profile, stub, transport)
        try await gateway.test { client in
            let put = try await client.call(
                .put, "/v1/sessions/B-1", body: Body.json(Body.booking(provider: profile.registryName)))
            #expect(put.status == .created)
            try await gateway.worker.runUntilIdle()
            let session = try await client.call(.get, "/v1/sessions/B-1")
            #expect(session.json["state"] as? String == "failed")
            #expect(session.room["status"] as? String == "failed")
            #expect((session.room["error"] as? [String: Any])?["code"] as? String == "recording_policy", "\(transport.log)")
            #expect(session.room["recording"] as? String != "disabled")
        }
        #expect(transport.log.contains { $0.hasPrefix(profile.deleteCall) }, "the room was deleted: \(transport.log)")
    }
}

/// Which provider state of a pact each request is answered from.
struct StubProfile: Sendable, CustomTestStringConvertible {
    enum Phase { case fresh, existing, recordingOn, recordingRunning }

    /// The adapter's name in the tests and the pact's provider name.
    let provider: String
    /// The name a session's `provider` field uses.
    let registryName: String
    let roomID: String
    /// "METHOD path-prefix" of the call that removes the room.
    let deleteCall: String
    let tokenState: String?
    let isToken: @Sendable (MeetingProviders.HTTPRequest) -> Bool
    /// The first call of `createOrGetRoom`.
    let isCreate: @Sendable (MeetingProviders.HTTPRequest) -> Bool
    /// The call that reads recording back.
    let isReadBack: @Sendable (MeetingProviders.HTTPRequest) -> Bool
    let noRoom: String
    let roomExists: String
    let recordingOn: String
    /// The state of the create call when recording comes back on.
    let createWhenRecordingOn: String
    /// A recording runs in the room (for providers that can stop one).
    let recordingRunning: String?

    var file: String { "video-gateway-\(provider).json" }
    var testDescription: String { provider }

    func states(_ phase: Phase) -> ProviderStateTransport.Chooser {
        { [self] request in
            if isToken(request), let tokenState { return tokenState }
            switch phase {
            case .fresh: return isCreate(request) ? noRoom : roomExists
            case .existing: return roomExists
            case .recordingRunning: return recordingRunning ?? roomExists
            case .recordingOn:
                if isReadBack(request) { return recordingOn }
                return isCreate(request) ? createWhenRecordingOn : roomExists
            }
        }
    }

    static let all: [StubProfile] = [
        StubProfile(
            provider: "zoom", registryName: "zoom", roomID: ProviderFixtures.zoomMeetingID,
            deleteCall: "DELETE /v2/meetings/", tokenState: "the Zoom Server-to-Server OAuth app is active",
            isToken: { $0.url.path == "/oauth/token" },
            isCreate: { $0.url.path.hasSuffix("/meetings") },  // the list of the host's meetings, then the create
            isReadBack: { $0.method == "GET" && !$0.url.path.hasSuffix("/meetings") },
            noRoom: "no Zoom meeting exists for booking B-1",
            roomExists: "Zoom meeting 85746065432 is recorded for booking B-1",
            recordingOn: "Zoom meeting 85746065432 has auto_recording cloud",
            createWhenRecordingOn: "no Zoom meeting exists for booking B-1",
            recordingRunning: "Zoom meeting 85746065432 is being recorded"),
        StubProfile(
            provider: "msgraph", registryName: "msteams", roomID: ProviderFixtures.graphMeetingID,
            deleteCall: "DELETE /v1.0/users/", tokenState: "the Entra ID app registration is valid",
            isToken: { $0.url.path.hasSuffix("/oauth2/v2.0/token") },
            isCreate: { $0.url.path.hasSuffix("/createOrGet") }, isReadBack: { $0.method == "GET" },
            noRoom: "no Teams meeting exists with externalId B-1", roomExists: "the Teams meeting of booking B-1 exists",
            recordingOn: "the Teams meeting of booking B-1 has allowRecording true",
            createWhenRecordingOn: "no Teams meeting exists with externalId B-1", recordingRunning: nil),
        StubProfile(
            provider: "bigbluebutton", registryName: "bigbluebutton", roomID: "B-1",
            deleteCall: "GET /bigbluebutton/api/end", tokenState: nil, isToken: { _ in false },
            isCreate: { $0.url.path.hasSuffix("/create") }, isReadBack: { $0.url.path.hasSuffix("/getMeetingInfo") },
            noRoom: "no BigBlueButton meeting B-1 is running", roomExists: "BigBlueButton meeting B-1 is running",
            recordingOn: "BigBlueButton meeting B-1 is running with recording true",
            createWhenRecordingOn: "no BigBlueButton meeting B-1 is running", recordingRunning: nil),
        StubProfile(
            provider: "daily", registryName: "daily", roomID: ProviderFixtures.dailyRoomName,
            deleteCall: "DELETE /v1/rooms/", tokenState: nil, isToken: { _ in false },
            isCreate: { $0.method == "POST" && $0.url.path.hasSuffix("/rooms") }, isReadBack: { $0.method == "GET" },
            noRoom: "no Daily room exists for booking B-1", roomExists: "the Daily room of booking B-1 already exists",
            recordingOn: "the Daily room of booking B-1 has enable_recording cloud",
            createWhenRecordingOn: "the Daily room of booking B-1 already exists",
            recordingRunning: "the Daily room of booking B-1 is being recorded"),
    ]
}

@Suite("Test tools")
struct TestToolsTests {
    @Test("The pact CLI is installed when the test command requires it (REQUIRE_PACT_CLI)")
    func pactCLIPresent() {
        if ProcessInfo.processInfo.environment["REQUIRE_PACT_CLI"] == "1" {
            #expect(PactStub.cli != nil, "set PACT_CLI or run scripts/setup.sh --with-test-tools")
        }
    }
}
