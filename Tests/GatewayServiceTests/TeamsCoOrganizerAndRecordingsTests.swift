import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing

@testable import GatewayHTTP
@testable import MeetingProviders

/// The values the co-organizer and recordings interactions of `video-gateway-msgraph.json` were recorded with.
enum GraphTeamsFixtures {
    static let attendantA = "8c1e4a0b-5b7a-4c9e-9d3f-2a6b1c0d7e41"
    static let attendantB = "2f9d7c3e-1a4b-4e8f-b6c5-d0e1f2a3b4c5"
    static let organizer = "550fae72-d251-43ec-868c-373732c2704f"
    static let subscriptionID = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
    static let notificationURL = URL(string: "https://gateway.seg-social.example/v1/webhooks/msteams")!
    static let clientState = "graph-client-state-test"
    static let joinURL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_B-1%40thread.v2/0?context=%7b%7d"
    /// `ProviderFixtures.now` + 4,315 minutes.
    static let longestExpiry = "2026-12-04T09:57:00Z"

    static let coOrganizerState = "attendant \(attendantA) is a co-organizer of the Teams meeting of booking B-1"
    static let subscriptionState = "the recordings subscription of booking B-1 exists"

    /// Replays the co-organizer and recordings interactions of the msgraph pact through `replay`'s adapter
    /// (called from `ProviderContractTests.graph`, which requires every interaction to be replayed).
    static func replayCoOrganizersAndSubscriptions(_ replay: Replay) async throws {
        let id = ProviderFixtures.graphMeetingID
        let spec = ProviderFixtures.spec
        func host(_ attendant: String) -> @Sendable (any MeetingProvider) async throws -> RoomEntry {
            { try await $0.hostEntry(for: spec, providerRoomID: id, attendantID: attendant) }
        }
        // Not a directory object id, or the organizer itself: the link only, nothing changed. (The step
        // before in `graph` left no token.)
        #expect(try await replay.step(["graph-token", "graph-get-meeting"], host("a-17")).get().joinURL == joinURL)
        #expect(try await replay.step(["graph-get-meeting"], host(organizer.uppercased())).get().joinURL == joinURL)
        // A directory object id (whatever its case) becomes a co-organizer before the link is given.
        #expect(
            try await replay.step(["graph-get-meeting", "graph-add-coorganizer"], host(attendantA.uppercased())).get().joinURL
                == joinURL)
        // Already a co-organizer: read, nothing sent.
        #expect(try await replay.step(["graph-get-meeting-with-coorganizer"], host(attendantA)).get().joinURL == joinURL)
        // Another attendant: the attendee read goes back with them added.
        #expect(
            try await replay.step(["graph-get-meeting-with-coorganizer", "graph-add-second-coorganizer"], host(attendantB))
                .get().joinURL == joinURL)

        func subscriptions(_ provider: any MeetingProvider) throws -> any RecordingSubscriptions {
            try #require(provider as? any RecordingSubscriptions)
        }
        let created = try await replay.step(["graph-create-recording-subscription"]) {
            try await subscriptions($0).createRecordingSubscription(for: id)
        }.get()
        #expect(created == RecordingSubscription(id: subscriptionID, expiresAt: RFC3339.date(from: longestExpiry)!))
        #expect(try sentExpiry(replay) == longestExpiry, "the longest lifetime Graph allows, less five minutes")

        let renewed = try await replay.step(["graph-renew-recording-subscription"]) {
            try await subscriptions($0).renewSubscription(subscriptionID, until: spec.expiresAt)
        }.get()
        #expect(renewed == RecordingSubscription(id: subscriptionID, expiresAt: spec.expiresAt))
        #expect(try sentExpiry(replay) == "2026-12-01T14:30:00Z")
        // Asked for more than Graph allows: the longest allowed is asked for instead.
        _ = try await replay.step(["graph-renew-recording-subscription"]) {
            try await subscriptions($0).renewSubscription(subscriptionID, until: ProviderFixtures.now + .seconds(10 * 86_400))
        }.get()
        #expect(try sentExpiry(replay) == longestExpiry)

        try await replay.step(["graph-delete-recording-subscription"]) {
            try await subscriptions($0).deleteSubscription(subscriptionID)
        }.get()
        try await replay.step(["graph-delete-recording-subscription-gone"]) {
            try await subscriptions($0).deleteSubscription(subscriptionID)
        }.get()
    }

    /// The `expirationDateTime` of the last request the replay server received.
    static func sentExpiry(_ replay: Replay) throws -> String? {
        let body = try #require(replay.server.received.last?.body)
        return (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["expirationDateTime"] as? String
    }
}

