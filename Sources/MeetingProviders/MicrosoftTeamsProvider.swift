import Foundation
import GatewayCore

/// Microsoft Teams meetings through Microsoft Graph (providers.md §1): an app-only token, `createOrGet`
/// keyed by the booking id, then a PATCH that puts everyone but the organizer in the lobby and turns
/// recording and transcription off. Teams has no API to admit from its lobby, so its own lobby stays on.
public struct MicrosoftTeamsProvider: MeetingProvider {
    public struct Configuration: Sendable {
        public var tenantID: String
        public var clientID: String
        public var clientSecret: String
        /// The Entra object id of the user that organizes every meeting.
        public var organizerUserID: String
        /// For example `https://graph.microsoft.com/v1.0`.
        public var apiBaseURL: URL
        /// For example `https://login.microsoftonline.com`.
        public var loginBaseURL: URL
        public var timeout: Duration

        public init(
            tenantID: String, clientID: String, clientSecret: String, organizerUserID: String, apiBaseURL: URL,
            loginBaseURL: URL, timeout: Duration = .seconds(10)
        ) {
            self.tenantID = tenantID
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.organizerUserID = organizerUserID
            self.apiBaseURL = apiBaseURL
            self.loginBaseURL = loginBaseURL
            self.timeout = timeout
        }
    }

    private let configuration: Configuration
    private let http: ProviderHTTP
    private let client: BearerClient

    public init(configuration: Configuration, transport: any HTTPTransport, clock: any GatewayClock) {
        self.configuration = configuration
        let http = ProviderHTTP(provider: "msgraph", transport: transport, timeout: configuration.timeout)
        self.http = http
        let endpoint = TokenEndpoint(
            http: http,
            url: configuration.loginBaseURL.appendingPathComponent(configuration.tenantID)
                .appendingPathComponent("oauth2/v2.0/token"),
            headers: [:],
            form: [
                ("client_id", configuration.clientID), ("scope", "https://graph.microsoft.com/.default"),
                ("client_secret", configuration.clientSecret), ("grant_type", "client_credentials"),
            ], clock: clock)
        client = BearerClient(http: http, tokens: AccessTokenCache(), clock: clock, fetchToken: endpoint.fetch)
    }

    public func createOrGetRoom(for spec: RoomSpec, knownRoomID: String?, roomCreated: RoomCreated) async throws
        -> ProvisionedRoom
    {
        let response = try await client.send(
            "POST", meetings("createOrGet"), json: try http.json(CreateOrGetRequest(spec: spec)))
        guard response.status == 201 || response.status == 200 else { throw failure(response) }
        let meeting = try http.decode(OnlineMeeting.self, from: response)
        try await roomCreated(meeting.id)
        // createOrGet takes no lobby or recording settings and answers with the tenant's defaults.
        try await secure(meeting.id, body: SecureRequest(reschedule: nil))
        return try provisioned(try await read(meeting.id))
    }

    public func updateRoom(_ providerRoomID: String, for spec: RoomSpec) async throws -> ProvisionedRoom {
        try await secure(providerRoomID, body: SecureRequest(reschedule: spec))
        return try provisioned(try await read(providerRoomID))
    }

    public func deleteRoom(for spec: RoomSpec, providerRoomID: String?) async throws {
        guard let providerRoomID else { return }
        let response = try await client.send("DELETE", meetings(providerRoomID))
        guard [200, 204, 404].contains(response.status) else { throw failure(response) }
    }

    public func citizenEntry(for spec: RoomSpec, providerRoomID: String) async throws -> RoomEntry {
        try await entry(providerRoomID)
    }

    public func hostEntry(for spec: RoomSpec, providerRoomID: String, attendantID: String) async throws -> RoomEntry {
        try await entry(providerRoomID)
    }

    /// Graph has no call that stops a Teams recording (providers.md §1.7, §1.9).
    public func stopRecording(in providerRoomID: String) async throws -> Bool { false }

    public func recordingState(of providerRoomID: String) async throws -> RecordingReadback {
        try provisioned(try await read(providerRoomID)).recording
    }

    // MARK: Wire

