import Foundation
import MeetingProviders
import Synchronization

@testable import GatewayService

/// The real `pact stub` (pip `pact-python-cli`) serving one pact file on a loopback port.
///
/// The stub listens on every interface; the test command runs the Swift tests in a network namespace
/// that has nothing but loopback when the kernel allows it (scripts/test.sh).
final class PactStub: Sendable {
    static let stateHeader = "X-Pact-Provider-State"

    /// `PACT_CLI`, else the test tools' virtual environment.
    static var cli: String? {
        let candidates = [ProcessInfo.processInfo.environment["PACT_CLI"], packageRoot.path + "/.venv-tools/bin/pact"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let base: URL
    private let process: Process

    /// Runs `body` with a stub serving `file`, and stops the stub afterwards.
    static func serving<T: Sendable>(_ file: String, _ body: (PactStub) async throws -> T) async throws -> T {
        let stub = try await PactStub(file: file)
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body(stub))
        } catch {
            outcome = .failure(error)
        }
        await stub.stop()
        return try outcome.get()
    }

    private init(file: String) async throws {
        guard let cli = Self.cli else { throw StubError.missingCLI }
        let port = try FreePort.loopback()
        base = URL(string: "http://127.0.0.1:\(port)")!
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cli)
        process.arguments = [
            "stub", "-f", packageRoot.appendingPathComponent("Fixtures/pacts/\(file)").path, "-p", String(port), "-l",
            "error", "--provider-state-header-name", Self.stateHeader,
        ]
        process.environment = ProcessInfo.processInfo.environment.merging(["PACT_DO_NOT_TRACK": "true"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if (try? await NIOHTTPTransport().send(.init(method: "GET", url: base, timeout: .seconds(1)))) != nil {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        await stop()
        throw StubError.notListening
    }

    /// Stops the stub (it ignores SIGTERM and SIGINT; it keeps nothing worth flushing) and reaps it,
    /// polling instead of blocking a thread: Foundation's own wait needs a run loop the test runner does not turn.
    func stop() async {
        let pid = process.processIdentifier
        kill(pid, SIGKILL)
        for _ in 0..<200 {
            let reaped = waitpid(pid, nil, WNOHANG)
            if reaped == pid || reaped == -1 { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    enum StubError: Error {
        case missingCLI, notListening
    }
}

/// Real HTTP (libcurl) to the stub, with the provider state of each request in the stub's header; keeps
/// a log of what was sent and answered.
final class ProviderStateTransport: HTTPTransport {
    typealias Chooser = @Sendable (HTTPRequest) -> String

    private let inner = NIOHTTPTransport()
    private let chooser = Mutex<Chooser>({ _ in "" })
    private let sent = Mutex<[String]>([])

    /// From now on, `choose` names the provider state of each request.
    func states(_ choose: @escaping Chooser) {
        chooser.withLock { $0 = choose }
        sent.withLock { $0 = [] }
    }

    /// "METHOD path status" for each request since the last `states`.
    var log: [String] { sent.withLock { $0 } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var request = request
        let state = chooser.withLock { $0 }(request)
        // The stub reads the header as a regex: anchor it and escape its metacharacters.
        let escaped = state.reduce(into: "") { text, character in
            if ".^$*+?()[]{}|\\".contains(character) { text.append("\\") }
            text.append(character)
        }
        request.headers[PactStub.stateHeader] = "^\(escaped)$"
        let response = try await inner.send(request)
        sent.withLock { $0.append("\(request.method) \(request.url.path) \(response.status)") }
        return response
    }
}
