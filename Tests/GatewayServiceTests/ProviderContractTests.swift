import Foundation
import GatewayCore
import MeetingProviders
import Synchronization
import Testing

/// Each adapter against its own outgoing pact, replayed by a loopback server: every request the adapter
/// sends must match the recorded one (method, path, query, headers with credentials, body by the
/// matching rules), and the adapter must make the right thing of every recorded answer.
@Suite("Provider adapters against their recorded pacts", .timeLimit(.minutes(3)))
struct ProviderContractTests {
    static let spec = ProviderFixtures.spec

    @Test("Zoom: OAuth token cached, create, look-up on retry, reschedule, entries, end and delete, inventory, errors")
    func zoom() async throws {
        try await withReplay("zoom") { replay in
            let id = ProviderFixtures.zoomMeetingID
            let created = CreatedRooms()
            let room = try await replay.step(
                ["zoom-oauth-token", "zoom-list-meetings-none", "zoom-create-meeting", "zoom-get-recorded-meeting"]
            ) {
                try await $0.createOrGetRoom(for: Self.spec, knownRoomID: nil, roomCreated: created.record)
            }.get()
            #expect(room == ProvisionedRoom(providerRoomID: id, url: "https://zoom.us/j/85746065432?pwd=Ym9va2luZ0ItMQ", recording: .off))
            #expect(created.ids == [id])

            // A meeting whose id cannot be recorded is taken back at once (a retry could not find it).
            let unrecorded = await replay.step(
                ["zoom-list-meetings-none", "zoom-create-meeting", "zoom-end-meeting", "zoom-delete-meeting"]
            ) {
                try await $0.createOrGetRoom(
                    for: Self.spec, knownRoomID: nil,
                    roomCreated: { _ in throw ProviderError.unavailable("the store is unavailable") })
            }
            #expect(unrecorded.error == .unavailable("the store is unavailable"))

            // The recorded id is looked up, not created again; the token is reused.
            let again = try await replay.step(["zoom-get-recorded-meeting"]) {
                try await $0.createOrGetRoom(for: Self.spec, knownRoomID: id, roomCreated: created.record)
            }.get()
            #expect(again.providerRoomID == id && created.ids == [id])
            // A meeting made before the topic mark is given its marked topic when found by its recorded id.
            let remarked = try await replay.step(
                ["zoom-get-unmarked-meeting", "zoom-update-meeting", "zoom-get-recorded-meeting"]
            ) {
                try await $0.createOrGetRoom(for: Self.spec, knownRoomID: id, roomCreated: created.record)
            }.get()
            #expect(remarked.providerRoomID == id && remarked.recording == .off && created.ids == [id])

            // A create answer that never arrived: the meeting is found in the host's list by its topic,
            // recorded, and brought up to date; a cancelled booking's lost meeting is found and deleted.
            let lostPages = ["zoom-list-meetings-lost-answer-page-1", "zoom-list-meetings-lost-answer-page-2"]
            let found = try await replay.step(lostPages + ["zoom-update-meeting", "zoom-get-recorded-meeting"]) {
                try await $0.createOrGetRoom(for: Self.spec, knownRoomID: nil, roomCreated: created.record)
            }.get()
            #expect(found.providerRoomID == id && found.recording == .off)
            #expect(created.ids == [id, id])
            try await replay.step(lostPages + ["zoom-end-meeting", "zoom-delete-meeting"]) {
                try await $0.deleteRoom(for: Self.spec, providerRoomID: nil)
            }.get()
            try await replay.step(["zoom-list-meetings-none"]) {
                try await $0.deleteRoom(for: Self.spec, providerRoomID: nil)
            }.get()
            let moved = try await replay.step(["zoom-update-meeting", "zoom-get-recorded-meeting"]) {
                try await $0.updateRoom(id, for: Self.spec)
            }.get()
            #expect(moved.recording == .off)
            let citizen = try await replay.step(["zoom-get-recorded-meeting"]) {
                try await $0.citizenEntry(for: Self.spec, providerRoomID: id)
            }.get()
            #expect(citizen.joinURL == "https://zoom.us/j/85746065432?pwd=Ym9va2luZ0ItMQ")
            let host = try await replay.step(["zoom-get-recorded-meeting"]) {
                try await $0.hostEntry(for: Self.spec, providerRoomID: id, attendantID: "a-17")
            }.get()
            #expect(host.joinURL.hasPrefix("https://zoom.us/s/85746065432?zak="))
            try await replay.step(["zoom-end-meeting", "zoom-delete-meeting"]) {
                try await $0.deleteRoom(for: Self.spec, providerRoomID: id)
            }.get()
            try await replay.step(["zoom-end-meeting", "zoom-delete-meeting-gone"]) {
                try await $0.deleteRoom(for: Self.spec, providerRoomID: id)
            }.get()
            // Reconciliation: only the meetings whose topic carries the mark, over every page; an orphan is
            // ended and deleted like any room, and one already gone counts as deleted.
            let listed = try await replay.step(["zoom-list-gateway-meetings-page-1", "zoom-list-gateway-meetings-page-2"]) {
                try await ($0 as! ZoomProvider).listGatewayRooms()
            }.get()
            #expect(
                listed == [
                    ListedRoom(id: id, createdAt: RFC3339.date(from: "2026-11-30T10:00:00Z")),
                    ListedRoom(id: "86001122334", createdAt: RFC3339.date(from: "2026-11-28T08:00:00Z")),
                ])
            try await replay.step(["zoom-end-meeting", "zoom-delete-meeting"]) {
                try await ($0 as! ZoomProvider).deleteListedRoom("86001122334")
            }.get()
            try await replay.step(["zoom-end-meeting", "zoom-delete-meeting-gone"]) {
                try await ($0 as! ZoomProvider).deleteListedRoom("86001122334")
            }.get()
            let stopped = try await replay.step(["zoom-stop-recording"]) { try await $0.stopRecording(in: id) }.get()
            #expect(stopped)
            let locked = try await replay.step(["zoom-meeting-recording-on"]) { try await $0.recordingState(of: id) }.get()
            #expect(locked == .on("auto_recording=cloud"))

            let create: @Sendable (any MeetingProvider) async throws -> ProvisionedRoom = {
                try await $0.createOrGetRoom(for: Self.spec, knownRoomID: nil, roomCreated: created.record)
            }
            #expect(
                await replay.step(["zoom-list-meetings-none", "zoom-create-rate-limited"], create).error
                    == .rateLimited(retryAfter: .seconds(2)))
            #expect(
                await replay.step(["zoom-list-meetings-none", "zoom-create-unavailable"], create).error?.code
                    == "provider_unavailable")
            // 401: one fresh token, one retry, then a typed failure.
            let refused = await replay.step(
                ["zoom-list-meetings-none", "zoom-create-unauthorized", "zoom-oauth-token", "zoom-create-unauthorized"],
                create)
            #expect(refused.error?.code == "provider_unauthorized")
            #expect(created.ids == [id, id])
        }
    }

    @Test("Microsoft Graph: app token, createOrGet then PATCH, read back, reschedule, delete, errors, co-organizers, recording subscriptions")
    func graph() async throws {
        try await withReplay("msgraph") { replay in
            let id = ProviderFixtures.graphMeetingID
            let create: @Sendable (any MeetingProvider) async throws -> ProvisionedRoom = {
                try await $0.createOrGetRoom(for: Self.spec, knownRoomID: nil, roomCreated: { _ in })
            }
            let room = try await replay.step(
                ["graph-token", "graph-create-or-get-new", "graph-secure-meeting", "graph-get-meeting"], create
            ).get()
            #expect(room.providerRoomID == id && room.recording == .off)
            #expect(room.url?.hasPrefix("https://teams.microsoft.com/l/meetup-join/") == true)
            let again = try await replay.step(
                ["graph-create-or-get-existing", "graph-secure-meeting", "graph-get-meeting"], create
            ).get()
            #expect(again == room)
            let moved = try await replay.step(["graph-update-meeting", "graph-get-meeting"]) {
                try await $0.updateRoom(id, for: Self.spec)
            }.get()
            #expect(moved.recording == .off)
            let citizen = try await replay.step(["graph-get-meeting"]) {
                try await $0.citizenEntry(for: Self.spec, providerRoomID: id)
            }.get()
            #expect(citizen.joinURL == room.url)
            try await replay.step(["graph-delete-meeting"]) {
                try await $0.deleteRoom(for: Self.spec, providerRoomID: id)
            }.get()
            try await replay.step(["graph-delete-meeting-gone"]) {
                try await $0.deleteRoom(for: Self.spec, providerRoomID: id)
            }.get()
            #expect(try await replay.step([]) { try await $0.stopRecording(in: id) }.get() == false)
            let on = try await replay.step(["graph-meeting-recording-on"]) { try await $0.recordingState(of: id) }.get()
            #expect(on == .on("allowRecording=true"))
            #expect(await replay.step(["graph-create-rate-limited"], create).error == .rateLimited(retryAfter: .seconds(10)))
            #expect(await replay.step(["graph-create-unavailable"], create).error?.code == "provider_unavailable")
            let refused = await replay.step(
                ["graph-create-unauthorized", "graph-token", "graph-create-unauthorized"], create)
            #expect(refused.error?.code == "provider_unauthorized")
            // A token refused twice is dropped: the next call asks Entra ID again, which refuses the secret.
            let invalidClient = await replay.step(["graph-token-invalid-client"], create)
            #expect(invalidClient.error?.code == "provider_unauthorized")
            try await GraphTeamsFixtures.replayCoOrganizersAndSubscriptions(replay)
        }
    }

    @Test("BigBlueButton: signed create, read back, create again, signed join URLs, end, inventory, FAILED answers")
    func bigBlueButton() async throws {
        try await withReplay("bigbluebutton") { replay in
            let id = "B-1"
            let created = CreatedRooms()
            let create: @Sendable (any MeetingProvider) async throws -> ProvisionedRoom = {
                try await $0.createOrGetRoom(for: Self.spec, knownRoomID: nil, roomCreated: created.record)
            }
            let room = try await replay.step(["bbb-create-meeting", "bbb-get-meeting-info"], create).get()
            #expect(room == ProvisionedRoom(providerRoomID: id, url: nil, recording: .off))
            #expect(created.ids == [id])
            let again = try await replay.step(["bbb-create-meeting-again", "bbb-get-meeting-info"], create).get()
            #expect(again == room)
            let citizen = try await replay.step(["bbb-create-meeting-again"]) {
                try await $0.citizenEntry(for: Self.spec, providerRoomID: id)
            }.get()
            let join = try #require(URLComponents(string: citizen.joinURL))
            #expect(join.path == "/bigbluebutton/api/join")
            let query = try #require(join.percentEncodedQuery)
            let signed = query.components(separatedBy: "&checksum=")
            #expect(signed.count == 2)
            #expect(
                signed.last == BigBlueButtonProvider.checksum(
                    call: "join", query: signed[0], secret: ProviderFixtures.bbbSecret, algorithm: .sha256))
            #expect(signed[0] == "fullName=Cidad%C3%A3o&meetingID=B-1&role=VIEWER&guest=true&createTime=1796117400123")
            let host = try await replay.step(["bbb-create-meeting-again"]) {
                try await $0.hostEntry(for: Self.spec, providerRoomID: id, attendantID: "a-17")
            }.get()
            #expect(host.joinURL.contains("role=MODERATOR&userID=a-17&createTime=1796117400123&checksum="))
            try await replay.step(["bbb-end-meeting"]) { try await $0.deleteRoom(for: Self.spec, providerRoomID: id) }.get()
            try await replay.step(["bbb-end-meeting-not-found"]) {
                try await $0.deleteRoom(for: Self.spec, providerRoomID: id)
            }.get()
            #expect(try await replay.step([]) { try await $0.stopRecording(in: id) }.get() == false)
            // Reconciliation: only the meetings whose metadata names the gateway as origin, running or not;
            // an orphan is ended, and one not found counts as gone.
            let listed = try await replay.step(["bbb-get-meetings"]) {
                try await ($0 as! BigBlueButtonProvider).listGatewayRooms()
            }.get()
            #expect(
                listed == [
                    ListedRoom(id: "B-1", createdAt: Date(timeIntervalSince1970: 1_796_117_400.123)),
                    ListedRoom(id: "B-9", createdAt: Date(timeIntervalSince1970: 1_795_884_000.456)),
                ])
            try await replay.step(["bbb-end-meeting"]) { try await ($0 as! BigBlueButtonProvider).deleteListedRoom(id) }.get()
            try await replay.step(["bbb-end-meeting-not-found"]) {
                try await ($0 as! BigBlueButtonProvider).deleteListedRoom(id)
            }.get()
            let on = try await replay.step(["bbb-meeting-recording-on"]) { try await $0.recordingState(of: id) }.get()
            #expect(on == .on("recording=true"))
            #expect(await replay.step(["bbb-create-checksum-error"], create).error?.code == "provider_unauthorized")
            #expect(await replay.step(["bbb-create-rate-limited"], create).error == .rateLimited(retryAfter: .seconds(3)))
            #expect(await replay.step(["bbb-create-unavailable"], create).error?.code == "provider_unavailable")
        }
    }

    @Test("Graph meeting ids are one path segment, whatever base64 characters they hold")
    func graphIDEncoding() async throws {
        let transport = CapturingTransport()
        let adapter = ProviderFixtures.adapter(
            "msgraph", base: URL(string: "https://graph.example")!, transport: transport, clock: ManualClock(ProviderFixtures.now))
        try await adapter.deleteRoom(for: Self.spec, providerRoomID: "MSp/ab+c==")
        #expect(
            transport.urls.last
                == "https://graph.example/v1.0/users/550fae72-d251-43ec-868c-373732c2704f/onlineMeetings/MSp%2Fab%2Bc%3D%3D")
    }

    @Test("BigBlueButton's checksum reproduces the worked example of its API documentation")
    func bbbChecksumExample() {
        let checksum = BigBlueButtonProvider.checksum(
            call: "create", query: "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444",
            secret: "639259d4-9dd8-4b25-bf01-95f9567eaf4b", algorithm: .sha1)
        #expect(checksum == "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17")
    }

    @Test("Daily: create, create-or-get on a taken name, reschedule, tokens, delete, errors")
    func daily() async throws {
        try await withReplay("daily") { replay in
            let name = ProviderFixtures.dailyRoomName
            let created = CreatedRooms()
            let create: @Sendable (any MeetingProvider) async throws -> ProvisionedRoom = {
                try await $0.createOrGetRoom(for: Self.spec, knownRoomID: nil, roomCreated: created.record)
            }
            let room = try await replay.step(["daily-create-room"], create).get()
            #expect(room.providerRoomID == name && room.recording == .off && created.ids == [name])
            let again = try await replay.step(["daily-create-room-again", "daily-get-existing-room"], create).get()
            #expect(again == room)
            _ = try await replay.step(["daily-update-room"]) { try await $0.updateRoom(name, for: Self.spec) }.get()
            let citizen = try await replay.step(["daily-get-existing-room", "daily-citizen-token"]) {
                try await $0.citizenEntry(for: Self.spec, providerRoomID: name)
            }.get()
            #expect(citizen.joinURL.hasPrefix("https://vg-test.daily.co/\(name)?t=eyJ"))
            _ = try await replay.step(["daily-get-existing-room", "daily-host-token"]) {
                try await $0.hostEntry(for: Self.spec, providerRoomID: name, attendantID: "a-17")
            }.get()
            try await replay.step(["daily-delete-room"]) { try await $0.deleteRoom(for: Self.spec, providerRoomID: name) }.get()
            try await replay.step(["daily-delete-room-gone"]) {
                try await $0.deleteRoom(for: Self.spec, providerRoomID: name)
            }.get()
            #expect(try await replay.step(["daily-stop-recording"]) { try await $0.stopRecording(in: name) }.get())
            let listed = try await replay.step(["daily-list-rooms"]) { try await ($0 as! DailyProvider).listGatewayRooms() }.get()
            #expect(listed.map(\.id) == [name], "only the gateway's rooms")
            #expect(listed.first?.createdAt == RFC3339.date(from: "2026-11-30T10:00:00.000Z"))
            let on = try await replay.step(["daily-room-recording-on"]) { try await $0.recordingState(of: name) }.get()
            #expect(on == .on("cloud"))
            #expect(await replay.step(["daily-create-rate-limited"], create).error == .rateLimited(retryAfter: .seconds(5)))
            #expect(await replay.step(["daily-create-server-error"], create).error?.code == "provider_unavailable")
            #expect(
                await replay.step(["daily-get-room-unavailable"]) { try await $0.recordingState(of: name) }.error?.code
                    == "provider_unavailable")
            #expect(await replay.step(["daily-create-unauthorized"], create).error?.code == "provider_unauthorized")
        }
    }
}

