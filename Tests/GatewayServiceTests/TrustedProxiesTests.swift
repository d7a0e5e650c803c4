import Foundation
import HTTPTypes
import Testing

@testable import GatewayHTTP

/// Which address and scheme a request is from, behind which proxies.
@Suite("Trusted proxies")
struct TrustedProxiesTests {
    static let trusted = try! TrustedProxies.parse("10.0.0.0/8, 192.168.1.7, ::1, 2001:db8:1::/48").get()

    @Test(
        "The client is the right-most hop that is not a trusted proxy, and only a trusted peer is believed",
        arguments: [
            ("203.0.113.9", "X-Forwarded-For", "198.51.100.1", "203.0.113.9", nil as String?),
            ("10.1.2.3", "X-Forwarded-For", "198.51.100.1, 203.0.113.5", "203.0.113.5", nil),
            ("10.1.2.3", "X-Forwarded-For", "203.0.113.5, 10.9.9.9, 192.168.1.7", "203.0.113.5", nil),
            ("10.1.2.3", "X-Forwarded-For", "10.2.2.2, 10.3.3.3", "10.2.2.2", nil),
            ("10.1.2.3", "X-Forwarded-For", "not-an-address, 203.0.113.5", "203.0.113.5", nil),
            ("10.1.2.3", "X-Forwarded-For", "203.0.113.5, garbage", "10.1.2.3", nil),
            ("10.1.2.3", "Forwarded", "for=198.51.100.1, for=\"[2001:db8:cafe::17]:4711\";proto=https", "2001:db8:cafe::17", "https"),
            ("::1", "Forwarded", "for=192.0.2.60:8080;proto=http;by=10.0.0.1", "192.0.2.60", "http"),
            ("::ffff:10.0.0.5", "X-Forwarded-For", "203.0.113.5", "203.0.113.5", nil),
            ("2001:db8:1::5", "X-Forwarded-For", "2001:db8:2::5", "2001:db8:2::5", nil),
        ])
    func client(_ peer: String, _ header: String, _ value: String, _ address: String, _ scheme: String?) throws {
        var headers = HTTPFields()
        headers[HTTPField.Name(header)!] = value
        let client = Self.trusted.client(peer: peer, headers: headers)
        #expect(client.address == address)
        #expect(client.scheme == scheme)
    }

    @Test("X-Forwarded-Proto is taken from a trusted peer only, and only http or https")
    func scheme() {
        var headers = HTTPFields()
        headers[HTTPField.Name("X-Forwarded-Proto")!] = "https"
        #expect(Self.trusted.client(peer: "10.0.0.1", headers: headers).scheme == "https")
        #expect(Self.trusted.client(peer: "203.0.113.9", headers: headers).scheme == nil)
        headers[HTTPField.Name("X-Forwarded-Proto")!] = "javascript"
        #expect(Self.trusted.client(peer: "10.0.0.1", headers: headers).scheme == nil)
    }

    @Test("A list that is not addresses or CIDRs is refused, naming the entry", arguments: ["10.0.0.0/33", "proxy.example", "::1/129", "10.0.0.0/x"])
    func invalid(_ entry: String) {
        guard case .failure(let error) = TrustedProxies.parse("127.0.0.1, \(entry)") else {
            Issue.record("\(entry) was accepted")
            return
        }
        #expect(error.entry == entry)
    }
}
