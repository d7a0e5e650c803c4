import Crypto
import Foundation
import GatewayCore

/// Daily's REST API (providers.md §3): private rooms with knocking, recording never enabled,
/// meeting tokens minted on admission. Also the adapter for the built-in simulator.
public struct DailyProvider: MeetingProvider, RoomInventory {
    public struct Configuration: Sendable {
        /// For example `https://api.daily.co/v1`.
        public var baseURL: URL
        public var apiKey: String
        public var timeout: Duration
        /// How long a participant's meeting token lets them in (a host's lasts as long as the room).
        public var entryLifetime: Duration

        public init(baseURL: URL, apiKey: String, timeout: Duration = .seconds(10), entryLifetime: Duration = .seconds(15 * 60)) {
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.timeout = timeout
            self.entryLifetime = entryLifetime
        }
    }

    private let configuration: Configuration
    private let http: ProviderHTTP
    private let clock: any GatewayClock

    public init(configuration: Configuration, transport: any HTTPTransport, clock: any GatewayClock) {
        self.configuration = configuration
        http = ProviderHTTP(provider: "daily", transport: transport, timeout: configuration.timeout)
        self.clock = clock
    }

    /// The room name for a booking: deterministic, so a retried create finds the same room, and free of
    /// personal data.
    public static func roomName(for bookingID: BookingID) -> String {
        let digest = SHA256.hash(data: Data(bookingID.rawValue.utf8))
        return "vg-" + digest.prefix(12).lowercaseHex
    }

    public func createOrGetRoom(for spec: RoomSpec, knownRoomID: String?, roomCreated: RoomCreated) async throws
        -> ProvisionedRoom
    {
        let name = Self.roomName(for: spec.bookingID)
        let body = CreateRoomRequest(name: name, privacy: "private", properties: RoomProperties(spec: spec))
        let response = try await send("POST", "rooms", body: body)
        switch response.status {
        case 200:
            try await roomCreated(name)
            return try provisioned(from: response)
        case 400:
            // A taken name is Daily's "already exists" (its exact wording is not documented): the room is
            // ours if it can be read. A 404 means the 400 was about something else, and it stands; any
            // other failure of the read (5xx, 429) is that failure, retried like any other.
            let existing = try await send("GET", "rooms/\(name)")
            switch existing.status {
            case 200: return try provisioned(from: existing)
            case 404: throw error(from: response)
            default: throw error(from: existing)
            }
        default:
            throw error(from: response)
        }
    }

    public func updateRoom(_ providerRoomID: String, for spec: RoomSpec) async throws -> ProvisionedRoom {
        let body = UpdateRoomRequest(properties: RoomProperties(spec: spec))
        return try provisioned(from: try await expect(200, send("POST", "rooms/\(providerRoomID)", body: body)))
    }

    public func deleteRoom(for spec: RoomSpec, providerRoomID: String?) async throws {
        let name = providerRoomID ?? Self.roomName(for: spec.bookingID)
        let response = try await send("DELETE", "rooms/\(name)")
        guard response.status == 200 || response.status == 404 else { throw error(from: response) }
    }

    public func citizenEntry(for spec: RoomSpec, providerRoomID: String) async throws -> RoomEntry {
        try await entry(
            roomName: providerRoomID,
            properties: TokenProperties(
                room_name: providerRoomID, is_owner: false, user_id: nil,
                exp: Int(
                    min(clock.now.addingTimeInterval(TimeInterval(configuration.entryLifetime.components.seconds)), spec.expiresAt)
                        .timeIntervalSince1970)))
    }

    public func hostEntry(for spec: RoomSpec, providerRoomID: String, attendantID: String) async throws -> RoomEntry {
        try await entry(
            roomName: providerRoomID,
            properties: TokenProperties(
                room_name: providerRoomID, is_owner: true, user_id: attendantID,
                exp: Int(spec.expiresAt.timeIntervalSince1970)))
    }

    /// `POST /rooms/{name}/recordings/stop` (providers.md §3.1) for a cloud recording. Any other answer
    /// (Daily's 400 for a recording of another type or none it can stop) is `false`: the room is ended.
    public func stopRecording(in providerRoomID: String) async throws -> Bool {
        let response = try await send("POST", "rooms/\(providerRoomID)/recordings/stop", body: ["type": "cloud"])
        if response.status == 429 || response.status >= 500 { throw error(from: response) }
        return response.status == 200
    }

    public func recordingState(of providerRoomID: String) async throws -> RecordingReadback {
        try provisioned(from: try await expect(200, send("GET", "rooms/\(providerRoomID)"))).recording
    }

    // MARK: Wire

    private func entry(roomName: String, properties: TokenProperties) async throws -> RoomEntry {
        let room = try decode(RoomResponse.self, try await expect(200, send("GET", "rooms/\(roomName)")))
        let token = try decode(
            TokenResponse.self,
            try await expect(200, send("POST", "meeting-tokens", body: TokenRequest(properties: properties))))
        guard var components = URLComponents(string: room.url) else {
            throw ProviderError.invalidResponse("room url is not a URL")
        }
        components.queryItems = [URLQueryItem(name: "t", value: token.token)]
        return RoomEntry(joinURL: components.string ?? room.url)
    }

