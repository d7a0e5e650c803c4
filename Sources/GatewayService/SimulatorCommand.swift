import Foundation
import Hummingbird
import Logging
import ProviderSimulator

extension GatewayCommands {
    /// `gateway simulator`: the provider simulator on its own, so that several gateway replicas (or a
    /// gateway that is killed and restarted) share its rooms. It speaks Daily's REST API under `/v1`:
    /// point gateways at it with `DAILY_API_BASE_URL=http://HOST:PORT/v1` and `DAILY_API_KEY`.
    public static func simulator(arguments: [String]) async throws {
        let configuration = GatewayConfiguration.fromEnvironment(arguments: arguments)
        let logger = bootstrapLogging(configuration)
        guard let apiKey = configuration.simulatorAPIKey, !apiKey.isEmpty else {
            throw GatewayStartupError("SIMULATOR_API_KEY must be set for a standalone simulator")
        }
        var faults = SimulatorFaults.none
        if let spec = configuration.simulatorFaults {
            do { faults = try SimulatorFaults(parsing: spec) } catch { throw GatewayStartupError(error.description) }
        }
        let host = configuration.simulatorHost
        let port = configuration.simulatorPort == 0 ? try FreePort.loopback() : configuration.simulatorPort
        let simulator = ProviderSimulator(
            apiKey: apiKey, publicBaseURL: "http://\(host):\(port)",
            domainRecording: configuration.simulatorDomainRecording, faults: faults,
            faultSeed: UInt64(truncatingIfNeeded: configuration.simulatorFaultSeed))
        let application = Application(
            router: simulator.router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "provider-simulator"),
            onServerRunning: { _ in
                FileHandle.standardOutput.write(Data("simulator listening on http://\(host):\(port)\n".utf8))
            },
            logger: logger)
        if !faults.isEmpty { logger.warning("provider simulator injects faults", metadata: ["faults": "\(faults.shares)"]) }
        try await application.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}