/// Answers every token request with a token and everything else with 204, keeping the URLs asked for.
final class CapturingTransport: HTTPTransport {
    private let asked = Mutex<[String]>([])

    var urls: [String] { asked.withLock { $0 } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        asked.withLock { $0.append(request.url.absoluteString) }
        if request.url.path.hasSuffix("/token") {
            return HTTPResponse(status: 200, body: Data(#"{"access_token":"t","expires_in":3600}"#.utf8))
        }
        return HTTPResponse(status: 204)
    }
}

/// Room ids an adapter reported through `roomCreated`.
final class CreatedRooms: Sendable {
    private let recorded = Mutex<[String]>([])

    var ids: [String] { recorded.withLock { $0 } }

    var record: RoomCreated {
        { id in self.recorded.withLock { $0.append(id) } }
    }
}

/// One adapter talking to a replay server loaded with its provider's pact.
struct Replay {
    let server: PactReplayServer
    let pact: [String: PactInteraction]
    let adapter: any MeetingProvider
    let used = UsedKeys()

    /// Arms `keys`, runs `operation` and records an issue for any request that did not match or any
    /// interaction left unrequested.
    func step<T>(
        _ keys: [String], sourceLocation: SourceLocation = #_sourceLocation,
        _ operation: (any MeetingProvider) async throws -> T
    ) async -> StepResult<T> {
        server.expect(keys.map { pact[$0]! })
        used.add(keys)
        let result: StepResult<T>
        do {
            result = .init(value: try await operation(adapter), error: nil)
        } catch let error as ProviderError {
            result = .init(value: nil, error: error)
        } catch {
            Issue.record("\(keys): \(error)", sourceLocation: sourceLocation)
            result = .init(value: nil, error: nil)
        }
        let problems = server.problems + server.received.compactMap(Self.wrongBBBChecksum)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))", sourceLocation: sourceLocation)
        return result
    }