@Suite("Microsoft Teams: co-organizer attendants and recording subscriptions")
struct TeamsCoOrganizerTests {
    @Test("Only a directory object id (a GUID) is taken as an Entra user; it is compared lower-cased")
    func directoryObjectIDs() {
        #expect(MicrosoftTeamsProvider.directoryObjectID("8C1E4A0B-5B7A-4C9E-9D3F-2A6B1C0D7E41") == GraphTeamsFixtures.attendantA)
        #expect(MicrosoftTeamsProvider.directoryObjectID(GraphTeamsFixtures.attendantA) == GraphTeamsFixtures.attendantA)
        for other in ["a-17", "", "maria@seg-social.example", "{8c1e4a0b-5b7a-4c9e-9d3f-2a6b1c0d7e41}", "8c1e4a0b5b7a4c9e9d3f2a6b1c0d7e41"] {
            #expect(MicrosoftTeamsProvider.directoryObjectID(other) == nil, "\(other)")
        }
    }

    @Test("Without a notification URL and client state no subscription is asked for")
    func subscriptionsNeedTheirSettings() async throws {
        let transport = CapturingTransport()
        let adapter = MicrosoftTeamsProvider(
            configuration: .init(
                tenantID: "11111111-2222-3333-4444-555555555555", clientID: "33333333-4444-5555-6666-777777777777",
                clientSecret: "graph-test-client-secret", organizerUserID: GraphTeamsFixtures.organizer,
                apiBaseURL: URL(string: "https://graph.example/v1.0")!, loginBaseURL: URL(string: "https://login.example")!),
            transport: transport, clock: ManualClock(ProviderFixtures.now))
        await #expect(throws: ProviderError.rejected(
            code: "provider_not_configured",
            message: "msgraph: recording subscriptions need the notification URL and GRAPH_CLIENT_STATE")
        ) {
            try await adapter.createRecordingSubscription(for: ProviderFixtures.graphMeetingID)
        }
        #expect(transport.urls.isEmpty)
    }

    @Test("Subscription ids are one path segment")
    func subscriptionIDEncoding() async throws {
        let transport = CapturingTransport()
        let adapter = ProviderFixtures.adapter(
            "msgraph", base: URL(string: "https://graph.example")!, transport: transport, clock: ManualClock(ProviderFixtures.now))
        try await #require(adapter as? any RecordingSubscriptions).deleteSubscription("a/b?c")
        #expect(transport.urls.last == "https://graph.example/v1.0/subscriptions/a%2Fb%3Fc")
    }

    @Test("Against the real pact stub: co-organizers added once, the attendee list kept, subscriptions made, renewed, deleted",
          .enabled(if: PactStub.cli != nil, "the pact CLI is not installed"))
    func againstPactStub() async throws {
        try await PactStub.serving("video-gateway-msgraph.json") { stub in
            let transport = ProviderStateTransport()
            let adapter = ProviderFixtures.adapter(
                "msgraph", base: stub.base, transport: transport, clock: ManualClock(ProviderFixtures.now))
            let spec = ProviderFixtures.spec
            let id = ProviderFixtures.graphMeetingID
            func states(_ state: String) {
                transport.states { $0.url.path.hasSuffix("/oauth2/v2.0/token") ? "the Entra ID app registration is valid" : state }
            }
            let meetingPath = "/v1.0/users/\(GraphTeamsFixtures.organizer)/onlineMeetings/\(id)"

            states("the Teams meeting of booking B-1 exists")
            let first = try await adapter.hostEntry(for: spec, providerRoomID: id, attendantID: GraphTeamsFixtures.attendantA)
            #expect(first.joinURL == GraphTeamsFixtures.joinURL)
            #expect(transport.log.suffix(2) == ["GET \(meetingPath) 200", "PATCH \(meetingPath) 200"], "\(transport.log)")

            states(GraphTeamsFixtures.coOrganizerState)
            _ = try await adapter.hostEntry(for: spec, providerRoomID: id, attendantID: GraphTeamsFixtures.attendantA)
            #expect(transport.log == ["GET \(meetingPath) 200"], "already a co-organizer: nothing sent")
            _ = try await adapter.hostEntry(for: spec, providerRoomID: id, attendantID: GraphTeamsFixtures.attendantB)
            #expect(transport.log.last == "PATCH \(meetingPath) 200", "the stub matched the list with both: \(transport.log)")

            let subscriptions = try #require(adapter as? any RecordingSubscriptions)
            let subscriptionPath = "/v1.0/subscriptions/\(GraphTeamsFixtures.subscriptionID)"
            states("the Teams meeting of booking B-1 exists and the gateway's webhook answers Graph's validation")
            let created = try await subscriptions.createRecordingSubscription(for: id)
            #expect(created.id == GraphTeamsFixtures.subscriptionID)
            #expect(created.expiresAt == RFC3339.date(from: GraphTeamsFixtures.longestExpiry))
            #expect(transport.log == ["POST /v1.0/subscriptions 201"])
            states(GraphTeamsFixtures.subscriptionState)
            let renewed = try await subscriptions.renewSubscription(created.id, until: spec.expiresAt)
            #expect(renewed.expiresAt == spec.expiresAt)
            try await subscriptions.deleteSubscription(created.id)
            #expect(transport.log == ["PATCH \(subscriptionPath) 200", "DELETE \(subscriptionPath) 204"])
            states("no recordings subscription exists for booking B-1")
            try await subscriptions.deleteSubscription(created.id)
            #expect(transport.log == ["DELETE \(subscriptionPath) 404"], "already gone: success")
        }
    }
}

