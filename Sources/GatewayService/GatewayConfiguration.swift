import Configuration
import Foundation
import GatewayCore
import GatewayStorage
import GatewayHTTP
import Logging
import MeetingProviders
import ProviderSimulator

/// The gateway's settings, read from environment variables or the same keys as command-line options
/// (`HTTP_PORT` or `--http-port`), with the defaults of DESIGN §3.
public struct GatewayConfiguration: Sendable {
    public var httpHost: String
    public var httpPort: Int
    /// `nil`: derived from the host and port.
    public var publicBaseURL: String?
    public var databaseURL: String
    /// PostgreSQL only: connections in the pool, and how long a request waits for the database.
    public var databasePoolSize: Int
    public var databaseTimeout: Duration
    public var schedulerAPIKeys: [String]
    public var attendantJWTSecret: String?
    public var defaultProvider: String
    public var policy: SessionPolicy
    /// `FALLBACK_CHANNELS` as written, to refuse a name that is not a channel.
    var fallbackChannelNames: [String]
    /// Whether the built-in provider simulator runs (it does by default).
    public var simulatorEnabled: Bool
    /// 0: any free loopback port.
    public var simulatorPort: Int
    public var simulatorAPIKey: String?
    /// Makes the simulator's rooms inherit a recording default (to see the fail-closed rule at work).
    public var simulatorDomainRecording: String?
    /// Faults the simulator injects (`5xx=0.3,timeout=0.1,…`, see `SimulatorFaults`), and their seed.
    public var simulatorFaults: String?
    public var simulatorFaultSeed: Int
    /// The standalone simulator's listen address (`gateway simulator`).
    public var simulatorHost: String
    public var dailyAPIKey: String?
    public var dailyAPIBaseURL: String
    /// Zoom Server-to-Server OAuth app, API and token base URLs, and the hosting user.
    public var zoomAccountID: String?
    public var zoomClientID: String?
    public var zoomClientSecret: String?
    public var zoomAPIBaseURL: String
    public var zoomOAuthBaseURL: String
    public var zoomUserID: String
    /// Microsoft Graph app registration, meeting organizer, API and login base URLs.
    public var graphTenantID: String?
    public var graphClientID: String?
    public var graphClientSecret: String?
    public var graphOrganizerUserID: String?
    public var graphAPIBaseURL: String
    public var graphLoginBaseURL: String
    /// BigBlueButton's API URL (`…/bigbluebutton/api`) and the checksum its calls are signed with; the
    /// shared secret is `bbbSecret`.
    public var bbbAPIURL: String?
    public var bbbChecksum: String
    /// The timeout of every call to a provider.
    public var providerTimeout: Duration
    public var logLevel: String
    /// `text` or `json` (one object a line).
    public var logFormat: String
    /// Names this process in logs (`REPLICA_ID`, default the host name).
    public var replicaID: String
    public var smtpURL: String?
    public var smtpFrom: String?
    public var smtpUsername: String?
    public var smtpPassword: String?
    public var smtpStartTLS: Bool
    /// A PEM bundle of the CAs that may sign the relay's certificate.
    public var smtpCAFile: String?
    /// The loudly named opt-out: credentials over a connection that may stay in clear.
    public var smtpInsecurePlaintextAuth: Bool
    public var contactCenterWebhookURL: String?
    public var schedulerCallbackURL: String?
    /// The HMAC secrets of the two receivers' signed events: one each, so that neither receiver can
    /// forge the other's.
    public var contactCenterWebhookSecret: String?
    public var schedulerCallbackSecret: String?
    /// Set only to refuse the start: the one shared secret was replaced by the two above.
    var replacedWebhookSigningSecretIsSet: Bool
    /// The help line shown in citizens' e-mails and pages.
    public var helpPhone: String
    /// A JWKS file with the identity provider's public keys for attendant tokens (RS256, ES256…).
    public var attendantJWKSFile: String?
    /// When set, attendant tokens must name this audience (and may name no other when not set).
    public var attendantJWTAudience: String?
    /// When set, attendant tokens must carry this `iss`. Audience and issuer are required with a JWKS.
    public var attendantJWTIssuer: String?
    /// The claim of attendant tokens that carries their directory account (e.g. Entra `oid`), passed to
    /// providers that know attendants by it (Teams co-organizers).
    public var attendantDirectoryIDClaim: String?
    /// The longest lifetime (`exp − iat`) of an attendant token.
    public var attendantTokenMaxLifetime: Duration
    /// The interval of SSE heartbeat comments.
    public var sseHeartbeat: Duration
    /// Lobby code attempts allowed per minute from one address, and for one link.
    public var lobbyAttemptsPerAddress: Int
    public var lobbyAttemptsPerLink: Int
    /// Webhook secrets: Daily's `hmac` (base64), Zoom's secret token, BigBlueButton's shared secret and
    /// checksum algorithm and callback URL, and the `clientState` of Graph subscriptions.
    public var dailyWebhookSecret: String?
    public var zoomWebhookSecret: String?
    public var bbbSecret: String?
    public var bbbWebhookChecksum: String
    public var bbbWebhookCallbackURL: String?
    public var graphClientState: String?
    /// Contract tests only: enables `POST /_test/provider-states` (loopback addresses only).
    public var testProviderStates: Bool
    /// The secret `POST /_test/provider-states` requires in `Test-Provider-States-Secret` (at least 32 bytes).
    public var testProviderStatesSecret: String?
    /// When set, `GET /metrics` needs it as a bearer token (at least 32 bytes).
    public var metricsToken: String?
    /// Open event streams allowed per lobby participant, per attendant and per client address.
    public var streamLimits: StreamLimits
    /// Seals invitation codes in the outbox (base64, 32 bytes).
    public var outboxKey: String?
    /// How long a claimed job stays with its worker before another may take it over.
    public var jobLease: Duration
    /// Days after a session's end when its personal data is erased.
    public var retentionDays: Int
    /// The first delay before a failed job is tried again (it doubles with each attempt).
    public var jobRetryBase: Duration
    /// How many jobs one process runs at the same time.
    public var jobConcurrency: Int
    /// How long a stopping process waits for running jobs before handing them back to the queue.
    public var shutdownGrace: Duration
    /// `TRUSTED_PROXIES`: CIDRs of the reverse proxies whose forwarding headers are believed.
    public var trustedProxiesText: String
    /// A connection that completes no write for this long is closed (a stalled event stream, an idle
    /// keep-alive connection); longer than the SSE heartbeat.
    public var serverWriteTimeout: Duration
    /// A lobby participant with no open stream and no poll for this long has left (`PRESENCE_GRACE_SECONDS`).
    public var presenceGrace: Duration
    /// How often provider rooms are compared with the database (`RECONCILE_INTERVAL_SECONDS`; 0: never), and
    /// how old a room with no session must be to be deleted as an orphan (`RECONCILE_MIN_ORPHAN_AGE_SECONDS`).
    public var reconcileInterval: Duration
    public var reconcileMinimumOrphanAge: Duration
    /// How long a participant's provider entry (a Daily meeting token) lets them in (`ENTRY_TOKEN_LIFETIME_SECONDS`);
    /// after that they ask their page for a new one (rejoin).
    public var entryTokenLifetime: Duration
    /// A new connection's first request head must arrive within this (`SERVER_HEAD_TIMEOUT_SECONDS`).
    public var serverHeadTimeout: Duration
    /// A keep-alive connection with no request in progress is closed after this (`SERVER_IDLE_TIMEOUT_SECONDS`).
    public var serverIdleTimeout: Duration
    /// Open connections allowed per client address (`SERVER_CONNECTIONS_PER_ADDRESS`); trusted proxies are not limited.
    public var serverConnectionsPerAddress: Int

