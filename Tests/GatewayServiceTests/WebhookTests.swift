import Crypto
import Foundation
import GatewayCore
import GatewayHTTP
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import MeetingProviders
import Prometheus
import SessionOrchestration
import Testing

@Suite("Provider webhooks")
struct ProviderWebhookTests {
    static let secret = Data("daily-webhook-test-secret".utf8)

    static func signed(_ body: String, at timestamp: Int, key: Data = secret) -> HTTPFields {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: key))
        return [
            .contentType: "application/json", .init("X-Webhook-Timestamp")!: "\(timestamp)",
            .init("X-Webhook-Signature")!: Data(mac).base64EncodedString(),
        ]
    }

    /// A gateway with Daily's webhook secret and booking B-1 in a call in Daily room `vg-room-1`.
    static func dailyCallInProgress(store: any GatewayStore) async throws -> (TestGateway, GatewayHTTPDependencies) {
        let gateway = await TestGateway(store: store, simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        let base = gateway.dependencies
        let dependencies = GatewayHTTPDependencies(
            sessions: base.sessions, publicBaseURL: base.publicBaseURL, schedulerKeys: base.schedulerKeys,
            defaultProvider: base.defaultProvider, metrics: PrometheusCollectorRegistry(), attendants: base.attendants,
            webhookSecrets: WebhookSecrets(daily: secret.base64EncodedString()))
        var session = Session(
            bookingID: BookingID("B-1")!,
            booking: Booking(
                service: "prestacoes-familiares", startsAt: gateway.clock.now, endsAt: gateway.clock.now + .seconds(1800),
                provider: "daily", citizen: Citizen(name: "Maria", email: "m@example.pt")),
            access: AccessCredentials.issue(using: .random()).0, createdAt: gateway.clock.now)
        session.state = .inProgress
        session.room = Room(status: .ready, recording: .disabled, providerRoomID: "vg-room-1")
        try await store.apply(SessionChange(session: session, expectedVersion: nil))
        return (gateway, dependencies)
    }

    @Test("A participant leaving or joining the call reaches the attendants once, as guest or host")
    func callPresence() async throws {
        let (gateway, dependencies) = try await Self.dailyCallInProgress(store: InMemoryStore())
        let now = Int(gateway.clock.now.timeIntervalSince1970)
        let subscription = gateway.sessions.liveEvents.subscribe(after: nil) { $0.audience == .attendants }
        let left = #"{"id":"evt-left-1","payload":{"room":"vg-room-1","owner":false,"user_id":null},"type":"participant.left","version":"1.0.0"}"#
        let host = #"{"id":"evt-join-2","payload":{"room":"vg-room-1","owner":true,"user_id":"a-17"},"type":"participant.joined","version":"1.0.0"}"#
        try await Application(router: buildGatewayRouter(dependencies)).test(.router) { client in
            for body in [left, left, host] {
                let status = try await client.execute(
                    uri: "/v1/webhooks/daily", method: .post, headers: Self.signed(body, at: now), body: ByteBuffer(string: body)
                ) { $0.status }
                #expect(status == .ok)
            }
        }
        var received: [LiveEvent] = []
        for await event in subscription.events {
            received.append(event)
            if received.count == 2 { break }
        }
        #expect(received.map(\.name) == ["call.participant", "call.participant"])
        #expect(received[0].data["role"] == .string("guest") && received[0].data["presence"] == .string("left"))
        #expect(received[1].data["role"] == .string("host") && received[1].data["presence"] == .string("joined"))
        #expect(received.allSatisfy { $0.bookingID == BookingID("B-1")! })
    }

    @Test("A verified Daily recording.started ends the room once; forged, stale and unconfigured are refused")
    func dailyRecordingStarted() async throws {
        let (gateway, dependencies) = try await Self.dailyCallInProgress(store: InMemoryStore())
        let now = Int(gateway.clock.now.timeIntervalSince1970)
        let body = #"{"id":"evt-1","payload":{"room_name":"vg-room-1"},"type":"recording.started","version":"1.0.0"}"#
        try await Application(router: buildGatewayRouter(dependencies)).test(.router) { client in
            func post(_ headers: HTTPFields, _ text: String = body, provider: String = "daily") async throws -> HTTPResponse.Status {
                try await client.execute(
                    uri: "/v1/webhooks/\(provider)", method: .post, headers: headers, body: ByteBuffer(string: text)
                ) { $0.status }
            }
            let accepted = try await post(Self.signed(body, at: now))
            let redelivered = try await post(Self.signed(body, at: now))
            let forged = try await post(Self.signed(body, at: now, key: Data("another".utf8)))
            let stale = try await post(Self.signed(body, at: now - 900))
            // The signature covers the exact bytes: the same JSON re-serialised does not pass.
            let reserialised = try await post(Self.signed(body, at: now), body.replacingOccurrences(of: ",", with: ", "))
            let unconfigured = try await post(Self.signed(body, at: now), provider: "zoom")
            #expect(accepted == .ok && redelivered == .ok)
            #expect(forged == .unauthorized && stale == .unauthorized && reserialised == .unauthorized)
            #expect(unconfigured == .notFound)
        }
        let stops = try await gateway.store.jobs(for: BookingID("B-1")!).filter { $0.kind == .stopRecording }
        #expect(stops.count == 1)
        let trail = try await gateway.store.auditTrail(for: BookingID("B-1")!)
        #expect(trail.filter { $0.event == "recording_started" && $0.actor == .provider }.count == 1)
    }
}