@Suite("Microsoft Graph recording notifications")
struct GraphRecordingNotificationTests {
    /// The meeting id of the examples on Graph's page "Get change notifications for meeting transcripts and
    /// recordings" (https://learn.microsoft.com/graph/teams-changenotifications-callrecording-and-calltranscript).
    static let documentedMeetingID =
        "MSo5NzZmNGIzMS1mZDAxLTRlMGItOTE3OC0yOWNjNDBjMTQ0MzgqMCoqMTk6bWVldGluZ19NMk0zTlRReFkySXRaamsyWmkwME5UTTRMV0l4TTJFdE1EQmtPV1E1TW1Rek0yRXhAdGhyZWFkLnYy"
    static let documentedRecordingID =
        "VjIjIzE5NzZmNGIzMS1mZDAxLTRlMGItOTE3OC0yOWNjNDBjMTQ0MzgyNDMyYjU3Yi0wYWJkLTQzZGItYWE3Yi0xNmVhZGQxMTVkMzQwNDAwMDAwMDgyMDBFMDAwNzRDNUI3MTAxQTgyRTAwODAwMDAwMDAwMDZhODllMWZkYmJlZDkwMTAwMDAwMDAwMDAwMDAwMDAxMDAwMDAwMDA5NzUzYzg5ZWI3MmJkNDJiYWZjMTVkZDA4NWNmNWJlIyNjZmNjNTBjMy0zODllLTQyOTUtOWRiNy1mMjkwYWY2NDJlNzI="

    /// The page's "notification without resource data" for a recording, in the `{"value": [...]}` collection
    /// Graph delivers, with our clientState in place of its placeholder.
    static func basicNotification(clientState: String = GraphTeamsFixtures.clientState, meetingID: String = documentedMeetingID)
        -> String
    {
        let resource = "communications/onlineMeetings('\(meetingID)')/recordings('\(documentedRecordingID)')"
        return """
            {"value":[{
              "subscriptionId": "6aa5ced2-0a5a-4643-9274-3109c731d986",
              "changeType": "created",
              "tenantId": "<<--TenantForWhichNotificationWasSent-->>",
              "clientState": "\(clientState)",
              "subscriptionExpirationDateTime": "2023-09-17T08:27:05.0241757+00:00",
              "resource": "\(resource)",
              "resourceData": {
                "id": "\(documentedRecordingID)",
                "@odata.type": "#Microsoft.Graph.callRecording",
                "@odata.id": "\(resource)"
              }
            }]}
            """
    }

