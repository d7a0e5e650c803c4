import Foundation
import GatewayCore
import GatewayHTTP
import GatewayStorage
import Hummingbird
import Logging
import MeetingProviders
import Metrics
import Notifications
import Prometheus
import ProviderSimulator
import ServiceLifecycle
import SessionOrchestration

/// The assembled gateway: store, providers, simulator, HTTP server and job worker.
public final class GatewayRuntime: Sendable {
    public let configuration: GatewayConfiguration
    public let store: any GatewayStore
    public let sessions: SessionService
    public let worker: JobWorker
    /// The built-in provider simulator, when enabled.
    public let simulator: ProviderSimulator?
    public let simulatorPort: Int?
    private let services: [any Service]
    private let logger: Logger

    /// The process-wide Prometheus registry behind swift-metrics.
    public static let metricsRegistry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    private init(
        configuration: GatewayConfiguration, store: any GatewayStore, sessions: SessionService, worker: JobWorker,
        simulator: ProviderSimulator?, simulatorPort: Int?, services: [any Service], logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.sessions = sessions
        self.worker = worker
        self.simulator = simulator
        self.simulatorPort = simulatorPort
        self.services = services
        self.logger = logger
    }

    /// Opens and migrates the store and builds every part; nothing listens until `run`.
    /// The configuration must carry the scheduler keys (see `GeneratedCredentials`).
    public static func make(
        configuration: GatewayConfiguration, clock givenClock: (any GatewayClock)? = nil, logger: Logger
    ) async throws -> GatewayRuntime {
        let freezableClock = configuration.testProviderStates ? FreezableClock() : nil
        let clock: any GatewayClock = givenClock ?? freezableClock ?? SystemClock()
        if configuration.testProviderStates {
            logger.warning("TEST_PROVIDER_STATES is on: POST /_test/provider-states can change data; never in production")
        }
        let problems = configuration.validationErrors()
        guard problems.isEmpty else { throw GatewayStartupError(problems.joined(separator: "; ")) }
        let registry = metricsRegistry
        let store = try await openStore(configuration, logger: logger)
        try await store.migrate()

        var providers: [String: any MeetingProvider] = [:]
        let transport = NIOHTTPTransport()
        var simulator: ProviderSimulator?
        var simulatorPort: Int?
        var services: [any Service] = []
        if configuration.simulatorEnabled {
            let port = configuration.simulatorPort == 0 ? try FreePort.loopback() : configuration.simulatorPort
            let key = configuration.simulatorAPIKey ?? SecureToken.make()
            let base = "http://127.0.0.1:\(port)"
            let created = ProviderSimulator(
                apiKey: key, publicBaseURL: base, domainRecording: configuration.simulatorDomainRecording,
                faults: try configuration.simulatorFaults.map { try SimulatorFaults(parsing: $0) } ?? .none,
                faultSeed: UInt64(truncatingIfNeeded: configuration.simulatorFaultSeed))
            services.append(
                Application(
                    router: created.router(),
                    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "provider-simulator"),
                    logger: Logger(label: "provider-simulator")))
            providers["simulator"] = DailyProvider(
                configuration: .init(
                    baseURL: URL(string: "\(base)/v1")!, apiKey: key, entryLifetime: configuration.entryTokenLifetime),
                transport: transport,
                clock: clock)
            simulator = created
            simulatorPort = port
        }
        providers.merge(configuration.configuredProviders(transport: transport, clock: clock)) { simulator, _ in simulator }

        let doorbell = Doorbell()
        let sealer = configuration.outboxKey.flatMap(PayloadSealer.init(base64Key:)) ?? PayloadSealer()
        let sessions = SessionService(
            store: store, clock: clock, machine: SessionStateMachine(policy: configuration.policy),
            providers: MeteredProvider.registry(providers), sealer: sealer, onJobsEnqueued: { doorbell.ring() })
        var workerLogger = logger
        workerLogger[metadataKey: "component"] = "job-worker"
        let worker = JobWorker(
            sessions: sessions, notifier: makeNotifier(configuration, transport: transport, clock: clock, logger: logger),
            doorbell: doorbell,
            configuration: .init(
                concurrency: configuration.jobConcurrency, lease: configuration.jobLease,
                retry: RetryPolicy(baseDelay: configuration.jobRetryBase), shutdownGrace: configuration.shutdownGrace),
            logger: workerLogger)

