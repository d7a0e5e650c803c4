import Configuration
import Foundation
import GatewayCore
import MeetingProviders
import Testing

@testable import GatewayService

@Suite("Provider settings")
struct ProviderSettingsTests {
    static func configuration(_ values: [AbsoluteConfigKey: ConfigValue]) -> GatewayConfiguration {
        GatewayConfiguration(reader: ConfigReader(provider: InMemoryProvider(values: values)))
    }

    @Test("A provider is configured once all of its keys are set; a partial set is refused by name")
    func completeOrRefused() {
        let none = Self.configuration([:])
        #expect(none.providerSettingErrors().isEmpty)
        #expect(none.configuredProviders(transport: NIOHTTPTransport(), clock: SystemClock()).isEmpty)

        let all = Self.configuration([
            "daily.api.key": "k", "zoom.account.id": "a", "zoom.client.id": "c", "zoom.client.secret": "s",
            "graph.tenant.id": "t", "graph.client.id": "c", "graph.client.secret": "s",
            "graph.organizer.user.id": "u", "bbb.api.url": "https://bbb.example.org/bigbluebutton/api",
            "bbb.secret": "s",
        ])
        #expect(all.providerSettingErrors().isEmpty)
        let names = all.configuredProviders(transport: NIOHTTPTransport(), clock: SystemClock()).keys.sorted()
        #expect(names == ["bigbluebutton", "daily", "msteams", "zoom"])

        let partial = Self.configuration([
            "zoom.account.id": "a", "graph.tenant.id": "t", "bbb.api.url": "https://bbb.example.org/bigbluebutton/api",
            "bbb.checksum": "md5",
        ])
        let errors = partial.validationErrors()
        #expect(errors.contains("Zoom needs ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET as well"))
        #expect(errors.contains { $0.hasPrefix("Microsoft Graph needs GRAPH_CLIENT_ID") })
        #expect(errors.contains("BigBlueButton needs BBB_SECRET as well"))
        #expect(errors.contains { $0.hasPrefix("BBB_CHECKSUM must be one of") })
        #expect(partial.configuredProviders(transport: NIOHTTPTransport(), clock: SystemClock()).isEmpty)
    }

    @Test("BBB_SECRET alone only verifies BigBlueButton's webhooks")
    func webhookSecretAlone() {
        let configuration = Self.configuration(["bbb.secret": "s"])
        #expect(configuration.providerSettingErrors().isEmpty)
        #expect(configuration.configuredProviders(transport: NIOHTTPTransport(), clock: SystemClock()).isEmpty)
    }
}
