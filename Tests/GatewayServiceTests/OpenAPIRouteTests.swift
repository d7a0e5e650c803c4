import Foundation
import GatewayHTTP
import GatewayStorage
import Hummingbird
import Testing

@Suite("OpenAPI document")
struct OpenAPIRouteTests {
    /// `METHOD /path` for every operation in the shipped document (block YAML: paths at two spaces,
    /// methods at four).
    static func documentedOperations() -> Set<String> {
        let text = String(decoding: OpenAPIDocument.bytes, as: UTF8.self)
        var operations: Set<String> = []
        var inPaths = false
        var currentPath: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("paths:") {
                inPaths = true
                continue
            }
            guard inPaths else { continue }
            if !line.isEmpty && !line.hasPrefix(" ") && !line.hasPrefix("#") { break }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                currentPath = String(line.dropFirst(2).dropLast())
            } else if let path = currentPath, line.hasPrefix("    "), !line.hasPrefix("     ") {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "put", "post", "delete", "patch"].contains(String(method)) {
                    operations.insert("\(method.uppercased()) \(path)")
                }
            }
        }
        return operations
    }

    @Test("Every route of the router is in openapi.yaml and every documented operation is routed")
    func routesMatchDocument() async {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: nil)
        let router = buildGatewayRouter(gateway.dependencies)
        let routed = Set(
            router.routes.map { route in
                let path = route.path.description.replacingOccurrences(of: "{bookingId}", with: "{bookingId}")
                return "\(route.method.rawValue) \(path.hasPrefix("/") ? path : "/" + path)"
            })
        let documented = Self.documentedOperations()
        #expect(!documented.isEmpty)
        #expect(routed.subtracting(documented).isEmpty, "routed but not documented")
        #expect(documented.subtracting(routed).isEmpty, "documented but not routed")
    }

    @Test("The document is served as YAML")
    func served() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: nil)
        try await gateway.test { client in
            let reply = try await client.call(.get, "/openapi.yaml", key: nil)
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType] == "application/yaml")
            #expect(String(decoding: reply.body, as: UTF8.self).hasPrefix("openapi: 3.1"))
        }
    }
}
