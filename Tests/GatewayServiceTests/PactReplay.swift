import Foundation
import HTTPTypes
import Hummingbird
import MeetingProviders
import Synchronization
import Testing

@testable import GatewayService

/// The repository's root, for the fixtures.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// One interaction of a Pact V4 file in `Fixtures/pacts`, kept as the JSON it is.
struct PactInteraction: @unchecked Sendable {
    let key: String
    let state: String?
    let request: [String: Any]
    let response: [String: Any]

    static func load(_ file: String) throws -> [String: PactInteraction] {
        let data = try Data(contentsOf: packageRoot.appendingPathComponent("Fixtures/pacts/\(file)"))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let items = try #require(document["interactions"] as? [[String: Any]])
        var byKey: [String: PactInteraction] = [:]
        for item in items {
            let key = try #require(item["key"] as? String)
            let state = ((item["providerStates"] as? [[String: Any]])?.first?["name"]) as? String
            byKey[key] = PactInteraction(
                key: key, state: state, request: try #require(item["request"] as? [String: Any]),
                response: try #require(item["response"] as? [String: Any]))
        }
        return byKey
    }

    var responseStatus: Int { response["status"] as? Int ?? 200 }

    var responseHeaders: [(String, String)] {
        ((response["headers"] as? [String: [String]]) ?? [:]).compactMap { name, values in values.first.map { (name, $0) } }
    }

    var responseBody: Data { Self.raw(response["body"] as? [String: Any]) }

    static func raw(_ body: [String: Any]?) -> Data {
        guard let content = body?["content"] else { return Data() }
        if let text = content as? String { return Data(text.utf8) }
        return (try? JSONSerialization.data(withJSONObject: content, options: [.sortedKeys])) ?? Data()
    }
}

/// A request as it reached the loopback server.
struct ReceivedRequest: Sendable {
    let method: String
    let path: String
    /// Percent-decoded name/value pairs, in order.
    let query: [(String, String)]
    /// The query string as sent.
    let rawQuery: String
    /// Lower-cased names.
    let headers: [String: String]
    let body: Data
}

/// Compares a received request with a pact's request the way Pact does: method, path, query, the pact's
/// headers, and the body, each exactly unless a matching rule (regex, type, integer) applies.
enum PactRequestMatcher {
    static func mismatches(_ received: ReceivedRequest, against interaction: PactInteraction) -> [String] {
        let expected = interaction.request
        let rules = expected["matchingRules"] as? [String: Any] ?? [:]
        var problems: [String] = []
        func rule(_ category: String, _ name: String) -> [String: Any]? {
            if category == "path" { return (rules["path"] as? [String: Any])?["matchers"].flatMap { ($0 as? [[String: Any]])?.first } }
            return ((rules[category] as? [String: Any])?[name] as? [String: Any])?["matchers"]
                .flatMap { ($0 as? [[String: Any]])?.first }
        }
        func check(_ what: String, _ actual: Any?, _ wanted: Any?, _ matcher: [String: Any]?) {
            if let matcher, let actual, passes(actual, wanted, matcher) { return }
            if matcher == nil, let actual, let wanted, equal(actual, wanted) { return }
            problems.append("\(what): got \(actual.map { "\($0)" } ?? "nothing"), want \(wanted.map { "\($0)" } ?? "nothing")")
        }
        check("method", received.method.uppercased(), (expected["method"] as? String)?.uppercased(), nil)
        check("path", received.path, expected["path"], rule("path", ""))
        let wantedQuery = expected["query"] as? [String: [String]] ?? [:]
        let gotQuery = Dictionary(received.query.map { ($0.0, [$0.1]) }, uniquingKeysWith: +)
        if Set(wantedQuery.keys) != Set(gotQuery.keys) {
            problems.append("query names: got \(gotQuery.keys.sorted()), want \(wantedQuery.keys.sorted())")
        }
        for (name, values) in wantedQuery {
            check("query \(name)", gotQuery[name]?.first, values.first, rule("query", name))
        }
        for (name, values) in expected["headers"] as? [String: [String]] ?? [:] {
            check("header \(name)", received.headers[name.lowercased()], values.first, rule("header", name))
        }
        let body = expected["body"] as? [String: Any]
        let contentType = body?["contentType"] as? String ?? ""
        if body == nil {
            if !received.body.isEmpty { problems.append("body: got \(received.body.count) bytes, want none") }
        } else if contentType.hasSuffix("json") {
            let got = try? JSONSerialization.jsonObject(with: received.body, options: [.fragmentsAllowed])
            compare(got, body?["content"], at: "$", rules: rules["body"] as? [String: Any] ?? [:], into: &problems)
        } else if contentType == "application/x-www-form-urlencoded" {
            let got = formFields(String(decoding: received.body, as: UTF8.self))
            let want = formFields(body?["content"] as? String ?? "")
            if Set(got.keys) != Set(want.keys) { problems.append("form fields: got \(got.keys.sorted()), want \(want.keys.sorted())") }
            for (name, value) in want { check("form \(name)", got[name], value, rule("body", "$.\(name)")) }
        } else {
            check("body", String(decoding: received.body, as: UTF8.self), body?["content"], nil)
        }
        return problems
    }

