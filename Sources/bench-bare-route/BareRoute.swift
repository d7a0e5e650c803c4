// The baseline for scripts/bench: a bare Hummingbird 2 route built from the same dependency
// versions as the gateway, serving `GET /` → "ok" on 127.0.0.1.
// Usage: bench-bare-route [port]   (default 8090; stops on SIGTERM or SIGINT)
import Hummingbird
import Logging

@main
struct BareRoute {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let port = arguments.count > 1 ? Int(arguments[1]) ?? 8090 : 8090
        var logger = Logger(label: "bench-bare-route")
        logger.logLevel = .warning
        let router = Router()
        router.get("/") { _, _ in "ok" }
        let application = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bench-bare-route"),
            logger: logger)
        try await application.runService()
    }
}
