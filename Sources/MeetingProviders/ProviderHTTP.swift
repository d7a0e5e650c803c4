import Foundation
import GatewayCore

/// What every adapter does with HTTP: send with a timeout, encode and decode bodies, and turn an
/// unexpected answer into a typed `ProviderError` (429 with its `Retry-After`, 401/403, other 4xx, 5xx).
struct ProviderHTTP: Sendable {
    /// The provider's name, for error messages.
    let provider: String
    let transport: any HTTPTransport
    let timeout: Duration

    /// A redirect is never followed (it could carry the credential to another host): it is the typed,
    /// permanent failure `provider_redirect`.
    func send(_ method: String, _ url: URL, headers: [String: String] = [:], body: Data? = nil) async throws
        -> HTTPResponse
    {
        let response = try await transport.send(
            HTTPRequest(method: method, url: url, headers: headers, body: body, timeout: timeout))
        if (300..<400).contains(response.status) {
            throw ProviderError.rejected(
                code: "provider_redirect",
                message: "\(provider) answered \(response.status) with a redirect, which is never followed")
        }
        return response
    }

    func json(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    func decode<T: Decodable>(_ type: T.Type, from response: HTTPResponse) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            throw ProviderError.invalidResponse("\(provider): unexpected \(type) body")
        }
    }

    /// The typed failure for an answer the adapter did not expect; `detail` is the provider's own
    /// error code or message (never a credential).
    func failure(_ response: HTTPResponse, detail: String? = nil) -> ProviderError {
        let message = "\(provider) \(response.status)" + (detail.map { ": \($0)" } ?? "")
        switch response.status {
        case 429:
            return .rateLimited(retryAfter: Self.retryAfter(response.headers["retry-after"]))
        case 408, 425:
            return .unavailable(message)
        case 401, 403:
            return .unauthorized(message)
        case 404:
            return .rejected(code: "provider_not_found", message: message)
        case 400..<500:
            return .rejected(code: "provider_rejected", message: message)
        default:
            return .unavailable(message)
        }
    }

    /// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
    static func retryAfter(_ value: String?, now: Date = Date()) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int(value) { return .seconds(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .seconds(max(0, Int(date.timeIntervalSince(now).rounded(.up))))
    }
}

/// `application/x-www-form-urlencoded` and query strings with RFC 3986 unreserved characters kept
/// and everything else percent-encoded (a space is `%20`).
enum FormEncoding {
    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
    }

    static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
    }
}
