import Foundation
import GatewayCore

/// Zoom Meetings API v2 (providers.md §2): Server-to-Server OAuth, a scheduled meeting per booking with
/// the waiting room on, joining before the host off and automatic recording `none`.
///
/// Zoom has no idempotency key, so the meeting id is recorded (`roomCreated`) the moment Zoom answers the
/// create call, and a retried job looks that id up instead of creating a second meeting. A meeting whose
/// create answer was lost (a timeout, a crash before the write) is found again in the host's meeting list
/// by its topic, which names the booking, before any new meeting is created or a cancelled booking let go.
///
/// Every topic starts with `topicMark` (`[video-gateway] <service> <booking id>`), which is how the
/// reconciler tells the gateway's meetings from the host's own (see `ZoomProvider+RoomInventory.swift`).
/// Meetings made before the mark existed carry `<service> <booking id>` alone: they are still found by
/// that topic, and get the mark the next time the gateway updates them or finds them by their recorded id
/// (which the reconciler's first round after the upgrade causes, taking them for missing).
public struct ZoomProvider: MeetingProvider {
    /// The start of every topic the gateway gives a meeting.
    public static let topicMark = "[video-gateway] "
    /// The host's meeting list is read at most this many pages of 300 deep when looking for a meeting
    /// whose create answer was lost.
    static let maximumListPages = 10

    public struct Configuration: Sendable {
        public var accountID: String
        public var clientID: String
        public var clientSecret: String
        /// For example `https://api.zoom.us/v2`.
        public var apiBaseURL: URL
        /// For example `https://zoom.us` (the token endpoint is `/oauth/token` below it).
        public var oauthBaseURL: URL
        /// The Zoom user that hosts the meetings (`me` is the app's account owner).
        public var userID: String
        public var timeout: Duration

        public init(
            accountID: String, clientID: String, clientSecret: String, apiBaseURL: URL, oauthBaseURL: URL,
            userID: String = "me", timeout: Duration = .seconds(10)
        ) {
            self.accountID = accountID
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.apiBaseURL = apiBaseURL
            self.oauthBaseURL = oauthBaseURL
            self.userID = userID
            self.timeout = timeout
        }
    }

    private let configuration: Configuration
    private let http: ProviderHTTP
    private let client: BearerClient

    public init(configuration: Configuration, transport: any HTTPTransport, clock: any GatewayClock) {
        self.configuration = configuration
        let http = ProviderHTTP(provider: "zoom", transport: transport, timeout: configuration.timeout)
        self.http = http
        let basic = Data("\(configuration.clientID):\(configuration.clientSecret)".utf8).base64EncodedString()
        let endpoint = TokenEndpoint(
            http: http, url: configuration.oauthBaseURL.appendingPathComponent("oauth/token"),
            headers: ["Authorization": "Basic \(basic)"],
            form: [("grant_type", "account_credentials"), ("account_id", configuration.accountID)], clock: clock)
        client = BearerClient(http: http, tokens: AccessTokenCache(), clock: clock, fetchToken: endpoint.fetch)
    }

    public func createOrGetRoom(for spec: RoomSpec, knownRoomID: String?, roomCreated: RoomCreated) async throws
        -> ProvisionedRoom
    {
        if let knownRoomID, let existing = try await meetingIfPresent(knownRoomID) {
            // A meeting made before the topic mark gets it now, so that the reconciler lists it.
            if existing.topic?.hasPrefix(Self.topicMark) == false { return try await updateRoom(knownRoomID, for: spec) }
            return try provisioned(existing)
        }
        if let lost = try await meetingID(named: MeetingRequest.topics(for: spec)) {
            // Created by an earlier try whose answer never arrived: record it and bring it up to date.
            try await roomCreated(lost)
            return try await updateRoom(lost, for: spec)
        }
        let response = try await client.send(
            "POST", url("users", configuration.userID, "meetings"), json: try http.json(MeetingRequest(spec: spec)))
        guard response.status == 201 || response.status == 200 else { throw failure(response) }
        let created = try http.decode(Meeting.self, from: response)
        do {
            try await roomCreated(created.id.value)
        } catch {
            // Unrecorded, a retry could not find this meeting again: take it back now.
            try? await deleteRoom(for: spec, providerRoomID: created.id.value)
            throw error
        }
        // The create answer echoes what was asked; a GET shows what the account's locked settings made of it.
        return try provisioned(try await meeting(created.id.value))
    }

