import Foundation
import GatewayCore

/// Keys generated on the first start of the embedded default, kept in `credentials.env` (mode 0600) in
/// the data folder so later starts use the same ones.
public struct GeneratedCredentials: Sendable, Equatable {
    public static let fileName = "credentials.env"

    public var schedulerAPIKey: String
    public var attendantJWTSecret: String
    public var simulatorAPIKey: String
    public var outboxKey: String

    /// Loads the file, or creates it; `isNew` tells whether it was created now.
    public static func loadOrCreate(in directory: String) throws -> (GeneratedCredentials, isNew: Bool) {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(fileName).path
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            var values: [String: String] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { values[parts[0]] = parts[1] }
            }
            if let scheduler = values["SCHEDULER_API_KEYS"], let secret = values["ATTENDANT_JWT_SECRET"],
                let simulator = values["SIMULATOR_API_KEY"], let outbox = values["OUTBOX_KEY"]
            {
                return (
                    GeneratedCredentials(
                        schedulerAPIKey: scheduler, attendantJWTSecret: secret, simulatorAPIKey: simulator,
                        outboxKey: outbox), false
                )
            }
        }
        let credentials = GeneratedCredentials(
            schedulerAPIKey: "sk_" + SecureToken.make(byteCount: 24),
            attendantJWTSecret: SecureToken.make(byteCount: 32),
            simulatorAPIKey: SecureToken.make(byteCount: 16), outboxKey: PayloadSealer.makeKey())
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let text = """
            # Generated on first start of the gateway. Keep secret. Delete this file to generate new keys.
            SCHEDULER_API_KEYS=\(credentials.schedulerAPIKey)
            ATTENDANT_JWT_SECRET=\(credentials.attendantJWTSecret)
            SIMULATOR_API_KEY=\(credentials.simulatorAPIKey)
            OUTBOX_KEY=\(credentials.outboxKey)

            """
        // Not kept, the keys would change at the next start and every client would be refused: stop instead.
        guard FileManager.default.createFile(
            atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { throw GatewayStartupError("could not write the generated credentials to \(path)") }
        return (credentials, true)
    }
}