    /// The pacts accept any well-formed checksum; this recomputes it over the query string as sent.
    static func wrongBBBChecksum(_ request: ReceivedRequest) -> String? {
        guard request.path.hasPrefix("/bigbluebutton/api/") else { return nil }
        // A call without parameters (getMeetings) sends the checksum alone.
        let parts =
            request.rawQuery.hasPrefix("checksum=")
            ? ["", String(request.rawQuery.dropFirst("checksum=".count))]
            : request.rawQuery.components(separatedBy: "&checksum=")
        let call = String(request.path.dropFirst("/bigbluebutton/api/".count))
        let expected = BigBlueButtonProvider.checksum(
            call: call, query: parts[0], secret: ProviderFixtures.bbbSecret, algorithm: .sha256)
        return parts.count == 2 && parts[1] == expected ? nil : "\(call): checksum does not recompute over \(request.rawQuery)"
    }
}

/// The interactions a test has replayed.
final class UsedKeys: Sendable {
    private let keys = Mutex<Set<String>>([])

    func add(_ more: [String]) { keys.withLock { $0.formUnion(more) } }
    var all: Set<String> { keys.withLock { $0 } }
}

struct StepResult<T> {
    let value: T?
    let error: ProviderError?

    func get() throws -> T {
        if let value { return value }
        throw error ?? ProviderError.invalidResponse("no value")
    }
}

/// Runs `body` against a replay of the provider's pact; with `coversAll`, every interaction of the
/// pact must have been replayed.
func withReplay(_ provider: String, coversAll: Bool = true, _ body: (Replay) async throws -> Void) async throws {
    let server = PactReplayServer()
    let pact = try PactInteraction.load("video-gateway-\(provider).json")
    try await server.run { base in
        let adapter = ProviderFixtures.adapter(
            provider, base: base, transport: NIOHTTPTransport(), clock: ManualClock(ProviderFixtures.now))
        let replay = Replay(server: server, pact: pact, adapter: adapter)
        try await body(replay)
        if coversAll {
            #expect(Set(pact.keys).subtracting(replay.used.all).isEmpty, "not replayed: \(Set(pact.keys).subtracting(replay.used.all).sorted())")
        }
    }
}