    /// `…/users/{organizer}/onlineMeetings/{last}`. Meeting ids are base64 and may hold `/`, `+` or `=`:
    /// each segment is percent-encoded whole (appending a path component would split it at a `/`).
    private func meetings(_ last: String) -> URL {
        let base = configuration.apiBaseURL.absoluteString.hasSuffix("/")
            ? String(configuration.apiBaseURL.absoluteString.dropLast()) : configuration.apiBaseURL.absoluteString
        let segments = ["users", configuration.organizerUserID, "onlineMeetings", last].map(FormEncoding.encode)
        return URL(string: base + "/" + segments.joined(separator: "/"))!
    }

    private func secure(_ id: String, body: SecureRequest) async throws {
        let response = try await client.send("PATCH", meetings(id), json: try http.json(body))
        guard response.status == 200 || response.status == 204 else { throw failure(response) }
    }

    private func read(_ id: String) async throws -> OnlineMeeting {
        let response = try await client.send("GET", meetings(id))
        guard response.status == 200 else { throw failure(response) }
        return try http.decode(OnlineMeeting.self, from: response)
    }

    private func entry(_ id: String) async throws -> RoomEntry {
        guard let url = try await read(id).joinWebUrl else {
            throw ProviderError.invalidResponse("msgraph: the meeting has no joinWebUrl")
        }
        return RoomEntry(joinURL: url)
    }

    /// Off only when all three settings are present and false (providers.md §1.12): a tenant or API
    /// version that leaves one out fails closed.
    private func provisioned(_ meeting: OnlineMeeting) throws -> ProvisionedRoom {
        let settings = [
            ("recordAutomatically", meeting.recordAutomatically), ("allowRecording", meeting.allowRecording),
            ("allowTranscription", meeting.allowTranscription),
        ]
        let notOff = settings.filter { $0.1 != false }.map { "\($0.0)=\($0.1.map(String.init) ?? "not reported")" }
        let readback: RecordingReadback = notOff.isEmpty ? .off : .on(notOff.joined(separator: ","))
        return ProvisionedRoom(providerRoomID: meeting.id, url: meeting.joinWebUrl, recording: readback)
    }

    private func failure(_ response: HTTPResponse) -> ProviderError {
        let detail = try? JSONDecoder().decode(GraphErrorBody.self, from: response.body)
        return http.failure(response, detail: detail?.error.code)
    }
}

// Graph's JSON property names, spelled as the onlineMeeting resource spells them.
private struct CreateOrGetRequest: Encodable {
    let externalId: String
    let subject: String
    let startDateTime: String
    let endDateTime: String

    init(spec: RoomSpec) {
        externalId = spec.bookingID.rawValue
        subject = "\(spec.service) \(spec.bookingID.rawValue)"
        startDateTime = RFC3339.string(from: spec.startsAt)
        endDateTime = RFC3339.string(from: spec.endsAt)
    }
}

private struct SecureRequest: Encodable {
    struct LobbyBypass: Encodable {
        let scope = "organizer"
        let isDialInBypassEnabled = false
    }

    let subject: String?
    let startDateTime: String?
    let endDateTime: String?
    let lobbyBypassSettings = LobbyBypass()
    let allowedPresenters = "organizer"
    let allowedLobbyAdmitters = "organizerAndCoOrganizers"
    let recordAutomatically = false
    let allowRecording = false
    let allowTranscription = false

    /// With a spec, the new times and subject go with the settings (Graph needs both times together).
    init(reschedule spec: RoomSpec?) {
        subject = spec.map { "\($0.service) \($0.bookingID.rawValue)" }
        startDateTime = spec.map { RFC3339.string(from: $0.startsAt) }
        endDateTime = spec.map { RFC3339.string(from: $0.endsAt) }
    }
}

private struct OnlineMeeting: Decodable {
    let id: String
    let joinWebUrl: String?
    let recordAutomatically: Bool?
    let allowRecording: Bool?
    let allowTranscription: Bool?
}

private struct GraphErrorBody: Decodable {
    struct Detail: Decodable {
        let code: String
    }

    let error: Detail
}