    public init(reader: ConfigReader) {
        httpHost = reader.string(forKey: "http.host", default: "127.0.0.1")
        httpPort = reader.int(forKey: "http.port", default: 8080)
        publicBaseURL = reader.string(forKey: "public.base.url")
        databaseURL = reader.string(forKey: "database.url", default: "sqlite:var/gateway.sqlite")
        databasePoolSize = reader.int(forKey: "database.pool.size", default: 10)
        databaseTimeout = .milliseconds(Int(reader.double(forKey: "database.timeout.seconds", default: 5) * 1000))
        schedulerAPIKeys = (reader.string(forKey: "scheduler.api.keys", isSecret: true) ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        attendantJWTSecret = reader.string(forKey: "attendant.jwt.secret", isSecret: true)
        defaultProvider = reader.string(forKey: "default.provider", default: "simulator")
        fallbackChannelNames = reader.string(forKey: "fallback.channels", default: "phone,email")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let channels = fallbackChannelNames.compactMap(FallbackChannel.init(rawValue:))
        retentionDays = reader.int(forKey: "retention.days", default: 30)
        policy = SessionPolicy(
            joinWindowOpensBefore: .seconds(reader.int(forKey: "join.window.opens.before.seconds", default: 1800)),
            lateGrace: .seconds(reader.int(forKey: "late.grace.seconds", default: 300)),
            personalDataRetention: .seconds(max(0, retentionDays) * 86400),
            fallback: FallbackPolicy(enabledChannels: Set(channels)))
        smtpURL = reader.string(forKey: "smtp.url")
        smtpFrom = reader.string(forKey: "smtp.from")
        smtpUsername = reader.string(forKey: "smtp.username")
        smtpPassword = reader.string(forKey: "smtp.password", isSecret: true)
        smtpStartTLS = reader.bool(forKey: "smtp.starttls", default: false)
        smtpCAFile = reader.string(forKey: "smtp.ca.file")
        smtpInsecurePlaintextAuth = reader.bool(forKey: "smtp.insecure.plaintext.auth", default: false)
        contactCenterWebhookURL = reader.string(forKey: "contact.center.webhook.url")
        schedulerCallbackURL = reader.string(forKey: "scheduler.callback.url")
        contactCenterWebhookSecret = reader.string(forKey: "contact.center.webhook.secret", isSecret: true)
        schedulerCallbackSecret = reader.string(forKey: "scheduler.callback.secret", isSecret: true)
        replacedWebhookSigningSecretIsSet = reader.string(forKey: "webhook.signing.secret", isSecret: true) != nil
        helpPhone = reader.string(forKey: "help.phone", default: "300 502 502")
        outboxKey = reader.string(forKey: "outbox.key", isSecret: true)
        attendantJWKSFile = reader.string(forKey: "attendant.jwks.file")
        testProviderStates = reader.bool(forKey: "test.provider.states", default: false)
        testProviderStatesSecret = reader.string(forKey: "test.provider.states.secret", isSecret: true)
        metricsToken = reader.string(forKey: "metrics.token", isSecret: true)
        streamLimits = StreamLimits(
            perTicket: max(1, reader.int(forKey: "sse.streams.per.participant", default: 3)),
            perAttendant: max(1, reader.int(forKey: "sse.streams.per.attendant", default: 5)),
            perAddress: max(1, reader.int(forKey: "sse.streams.per.address", default: 50)))
        dailyWebhookSecret = reader.string(forKey: "daily.webhook.secret", isSecret: true)
        zoomWebhookSecret = reader.string(forKey: "zoom.webhook.secret", isSecret: true)
        bbbSecret = reader.string(forKey: "bbb.secret", isSecret: true)
        bbbWebhookChecksum = reader.string(forKey: "bbb.webhook.checksum", default: "sha1")
        bbbWebhookCallbackURL = reader.string(forKey: "bbb.webhook.callback.url")
        graphClientState = reader.string(forKey: "graph.client.state", isSecret: true)
        attendantJWTAudience = reader.string(forKey: "attendant.jwt.audience")
        attendantJWTIssuer = reader.string(forKey: "attendant.jwt.issuer")
        attendantDirectoryIDClaim = reader.string(forKey: "attendant.directory.id.claim")
        attendantTokenMaxLifetime = .seconds(
            reader.int(
                forKey: "attendant.token.max.lifetime.seconds",
                default: Int(AttendantTokenRules.defaultMaximumLifetime.components.seconds)))
        sseHeartbeat = .seconds(max(1, reader.int(forKey: "sse.heartbeat.seconds", default: 15)))
        lobbyAttemptsPerAddress = max(1, reader.int(forKey: "lobby.attempts.per.address", default: 30))
        lobbyAttemptsPerLink = max(1, reader.int(forKey: "lobby.attempts.per.link", default: 10))
        simulatorEnabled = reader.bool(forKey: "simulator.enabled", default: true)
        simulatorPort = reader.int(forKey: "simulator.port", default: 0)
        simulatorAPIKey = reader.string(forKey: "simulator.api.key", isSecret: true)
        simulatorDomainRecording = reader.string(forKey: "simulator.domain.recording")
        simulatorFaults = reader.string(forKey: "simulator.faults")
        simulatorFaultSeed = reader.int(forKey: "simulator.fault.seed", default: 1)
        simulatorHost = reader.string(forKey: "simulator.host", default: "127.0.0.1")
        dailyAPIKey = reader.string(forKey: "daily.api.key", isSecret: true)
        dailyAPIBaseURL = reader.string(forKey: "daily.api.base.url", default: "https://api.daily.co/v1")
        zoomAccountID = reader.string(forKey: "zoom.account.id")
        zoomClientID = reader.string(forKey: "zoom.client.id")
        zoomClientSecret = reader.string(forKey: "zoom.client.secret", isSecret: true)
        zoomAPIBaseURL = reader.string(forKey: "zoom.api.base.url", default: "https://api.zoom.us/v2")
        zoomOAuthBaseURL = reader.string(forKey: "zoom.oauth.base.url", default: "https://zoom.us")
        zoomUserID = reader.string(forKey: "zoom.user.id", default: "me")
        graphTenantID = reader.string(forKey: "graph.tenant.id")
        graphClientID = reader.string(forKey: "graph.client.id")
        graphClientSecret = reader.string(forKey: "graph.client.secret", isSecret: true)
        graphOrganizerUserID = reader.string(forKey: "graph.organizer.user.id")
        graphAPIBaseURL = reader.string(forKey: "graph.api.base.url", default: "https://graph.microsoft.com/v1.0")
        graphLoginBaseURL = reader.string(forKey: "graph.login.base.url", default: "https://login.microsoftonline.com")
        bbbAPIURL = reader.string(forKey: "bbb.api.url")
        bbbChecksum = reader.string(forKey: "bbb.checksum", default: "sha256")
        providerTimeout = .seconds(max(1, reader.int(forKey: "provider.timeout.seconds", default: 10)))
        logLevel = reader.string(forKey: "log.level", default: "info")
        logFormat = reader.string(forKey: "log.format", default: "text")
        replicaID = reader.string(forKey: "replica.id", default: ProcessInfo.processInfo.hostName)
        jobLease = .seconds(max(1, reader.int(forKey: "job.lease.seconds", default: 60)))
        jobRetryBase = .milliseconds(Int(max(0.01, reader.double(forKey: "job.retry.base.seconds", default: 2)) * 1000))
        jobConcurrency = reader.int(forKey: "job.concurrency", default: 32)
        shutdownGrace = .milliseconds(Int(max(0, reader.double(forKey: "shutdown.grace.seconds", default: 10)) * 1000))
        serverWriteTimeout = .seconds(reader.int(forKey: "server.write.timeout.seconds", default: 60))
        entryTokenLifetime = .seconds(reader.int(forKey: "entry.token.lifetime.seconds", default: 900))
        reconcileInterval = .seconds(reader.int(forKey: "reconcile.interval.seconds", default: 300))
        reconcileMinimumOrphanAge = .seconds(reader.int(forKey: "reconcile.min.orphan.age.seconds", default: 900))
        presenceGrace = .milliseconds(Int(reader.double(forKey: "presence.grace.seconds", default: 30) * 1000))
        serverHeadTimeout = .milliseconds(Int(reader.double(forKey: "server.head.timeout.seconds", default: 10) * 1000))
        serverIdleTimeout = .milliseconds(Int(reader.double(forKey: "server.idle.timeout.seconds", default: 60) * 1000))
        serverConnectionsPerAddress = reader.int(forKey: "server.connections.per.address", default: 128)
        trustedProxiesText = reader.string(forKey: "trusted.proxies", default: "")
    }

    /// Reads the process environment, then command-line options (which win).
    public static func fromEnvironment(arguments: [String]) -> GatewayConfiguration {
        GatewayConfiguration(
            reader: ConfigReader(providers: [
                CommandLineArgumentsProvider(arguments: arguments),
                EnvironmentVariablesProvider(),
            ]))
    }

    /// The SQLite file named by `DATABASE_URL` (`sqlite:PATH`), or `nil` for another database.
    public var sqlitePath: String? {
        guard databaseURL.hasPrefix("sqlite:") else { return nil }
        var path = String(databaseURL.dropFirst("sqlite:".count))
        if path.hasPrefix("//") { path.removeFirst(2) }
        return path
    }

    /// The PostgreSQL settings when `DATABASE_URL` names PostgreSQL (`nil` for SQLite).
    public func postgresSettings() throws(PostgresSettingsError) -> PostgresSettings? {
        guard PostgresSettings.isPostgresURL(databaseURL) else { return nil }
        return try PostgresSettings(url: databaseURL, poolSize: databasePoolSize, timeout: databaseTimeout)
    }

    /// Where generated credentials live: beside the SQLite file.
    public var dataDirectory: String? {
        sqlitePath.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
    }

    /// Problems that must stop the start, in words for the operator.
    public func validationErrors() -> [String] {
        var errors: [String] = []
        if let secret = attendantJWTSecret, secret.utf8.count < 32 {
            errors.append("ATTENDANT_JWT_SECRET must be at least 32 bytes long")
        }
        if let outboxKey, PayloadSealer(base64Key: outboxKey) == nil {
            errors.append("OUTBOX_KEY must be the base64 of 32 bytes")
        }
        if !PostgresSettings.isPostgresURL(databaseURL) && sqlitePath == nil {
            errors.append("DATABASE_URL must be sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        do { _ = try postgresSettings() } catch { errors.append(error.description) }
        if smtpURL != nil && smtpFrom == nil { errors.append("SMTP_FROM must be set with SMTP_URL") }
        errors += EgressProxySettings.problems(in: ProcessInfo.processInfo.environment)
        errors += callbackSecretErrors()
        errors += fixedValueErrors()
        for key in schedulerAPIKeys.map(SchedulerKey.init) {
            if !key.hasValidName {
                errors.append("SCHEDULER_API_KEYS: a key's name (before ':') must be 1-64 of A-Z a-z 0-9 . _ -")
            }
            if key.key.utf8.count < SchedulerKey.minimumLength {
                errors.append(
                    "SCHEDULER_API_KEYS: every key must be at least \(SchedulerKey.minimumLength) characters long"
                        + (key.name.map { " (the key named \($0) is not)" } ?? ""))
            }
        }
        if let metricsToken, metricsToken.utf8.count < 32 { errors.append("METRICS_TOKEN must be at least 32 bytes long") }
        if attendantJWKSFile != nil && (attendantJWTAudience == nil || attendantJWTIssuer == nil) {
            errors.append("ATTENDANT_JWT_AUDIENCE and ATTENDANT_JWT_ISSUER must be set with ATTENDANT_JWKS_FILE")
        }
        if attendantTokenMaxLifetime < .seconds(60) {
            errors.append("ATTENDANT_TOKEN_MAX_LIFETIME_SECONDS must be at least 60")
        }
        for (name, value) in [("SMTP_URL", smtpURL), ("CONTACT_CENTER_WEBHOOK_URL", contactCenterWebhookURL), ("SCHEDULER_CALLBACK_URL", schedulerCallbackURL)] {
            if let value, URL(string: value)?.scheme == nil { errors.append("\(name) must be an absolute URL") }
        }
        if testProviderStates && !["127.0.0.1", "::1", "localhost"].contains(httpHost) {
            errors.append("TEST_PROVIDER_STATES needs HTTP_HOST on loopback (127.0.0.1, ::1 or localhost)")
        }
        if testProviderStates && (testProviderStatesSecret?.utf8.count ?? 0) < 32 {
            errors.append("TEST_PROVIDER_STATES needs TEST_PROVIDER_STATES_SECRET of at least 32 bytes")
        }
        errors += providerSettingErrors()
        if let simulatorFaults {
            do { _ = try SimulatorFaults(parsing: simulatorFaults) } catch { errors.append(error.description) }
        }
        if case .failure(let error) = TrustedProxies.parse(trustedProxiesText) {
            errors.append("TRUSTED_PROXIES must be a comma-separated list of IP addresses or CIDRs; '\(error.entry)' is not one")
        }
        if serverWriteTimeout <= sseHeartbeat {
            errors.append("SERVER_WRITE_TIMEOUT_SECONDS must be longer than SSE_HEARTBEAT_SECONDS")
        }
        if !(1...86400).contains(entryTokenLifetime.components.seconds) {
            errors.append("ENTRY_TOKEN_LIFETIME_SECONDS must be between 1 and 86400")
        }
        if reconcileInterval < .zero { errors.append("RECONCILE_INTERVAL_SECONDS must be 0 (off) or more") }
        if reconcileMinimumOrphanAge < .seconds(60) {
            errors.append("RECONCILE_MIN_ORPHAN_AGE_SECONDS must be at least 60")
        }
        if presenceGrace < .seconds(1) { errors.append("PRESENCE_GRACE_SECONDS must be at least 1") }
        if serverHeadTimeout < .milliseconds(100) { errors.append("SERVER_HEAD_TIMEOUT_SECONDS must be at least 0.1") }
        if serverIdleTimeout < .milliseconds(100) { errors.append("SERVER_IDLE_TIMEOUT_SECONDS must be at least 0.1") }
        if !(1...100_000).contains(serverConnectionsPerAddress) {
            errors.append("SERVER_CONNECTIONS_PER_ADDRESS must be between 1 and 100000")
        }
        if !(1...3650).contains(retentionDays) { errors.append("RETENTION_DAYS must be between 1 and 3650") }
        if !(1...1024).contains(jobConcurrency) { errors.append("JOB_CONCURRENCY must be between 1 and 1024") }
        if !(1...65535).contains(httpPort) { errors.append("HTTP_PORT must be between 1 and 65535") }
        if URL(string: resolvedPublicBaseURL)?.scheme == nil { errors.append("PUBLIC_BASE_URL must be an absolute URL") }
        return errors
    }

    public var resolvedPublicBaseURL: String {
        publicBaseURL ?? "http://\(httpHost):\(httpPort)"
    }
}

extension GatewayConfiguration {
    /// Each receiver of signed events needs its own secret, at least 32 bytes, different from the other's.
    func callbackSecretErrors() -> [String] {
        var errors: [String] = []
        if replacedWebhookSigningSecretIsSet {
            errors.append(
                "WEBHOOK_SIGNING_SECRET is no longer read: set SCHEDULER_CALLBACK_SECRET and CONTACT_CENTER_WEBHOOK_SECRET (one secret per receiver) and remove it"
            )
        }
        let receivers = [
            ("CONTACT_CENTER_WEBHOOK_URL", contactCenterWebhookURL, "CONTACT_CENTER_WEBHOOK_SECRET", contactCenterWebhookSecret),
            ("SCHEDULER_CALLBACK_URL", schedulerCallbackURL, "SCHEDULER_CALLBACK_SECRET", schedulerCallbackSecret),
        ]
        for (urlKey, url, secretKey, secret) in receivers {
            if url != nil && secret == nil { errors.append("\(secretKey) must be set with \(urlKey)") }
            if let secret, secret.utf8.count < 32 { errors.append("\(secretKey) must be at least 32 bytes long") }
        }
        if let contactCenterWebhookSecret, let schedulerCallbackSecret,
            SecureToken.constantTimeEquals(contactCenterWebhookSecret, schedulerCallbackSecret)
        {
            errors.append("CONTACT_CENTER_WEBHOOK_SECRET and SCHEDULER_CALLBACK_SECRET must differ")
        }
        return errors
    }
}

extension GatewayConfiguration {
    /// What attendant tokens must carry besides their signature.
    public var attendantTokenRules: AttendantTokenRules {
        AttendantTokenRules(
            audience: attendantJWTAudience, issuer: attendantJWTIssuer, maximumLifetime: attendantTokenMaxLifetime,
            directoryIDClaim: attendantDirectoryIDClaim)
    }
}

extension GatewayConfiguration {
    /// Settings with a fixed set of values: anything else stops the start, naming the key and the values.
    func fixedValueErrors() -> [String] {
        var errors: [String] = []
        func check(_ key: String, _ value: String, _ allowed: [String]) {
            if !allowed.contains(value) { errors.append("\(key) must be one of \(allowed.joined(separator: ", "))") }
        }
        let checksums = BigBlueButtonProvider.ChecksumAlgorithm.allCases.map(\.rawValue)
        check("BBB_WEBHOOK_CHECKSUM", bbbWebhookChecksum, checksums)
        check("DEFAULT_PROVIDER", defaultProvider, ProviderRegistry.knownNames.sorted())
        check("LOG_LEVEL", logLevel, Logger.Level.allCases.map(\.rawValue))
        check("LOG_FORMAT", logFormat, ["text", "json"])
        for name in fallbackChannelNames {
            check("FALLBACK_CHANNELS", name, FallbackChannel.allCases.map(\.rawValue))
        }
        return errors
    }
}

extension GatewayConfiguration {
    /// Whether the relay connection must be encrypted: always on `smtp://` with credentials (unless the
    /// operator set `SMTP_INSECURE_PLAINTEXT_AUTH`), or when `SMTP_STARTTLS` asks for it. `smtps://` is
    /// encrypted from the start.
    public var smtpRequiresTLS: Bool {
        smtpStartTLS || (smtpUsername != nil && !smtpInsecurePlaintextAuth)
    }
}

extension GatewayConfiguration {
    /// The parsed `TRUSTED_PROXIES` (none when invalid: the start is refused then, see `validationErrors`).
    public var trustedProxies: TrustedProxies {
        (try? TrustedProxies.parse(trustedProxiesText).get()) ?? .none
    }
}

extension GatewayConfiguration {
    var connectionLimits: ConnectionLimits {
        ConnectionLimits(
            headTimeout: serverHeadTimeout, idleTimeout: serverIdleTimeout, writeTimeout: serverWriteTimeout,
            perAddress: serverConnectionsPerAddress, trustedProxies: trustedProxies)
    }
}
