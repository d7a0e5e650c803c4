import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import Logging
import MeetingProviders
import Prometheus
import SessionOrchestration

/// What the HTTP layer needs from the rest of the gateway.
public struct GatewayHTTPDependencies: Sendable {
    public let sessions: SessionService
    /// The public origin citizens' links are built on, without a trailing slash.
    public let publicBaseURL: String
    public let schedulerKeys: [String]
    public let defaultProvider: String
    public let metrics: PrometheusCollectorRegistry
    /// Verifies attendants' tokens.
    public let attendants: AttendantTokenVerifier
    public let helpPhone: String
    /// The interval of SSE heartbeat comments.
    public let heartbeat: Duration
    var rateLimiter: RateLimiter { RateLimiter(store: sessions.store) }
    let streamLimiter = StreamLimiter()
    /// Lobby tickets already opened.
    let lobbyTickets = LobbyTicketCache()
    /// The lobby answers last encoded.
    let lobbyAnswers = LobbyAnswerCache()
    /// Open event streams allowed per lobby participant (all their tickets), attendant and client address.
    public let streamLimits: StreamLimits
    public let lobbyLimits: LobbyLimits
    /// The secrets that authenticate provider webhooks.
    public let webhookSecrets: WebhookSecrets
    /// Set only for contract tests: enables `POST /_test/provider-states` with this clock.
    public let providerStatesClock: FreezableClock?
    /// The secret every `POST /_test/provider-states` must carry in `Test-Provider-States-Secret`.
    public let providerStatesSecret: String?
    /// When set, `GET /metrics` needs it as a bearer token.
    public let metricsToken: String?
    /// The reverse proxies whose `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    public let trustedProxies: TrustedProxies
    /// Who is present in the lobby (their streams and polls); `nil`: nobody is ever taken for gone.
    public let presence: LobbyPresence?
    /// Reconciles provider rooms with the database; its unhealthy providers show on `/readyz`.
    public let reconciler: RoomReconciler?

    /// Code attempts allowed per minute.
    public struct LobbyLimits: Sendable {
        public var perAddress: Int
        public var perLink: Int

        public init(perAddress: Int = 30, perLink: Int = 10) {
            self.perAddress = perAddress
            self.perLink = perLink
        }
    }

    public init(
        sessions: SessionService, publicBaseURL: String, schedulerKeys: [String], defaultProvider: String,
        metrics: PrometheusCollectorRegistry, attendants: AttendantTokenVerifier, helpPhone: String = "300 502 502",
        heartbeat: Duration = .seconds(15), lobbyLimits: LobbyLimits = LobbyLimits(),
        providerStatesClock: FreezableClock? = nil, providerStatesSecret: String? = nil,
        webhookSecrets: WebhookSecrets = WebhookSecrets(), metricsToken: String? = nil,
        streamLimits: StreamLimits = StreamLimits(), trustedProxies: TrustedProxies = .none,
        presence: LobbyPresence? = nil, reconciler: RoomReconciler? = nil
    ) {
        self.reconciler = reconciler
        self.presence = presence
        self.trustedProxies = trustedProxies
        self.streamLimits = streamLimits
        self.metricsToken = metricsToken
        self.providerStatesSecret = providerStatesSecret
        self.webhookSecrets = webhookSecrets
        self.lobbyLimits = lobbyLimits
        self.providerStatesClock = providerStatesClock
        self.attendants = attendants
        self.helpPhone = helpPhone
        self.heartbeat = heartbeat
        self.sessions = sessions
        self.publicBaseURL = publicBaseURL.hasSuffix("/") ? String(publicBaseURL.dropLast()) : publicBaseURL
        self.schedulerKeys = schedulerKeys
        self.defaultProvider = defaultProvider
        self.metrics = metrics
    }
}

/// Builds the gateway's router: the scheduler API and the operations endpoints.
public func buildGatewayRouter(_ dependencies: GatewayHTTPDependencies) -> Router<GatewayRequestContext> {
    let router = Router(context: GatewayRequestContext.self)
    router.add(middleware: GatewayMiddleware(trusted: dependencies.trustedProxies))
    OperationsRoutes(dependencies: dependencies).add(to: router)
    SchedulerRoutes(dependencies: dependencies).add(to: router.group("v1/sessions"))
    LobbyRoutes(dependencies: dependencies).add(to: router.group("v1/lobby"))
    AttendantRoutes(dependencies: dependencies).add(to: router)
    ReportRoutes(dependencies: dependencies).add(to: router)
    PageRoutes(dependencies: dependencies).add(to: router)
    WebhookRoutes(dependencies: dependencies).add(to: router)
    if let clock = dependencies.providerStatesClock {
        ProviderStateRoutes(dependencies: dependencies, clock: clock).add(to: router)
    }
    return router
}

/// JSON answers with the gateway's encoder settings.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        make(encoded: try encode(value), status: status)
    }

    /// An answer whose body was encoded before (`encode(_:)`).
    static func make(encoded body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    /// The JSON body of `value`, keys sorted.
    static func encode(_ value: some Encodable) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return ByteBuffer(bytes: try encoder.encode(value))
    }
}
