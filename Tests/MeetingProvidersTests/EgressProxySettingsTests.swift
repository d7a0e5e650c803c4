import Foundation
@testable import MeetingProviders
import Testing

@Suite("Egress proxy settings")
struct EgressProxySettingsTests {
    static func route(_ url: String, _ environment: [String: String]) -> EgressProxySettings.Route {
        EgressProxySettings(environment: environment).route(for: URL(string: url)!)
    }

    @Test("https URLs take HTTPS_PROXY and http URLs HTTP_PROXY, upper or lower case")
    func proxiesBySchemeAndCase() {
        let both = ["HTTPS_PROXY": "http://egress.example:3128/", "http_proxy": "egress.example:8080"]
        #expect(Self.route("https://api.zoom.us/v2/users/me", both) == .httpsProxy)
        #expect(Self.route("http://bbb.example/bigbluebutton/api/create", both) == .httpProxy)
        #expect(Self.route("https://api.zoom.us/v2", ["http_proxy": "egress.example:8080"]) == .direct)
        #expect(Self.route("https://api.zoom.us/v2", [:]) == .direct)
    }

    @Test("NO_PROXY lists hosts and domain suffixes reached directly; * is every host")
    func noProxy() {
        let environment = ["HTTPS_PROXY": "egress.example:3128", "NO_PROXY": "localhost, .agency.example,graph.microsoft.com"]
        #expect(Self.route("https://localhost/x", environment) == .direct)
        #expect(Self.route("https://bbb.agency.example/api", environment) == .direct)
        #expect(Self.route("https://agency.example/api", environment) == .direct)
        #expect(Self.route("https://graph.microsoft.com/v1.0/me", environment) == .direct)
        #expect(Self.route("https://notagency.example/api", environment) == .httpsProxy)
        #expect(Self.route("https://api.daily.co/v1/rooms", environment) == .httpsProxy)
        #expect(Self.route("https://api.daily.co/v1/rooms", ["HTTPS_PROXY": "egress.example:3128", "no_proxy": "*"]) == .direct)
    }

    @Test("A proxy that is not host:port is reported, an empty one is no proxy")
    func problems() {
        let message = " must be host:port or http://host:port (no user or password)"
        #expect(EgressProxySettings.problems(in: ["HTTPS_PROXY": "egress.example"]) == ["HTTPS_PROXY" + message])
        #expect(EgressProxySettings.problems(in: ["http_proxy": "egress.example:99999"]) == ["HTTP_PROXY" + message])
        #expect(EgressProxySettings.problems(in: ["HTTPS_PROXY": "http://agent:secret@egress.example:3128"]) == ["HTTPS_PROXY" + message])
        #expect(EgressProxySettings.problems(in: ["HTTPS_PROXY": "socks5://egress.example:1080"]) == ["HTTPS_PROXY" + message])
        #expect(EgressProxySettings.proxy("HTTP://egress.example:3128/") == .server(host: "egress.example", port: 3128))
        #expect(EgressProxySettings.problems(in: ["HTTPS_PROXY": "", "HTTP_PROXY": "http://egress.example:3128"]).isEmpty)
        #expect(EgressProxySettings(environment: ["HTTPS_PROXY": ""]).httpsProxy == nil)
    }
}
