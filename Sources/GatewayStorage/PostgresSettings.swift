import Foundation

/// Where and how to reach PostgreSQL, read from `DATABASE_URL`:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|require|verify-full][&host=/socket/dir]`
/// (`postgresql://` too). A `host` parameter that is a directory names a Unix socket, as libpq reads it.
public struct PostgresSettings: Sendable, Equatable {
    public enum TLSMode: String, Sendable, Equatable {
        /// No TLS (loopback, a Unix socket, or a private network the operator trusts).
        case disable
        /// TLS, without checking the server's certificate.
        case require
        /// TLS, with the certificate checked against the system's trust store and the host name.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    /// A directory holding PostgreSQL's socket (`.s.PGSQL.<port>`), used instead of TCP when set.
    public var socketDirectory: String?
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// Connections the pool keeps open at most (`DATABASE_POOL_SIZE`).
    public var poolSize: Int
    /// How long a request waits for a connection or an answer before it is answered 503 (`DATABASE_TIMEOUT_SECONDS`).
    public var timeout: Duration

    /// Whether `url` names PostgreSQL (and not SQLite).
    public static func isPostgresURL(_ url: String) -> Bool {
        url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")
    }

    /// Reads `url`; the error names what is wrong, never the password.
    public init(url: String, poolSize: Int = 10, timeout: Duration = .seconds(5)) throws(PostgresSettingsError) {
        guard Self.isPostgresURL(url), let components = URLComponents(string: url) else {
            throw PostgresSettingsError("DATABASE_URL must be postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let known: Set = ["sslmode", "host", "port"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw PostgresSettingsError("DATABASE_URL: the parameter '\(unknown)' is not supported (sslmode, host)")
        }
        guard let tls = TLSMode(rawValue: query["sslmode"] ?? "disable") else {
            throw PostgresSettingsError("DATABASE_URL: sslmode must be disable, require or verify-full")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard let username = components.user.flatMap({ $0.removingPercentEncoding }), !username.isEmpty else {
            throw PostgresSettingsError("DATABASE_URL must name a user (postgres://USER@HOST/DATABASE)")
        }
        guard !database.isEmpty else { throw PostgresSettingsError("DATABASE_URL must name a database (…/DATABASE)") }
        let socketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? query["host"]
        guard socketDirectory != nil || host != nil else {
            throw PostgresSettingsError("DATABASE_URL must name a host (or ?host=/socket/directory)")
        }
        guard (1...1000).contains(poolSize) else { throw PostgresSettingsError("DATABASE_POOL_SIZE must be between 1 and 1000") }
        guard timeout >= .milliseconds(100) else { throw PostgresSettingsError("DATABASE_TIMEOUT_SECONDS must be at least 0.1") }
        self.host = host ?? "localhost"
        self.port = components.port ?? query["port"].flatMap(Int.init) ?? 5432
        self.socketDirectory = socketDirectory
        self.username = username
        self.password = components.password.flatMap { $0.removingPercentEncoding }
        self.database = database.removingPercentEncoding ?? database
        self.tls = tls
        self.poolSize = poolSize
        self.timeout = timeout
    }

    /// The socket file when connecting through a Unix socket.
    public var socketPath: String? {
        socketDirectory.map { "\($0)/.s.PGSQL.\(port)" }
    }

    /// For logs: where, never who or with which password.
    public var safeDescription: String {
        socketPath.map { "postgres (socket \($0))/\(database)" } ?? "postgres \(host):\(port)/\(database)"
    }
}

public struct PostgresSettingsError: Error, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
