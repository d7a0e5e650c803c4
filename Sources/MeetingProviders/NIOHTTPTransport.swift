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
/// An egress proxy, reached with a CONNECT tunnel, is taken from the environment: see
/// `EgressProxySettings`.
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
            let body = try await Self.collect(response.body, before: deadline, on: client.eventLoopGroup.any())
            var headers: [String: String] = [:]
            for field in response.headers {
                let name = field.name.lowercased()
                headers[name] = headers[name].map { "\($0), \(field.value)" } ?? field.value
            }
            return HTTPResponse(status: Int(response.status.code), headers: headers, body: Data(buffer: body))
        } catch let error as ProviderError {
            throw error
        } catch let error as HTTPClientError {
            // Its description names the failure (`deadlineExceeded`, `connectTimeout`, …), never the URL.
            throw ProviderError.unavailable("transport: \(error)")
        } catch {
            throw ProviderError.unavailable("transport: \(type(of: error))")
        }
    }

    /// The answer's body, read before `deadline`: the client's own deadline ends with the answer's head,
    /// so a provider that sends the head and then nothing would otherwise hold the call for good. The
    /// read runs in a task that a timer on the event loop cancels at the deadline (cheaper than a
    /// sleeping task: `Task.sleep` leaves a Dispatch timer behind until its time, even when cancelled).
    private static func collect(
        _ body: HTTPClientResponse.Body, before deadline: NIODeadline, on eventLoop: any EventLoop
    ) async throws -> ByteBuffer {
        let reading = Task { try await body.collect(upTo: maximumResponseBytes) }
        let timer = eventLoop.scheduleTask(deadline: deadline) { reading.cancel() }
        defer { timer.cancel() }
        do {
            return try await withTaskCancellationHandler { try await reading.value } onCancel: { reading.cancel() }
        } catch where NIODeadline.now() >= deadline {
            throw ProviderError.unavailable("transport: the answer's body did not arrive before the deadline")
        }
    }
}

/// The process's HTTP clients: one direct, and one per egress proxy set in the environment. They live as
/// long as the process (a client must be shut down before it is released; these never are).
struct OutboundRoutes: Sendable {
    let settings: EgressProxySettings
    let direct: HTTPClient
    let viaHTTPSProxy: HTTPClient?
    let viaHTTPProxy: HTTPClient?

    static let fromEnvironment = OutboundRoutes(settings: EgressProxySettings(environment: ProcessInfo.processInfo.environment))

    private init(settings: EgressProxySettings) {
        self.settings = settings
        direct = Self.client(proxy: nil)
        viaHTTPSProxy = settings.httpsProxy.map(Self.client)
        viaHTTPProxy = settings.httpProxy.map(Self.client)
    }

    func client(for url: URL) -> HTTPClient {
        switch settings.route(for: url) {
        case .direct: direct
        case .httpsProxy: viaHTTPSProxy ?? direct
        case .httpProxy: viaHTTPProxy ?? direct
        }
    }

    private static func client(proxy: HTTPClient.Configuration.Proxy?) -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, proxy: proxy)
        configuration.connectionPool = .init(idleTimeout: .seconds(30))
        // A connection that cannot be made fails its call at once: the job worker retries with its own
        // back-off. Left on, the client's own retries of refused connections held a call past its
        // deadline (seen with a provider whose port had closed).
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }
}

/// Which egress proxy, if any, a URL is reached through: `HTTPS_PROXY` for https URLs, `HTTP_PROXY` for
/// http URLs (upper or lower case, `host:port` or `http://host:port`), except for the hosts `NO_PROXY`
/// lists (host names or domain suffixes, comma-separated; `*`: every host).
public struct EgressProxySettings: Sendable, Equatable {
    enum Route: Equatable { case direct, httpsProxy, httpProxy }

    let httpsProxy: HTTPClient.Configuration.Proxy?
    let httpProxy: HTTPClient.Configuration.Proxy?
    let directHosts: [String]

    init(environment: [String: String]) {
        httpsProxy = Self.setting("HTTPS_PROXY", in: environment).flatMap(Self.proxy)
        httpProxy = Self.setting("HTTP_PROXY", in: environment).flatMap(Self.proxy)
        directHosts = (Self.setting("NO_PROXY", in: environment) ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
    }

    /// What is wrong with the proxy settings of `environment` (the gateway does not start with them).
    public static func problems(in environment: [String: String]) -> [String] {
        ["HTTPS_PROXY", "HTTP_PROXY"].compactMap { name in
            guard let value = setting(name, in: environment), proxy(value) == nil else { return nil }
            return "\(name) must be host:port or http://host:port (no user or password)"
        }
    }

    private static func setting(_ name: String, in environment: [String: String]) -> String? {
        let value = environment[name] ?? environment[name.lowercased()]
        return value?.isEmpty == false ? value : nil
    }

    func route(for url: URL) -> Route {
        let isHTTPS = url.scheme?.lowercased() == "https"
        guard (isHTTPS ? httpsProxy : httpProxy) != nil, !isDirect(url.host?.lowercased() ?? "") else { return .direct }
        return isHTTPS ? .httpsProxy : .httpProxy
    }

    private func isDirect(_ host: String) -> Bool {
        directHosts.contains { entry in
            if entry == "*" { return true }
            let suffix = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
            return host == suffix || host.hasSuffix("." + suffix)
        }
    }

    /// `host:port` or `http://host:port` (a trailing `/` allowed); `nil` when it is neither: another
    /// scheme, a user or password (not supported), or no port.
    static func proxy(_ text: String) -> HTTPClient.Configuration.Proxy? {
        var rest = Substring(text)
        if let range = rest.range(of: "://") {
            guard rest[..<range.lowerBound].lowercased() == "http" else { return nil }
            rest = rest[range.upperBound...]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), colon > rest.startIndex,
            let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        let host = rest[..<colon]
        guard !host.contains(where: { "@/ ".contains($0) }) else { return nil }
        return .server(host: String(host), port: port)
    }
}