        let jwks = try configuration.attendantJWKSFile.map { try String(contentsOfFile: $0, encoding: .utf8) }
        let verifier = try await AttendantTokenVerifier(
            secret: configuration.attendantJWTSecret, jwksJSON: jwks, rules: configuration.attendantTokenRules)
        var presenceLogger = logger
        presenceLogger[metadataKey: "component"] = "lobby-presence"
        let presence = LobbyPresence(sessions: sessions, grace: configuration.presenceGrace, logger: presenceLogger)
        var reconciler: RoomReconciler?
        if configuration.reconcileInterval > .zero {
            var reconcilerLogger = logger
            reconcilerLogger[metadataKey: "component"] = "room-reconciler"
            reconciler = RoomReconciler(
                sessions: sessions, inventories: providers.compactMapValues { $0 as? any RoomInventory },
                interval: configuration.reconcileInterval, minimumOrphanAge: configuration.reconcileMinimumOrphanAge,
                logger: reconcilerLogger)
        }
        let router = buildGatewayRouter(
            GatewayHTTPDependencies(
                sessions: sessions, publicBaseURL: configuration.resolvedPublicBaseURL,
                schedulerKeys: configuration.schedulerAPIKeys, defaultProvider: configuration.defaultProvider,
                metrics: registry, attendants: verifier, helpPhone: configuration.helpPhone,
                heartbeat: configuration.sseHeartbeat,
                lobbyLimits: .init(
                    perAddress: configuration.lobbyAttemptsPerAddress, perLink: configuration.lobbyAttemptsPerLink),
                providerStatesClock: freezableClock, providerStatesSecret: configuration.testProviderStatesSecret,
                webhookSecrets: webhookSecrets(configuration), metricsToken: configuration.metricsToken,
                streamLimits: configuration.streamLimits, trustedProxies: configuration.trustedProxies,
                presence: presence, reconciler: reconciler))
        // Services stop in the reverse order: event streams end, the HTTP server stops accepting and
        // drains, the worker finishes or hands back its jobs, and the built-in simulator goes last.
        if let postgres = store as? PostgresStore {
            var linkLogger = logger
            linkLogger[metadataKey: "component"] = "replica-link"
            services.append(ReplicaLink(store: postgres, bus: sessions.liveEvents, doorbell: doorbell, logger: linkLogger))
        }
        services.append(worker)
        services.append(presence)
        if let reconciler { services.append(reconciler) }
        services.append(
            Application(
                router: router, server: configuration.connectionLimits.server(),
                configuration: .init(
                    address: .hostname(configuration.httpHost, port: configuration.httpPort),
                    serverName: "video-session-gateway"),
                logger: logger))
        services.append(LiveStreamsShutdown(bus: sessions.liveEvents))
        return GatewayRuntime(
            configuration: configuration, store: store, sessions: sessions, worker: worker, simulator: simulator,
            simulatorPort: simulatorPort, services: services, logger: logger)
    }

    static func webhookSecrets(_ configuration: GatewayConfiguration) -> WebhookSecrets {
        WebhookSecrets(
            daily: configuration.dailyWebhookSecret, zoom: configuration.zoomWebhookSecret,
            bigBlueButton: configuration.bbbSecret.map {
                (
                    $0, configuration.bbbWebhookChecksum,
                    configuration.bbbWebhookCallbackURL ?? configuration.resolvedPublicBaseURL + "/v1/webhooks/bigbluebutton"
                )
            },
            graphClientState: configuration.graphClientState)
    }

    /// The notification channels the configuration names; the others report `not_configured`.
    static func makeNotifier(
        _ configuration: GatewayConfiguration, transport: any HTTPTransport, clock: any GatewayClock, logger: Logger
    ) -> GatewayNotifier {
        var channels = GatewayNotifier.Channels()
        if let url = configuration.smtpURL, let from = configuration.smtpFrom {
            channels.mail = CurlSMTPMailer(
                configuration: SMTPConfiguration(
                    url: url, username: configuration.smtpUsername, password: configuration.smtpPassword,
                    requiresStartTLS: configuration.smtpRequiresTLS, caFile: configuration.smtpCAFile))
            channels.mailFrom = MailAddress(address: from, name: "Segurança Social")
        } else {
            logger.warning("SMTP_URL is not set: invitations and e-mail fallbacks will be recorded as not sent")
        }
        if configuration.smtpInsecurePlaintextAuth && configuration.smtpUsername != nil {
            logger.warning(
                "SMTP_INSECURE_PLAINTEXT_AUTH is on: the relay password and the invitations may travel in clear")
        }
        if let secret = configuration.contactCenterWebhookSecret {
            channels.contactCenterWebhooks = SignedWebhookSender(transport: transport, secret: secret, clock: clock)
        }
        if let secret = configuration.schedulerCallbackSecret {
            channels.schedulerWebhooks = SignedWebhookSender(transport: transport, secret: secret, clock: clock)
        }
        channels.contactCenterURL = configuration.contactCenterWebhookURL.flatMap(URL.init(string:))
        channels.schedulerCallbackURL = configuration.schedulerCallbackURL.flatMap(URL.init(string:))
        return GatewayNotifier(
            channels: channels, publicBaseURL: configuration.resolvedPublicBaseURL, helpPhone: configuration.helpPhone,
            clock: clock, logger: logger)
    }

    /// Runs every service until SIGTERM or SIGINT (or cancellation), then shuts down gracefully.
    public func run() async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        try await store.close()
    }

    /// Opens the store `DATABASE_URL` names.
    public static func openStore(_ configuration: GatewayConfiguration, logger: Logger) async throws -> any GatewayStore {
        let postgres: PostgresSettings?
        do { postgres = try configuration.postgresSettings() } catch { throw GatewayStartupError(error.description) }
        if let postgres {
            var storeLogger = logger
            storeLogger[metadataKey: "component"] = "postgres"
            return try PostgresStore.open(settings: postgres, logger: storeLogger)
        }
        guard let path = configuration.sqlitePath else {
            throw GatewayStartupError("DATABASE_URL must be sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        return try await SQLiteStore.open(path: path)
    }
}

/// A start-up problem explained in one sentence for the operator.
public struct GatewayStartupError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Ends every SSE stream when the gateway shuts down.
struct LiveStreamsShutdown: Service {
    let bus: LiveEventBus

    func run() async throws {
        try? await gracefulShutdown()
        bus.finishAll()
    }
}
