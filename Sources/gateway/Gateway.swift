import ArgumentParser
import GatewayService

@main
struct Gateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Video-session gateway: provider rooms, a lobby and fallbacks for booked video appointments.",
        subcommands: [Serve.self, Migrate.self, Purge.self, Token.self, Simulator.self],
        defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway (default). Settings come from the environment or --key value options.")

    @Argument(parsing: .allUnrecognized, help: "Settings as options, e.g. --http-port 8080 --database-url sqlite:var/gateway.sqlite")
    var settings: [String] = []

    func run() async throws {
        try await GatewayCommands.serve(arguments: ["gateway"] + settings)
    }
}

struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Erase now the personal data of sessions past retention (RETENTION_DAYS after their end).")

    @Flag(help: "Only list the sessions whose personal data would be erased.") var dryRun = false
    @Argument(parsing: .allUnrecognized, help: "Settings as options, e.g. --database-url sqlite:var/gateway.sqlite")
    var settings: [String] = []

    func run() async throws {
        _ = try await GatewayCommands.purge(arguments: ["gateway"] + settings, dryRun: dryRun) { print($0) }
    }
}

struct Simulator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the provider simulator on its own (Daily's REST API under /v1), shared by gateway replicas.",
        discussion: """
            Settings: SIMULATOR_API_KEY (required), SIMULATOR_PORT, SIMULATOR_HOST (127.0.0.1), \
            SIMULATOR_FAULTS (e.g. 5xx=0.3,timeout=0.1,429=0.05,reset=0.05,slow=0.05,lost=0.05, \
            retry_after=1,timeout_seconds=30,slow_ms=1500), SIMULATOR_FAULT_SEED; or the same as options.
            """)

    @Argument(parsing: .allUnrecognized, help: "Settings as options, e.g. --simulator-port 8081 --simulator-api-key K")
    var settings: [String] = []

    func run() async throws {
        try await GatewayCommands.simulator(arguments: ["gateway"] + settings)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations.")

    @Argument(parsing: .allUnrecognized, help: "Settings as options, e.g. --database-url sqlite:var/gateway.sqlite")
    var settings: [String] = []

    func run() async throws {
        let applied = try await GatewayCommands.migrate(arguments: ["gateway"] + settings)
        print(applied.isEmpty ? "migrations: up to date" : "migrations applied: \(applied.map(String.init).joined(separator: ", "))")
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mint tokens for local use.", subcommands: [Attendant.self])

    struct Attendant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print an HS256 attendant JWT signed with ATTENDANT_JWT_SECRET.")

        @Option(help: "The attendant's id (the token's sub).") var id: String
        @Option(help: "Comma-separated services the attendant serves.") var services: String
        @Option(help: "Display name.") var name: String?
        @Option(help: "Comma-separated roles: attendant, supervisor.") var roles: String = "attendant"
        @Option(help: "Validity in hours (at most ATTENDANT_TOKEN_MAX_LIFETIME_SECONDS).") var validForHours: Int = 12
        @Option(help: "The token's aud (default: ATTENDANT_JWT_AUDIENCE).") var audience: String?
        @Option(help: "The token's iss (default: ATTENDANT_JWT_ISSUER).") var issuer: String?
        @Argument(parsing: .allUnrecognized, help: "Settings as options, e.g. --attendant-jwt-secret S")
        var settings: [String] = []

        func run() async throws {
            let split = { (text: String) in text.split(separator: ",").map { String($0) }.filter { !$0.isEmpty } }
            print(
                try await GatewayCommands.attendantToken(
                    arguments: ["gateway"] + settings, id: id, name: name, services: split(services),
                    roles: split(roles), validFor: .seconds(validForHours * 3600), audience: audience, issuer: issuer))
        }
    }
}
