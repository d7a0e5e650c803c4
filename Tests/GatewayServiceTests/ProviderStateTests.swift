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
            providerStatesClock: clock)
        try await Application(router: buildGatewayRouter(dependencies)).test(.router) { client in
            let reply = try await client.call(
                .post, "/_test/provider-states",
                body: Body.json([
                    "state": "session B-1 is waiting",
                    "params": [
                        "now": "2026-12-01T09:50:00Z",
                        "session": ["bookingId": "B-1", "state": "waiting", "roomReady": false, "code": "123456"],
                    ],
                ]), key: nil)
            #expect(reply.status == .ok)
            #expect(clock.now == RFC3339.date(from: "2026-12-01T09:50:00Z"))
            let session = try #require(try await gateway.store.session(for: BookingID("B-1")!)?.session)
            #expect(session.state == .waiting && gateway.sessions.codeHasher.matches("123456", session.access.codeHash))
        }
        let exposed = GatewayConfiguration(
            reader: ConfigReader(provider: InMemoryProvider(values: ["test.provider.states": true, "http.host": "0.0.0.0"])))
        #expect(exposed.validationErrors().contains { $0.contains("TEST_PROVIDER_STATES") })
    }
}
