import Foundation
import GatewayCore
import MeetingProviders

extension GatewayConfiguration {
    /// A provider is configured when all of its keys are set; some but not all is a mistake.
    func providerSettingErrors() -> [String] {
        var errors: [String] = []
        let groups: [(String, [(String, String?)])] = [
            (
                "Zoom",
                [("ZOOM_ACCOUNT_ID", zoomAccountID), ("ZOOM_CLIENT_ID", zoomClientID), ("ZOOM_CLIENT_SECRET", zoomClientSecret)]
            ),
            (
                "Microsoft Graph",
                [
                    ("GRAPH_TENANT_ID", graphTenantID), ("GRAPH_CLIENT_ID", graphClientID),
                    ("GRAPH_CLIENT_SECRET", graphClientSecret), ("GRAPH_ORGANIZER_USER_ID", graphOrganizerUserID),
                ]
            ),
        ]
        for (provider, keys) in groups {
            let missing = keys.filter { $0.1 == nil }.map(\.0)
            if !missing.isEmpty && missing.count < keys.count {
                errors.append("\(provider) needs \(missing.joined(separator: ", ")) as well")
            }
        }
        // BBB_SECRET alone is fine: it also verifies BigBlueButton's webhooks.
        if bbbAPIURL != nil && bbbSecret == nil { errors.append("BigBlueButton needs BBB_SECRET as well") }
        let urls = [
            ("DAILY_API_BASE_URL", dailyAPIBaseURL), ("ZOOM_API_BASE_URL", zoomAPIBaseURL),
            ("ZOOM_OAUTH_BASE_URL", zoomOAuthBaseURL), ("GRAPH_API_BASE_URL", graphAPIBaseURL),
            ("GRAPH_LOGIN_BASE_URL", graphLoginBaseURL), ("BBB_API_URL", bbbAPIURL ?? "https://unset"),
        ]
        for (name, value) in urls where URL(string: value)?.host == nil {
            errors.append("\(name) must be an absolute URL")
        }
        if BigBlueButtonProvider.ChecksumAlgorithm(rawValue: bbbChecksum) == nil {
            errors.append("BBB_CHECKSUM must be one of sha1, sha256, sha384, sha512")
        }
        return errors
    }

    /// The adapters whose settings are complete, by the name a session's `provider` uses.
    func configuredProviders(transport: any HTTPTransport, clock: any GatewayClock) -> [String: any MeetingProvider] {
        var providers: [String: any MeetingProvider] = [:]
        if let key = dailyAPIKey, let base = URL(string: dailyAPIBaseURL) {
            providers["daily"] = DailyProvider(
                configuration: .init(baseURL: base, apiKey: key, timeout: providerTimeout, entryLifetime: entryTokenLifetime),
                transport: transport, clock: clock)
        }
        if let accountID = zoomAccountID, let clientID = zoomClientID, let secret = zoomClientSecret,
            let api = URL(string: zoomAPIBaseURL), let oauth = URL(string: zoomOAuthBaseURL)
        {
            providers["zoom"] = ZoomProvider(
                configuration: .init(
                    accountID: accountID, clientID: clientID, clientSecret: secret, apiBaseURL: api,
                    oauthBaseURL: oauth, userID: zoomUserID, timeout: providerTimeout),
                transport: transport, clock: clock)
        }
        if let tenant = graphTenantID, let clientID = graphClientID, let secret = graphClientSecret,
            let organizer = graphOrganizerUserID, let api = URL(string: graphAPIBaseURL),
            let login = URL(string: graphLoginBaseURL)
        {
            providers["msteams"] = MicrosoftTeamsProvider(
                configuration: .init(
                    tenantID: tenant, clientID: clientID, clientSecret: secret, organizerUserID: organizer,
                    apiBaseURL: api, loginBaseURL: login, timeout: providerTimeout,
                    notifications: graphClientState.flatMap { state in
                        URL(string: resolvedPublicBaseURL + "/v1/webhooks/msteams").map {
                            MicrosoftTeamsProvider.Notifications(url: $0, clientState: state)
                        }
                    }),
                transport: transport, clock: clock)
        }
        if let apiURL = bbbAPIURL.flatMap(URL.init(string:)), let secret = bbbSecret,
            let algorithm = BigBlueButtonProvider.ChecksumAlgorithm(rawValue: bbbChecksum)
        {
            providers["bigbluebutton"] = BigBlueButtonProvider(
                configuration: .init(apiURL: apiURL, secret: secret, checksumAlgorithm: algorithm, timeout: providerTimeout),
                transport: transport, clock: clock)
        }
        return providers
    }
}
