import Foundation
import GatewayCore

/// Microsoft Teams meetings through Microsoft Graph (providers.md §1): an app-only token, `createOrGet`
/// keyed by the booking id, then a PATCH that puts everyone but the organizer in the lobby and turns
/// recording and transcription off. Teams has no API to admit from its lobby, so its own lobby stays on;
/// an attendant known by their directory object id is made a co-organizer, who may admit from it.
/// Recordings are reported by Graph change notifications (`RecordingSubscriptions`).
public struct MicrosoftTeamsProvider: MeetingProvider, RecordingSubscriptions {
    /// Where Graph sends change notifications and the secret they carry back.
    public struct Notifications: Sendable {
        /// The gateway's `…/v1/webhooks/msteams` (HTTPS; Graph validates it when a subscription is made).
        public var url: URL
        /// `GRAPH_CLIENT_STATE`: Graph echoes it in every notification (at most 128 characters).
        public var clientState: String

        public init(url: URL, clientState: String) {
            self.url = url
            self.clientState = clientState
        }
    }

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
        /// Needed for recording subscriptions only; without it `createRecordingSubscription` fails.
        public var notifications: Notifications?

        public init(
            tenantID: String, clientID: String, clientSecret: String, organizerUserID: String, apiBaseURL: URL,
            loginBaseURL: URL, timeout: Duration = .seconds(10), notifications: Notifications? = nil
        ) {
            self.tenantID = tenantID
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.organizerUserID = organizerUserID
            self.apiBaseURL = apiBaseURL
            self.loginBaseURL = loginBaseURL
            self.timeout = timeout
            self.notifications = notifications
        }
    }

    private let configuration: Configuration
    private let http: ProviderHTTP
    private let client: BearerClient
    private let clock: any GatewayClock

    public init(configuration: Configuration, transport: any HTTPTransport, clock: any GatewayClock) {
        self.configuration = configuration
        self.clock = clock
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
        try entry(try await read(providerRoomID))
    }

    /// When `attendantID` is a directory (Entra) object id, the attendant is made a co-organizer before the
    /// link is given: only the organizer and co-organizers may admit from the Teams lobby
    /// (`allowedLobbyAdmitters` organizerAndCoOrganizers). Any other `attendantID` (the gateway's own
    /// attendant ids) gets the meeting's link and nothing is changed.
    public func hostEntry(for spec: RoomSpec, providerRoomID: String, attendantID: String) async throws -> RoomEntry {
        let meeting = try await read(providerRoomID)
        if let userID = Self.directoryObjectID(attendantID), userID != configuration.organizerUserID.lowercased() {
            try await makeCoOrganizer(userID, of: meeting)
        }
        return try entry(meeting)
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

    /// Read with `Prefer: include-unknown-enum-members`, so that attendees' `coorganizer` role reads back
    /// as itself and not as `unknownFutureValue` (it is an evolvable enum member).
    private func read(_ id: String) async throws -> OnlineMeeting {
        let response = try await client.send("GET", meetings(id), headers: Self.includeUnknownEnumMembers)
        guard response.status == 200 else { throw failure(response) }
        return try http.decode(OnlineMeeting.self, from: response)
    }

    private func entry(_ meeting: OnlineMeeting) throws -> RoomEntry {
        guard let url = meeting.joinWebUrl else {
            throw ProviderError.invalidResponse("msgraph: the meeting has no joinWebUrl")
        }
        return RoomEntry(joinURL: url)
    }

    // MARK: Co-organizer

    static let includeUnknownEnumMembers = ["Prefer": "include-unknown-enum-members"]

    /// The attendant id as a directory (Entra) object id, lower-cased, when it is one (a GUID); nil for
    /// anything else, such as the gateway's own attendant ids.
    public static func directoryObjectID(_ attendantID: String) -> String? {
        UUID(uuidString: attendantID) == nil ? nil : attendantID.lowercased()
    }

    /// Graph's PATCH replaces `participants.attendees` with the list it is given, so the attendees just read
    /// go back unchanged with the attendant added as `coorganizer` (or their role raised to it); nothing
    /// is sent when they already are one. The lobby and recording settings go with it, as in every PATCH.
    private func makeCoOrganizer(_ userID: String, of meeting: OnlineMeeting) async throws {
        var attendees = meeting.participants?.attendees ?? []
        if let index = attendees.firstIndex(where: { $0.userID?.lowercased() == userID }) {
            guard attendees[index].role != "coorganizer" else { return }
            attendees[index] = attendees[index].withRole("coorganizer")
        } else {
            attendees.append(.coOrganizer(userID))
        }
        let body = SecureRequest(reschedule: nil, attendees: attendees)
        let response = try await client.send(
            "PATCH", meetings(meeting.id), json: try http.json(body), headers: Self.includeUnknownEnumMembers)
        guard response.status == 200 || response.status == 204 else { throw failure(response) }
    }

    // MARK: Recording subscriptions

    /// Graph allows 4,320 minutes for a Teams callRecording subscription; five minutes less, so that a
    /// clock running ahead of Graph's never asks for more than that.
    public var maximumSubscriptionLifetime: Duration { .seconds(4_320 * 60 - 300) }

    /// Subscriptions need the notification URL and `GRAPH_CLIENT_STATE` (see `Notifications`).
    public var canSubscribe: Bool { configuration.notifications != nil }

    /// `POST /subscriptions` on `communications/onlineMeetings/{id}/recordings`: the per-meeting resource
    /// Graph documents for application permissions (OnlineMeetingRecording.Read.All), so the gateway hears
    /// only of its own meetings. Basic notifications (no resource data, so no encryption certificate);
    /// an expiry beyond one hour needs `lifecycleNotificationUrl`, which is the same webhook.
    public func createRecordingSubscription(for providerRoomID: String) async throws -> RecordingSubscription {
        guard let notifications = configuration.notifications else {
            throw ProviderError.rejected(
                code: "provider_not_configured",
                message: "msgraph: recording subscriptions need the notification URL and GRAPH_CLIENT_STATE")
        }
        let webhook = notifications.url.absoluteString
        let body = SubscriptionRequest(
            notificationUrl: webhook, lifecycleNotificationUrl: webhook,
            resource: "communications/onlineMeetings/\(providerRoomID)/recordings",
            expirationDateTime: RFC3339.string(from: clock.now + maximumSubscriptionLifetime),
            clientState: notifications.clientState)
        let response = try await client.send("POST", subscriptions(nil), json: try http.json(body))
        guard response.status == 201 else { throw failure(response) }
        return try subscription(from: response)
    }

    /// `PATCH /subscriptions/{id}` with the new `expirationDateTime` (this also reauthorizes it).
    public func renewSubscription(_ id: String, until: Date) async throws -> RecordingSubscription {
        let latest = clock.now + maximumSubscriptionLifetime
        let body = ["expirationDateTime": RFC3339.string(from: min(until, latest))]
        let response = try await client.send("PATCH", subscriptions(id), json: try http.json(body))
        guard response.status == 200 else { throw failure(response) }
        return try subscription(from: response)
    }

    /// `DELETE /subscriptions/{id}`: 204, or 404 when it is already gone.
    public func deleteSubscription(_ id: String) async throws {
        let response = try await client.send("DELETE", subscriptions(id))
        guard [200, 204, 404].contains(response.status) else { throw failure(response) }
    }

    private func subscriptions(_ id: String?) -> URL {
        let base = configuration.apiBaseURL.absoluteString.hasSuffix("/")
            ? String(configuration.apiBaseURL.absoluteString.dropLast()) : configuration.apiBaseURL.absoluteString
        return URL(string: base + "/subscriptions" + (id.map { "/" + FormEncoding.encode($0) } ?? ""))!
    }

    private func subscription(from response: HTTPResponse) throws -> RecordingSubscription {
        let answer = try http.decode(SubscriptionAnswer.self, from: response)
        guard let expiresAt = RFC3339.date(from: answer.expirationDateTime) else {
            throw ProviderError.invalidResponse("msgraph: unreadable subscription expirationDateTime")
        }
        return RecordingSubscription(id: answer.id, expiresAt: expiresAt)
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
    let participants: Participants?

    struct Participants: Encodable {
        let attendees: [JSONValue]
    }

    /// With a spec, the new times and subject go with the settings (Graph needs both times together);
    /// with attendees, the whole list (Graph replaces it).
    init(reschedule spec: RoomSpec?, attendees: [JSONValue]? = nil) {
        subject = spec.map { "\($0.service) \($0.bookingID.rawValue)" }
        startDateTime = spec.map { RFC3339.string(from: $0.startsAt) }
        endDateTime = spec.map { RFC3339.string(from: $0.endsAt) }
        participants = attendees.map(Participants.init)
    }
}

private struct OnlineMeeting: Decodable {
    struct Participants: Decodable {
        let attendees: [JSONValue]?
    }

    let id: String
    let joinWebUrl: String?
    let recordAutomatically: Bool?
    let allowRecording: Bool?
    let allowTranscription: Bool?
    let participants: Participants?
}

private struct SubscriptionRequest: Encodable {
    let changeType = "created"
    let notificationUrl: String
    let lifecycleNotificationUrl: String
    let resource: String
    let includeResourceData = false
    let expirationDateTime: String
    let clientState: String
}

private struct SubscriptionAnswer: Decodable {
    let id: String
    let expirationDateTime: String
}

/// A meetingParticipantInfo kept as Graph sent it, so that the attendees read go back in the PATCH
/// unchanged: `identity.user.id` and `role`.
extension JSONValue {
    fileprivate subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    fileprivate var text: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    fileprivate var userID: String? { self["identity"]?["user"]?["id"]?.text }
    fileprivate var role: String? { self["role"]?.text }

    fileprivate func withRole(_ role: String) -> JSONValue {
        guard case .object(var members) = self else { return self }
        members["role"] = .string(role)
        return .object(members)
    }

    fileprivate static func coOrganizer(_ userID: String) -> JSONValue {
        .object(["identity": .object(["user": .object(["id": .string(userID)])]), "role": .string("coorganizer")])
    }
}

private struct GraphErrorBody: Decodable {
    struct Detail: Decodable {
        let code: String
    }

    let error: Detail
}