    public func updateRoom(_ providerRoomID: String, for spec: RoomSpec) async throws -> ProvisionedRoom {
        let response = try await client.send(
            "PATCH", url("meetings", providerRoomID), json: try http.json(MeetingRequest(spec: spec)))
        guard response.status == 204 || response.status == 200 else { throw failure(response) }
        return try provisioned(try await meeting(providerRoomID))
    }

    public func deleteRoom(for spec: RoomSpec, providerRoomID: String?) async throws {
        // Without a recorded id, a meeting created by a try whose answer was lost may still exist.
        let found = if let providerRoomID { providerRoomID } else { try await meetingID(named: MeetingRequest.topics(for: spec)) }
        guard let providerRoomID = found else { return }
        try await endAndDelete(providerRoomID)
    }

    /// Ends the meeting for everyone, then deletes it (Zoom refuses to delete a meeting in progress, code
    /// 3002); a meeting already gone (404) counts as deleted.
    func endAndDelete(_ providerRoomID: String) async throws {
        let end = try await client.send(
            "PUT", url("meetings", providerRoomID, "status"), json: try http.json(["action": "end"]))
        switch end.status {
        case 200, 204, 400..<429, 430..<500:
            break  // ended, or not running (Zoom answers 4xx for a meeting that never started): delete it
        default:
            throw failure(end)
        }
        let response = try await client.send("DELETE", url("meetings", providerRoomID))
        guard [200, 204, 404].contains(response.status) else { throw failure(response) }
    }

    public func citizenEntry(for spec: RoomSpec, providerRoomID: String) async throws -> RoomEntry {
        guard let joinURL = try await meeting(providerRoomID).join_url else {
            throw ProviderError.invalidResponse("zoom: the meeting has no join_url")
        }
        return RoomEntry(joinURL: joinURL)
    }

    public func hostEntry(for spec: RoomSpec, providerRoomID: String, attendantID: String) async throws -> RoomEntry {
        // start_url carries a short-lived host key: read it fresh on every admission.
        guard let startURL = try await meeting(providerRoomID).start_url else {
            throw ProviderError.invalidResponse("zoom: the meeting has no start_url")
        }
        return RoomEntry(joinURL: startURL)
    }

    /// In-meeting controls (providers.md §2.4): Zoom answers 202 once it has taken the request.
    public func stopRecording(in providerRoomID: String) async throws -> Bool {
        let response = try await client.send(
            "PATCH", url("live_meetings", providerRoomID, "events"), json: try http.json(["method": "recording.stop"]))
        guard (200...204).contains(response.status) else { throw failure(response) }
        return true
    }

    public func recordingState(of providerRoomID: String) async throws -> RecordingReadback {
        try provisioned(try await meeting(providerRoomID)).recording
    }

    // MARK: Wire

    private func url(_ parts: String...) -> URL {
        parts.reduce(configuration.apiBaseURL) { $0.appendingPathComponent($1) }
    }

    /// The id of the host's scheduled meeting with one of these topics.
    private func meetingID(named topics: [String]) async throws -> String? {
        var pageToken: String?
        for _ in 0..<Self.maximumListPages {
            let page = try await meetingPage(after: pageToken)
            if let found = page.meetings?.first(where: { $0.topic.map(topics.contains) ?? false }) { return found.id.value }
            guard let next = page.next_page_token, !next.isEmpty else { return nil }
            pageToken = next
        }
        return nil
    }