    private func provisioned(from response: HTTPResponse) throws -> ProvisionedRoom {
        let room = try decode(RoomResponse.self, response)
        let recording = room.config?.enable_recording
        let readback: RecordingReadback =
            (recording == nil || recording == "<not set>") ? .off : .on(recording ?? "")
        return ProvisionedRoom(providerRoomID: room.name, url: room.url, recording: readback)
    }

    private func send(_ method: String, _ path: String) async throws -> HTTPResponse {
        try await send(method, path, bodyData: nil)
    }

    private func send(_ method: String, _ path: String, query: [URLQueryItem]) async throws -> HTTPResponse {
        var url = URLComponents(url: configuration.baseURL.appendingPathComponent(path), resolvingAgainstBaseURL: false)
        url?.queryItems = query
        guard let target = url?.url else { throw ProviderError.invalidResponse("the list URL could not be built") }
        return try await http.send(
            method, target, headers: ["Authorization": "Bearer \(configuration.apiKey)", "Accept": "application/json"])
    }

    private func send(_ method: String, _ path: String, body: some Encodable) async throws -> HTTPResponse {
        try await send(method, path, bodyData: try http.json(body))
    }

    private func send(_ method: String, _ path: String, bodyData: Data?) async throws -> HTTPResponse {
        var headers = ["Authorization": "Bearer \(configuration.apiKey)", "Accept": "application/json"]
        if bodyData != nil { headers["Content-Type"] = "application/json" }
        return try await http.send(
            method, configuration.baseURL.appendingPathComponent(path), headers: headers, body: bodyData)
    }

    /// The gateway's rooms (names `vg-…`), 100 a page (`GET /rooms?limit=100&starting_after=<id>`), at
    /// most 100 pages.
    public func listGatewayRooms() async throws -> [ListedRoom] {
        var rooms: [ListedRoom] = []
        var after: String?
        for _ in 0..<100 {
            var query = [URLQueryItem(name: "limit", value: "100")]
            if let after { query.append(URLQueryItem(name: "starting_after", value: after)) }
            let page = try decode(RoomPage.self, try expect(200, await send("GET", "rooms", query: query))).data
            rooms += page.filter { $0.name.hasPrefix("vg-") }.map {
                ListedRoom(id: $0.name, createdAt: $0.created_at.flatMap(RFC3339.date(from:)))
            }
            guard page.count == 100, let last = page.last else { break }
            after = last.id ?? last.name
        }
        return rooms
    }

    public func deleteListedRoom(_ id: String) async throws {
        let response = try await send("DELETE", "rooms/\(id)")
        guard response.status == 200 || response.status == 404 else { throw error(from: response) }
    }

    private func expect(_ status: Int, _ response: HTTPResponse) throws -> HTTPResponse {
        guard response.status == status else { throw error(from: response) }
        return response
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse) throws -> T {
        try http.decode(type, from: response)
    }

    private func error(from response: HTTPResponse) -> ProviderError {
        let detail = try? JSONDecoder().decode(DailyError.self, from: response.body)
        return http.failure(response, detail: detail?.error)
    }
}

// Daily's JSON field names, spelled as Daily spells them.

/// `GET /rooms`: `{total_count, data: [room]}` (docs.daily.co, "List rooms"); a bare array is read too.
private struct RoomPage: Decodable {
    struct Listed: Decodable {
        let id: String?
        let name: String
        let created_at: String?
    }
    let data: [Listed]

    init(from decoder: any Decoder) throws {
        if let array = try? [Listed](from: decoder) {
            data = array
        } else {
            data = try decoder.container(keyedBy: Keys.self).decode([Listed].self, forKey: .data)
        }
    }

    enum Keys: String, CodingKey { case data }
}
private struct CreateRoomRequest: Encodable {
    let name: String
    let privacy: String
    let properties: RoomProperties
}

private struct UpdateRoomRequest: Encodable {
    let properties: RoomProperties
}

private struct RoomProperties: Encodable {
    let nbf: Int
    let exp: Int
    let enable_knocking: Bool
    let eject_at_room_exp: Bool
    let enable_prejoin_ui: Bool
    let enable_chat: Bool
    let lang: String

    init(spec: RoomSpec) {
        nbf = Int(spec.opensAt.timeIntervalSince1970)
        exp = Int(spec.expiresAt.timeIntervalSince1970)
        enable_knocking = true
        eject_at_room_exp = true
        enable_prejoin_ui = true
        enable_chat = false
        lang = "pt"
    }
}

private struct RoomResponse: Decodable {
    struct Config: Decodable {
        let enable_recording: String?
    }
    let name: String
    let url: String
    let privacy: String?
    let config: Config?
}

private struct TokenRequest: Encodable {
    let properties: TokenProperties
}

private struct TokenProperties: Encodable {
    let room_name: String
    let is_owner: Bool
    let user_id: String?
    let exp: Int
}

private struct TokenResponse: Decodable {
    let token: String
}

private struct DailyError: Decodable {
    let error: String?
}