    /// The page's "notification with resource data" for a recording, as documented (encrypted content and
    /// validation tokens included).
    static let richNotification = """
        {
          "value": [
            {
              "subscriptionId": "7a62d59e-a789-4dd7-9c85-cf7d6567890d",
              "changeType": "created",
              "clientState": "graph-client-state-test",
              "subscriptionExpirationDateTime": "2023-09-17T08:20:06.9211285+00:00",
              "resource": "communications/onlineMeetings('\(documentedMeetingID)')/recordings('\(documentedRecordingID)')",
              "resourceData": {
                "id": "\(documentedRecordingID)",
                "@odata.type": "#Microsoft.Graph.callRecording",
                "@odata.id": "communications/onlineMeetings('\(documentedMeetingID)')/recordings('\(documentedRecordingID)')"
              },
              "EncryptedContent": {
                "data": "<<--EncryptedContent-->>",
                "dataKey": "<<--EnryptedDataKeyUsedForEncryptingContent-->>",
                "encryptionCertificateId": "<<--IdOfTheCertificateUsedForEncryptingDataKey-->>",
                "encryptionCertificateThumbprint": "<<--ThumbprintOfTheCertificateUsedForEncryptingDataKey-->>"
              },
              "tenantId": "<<--TenantForWhichNotificationWasSent-->>"
            }
          ],
          "validationTokens": [
            "<<--ValidationTokens-->>"
          ]
        }
        """

    @Test("A documented recording notification names its meeting: room id = the onlineMeeting id, recording started")
    func documentedShapes() throws {
        for body in [Self.basicNotification(), Self.richNotification] {
            let event = try GraphWebhook.event(in: Data(body.utf8), clientState: GraphTeamsFixtures.clientState)
            #expect(event.roomID == Self.documentedMeetingID)
            #expect(event.meaning == .recordingStarted)
        }
    }

    @Test("The meeting is read from resource, else from resourceData's @odata.id; call events and lifecycle events name none")
    func meetingIDs() throws {
        #expect(GraphWebhook.meetingID(in: "communications/onlineMeetings('MSo1')/recordings('r')") == "MSo1")
        #expect(GraphWebhook.meetingID(in: "communications/onlineMeetings('')/recordings('r')") == nil)
        #expect(GraphWebhook.meetingID(in: "communications/onlineMeetings?$filter=joinWebUrl eq 'https://x'") == nil)
        #expect(GraphWebhook.meetingID(in: nil) == nil)
        let onlyODataID = ##"{"value":[{"clientState":"s","resourceData":{"@odata.type":"#Microsoft.Graph.callRecording","@odata.id":"communications/onlineMeetings('MSo2')/recordings('r')"}}]}"##
        #expect(try GraphWebhook.event(in: Data(onlyODataID.utf8), clientState: "s").roomID == "MSo2")
        let lifecycle = ##"{"value":[{"subscriptionId":"x","subscriptionExpirationDateTime":"2025-11-24T17:00:00Z","tenantId":"t","clientState":"s","lifecycleEvent":"subscriptionRemoved"}]}"##
        let event = try GraphWebhook.event(in: Data(lifecycle.utf8), clientState: "s")
        #expect(event.roomID == nil && event.meaning == .other("subscriptionRemoved"))
        // In a batch, the recording is the notification acted on.
        let batch = ##"{"value":[{"clientState":"s","resource":"communications/onlineMeetings?$filter=x","resourceData":{"eventType":"Microsoft.Communication.CallEnded"}},{"clientState":"s","resource":"communications/onlineMeetings('MSo3')/recordings('r')","resourceData":{"@odata.type":"#Microsoft.Graph.callRecording"}}]}"##
        let batched = try GraphWebhook.event(in: Data(batch.utf8), clientState: "s")
        #expect(batched.roomID == "MSo3" && batched.meaning == .recordingStarted)
    }