    /// One page of the host's scheduled meetings (valid previous, live and upcoming), 300 a page:
    /// `GET /users/{userId}/meetings?type=scheduled&page_size=300[&next_page_token=…]`.
    func meetingPage(after pageToken: String?) async throws -> ZoomMeetingPage {
        var components = URLComponents(url: url("users", configuration.userID, "meetings"), resolvingAgainstBaseURL: false)
        components?.queryItems =
            [URLQueryItem(name: "type", value: "scheduled"), URLQueryItem(name: "page_size", value: "300")]
            + (pageToken.map { [URLQueryItem(name: "next_page_token", value: $0)] } ?? [])
        guard let listURL = components?.url else { throw ProviderError.invalidResponse("zoom: bad meeting list URL") }
        let response = try await client.send("GET", listURL)
        guard response.status == 200 else { throw failure(response) }
        return try http.decode(ZoomMeetingPage.self, from: response)
    }

    private func meeting(_ id: String) async throws -> Meeting {
        guard let found = try await meetingIfPresent(id) else {
            throw ProviderError.rejected(code: "provider_not_found", message: "zoom 404: meeting \(id) does not exist")
        }
        return found
    }

    private func meetingIfPresent(_ id: String) async throws -> Meeting? {
        let response = try await client.send("GET", url("meetings", id))
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw failure(response) }
        return try http.decode(Meeting.self, from: response)
    }

    private func provisioned(_ meeting: Meeting) throws -> ProvisionedRoom {
        let setting = meeting.settings?.auto_recording
        let readback: RecordingReadback =
            setting == "none" ? .off : .on("auto_recording=\(setting ?? "not reported")")
        return ProvisionedRoom(providerRoomID: meeting.id.value, url: meeting.join_url, recording: readback)
    }

    private func failure(_ response: HTTPResponse) -> ProviderError {
        let detail = try? JSONDecoder().decode(ZoomError.self, from: response.body)
        return http.failure(response, detail: detail.map { "code \($0.code.map(String.init) ?? "?")" })
    }
}

// Zoom's JSON field names, spelled as Zoom spells them.
private struct MeetingRequest: Encodable {
    struct Settings: Encodable {
        let waiting_room = true
        let join_before_host = false
        let approval_type = 2
        let auto_recording = "none"
        let host_video = true
        let participant_video = true
        let mute_upon_entry = false
        let meeting_authentication = false
        let email_notification = false
    }

    let topic: String
    let type = 2
    let start_time: String
    let duration: Int
    let timezone = "UTC"
    let settings = Settings()

    /// The mark, then service and booking id only (no personal data); it is also how a meeting is found again.
    static func topic(for spec: RoomSpec) -> String { ZoomProvider.topicMark + legacyTopic(for: spec) }

    /// The topic of a meeting made before the mark existed.
    static func legacyTopic(for spec: RoomSpec) -> String { "\(spec.service) \(spec.bookingID.rawValue)" }

    /// Both, the current one first.
    static func topics(for spec: RoomSpec) -> [String] { [topic(for: spec), legacyTopic(for: spec)] }

    init(spec: RoomSpec) {
        topic = Self.topic(for: spec)
        start_time = RFC3339.string(from: spec.startsAt)
        duration = max(1, Int((spec.endsAt.timeIntervalSince(spec.startsAt) / 60).rounded(.up)))
    }
}

/// Zoom's meeting id is a 64-bit number; some answers carry it as a string.
struct ZoomMeetingID: Decodable {
    let value: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) {
            value = String(number)
        } else {
            value = try container.decode(String.self)
        }
    }
}

private struct Meeting: Decodable {
    struct Settings: Decodable {
        let auto_recording: String?
    }

    let id: ZoomMeetingID
    let topic: String?
    let join_url: String?
    let start_url: String?
    let settings: Settings?
}

/// `GET /users/{userId}/meetings`'s answer (Zoom OpenAPI operation `meetings`).
struct ZoomMeetingPage: Decodable {
    struct Listed: Decodable {
        let id: ZoomMeetingID
        let topic: String?
        let created_at: String?
    }

    let next_page_token: String?
    let meetings: [Listed]?
}

private struct ZoomError: Decodable {
    let code: Int?
}
