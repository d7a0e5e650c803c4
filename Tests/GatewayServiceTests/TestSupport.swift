import Foundation
import GatewayCore
import GatewayHTTP
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import Logging
import MeetingProviders
import Prometheus
import ProviderSimulator
import ServiceLifecycle
import SessionOrchestration
import Testing

@testable import GatewayService

/// The provider simulator on a real loopback port, for the duration of `body`.
func withSimulator<T: Sendable>(
    domainRecording: String? = nil, faults: SimulatorFaults = .none, _ body: (ProviderSimulator, URL) async throws -> T
) async throws -> T {
    let port = try FreePort.loopback()
    let simulator = ProviderSimulator(
        apiKey: "simulator-test-key", publicBaseURL: "http://127.0.0.1:\(port)", domainRecording: domainRecording,
        faults: faults)
    return try await withLoopbackServer(simulator.router().buildResponder(), port: port, label: "simulator-test") {
        try await body(simulator, URL(string: "http://127.0.0.1:\(port)/v1")!)
    }
}

/// Serves `responder` on `port` of 127.0.0.1 for the duration of `body`, then shuts it down.
func withLoopbackServer<Responder: HTTPResponder, T: Sendable>(
    _ responder: Responder, port: Int, label: String, _ body: () async throws -> T
) async throws -> T where Responder.Context == BasicRequestContext {
    let (ready, readyContinuation) = AsyncStream<Void>.makeStream()
    let app = Application(
        responder: responder, configuration: .init(address: .hostname("127.0.0.1", port: port)),
        onServerRunning: { _ in readyContinuation.yield() }, logger: Logger(label: label))
    let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: label)))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        for await _ in ready { break }
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body())
        } catch {
            outcome = .failure(error)
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try outcome.get()
    }
}

/// A gateway assembled around a store and a manual clock; the job worker runs only when told to.
struct TestGateway: Sendable {
    static let schedulerKey = "test-scheduler-key"
    /// A second scheduler client, configured as `booking-system:<key>`: its actions are audited by name.
    static let namedSchedulerKey = "booking-system-key-0123456789abcdef0123"
    static let attendantSecret = "attendant-secret-for-tests-0123456789abcdef"
    static let publicBaseURL = "https://video.example.pt"

    let store: any GatewayStore
    let clock: ManualClock
    let sessions: SessionService
    let worker: JobWorker
    let dependencies: GatewayHTTPDependencies

    init(
        store: any GatewayStore, simulatorURL: URL?, now: Date = Date(timeIntervalSince1970: 1_900_000_000),
        notifier: (any Notifier)? = nil, sealer: PayloadSealer = PayloadSealer(),
        providers makeProviders: (any GatewayClock) -> [String: any MeetingProvider] = { _ in [:] }
    ) async {
        self.store = store
        clock = ManualClock(now)
        var providers = makeProviders(clock)
        if let simulatorURL {
            providers["simulator"] = DailyProvider(
                configuration: .init(baseURL: simulatorURL, apiKey: "simulator-test-key", timeout: .seconds(5)),
                transport: NIOHTTPTransport(), clock: clock)
        }
        sessions = SessionService(
            store: store, clock: clock, machine: SessionStateMachine(), providers: ProviderRegistry(providers),
            sealer: sealer)
        worker = JobWorker(
            sessions: sessions, notifier: notifier ?? UnconfiguredNotifier(), doorbell: Doorbell(),
            configuration: .init(retry: RetryPolicy(maximumAttempts: 3, baseDelay: .seconds(1))),
            logger: Logger(label: "worker-test"))
        let verifier = try! await AttendantTokenVerifier(secret: Self.attendantSecret)
        dependencies = GatewayHTTPDependencies(
            sessions: sessions, publicBaseURL: Self.publicBaseURL, schedulerKeys: ["booking-system:\(Self.namedSchedulerKey)", Self.schedulerKey],
            defaultProvider: "simulator", metrics: PrometheusCollectorRegistry(), attendants: verifier,
            heartbeat: .milliseconds(200))
    }

    /// Runs `body` against the router in process.
    func test<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await Application(router: buildGatewayRouter(dependencies)).test(.router, body)
    }
}

enum Body {
    static let now = Date(timeIntervalSince1970: 1_900_000_000)

    /// A valid booking body starting `startOffset` seconds after the test clock's start.
    static func booking(
        startOffset: Int = 7200, length: Int = 1800, provider: String? = nil, extra: [String: Any] = [:]
    ) -> [String: Any] {
        let start = now.addingTimeInterval(TimeInterval(startOffset))
        var body: [String: Any] = [
            "service": "prestacoes-familiares",
            "startsAt": RFC3339String(start),
            "endsAt": RFC3339String(start.addingTimeInterval(TimeInterval(length))),
            "attendantId": "a-17",
            "topic": ["theme": "Prestações", "subtheme": "Abono de família", "reason": "Pedido de informação"],
            "citizen": ["name": "Maria Sousa", "email": "maria@example.pt", "phone": "+351912345678", "locale": "pt-PT"],
            "notifyCitizen": true,
        ]
        if let provider { body["provider"] = provider }
        for (key, value) in extra { body[key] = value }
        return body
    }

    static func RFC3339String(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func json(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }
}

extension TestClientProtocol {
    /// Sends a request with the scheduler key (or `key`) and returns status and decoded JSON object.
    func call(
        _ method: HTTPRequest.Method, _ uri: String, body: ByteBuffer? = nil, key: String? = TestGateway.schedulerKey,
        contentType: String = "application/json"
    ) async throws -> Reply {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        if body != nil { headers[.contentType] = contentType }
        return try await execute(uri: uri, method: method, headers: headers, body: body) { response in
            Reply(status: response.status, headers: response.headers, body: Data(buffer: response.body))
        }
    }
}

/// An HTTP answer as received.
struct Reply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: Data

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var code: String? { json["code"] as? String }
    var room: [String: Any] { json["room"] as? [String: Any] ?? [:] }
}
