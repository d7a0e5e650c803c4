import Foundation
import GatewayCore
import GatewayHTTP
import Logging

/// The work behind the `gateway` subcommands, kept out of `main` so it can be tested.
public enum GatewayCommands {
    /// `gateway serve`: fills in generated credentials on the embedded default, prints the first-start
    /// banner once, and runs until SIGTERM/SIGINT.
    public static func serve(arguments: [String]) async throws {
        var configuration = GatewayConfiguration.fromEnvironment(arguments: arguments)
        let logger = bootstrapLogging(configuration)
        let banner = try await completeCredentials(&configuration)
        let runtime = try await GatewayRuntime.make(configuration: configuration, logger: logger)
        if let banner { FileHandle.standardOutput.write(Data(banner.utf8)) }
        logger.info(
            "gateway starting",
            metadata: [
                "http.address": "\(configuration.httpHost):\(configuration.httpPort)",
                "simulator.port": "\(runtime.simulatorPort.map(String.init) ?? "off")",
                "database": "\((try? configuration.postgresSettings())??.safeDescription ?? configuration.sqlitePath ?? "")",
            ])
        try await runtime.run()
    }

    /// `gateway migrate`: applies pending migrations and reports them.
    public static func migrate(arguments: [String]) async throws -> [Int] {
        let configuration = GatewayConfiguration.fromEnvironment(arguments: arguments)
        let logger = bootstrapLogging(configuration)
        let store = try await GatewayRuntime.openStore(configuration, logger: logger)
        let applied = try await store.migrate()
        try await store.close()
        return applied
    }

    /// `gateway token attendant`: an HS256 token signed with `ATTENDANT_JWT_SECRET` (or the generated one),
    /// naming `audience` and `issuer` (by default `ATTENDANT_JWT_AUDIENCE` and `ATTENDANT_JWT_ISSUER`).
    public static func attendantToken(
        arguments: [String], id: String, name: String?, services: [String], roles: [String], validFor: Duration,
        audience: String? = nil, issuer: String? = nil
    ) async throws -> String {
        var configuration = GatewayConfiguration.fromEnvironment(arguments: arguments)
        if configuration.attendantJWTSecret == nil, let directory = configuration.dataDirectory {
            configuration.attendantJWTSecret = try GeneratedCredentials.loadOrCreate(in: directory).0.attendantJWTSecret
        }
        guard let secret = configuration.attendantJWTSecret else {
            throw GatewayStartupError("ATTENDANT_JWT_SECRET is not set")
        }
        guard validFor <= configuration.attendantTokenMaxLifetime else {
            throw GatewayStartupError(
                "the token would outlive ATTENDANT_TOKEN_MAX_LIFETIME_SECONDS (\(configuration.attendantTokenMaxLifetime.components.seconds) s)")
        }
        let claims = AttendantClaims(
            id: id, name: name, services: services, roles: roles, issuedAt: Date(), validFor: validFor,
            audience: audience ?? configuration.attendantJWTAudience, issuer: issuer ?? configuration.attendantJWTIssuer)
        return try await AttendantTokenMinter.token(for: claims, secret: secret)
    }

