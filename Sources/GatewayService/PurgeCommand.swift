import Foundation
import GatewayCore
import GatewayStorage
import MeetingProviders
import SessionOrchestration

extension GatewayCommands {
    /// `gateway purge`: erases now the personal data of every session whose retention period
    /// (`RETENTION_DAYS` after its end) is over, as the retention deadline would; `dryRun` only lists
    /// them. Returns the booking ids concerned. Safe to run beside a serving gateway.
    public static func purge(arguments: [String], dryRun: Bool, output: (String) -> Void) async throws -> [BookingID] {
        let configuration = GatewayConfiguration.fromEnvironment(arguments: arguments)
        let logger = bootstrapLogging(configuration)
        let store = try await GatewayRuntime.openStore(configuration, logger: logger)
        guard await store.isReady() else {
            try await store.close()
            throw GatewayStartupError("the database is not migrated: run gateway migrate first")
        }
        let sessions = SessionService(
            store: store, clock: SystemClock(), machine: SessionStateMachine(policy: configuration.policy),
            providers: ProviderRegistry([:]))
        let due = try await sessions.sessionsDueForErasure { looked in
            if looked % 10_000 == 0 && looked > 0 { output("looked at \(looked) sessions") }
        }
        output(
            "\(due.count) session(s) past retention (\(configuration.retentionDays) days after their end)"
                + (dryRun ? ", not erased (dry run):" : ":"))
        for session in due {
            output("  \(session.bookingID.rawValue)  ended \(RFC3339.string(from: session.booking.endsAt))")
            if !dryRun { try await sessions.erasePersonalData(of: session.bookingID) }
        }
        if !dryRun { output("erased: \(due.count)") }
        try await store.close()
        return due.map(\.bookingID)
    }
}
