import Foundation
import GatewayCore
import MeetingProviders

/// The booking and credentials the provider pacts in `Fixtures/pacts` were recorded with.
enum ProviderFixtures {
    /// 2026-12-01T10:02:00Z: two minutes into the slot (the Daily citizen token's `exp` is 15 minutes later).
    static let now = Date(timeIntervalSince1970: 1_796_119_320)

    static let spec = RoomSpec(
        bookingID: BookingID("B-1")!, service: "prestacoes-familiares",
        startsAt: Date(timeIntervalSince1970: 1_796_119_200), endsAt: Date(timeIntervalSince1970: 1_796_121_000),
        opensAt: Date(timeIntervalSince1970: 1_796_117_400), expiresAt: Date(timeIntervalSince1970: 1_796_135_400))

    static let zoomMeetingID = "85746065432"
    static let graphMeetingID = "MSo1NTBmYWU3Mi1kMjUxLTQzZWMtODY4Yy0zNzM3MzJjMjcwNGYqMCoqMTk6bWVldGluZ19CLTFAdGhyZWFkLnYy"
    static let dailyRoomName = "vg-068205def3d5f3c2dd586e0c"
    static let bbbSecret = "bbb-shared-test-secret"

    /// The adapter of `provider` with every base URL under `base` (a loopback server).
    static func adapter(_ provider: String, base: URL, transport: any HTTPTransport, clock: any GatewayClock)
        -> any MeetingProvider
    {
        switch provider {
        case "zoom":
            ZoomProvider(
                configuration: .init(
                    accountID: "zoom-test-account", clientID: "zoom-test-client-id",
                    clientSecret: "zoom-test-client-secret", apiBaseURL: base.appendingPathComponent("v2"),
                    oauthBaseURL: base, timeout: .seconds(5)),
                transport: transport, clock: clock)
        case "msgraph":
            MicrosoftTeamsProvider(
                configuration: .init(
                    tenantID: "11111111-2222-3333-4444-555555555555", clientID: "33333333-4444-5555-6666-777777777777",
                    clientSecret: "graph-test-client-secret", organizerUserID: "550fae72-d251-43ec-868c-373732c2704f",
                    apiBaseURL: base.appendingPathComponent("v1.0"), loginBaseURL: base, timeout: .seconds(5),
                    notifications: .init(url: GraphTeamsFixtures.notificationURL, clientState: GraphTeamsFixtures.clientState)),
                transport: transport, clock: clock)
        case "bigbluebutton":
            BigBlueButtonProvider(
                configuration: .init(
                    apiURL: base.appendingPathComponent("bigbluebutton/api"), secret: bbbSecret, timeout: .seconds(5)),
                transport: transport, clock: clock)
        default:
            DailyProvider(
                configuration: .init(
                    baseURL: base.appendingPathComponent("v1"), apiKey: "daily-test-api-key", timeout: .seconds(5)),
                transport: transport, clock: clock)
        }
    }
}
