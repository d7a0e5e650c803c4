import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Outbound HTTP on the server's own event loops (AsyncHTTPClient over SwiftNIO): connections are kept
/// alive and reused per host, TLS verifies against the system's trust roots, and a redirect is never
/// followed: a 3xx comes back as the answer (see `ProviderHTTP.send`), so a credential sent to one
/// host is never repeated to the host a `Location` header names.
///
/// An egress proxy is taken from `HTTPS_PROXY` (for https URLs) and `HTTP_PROXY` (for http URLs), upper
/// or lower case, as `host:port` or `http://host:port`; `NO_PROXY` lists the hosts (or domain suffixes,
/// `*` for every host) reached directly.
public struct NIOHTTPTransport: HTTPTransport {
    /// The longest answer read; a longer one fails the call (no provider answers more than a page).
    public static let maximumResponseBytes = 8 * 1024 * 1024

    private let routes: OutboundRoutes

    public init() {
        routes = .fromEnvironment
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var outbound = HTTPClientRequest(url: request.url.absoluteString)
        outbound.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers {
            outbound.headers.add(name: name, value: value)
        }
        if let body = request.body {
            outbound.body = .bytes(ByteBuffer(data: body))
        }
        let client = routes.client(for: request.url)
        do {
            let deadline = NIODeadline.now() + .nanoseconds(Int64(request.timeout.timeInterval * 1_000_000_000))
            let response = try await client.execute(outbound, deadline: deadline)
            let body = try await response.body.collect(upTo: Self.maximumResponseBytes)
            var headers: [String: String] = [:]
            for field in response.headers {
                let name = field.name.lowercased()
                headers[name] = headers[name].map { "\($0), \(field.value)" } ?? field.value
            }
            return HTTPResponse(status: Int(response.status.code), headers: headers, body: Data(buffer: body))
        } catch let error as HTTPClientError {
            // Its description names the failure (`deadlineExceeded`, `connectTimeout`, …), never the URL.
            throw ProviderError.unavailable("transport: \(error)")
        } catch {
            throw ProviderError.unavailable("transport: \(type(of: error))")
        }
    }
}

/// The process's HTTP clients: one direct, and one per egress proxy set in the environment. They live as
/// long as the process (a client must be shut down before it is released; these never are).
struct OutboundRoutes: Sendable {
    let direct: HTTPClient
    let httpsProxy: HTTPClient?
    let httpProxy: HTTPClient?
    let directHosts: [String]

    static let fromEnvironment = OutboundRoutes(environment: ProcessInfo.processInfo.environment)

    init(environment: [String: String]) {
        func setting(_ name: String) -> String? {
            let value = environment[name] ?? environment[name.lowercased()]
            return value?.isEmpty == false ? value : nil
        }
        direct = Self.client(proxy: nil)
        httpsProxy = setting("HTTPS_PROXY").flatMap(Self.proxy).map(Self.client)
        httpProxy = setting("HTTP_PROXY").flatMap(Self.proxy).map(Self.client)
        directHosts = (setting("NO_PROXY") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
    }

    func client(for url: URL) -> HTTPClient {
        let proxied = url.scheme?.lowercased() == "https" ? httpsProxy : httpProxy
        guard let proxied, !isDirect(url.host?.lowercased() ?? "") else { return direct }
        return proxied
    }

    private func isDirect(_ host: String) -> Bool {
        directHosts.contains { entry in
            if entry == "*" { return true }
            let suffix = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
            return host == suffix || host.hasSuffix("." + suffix)
        }
    }

    /// `host:port` or `http://host:port` (a trailing `/` allowed); `nil` when it is neither.
    static func proxy(_ text: String) -> HTTPClient.Configuration.Proxy? {
        var rest = Substring(text)
        if let range = rest.range(of: "://") { rest = rest[range.upperBound...] }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
            (1...65535).contains(port), colon > rest.startIndex
        else { return nil }
        return .server(host: String(rest[..<colon]), port: port)
    }

    private static func client(proxy: HTTPClient.Configuration.Proxy?) -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, proxy: proxy)
        configuration.connectionPool = .init(idleTimeout: .seconds(30))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }
}
