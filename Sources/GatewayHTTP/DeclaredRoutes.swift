import Foundation

/// The paths and methods `openapi.yaml` declares, read from the shipped document once: a request to a
/// declared path with another method is `405 Method Not Allowed` (with `Allow`), not `404`.
enum DeclaredRoutes {
    struct Route: Sendable {
        let segments: [Substring]
        var methods: Set<String>

        func matches(_ path: [Substring]) -> Bool {
            guard path.count == segments.count else { return false }
            return zip(segments, path).allSatisfy { template, actual in
                (template.hasPrefix("{") && template.hasSuffix("}") && !actual.isEmpty) || template == actual
            }
        }
    }

    static let routes: [Route] = parse(String(decoding: OpenAPIDocument.bytes, as: UTF8.self))

    /// The methods declared for `path`, upper-case; empty when the document does not declare the path.
    static func methods(for path: String) -> Set<String> {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0 }
        return routes.filter { $0.matches(Array(segments)) }.reduce(into: Set<String>()) { $0.formUnion($1.methods) }
    }

    /// Reads `  /path:` lines under `paths:` and the `    get:`-style method lines below each.
    static func parse(_ document: String) -> [Route] {
        let methodNames: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        var routes: [Route] = []
        var inPaths = false
        for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" {
                inPaths = true
                continue
            }
            guard inPaths else { continue }
            if !line.hasPrefix(" ") && !line.isEmpty { break }
            if line.hasPrefix("  /") && line.hasSuffix(":") && !line.hasPrefix("   ") {
                let path = line.dropFirst(2).dropLast()
                routes.append(Route(segments: path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0 }, methods: []))
            } else if line.hasPrefix("    ") && !line.hasPrefix("     ") && line.hasSuffix(":"),
                methodNames.contains(String(line.dropFirst(4).dropLast())), !routes.isEmpty
            {
                routes[routes.count - 1].methods.insert(line.dropFirst(4).dropLast().uppercased())
            }
        }
        return routes
    }
}