    static func formFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            let decode = { (s: String) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? s }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    private static func compare(_ got: Any?, _ want: Any?, at path: String, rules: [String: Any], into problems: inout [String]) {
        if let matcher = ((rules[path] as? [String: Any])?["matchers"] as? [[String: Any]])?.first {
            if let got, passes(got, want, matcher) { return }
            problems.append("body \(path): \(got.map { "\($0)" } ?? "missing") fails \(matcher)")
            return
        }
        switch (got, want) {
        case (let got as [String: Any], let want as [String: Any]):
            if Set(got.keys) != Set(want.keys) {
                problems.append("body \(path) keys: got \(got.keys.sorted()), want \(want.keys.sorted())")
            }
            for (key, value) in want { compare(got[key], value, at: "\(path).\(key)", rules: rules, into: &problems) }
        case (let got as [Any], let want as [Any]):
            if got.count != want.count { problems.append("body \(path): \(got.count) items, want \(want.count)") }
            for (index, value) in zip(got.indices, want) {
                compare(got[index], value, at: "\(path)[\(index)]", rules: rules, into: &problems)
            }
        default:
            if let got, let want, equal(got, want) { return }
            problems.append("body \(path): got \(got.map { "\($0)" } ?? "missing"), want \(want.map { "\($0)" } ?? "missing")")
        }
    }

    private static func passes(_ actual: Any, _ wanted: Any?, _ matcher: [String: Any]) -> Bool {
        switch matcher["match"] as? String {
        case "regex":
            let text = (actual as? String) ?? "\(actual)"
            return text.range(of: matcher["regex"] as? String ?? "", options: .regularExpression) != nil
        case "integer":
            if let number = actual as? NSNumber, !(actual is Bool) { return number.doubleValue == number.doubleValue.rounded() }
            return false
        case "type":
            return wanted.map { type(of: $0 as AnyObject) == type(of: actual as AnyObject) || (actual is String && $0 is String) } ?? true
        default:
            return false
        }
    }

    private static func equal(_ a: Any, _ b: Any) -> Bool {
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .fragmentsAllowed]
        return (try? JSONSerialization.data(withJSONObject: a, options: options))
            == (try? JSONSerialization.data(withJSONObject: b, options: options))
    }
}

/// A loopback HTTP server that answers with the recorded responses of a script of interactions, in
/// order, and keeps what was wrong with each request it received.
final class PactReplayServer: Sendable {
    private struct State {
        var script: [PactInteraction] = []
        var mismatches: [String] = []
        var received: [ReceivedRequest] = []
    }

    private let state = Mutex(State())

    /// Arms the next interactions; each request takes the first one left.
    func expect(_ interactions: [PactInteraction]) {
        state.withLock {
            $0.script = interactions
            $0.mismatches = []
            $0.received = []
        }
    }

    /// What went wrong since `expect`: mismatches, and interactions never asked for.
    var problems: [String] {
        state.withLock { $0.mismatches + $0.script.map { "\($0.key): never requested" } }
    }

    var received: [ReceivedRequest] { state.withLock { $0.received } }

    func answer(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let components = URLComponents(string: request.uri.description)
        let received = ReceivedRequest(
            method: request.method.rawValue, path: components?.percentEncodedPath ?? request.uri.path,
            query: (components?.queryItems ?? []).map { ($0.name, $0.value ?? "") },
            rawQuery: components?.percentEncodedQuery ?? "", headers: headers,
            body: Data(buffer: body))
        let next: PactInteraction? = state.withLock { state in
            state.received.append(received)
            guard !state.script.isEmpty else {
                state.mismatches.append("unexpected \(received.method) \(received.path)")
                return nil
            }
            let interaction = state.script.removeFirst()
            state.mismatches += PactRequestMatcher.mismatches(received, against: interaction).map { "\(interaction.key): \($0)" }
            return interaction
        }
        guard let next else { return Response(status: .init(code: 599)) }
        var fields = HTTPFields()
        for (name, value) in next.responseHeaders {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return Response(
            status: .init(code: next.responseStatus), headers: fields,
            body: .init(byteBuffer: ByteBuffer(data: next.responseBody)))
    }

    /// Runs the server on a free loopback port for the duration of `body`.
    func run<T: Sendable>(_ body: (URL) async throws -> T) async throws -> T {
        let port = try FreePort.loopback()
        let responder = CallbackResponder<BasicRequestContext> { [self] request, _ in try await answer(request) }
        return try await withLoopbackServer(responder, port: port, label: "pact-replay") {
            try await body(URL(string: "http://127.0.0.1:\(port)")!)
        }
    }
}