    /// A gateway with Graph's client state and booking B-1 in a Teams call in the documented meeting.
    static func teamsCallInProgress(store: any GatewayStore) async throws -> (TestGateway, GatewayHTTPDependencies) {
        let gateway = await TestGateway(store: store, simulatorURL: nil)
        let base = gateway.dependencies
        let dependencies = GatewayHTTPDependencies(
            sessions: base.sessions, publicBaseURL: base.publicBaseURL, schedulerKeys: base.schedulerKeys,
            defaultProvider: base.defaultProvider, metrics: PrometheusCollectorRegistry(), attendants: base.attendants,
            webhookSecrets: WebhookSecrets(graphClientState: GraphTeamsFixtures.clientState))
        var session = Session(
            bookingID: BookingID("B-1")!,
            booking: Booking(
                service: "prestacoes-familiares", startsAt: gateway.clock.now, endsAt: gateway.clock.now + .seconds(1800),
                provider: "msteams", citizen: Citizen(name: "Maria", email: "m@example.pt")),
            access: AccessCredentials.issue(using: .random()).0, createdAt: gateway.clock.now)
        session.state = .inProgress
        session.room = Room(status: .ready, recording: .disabled, providerRoomID: documentedMeetingID)
        try await store.apply(SessionChange(session: session, expectedVersion: nil))
        // A Daily session whose room id a Graph notification could name: never touched by one.
        var daily = Session(
            bookingID: BookingID("B-2")!,
            booking: Booking(
                service: "prestacoes-familiares", startsAt: gateway.clock.now, endsAt: gateway.clock.now + .seconds(1800),
                provider: "daily", citizen: Citizen(name: "Rui", email: "r@example.pt")),
            access: AccessCredentials.issue(using: .random()).0, createdAt: gateway.clock.now)
        daily.state = .inProgress
        daily.room = Room(status: .ready, recording: .disabled, providerRoomID: "vg-room-2")
        try await store.apply(SessionChange(session: daily, expectedVersion: nil))
        return (gateway, dependencies)
    }

    @Test("POST /v1/webhooks/msteams: a recording of the session's meeting starts enforcement once; others do nothing")
    func enforcementThroughTheRoute() async throws {
        let (gateway, dependencies) = try await Self.teamsCallInProgress(store: InMemoryStore())
        try await Application(router: buildGatewayRouter(dependencies)).test(.router) { client in
            func post(_ body: String) async throws -> HTTPResponse.Status {
                try await client.execute(
                    uri: "/v1/webhooks/msteams", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: body)
                ) { $0.status }
            }
            let accepted = try await post(Self.basicNotification())
            let redelivered = try await post(Self.basicNotification())
            let otherMeeting = try await post(Self.basicNotification(meetingID: "MSo5OTk5"))
            let forged = try await post(Self.basicNotification(clientState: "forged"))
            let dailyRoom = try await post(Self.basicNotification(meetingID: "vg-room-2"))
            #expect(accepted == .ok && redelivered == .ok, "a redelivery is answered")
            #expect(otherMeeting == .ok && dailyRoom == .ok, "another meeting or provider: answered, nothing done")
            #expect(forged == .unauthorized)
        }
        let bookingID = BookingID("B-1")!
        let stops = try await gateway.store.jobs(for: bookingID).filter { $0.kind == .stopRecording }
        #expect(stops.count == 1)
        let trail = try await gateway.store.auditTrail(for: bookingID)
        #expect(trail.filter { $0.event == "recording_started" && $0.actor == .provider }.count == 1)
        #expect(try await gateway.store.session(for: bookingID)?.session.room.recording == .started)
        #expect(try await gateway.store.jobs(for: BookingID("B-2")!).filter { $0.kind == .stopRecording }.isEmpty)
        #expect(try await gateway.store.session(for: BookingID("B-2")!)?.session.room.recording == .disabled)
    }
}
