import Configuration
import Foundation
import GatewayCore
import GatewayHTTP
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing

@testable import GatewayService

@Suite("Provider states")
struct ProviderStateTests {
    static let secret = "provider-states-secret-for-tests-0123456789"

    @Test("The provider-state route does not exist in a normal start")
    func absentByDefault() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: nil)
        try await gateway.test { client in
            let reply = try await client.call(.post, "/_test/provider-states", body: Body.json(["state": "x"]), key: nil)
            #expect(reply.status == .notFound)
        }
        let configuration = GatewayConfiguration(reader: ConfigReader(provider: InMemoryProvider(values: [:])))
        #expect(configuration.testProviderStates == false)
    }

    @Test("With the test flag it freezes the clock and seeds sessions; only on loopback")
    func enabled() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: nil)
        let clock = FreezableClock()
        let base = gateway.dependencies
        let dependencies = GatewayHTTPDependencies(
            sessions: base.sessions, publicBaseURL: base.publicBaseURL, schedulerKeys: base.schedulerKeys,
            defaultProvider: base.defaultProvider, metrics: PrometheusCollectorRegistry(), attendants: base.attendants,
            providerStatesClock: clock, providerStatesSecret: Self.secret)
        let state = Body.json([
            "state": "session B-1 is waiting",
            "params": [
                "now": "2026-12-01T09:50:00Z",
                "session": ["bookingId": "B-1", "state": "waiting", "roomReady": false, "code": "123456"],
            ],
        ])
        try await Application(router: buildGatewayRouter(dependencies)).test(.router) { client in
            for presented in [nil, "wrong-secret-of-the-same-length-as-the-real-one"] as [String?] {
                var headers: HTTPFields = [.contentType: "application/json"]
                if let presented { headers[.init("Test-Provider-States-Secret")!] = presented }
                let refused = try await client.execute(
                    uri: "/_test/provider-states", method: .post, headers: headers, body: state) { $0.status }
                #expect(refused == .unauthorized)
            }
            #expect(clock.now != RFC3339.date(from: "2026-12-01T09:50:00Z"))
            let reply = try await client.execute(
                uri: "/_test/provider-states", method: .post,
                headers: [.contentType: "application/json", .init("Test-Provider-States-Secret")!: Self.secret], body: state
            ) { $0.status }
            #expect(reply == .ok)
            #expect(clock.now == RFC3339.date(from: "2026-12-01T09:50:00Z"))
            let session = try #require(try await gateway.store.session(for: BookingID("B-1")!)?.session)
            #expect(session.state == .waiting && gateway.sessions.codeHasher.matches("123456", session.access.codeHash))
        }
        let exposed = GatewayConfiguration(
            reader: ConfigReader(provider: InMemoryProvider(values: ["test.provider.states": true, "http.host": "0.0.0.0"])))
        #expect(exposed.validationErrors().contains { $0.contains("TEST_PROVIDER_STATES") })
        let withoutSecret = GatewayConfiguration(
            reader: ConfigReader(provider: InMemoryProvider(values: ["test.provider.states": true])))
        #expect(withoutSecret.validationErrors().contains { $0.contains("TEST_PROVIDER_STATES_SECRET") })
    }
}