    /// Uses the generated credentials where none are configured; returns the banner on their first creation.
    /// The banner shows only values the gateway generated (never one the operator supplied, nor a token
    /// signed with an operator's secret), and says where they are kept.
    static func completeCredentials(_ configuration: inout GatewayConfiguration) async throws -> String? {
        let needsKeys =
            configuration.schedulerAPIKeys.isEmpty || configuration.attendantJWTSecret == nil
            || (configuration.simulatorEnabled && configuration.simulatorAPIKey == nil) || configuration.outboxKey == nil
        guard needsKeys else { return nil }
        guard let directory = configuration.dataDirectory else {
            // Generated credentials are a single-node convenience: replicas must share the operator's.
            var missing: [String] = []
            if configuration.schedulerAPIKeys.isEmpty { missing.append("SCHEDULER_API_KEYS") }
            if configuration.attendantJWTSecret == nil && configuration.attendantJWKSFile == nil {
                missing.append("ATTENDANT_JWT_SECRET (or ATTENDANT_JWKS_FILE)")
            }
            if configuration.outboxKey == nil { missing.append("OUTBOX_KEY") }
            guard missing.isEmpty else {
                throw GatewayStartupError(
                    "on PostgreSQL the gateway generates no credentials; set "
                        + missing.joined(separator: ", ") + " in the environment (the same on every replica)")
            }
            // The built-in simulator lives in this process only: its key may be this process's own.
            if configuration.simulatorAPIKey == nil { configuration.simulatorAPIKey = SecureToken.make(byteCount: 16) }
            return nil
        }
        let (generated, isNew) = try GeneratedCredentials.loadOrCreate(in: directory)
        let schedulerKeyGenerated = configuration.schedulerAPIKeys.isEmpty
        let attendantSecretGenerated = configuration.attendantJWTSecret == nil
        if schedulerKeyGenerated { configuration.schedulerAPIKeys = [generated.schedulerAPIKey] }
        if attendantSecretGenerated { configuration.attendantJWTSecret = generated.attendantJWTSecret }
        if configuration.simulatorAPIKey == nil { configuration.simulatorAPIKey = generated.simulatorAPIKey }
        if configuration.outboxKey == nil { configuration.outboxKey = generated.outboxKey }
        guard isNew else { return nil }
        let base = configuration.resolvedPublicBaseURL
        var lines = [
            "", "==== Video-session gateway: first start ====",
            "Gateway:           \(base)   (OpenAPI: \(base)/openapi.yaml)",
        ]
        if schedulerKeyGenerated {
            lines.append("Scheduler API key: \(generated.schedulerAPIKey)   (generated)")
        }
        // A token is shown only when it is signed with the generated secret and would be accepted.
        if attendantSecretGenerated && configuration.attendantJWKSFile == nil {
            let token = try await AttendantTokenMinter.token(
                for: AttendantClaims(
                    id: "attendant-1", name: "Local attendant", services: ["*"], roles: ["attendant", "supervisor"],
                    issuedAt: Date(), validFor: min(.seconds(12 * 3600), configuration.attendantTokenMaxLifetime),
                    audience: configuration.attendantJWTAudience, issuer: configuration.attendantJWTIssuer),
                secret: generated.attendantJWTSecret)
            lines.append(
                "Attendant token:   \(token)   (valid 12 h at most; new ones: gateway token attendant --id ID --services a,b)")
        }
        lines += [
            "Generated values:  \(URL(fileURLWithPath: directory).appendingPathComponent(GeneratedCredentials.fileName).path)   (mode 0600; only the values you did not configure are used)",
            "This is shown once; values you configured are never printed.",
        ]
        if schedulerKeyGenerated {
            lines += [
                "Try:",
                "  curl -X PUT \(base)/v1/sessions/B-1 -H 'Authorization: Bearer \(generated.schedulerAPIKey)' \\",
                "    -H 'Content-Type: application/json' -d @docs/examples/session.json",
            ]
        }
        lines += ["=============================================", "", ""]
        return lines.joined(separator: "\n")
    }

    /// Text lines (the default) or one JSON object a line (`LOG_FORMAT=json`), at `LOG_LEVEL`.
    static func bootstrapLogging(_ configuration: GatewayConfiguration) -> Logger {
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        let isJSON = configuration.logFormat == "json"
        let replica = configuration.replicaID
        // The text handler stamps each line with the local time (`localtime_r`): with `TZ` unset, glibc
        // checks /etc/localtime with a `stat` at every line; named, the file is read once.
        if !isJSON, getenv("TZ") == nil { setenv("TZ", ":/etc/localtime", 1) }
        LoggingSystem.bootstrap { label in
            if isJSON { return JSONLogHandler(logLevel: level, label: label, replica: replica) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "video-session-gateway")
        logger.logLevel = level
        return logger
    }
}
