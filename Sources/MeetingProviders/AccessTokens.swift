import Foundation
import GatewayCore

/// An OAuth access token and when it stops being usable.
struct AccessToken: Sendable {
    let value: String
    let expiresAt: Date
}

/// Caches one access token per adapter: it is reused until a minute before it expires, one fetch serves
/// every caller waiting at the same time, and a token the API refused is dropped so the next call fetches
/// a fresh one.
actor AccessTokenCache {
    private var current: AccessToken?
    private var inFlight: Task<AccessToken, any Error>?

    func token(now: Date, fetch: @escaping @Sendable () async throws -> AccessToken) async throws -> String {
        if let current, current.expiresAt.timeIntervalSince(now) > 60 { return current.value }
        if let inFlight { return try await inFlight.value.value }
        let task = Task { try await fetch() }
        inFlight = task
        defer { inFlight = nil }
        let fresh = try await task.value
        current = fresh
        return fresh.value
    }

    func invalidate(_ value: String) {
        if current?.value == value { current = nil }
    }
}

/// Sends API calls with a bearer token from the cache; a 401 drops the token and retries once with a
/// fresh one (providers.md §1.1, §2.1).
struct BearerClient: Sendable {
    let http: ProviderHTTP
    let tokens: AccessTokenCache
    let clock: any GatewayClock
    let fetchToken: @Sendable () async throws -> AccessToken

    /// `headers` go with the bearer token (for example Graph's `Prefer`).
    func send(_ method: String, _ url: URL, json body: Data? = nil, headers: [String: String] = [:]) async throws
        -> HTTPResponse
    {
        let first = try await tokens.token(now: clock.now, fetch: fetchToken)
        let response = try await send(method, url, token: first, body: body, headers: headers)
        guard response.status == 401 else { return response }
        await tokens.invalidate(first)
        let second = try await tokens.token(now: clock.now, fetch: fetchToken)
        let retried = try await send(method, url, token: second, body: body, headers: headers)
        if retried.status == 401 { await tokens.invalidate(second) }
        return retried
    }

    private func send(_ method: String, _ url: URL, token: String, body: Data?, headers extra: [String: String])
        async throws -> HTTPResponse
    {
        var headers = extra
        headers["Authorization"] = "Bearer \(token)"
        if body != nil { headers["Content-Type"] = "application/json" }
        return try await http.send(method, url, headers: headers, body: body)
    }
}

/// A token endpoint's answer (`access_token`, `expires_in`), shared by Zoom and Microsoft Entra.
struct TokenEndpoint: Sendable {
    let http: ProviderHTTP
    let url: URL
    let headers: [String: String]
    let form: [(String, String)]
    let clock: any GatewayClock

    func fetch() async throws -> AccessToken {
        var headers = headers
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        let response = try await http.send(
            "POST", url, headers: headers, body: Data(FormEncoding.encode(form).utf8))
        guard response.status == 200 else {
            let reason = (try? JSONDecoder().decode(TokenError.self, from: response.body))?.error
            if response.status == 400 || response.status == 401 {
                throw ProviderError.unauthorized("\(http.provider) token \(response.status): \(reason ?? "refused")")
            }
            throw http.failure(response, detail: reason.map { "token: \($0)" } ?? "token")
        }
        let answer = try http.decode(TokenAnswer.self, from: response)
        return AccessToken(value: answer.access_token, expiresAt: clock.now.addingTimeInterval(TimeInterval(answer.expires_in)))
    }
}

private struct TokenAnswer: Decodable {
    let access_token: String
    let expires_in: Int
}

private struct TokenError: Decodable {
    let error: String?
}
