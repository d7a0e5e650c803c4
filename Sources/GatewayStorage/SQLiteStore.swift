import Foundation
import GatewayCore

/// The embedded default store: one SQLite file in WAL mode.
public final class SQLiteStore: GatewayStore {
    /// The one writer: transactions are written by it in batches (group commit), each whole on its queue.
    private let writer: SQLiteWriter
    /// Reads go to connections of their own: in WAL mode they see the last commit and never wait
    /// behind the writer.
    private let readers: SQLiteReaders
    private let codec = SessionCodec()

    private init(writer: SQLiteWriter, readers: SQLiteReaders) {
        self.writer = writer
        self.readers = readers
    }

    /// Opens (creating if needed) the database at `path`, in WAL mode. Does not migrate.
    public static func open(path: String) async throws -> SQLiteStore {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let writer = try SQLiteWriter(path: path)
        try await writer.outsideTransaction { connection in
            try connection.execute("PRAGMA journal_mode = WAL")
            // FULL: a commit is on disk before the answer that depends on it (a power loss keeps it too).
            try connection.execute("PRAGMA synchronous = FULL")
            try connection.execute("PRAGMA busy_timeout = 5000")
            // Erased personal data is overwritten, not just unlinked (see `apply`).
            try connection.execute("PRAGMA secure_delete = ON")
            try connection.execute(SQLiteReaders.temporaryFilesInMemory)
            try connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)")
        }
        return SQLiteStore(writer: writer, readers: try SQLiteReaders(path: path, count: 2))
    }

    // MARK: SessionStore

    public func session(for bookingID: BookingID) async throws -> StoredSession? {
        try await read("SELECT data, version FROM sessions WHERE booking_id = ?", [.text(bookingID.rawValue)])
            .first.map(decodeSession)
    }

    public func session(joinToken: String) async throws -> StoredSession? {
        try await read(
            """
            SELECT data, version FROM sessions
            WHERE join_token = ? OR booking_id = (SELECT booking_id FROM participant_tokens WHERE token = ?)
            """, [.text(joinToken), .text(joinToken)]
        ).first.map(decodeSession)
    }

    public func session(cancelToken: String) async throws -> StoredSession? {
        try await read("SELECT data, version FROM sessions WHERE cancel_token = ?", [.text(cancelToken)])
            .first.map(decodeSession)
    }

    public func sessions(matching query: SessionQuery) async throws -> [StoredSession] {
        var conditions: [String] = []
        var binds: [SQLiteValue] = []
        if let from = query.from {
            conditions.append("starts_at >= ?")
            binds.append(.integer(Int(from.millisecondsSince1970)))
        }
        if let to = query.to {
            conditions.append("starts_at < ?")
            binds.append(.integer(Int(to.millisecondsSince1970)))
        }
        if let service = query.service {
            conditions.append("service = ?")
            binds.append(.text(service))
        }
        if let state = query.state {
            conditions.append("state = ?")
            binds.append(.text(state.rawValue))
        }
        if let after = query.after {
            conditions.append("(starts_at > ? OR (starts_at = ? AND booking_id > ?))")
            binds += [
                .integer(Int(after.startsAtMilliseconds)), .integer(Int(after.startsAtMilliseconds)),
                .text(after.bookingID.rawValue),
            ]
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        binds.append(.integer(query.limit))
        return try await self.read(
            "SELECT data, version FROM sessions \(whereClause) ORDER BY starts_at, booking_id LIMIT ?", binds
        ).map(decodeSession)
    }

    @discardableResult
    public func apply(_ change: SessionChange) async throws -> StoredSession {
        let session = change.session
        let id = session.bookingID.rawValue
        let data = try codec.encode(session)
        let stored: StoredSession = try await transaction { connection in
            if let receipt = change.webhookReceipt {
                guard try Self.insertReceipt(receipt, on: connection) else { throw StoreError.duplicateWebhookEvent }
            }
            let version: Int
            var previous: Session?
            if let expected = change.expectedVersion {
                version = expected + 1
                previous = try connection.query("SELECT data FROM sessions WHERE booking_id = ?", [.text(id)])
                    .first?.column("data")?.string.map(self.codec.decode)
                _ = try connection.query(
                    """
                    UPDATE sessions SET state = ?, service = ?, starts_at = ?, join_token = ?, cancel_token = ?,
                        version = ?, data = ?, provider_room_id = ?
                    WHERE booking_id = ? AND version = ?
                    """,
                    [
                        .text(session.state.rawValue), .text(session.booking.service),
                        .integer(Int(session.booking.startsAt.millisecondsSince1970)),
                        .text(session.access.joinToken), .text(session.access.cancelToken), .integer(version),
                        .text(data), session.room.providerRoomID.map { .text($0) } ?? .null, .text(id),
                        .integer(expected),
                    ])
                let changed = try connection.query("SELECT changes() AS n")
                guard changed.first?.column("n")?.integer == 1 else {
                    throw StoreError.versionConflict(session.bookingID)
                }
            } else {
                version = 1
                let existing = try connection.query(
                    "SELECT 1 FROM sessions WHERE booking_id = ?", [.text(id)])
                guard existing.isEmpty else { throw StoreError.alreadyExists(session.bookingID) }
                _ = try connection.query(
                    """
                    INSERT INTO sessions (booking_id, state, service, starts_at, join_token, cancel_token, version, data,
                        provider_room_id)
                    VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)
                    """,
                    [
                        .text(id), .text(session.state.rawValue), .text(session.booking.service),
                        .integer(Int(session.booking.startsAt.millisecondsSince1970)),
                        .text(session.access.joinToken), .text(session.access.cancelToken), .text(data),
                        session.room.providerRoomID.map { .text($0) } ?? .null,
                    ])
            }
            _ = try connection.query("DELETE FROM participant_tokens WHERE booking_id = ?", [.text(id)])
            for companion in session.companions {
                _ = try connection.query(
                    "INSERT INTO participant_tokens (token, booking_id) VALUES (?, ?)",
                    [.text(companion.access.joinToken), .text(id)])
            }
            for record in change.audit {
                _ = try connection.query(
                    "INSERT INTO audit_events (booking_id, at, actor, event, from_state, to_state) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        .text(record.bookingID.rawValue), .integer(Int(record.at.millisecondsSince1970)),
                        .text(record.actor.description), .text(record.event),
                        record.fromState.map { .text($0.rawValue) } ?? .null, .text(record.toState.rawValue),
                    ])
            }
            if change.cancelsPendingDeadlines {
                _ = try connection.query(
                    "DELETE FROM jobs WHERE booking_id = ? AND state = 'pending' AND kind LIKE 'deadline.%'",
                    [.text(id)])
            }
            // The completed job first: a job that arms its own next run (a renewal) re-arms a finished job.
            if let jobID = change.completesJob {
                _ = try connection.query(
                    "UPDATE jobs SET state = 'done', locked_until = NULL, payload = NULL WHERE id = ?",
                    [.integer(Int(jobID))])
            }
            for job in change.jobs {
                _ = try connection.query(
                    """
                    INSERT INTO jobs (booking_id, kind, generation, due_at, state, attempts, payload)
                    VALUES (?, ?, ?, ?, 'pending', 0, ?)
                    ON CONFLICT (booking_id, kind, generation) DO UPDATE
                    SET state = 'pending', due_at = excluded.due_at, attempts = 0, last_error = NULL, locked_until = NULL,
                        payload = excluded.payload
                    WHERE jobs.state IN ('done', 'dead') OR (jobs.state = 'pending' AND excluded.payload IS NOT NULL)
                    """,
                    [
                        .text(job.bookingID.rawValue), .text(job.kind.description), .integer(job.generation),
                        .integer(Int(job.dueAt.millisecondsSince1970)), job.payload.map { .text($0) } ?? .null,
                    ])
            }
            for (key, counts) in ReportFigures.delta(from: previous, to: session) {
                let waits = counts.filter { $0.key.hasPrefix(ReportFigures.waitPrefix) }
                if !waits.isEmpty { try Self.addWaits(waits, to: key, on: connection) }
                for (metric, value) in counts where !metric.hasPrefix(ReportFigures.waitPrefix) {
                    _ = try connection.query(
                        """
                        INSERT INTO report_counts (service, day, metric, value) VALUES (?, ?, ?, ?)
                        ON CONFLICT (day, service, metric) DO UPDATE SET value = report_counts.value + excluded.value
                        """, [.text(key.service), .text(key.day), .text(metric), .integer(value)])
                }
            }
            return StoredSession(session: session, version: version)
        }
        if session.personalDataErasedAt != nil, change.erasesPersonalData {
            // Earlier versions of the row live on in the write-ahead log until it is checkpointed:
            // copy it into the file (where secure_delete zeroed the old cells) and empty it.
            _ = try await query("PRAGMA wal_checkpoint(TRUNCATE)", [])
        }
        return stored
    }

    public func auditTrail(for bookingID: BookingID) async throws -> [AuditRecord] {
        try await read(
            "SELECT at, actor, event, from_state, to_state FROM audit_events WHERE booking_id = ? ORDER BY id",
            [.text(bookingID.rawValue)]
        ).map { row in
            AuditRecord(
                bookingID: bookingID,
                at: Date(millisecondsSince1970: Int64(row.column("at")?.integer ?? 0)),
                actor: SessionActor(storedName: row.column("actor")?.string ?? "") ?? .system,
                event: row.column("event")?.string ?? "",
                fromState: row.column("from_state")?.string.flatMap(SessionState.init(rawValue:)),
                toState: SessionState(rawValue: row.column("to_state")?.string ?? "") ?? .scheduled)
        }
    }

    public func session(providerRoomID: String) async throws -> StoredSession? {
        try await read("SELECT data, version FROM sessions WHERE provider_room_id = ?", [.text(providerRoomID)])
            .first.map(decodeSession)
    }

    public func recordWebhookReceipt(provider: String, eventID: String, at date: Date, forgettingBefore cutoff: Date)
        async throws -> Bool
    {
        try await transaction { connection in
            try Self.insertReceipt(
                WebhookReceipt(provider: provider, eventID: eventID, at: date, forgettingBefore: cutoff), on: connection)
        }
    }

    /// Forgets receipts past the replay window and stores this one; `false` when it was stored already.
    private static func insertReceipt(_ receipt: WebhookReceipt, on connection: SQLiteDatabaseConnection) throws -> Bool {
        _ = try connection.query(
            "DELETE FROM webhook_receipts WHERE received_at < ?", [.integer(Int(receipt.forgettingBefore.millisecondsSince1970))])
        _ = try connection.query(
            "INSERT INTO webhook_receipts (provider, event_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [.text(receipt.provider), .text(receipt.eventID), .integer(Int(receipt.at.millisecondsSince1970))])
        return try connection.query("SELECT changes() AS n").first?.column("n")?.integer == 1
    }

    public func removeSession(_ bookingID: BookingID) async throws {
        _ = try await transaction { connection in
            if let old = try connection.query(
                "SELECT data FROM sessions WHERE booking_id = ?", [.text(bookingID.rawValue)]
            ).first?.column("data")?.string.map(self.codec.decode) {
                let figures = ReportFigures(old)
                let waits = figures.counts.filter { $0.key.hasPrefix(ReportFigures.waitPrefix) }.mapValues { -$0 }
                if !waits.isEmpty { try Self.addWaits(waits, to: figures.key, on: connection) }
                for (metric, value) in figures.counts where !metric.hasPrefix(ReportFigures.waitPrefix) {
                    _ = try connection.query(
                        "UPDATE report_counts SET value = value - ? WHERE day = ? AND service = ? AND metric = ?",
                        [.integer(value), .text(figures.key.day), .text(figures.key.service), .text(metric)])
                }
            }
            // The audit trail stays (it is append-only).
            for table in ["sessions", "jobs", "participant_tokens"] {
                _ = try connection.query("DELETE FROM \(table) WHERE booking_id = ?", [.text(bookingID.rawValue)])
            }
        }
    }

    // MARK: ReportStore

    public func reportCounts(fromDay: String, toDay: String, services: Set<String>?) async throws
        -> [ReportFigures.Key: [String: Int]]
    {
        var filter = "day >= ? AND day < ?"
        var binds: [SQLiteValue] = [.text(fromDay), .text(toDay)]
        if let services {
            guard !services.isEmpty else { return [:] }
            filter += " AND service IN (\(Array(repeating: "?", count: services.count).joined(separator: ", ")))"
            binds += services.sorted().map { .text($0) }
        }
        var sums: [ReportFigures.Key: [String: Int]] = [:]
        // Counts, pivoted by the database into one row per service and day.
        let metrics = ReportFigures.countMetrics
        let columns = metrics.enumerated().map { "SUM(CASE WHEN metric = '\($1)' THEN value ELSE 0 END) AS m\($0)" }
        for row in try await read(
            "SELECT service, day, \(columns.joined(separator: ", ")) FROM report_counts WHERE \(filter) GROUP BY day, service",
            binds)
        {
            guard let service = row.column("service")?.string, let day = row.column("day")?.string else { continue }
            var counts: [String: Int] = [:]
            for (index, metric) in metrics.enumerated() {
                if let value = row.column("m\(index)")?.integer, value != 0 { counts[metric] = value }
            }
            if !counts.isEmpty { sums[ReportFigures.Key(service: service, day: day)] = counts }
        }
        // Lobby waits: one histogram row per service and day.
        for row in try await read("SELECT service, day, buckets FROM report_waits WHERE \(filter)", binds) {
            guard let service = row.column("service")?.string, let day = row.column("day")?.string,
                let buckets = row.column("buckets")?.string
            else { continue }
            let key = ReportFigures.Key(service: service, day: day)
            sums[key, default: [:]].merge(ReportFigures.waitSummary(ReportWaitBuckets.parse(buckets))) { _, summary in summary }
        }
        return sums
    }

    public func operationalCounts(at now: Date) async throws -> OperationalCounts {
        let waiting = try await read("SELECT COUNT(*) AS n FROM sessions WHERE state = 'waiting'", [])
            .first?.column("n")?.integer ?? 0
        var jobs: [String: OperationalCounts.Queue] = [:]
        let rows = try await read(
            """
            SELECT kind, COUNT(*) AS n, MIN(CASE WHEN state = 'pending' THEN due_at END) AS oldest FROM jobs
            WHERE state IN ('pending', 'running') GROUP BY kind
            """, [])
        let nowMillis = Int(now.millisecondsSince1970)
        for row in rows {
            guard let kind = row.column("kind")?.string else { continue }
            let oldest = row.column("oldest")?.integer
            jobs[kind] = .init(
                pending: row.column("n")?.integer ?? 0,
                oldestDueAgeSeconds: oldest.map { Double(max(0, nowMillis - $0)) / 1000 } ?? 0)
        }
        return OperationalCounts(citizensWaiting: waiting, jobsByKind: jobs)
    }

    /// Adds signed wait-bucket counts to a service and day's histogram row.
    private static func addWaits(_ waits: [String: Int], to key: ReportFigures.Key, on connection: SQLiteDatabaseConnection)
        throws
    {
        let stored = try connection.query(
            "SELECT buckets FROM report_waits WHERE day = ? AND service = ?", [.text(key.day), .text(key.service)]
        ).first?.column("buckets")?.string
        let text = ReportWaitBuckets.adding(waits, to: stored)
        _ = try connection.query(
            """
            INSERT INTO report_waits (service, day, buckets) VALUES (?, ?, ?)
            ON CONFLICT (day, service) DO UPDATE SET buckets = excluded.buckets
            """, [.text(key.service), .text(key.day), .text(text)])
    }

    // MARK: AttemptStore

    public func countAttempt(key: String, at now: Date, window: Duration) async throws -> AttemptWindow {
        let nowMillis = Int(now.millisecondsSince1970)
        let windowStartAfter = nowMillis - Int(window.milliseconds)
        return try await transaction { connection in
            let row = try connection.query(
                """
                INSERT INTO attempt_windows (key, window_start, count) VALUES (?, ?, 1)
                ON CONFLICT (key) DO UPDATE SET
                    count = CASE WHEN window_start <= ? THEN 1 ELSE count + 1 END,
                    window_start = CASE WHEN window_start <= ? THEN ? ELSE window_start END
                RETURNING count, window_start
                """,
                [.text(key), .integer(nowMillis), .integer(windowStartAfter), .integer(windowStartAfter), .integer(nowMillis)]
            ).first
            guard let count = row?.column("count")?.integer, let start = row?.column("window_start")?.integer else {
                throw StoreError.unavailable("attempt counter did not answer")
            }
            if count == 1 {
                _ = try connection.query(
                    "DELETE FROM attempt_windows WHERE window_start <= ?", [.integer(windowStartAfter)])
            }
            return AttemptWindow(count: count, start: Date(millisecondsSince1970: Int64(start)))
        }
    }

    // MARK: JobStore

    public func claimDueJobs(at now: Date, limit: Int, leaseUntil: Date) async throws -> [Job] {
        let nowMillis = Int(now.millisecondsSince1970)
        return try await transaction { connection in
            let rows = try connection.query(
                """
                SELECT id FROM jobs
                WHERE (state = 'pending' AND due_at <= ?) OR (state = 'running' AND locked_until <= ?)
                ORDER BY due_at, id LIMIT ?
                """,
                [.integer(nowMillis), .integer(nowMillis), .integer(limit)])
            var claimed: [Job] = []
            for row in rows {
                guard let id = row.column("id")?.integer else { continue }
                let updated = try connection.query(
                    """
                    UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = ? WHERE id = ?
                    RETURNING id, booking_id, kind, generation, due_at, state, attempts, last_error, payload
                    """,
                    [.integer(Int(leaseUntil.millisecondsSince1970)), .integer(id)])
                claimed += try updated.map(Self.decodeJob)
            }
            return claimed
        }
    }

    public func extendLeases(of jobIDs: [Int64], until leaseUntil: Date) async throws {
        guard !jobIDs.isEmpty else { return }
        let placeholders = Array(repeating: "?", count: jobIDs.count).joined(separator: ", ")
        _ = try await transaction { connection in
            try connection.query(
                "UPDATE jobs SET locked_until = ? WHERE state = 'running' AND id IN (\(placeholders))",
                [.integer(Int(leaseUntil.millisecondsSince1970))] + jobIDs.map { .integer(Int($0)) })
        }
    }

    public func release(_ jobs: [Job]) async throws {
        guard !jobs.isEmpty else { return }
        try await transaction { connection in
            for job in jobs {
                _ = try connection.query(
                    """
                    UPDATE jobs SET state = 'pending', locked_until = NULL, attempts = MAX(attempts - 1, 0)
                    WHERE id = ? AND state = 'running'
                    """, [.integer(Int(job.id))])
            }
        }
    }

    public func resolve(_ job: Job, as resolution: JobResolution, at now: Date) async throws {
        let (sql, binds): (String, [SQLiteValue])
        switch resolution {
        case .done:
            (sql, binds) = (
                "UPDATE jobs SET state = 'done', locked_until = NULL, payload = NULL WHERE id = ? AND state = 'running'",
                [.integer(Int(job.id))]
            )
        case .retry(let at, let error):
            (sql, binds) = (
                "UPDATE jobs SET state = 'pending', due_at = ?, last_error = ?, locked_until = NULL WHERE id = ? AND state = 'running'",
                [.integer(Int(at.millisecondsSince1970)), .text(error), .integer(Int(job.id))]
            )
        case .dead(let error):
            (sql, binds) = (
                "UPDATE jobs SET state = 'dead', last_error = ?, locked_until = NULL, payload = NULL WHERE id = ? AND state = 'running'",
                [.text(error), .integer(Int(job.id))]
            )
        }
        _ = try await transaction { connection in try connection.query(sql, binds) }
    }

    public func jobs(for bookingID: BookingID) async throws -> [Job] {
        try await read(
            "SELECT id, booking_id, kind, generation, due_at, state, attempts, last_error, payload FROM jobs WHERE booking_id = ? ORDER BY id",
            [.text(bookingID.rawValue)]
        ).map(Self.decodeJob)
    }

    public func nextDueDate() async throws -> Date? {
        let rows = try await read(
            """
            SELECT MIN(CASE WHEN state = 'pending' THEN due_at ELSE locked_until END) AS next
            FROM jobs WHERE state IN ('pending', 'running')
            """, [])
        return rows.first?.column("next")?.integer.map { Date(millisecondsSince1970: Int64($0)) }
    }

    // MARK: StoreMaintenance

    @discardableResult
    public func migrate() async throws -> [Int] {
        try await transaction { connection in
            let applied = Set(
                try connection.query("SELECT version FROM schema_migrations").compactMap {
                    $0.column("version")?.integer
                })
            var appliedNow: [Int] = []
            for migration in Migrations.all where !applied.contains(migration.version) {
                for statement in migration.statements {
                    _ = try connection.query(statement)
                }
                _ = try connection.query(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    [.integer(migration.version), .integer(Int(Date().millisecondsSince1970))])
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }

    public func isReady() async -> Bool {
        guard let rows = try? await read("SELECT MAX(version) AS v FROM schema_migrations", []) else { return false }
        return rows.first?.column("v")?.integer == Migrations.latestVersion
    }

    public func close() async throws {
        await writer.close()
        await readers.close()
    }

    // MARK: Helpers

    /// One statement on the writer, outside any transaction.
    private func query(_ sql: String, _ binds: [SQLiteValue]) async throws -> [SQLiteResultRow] {
        try await writer.outsideTransaction { connection in try connection.query(sql, binds) }
    }

    /// A read on the reader connection: the last committed state, without waiting for the writer.
    private func read(_ sql: String, _ binds: [SQLiteValue]) async throws -> [SQLiteResultRow] {
        try await readers.read { connection in try connection.query(sql, binds) }
    }

    /// Runs `body` as one transaction on the writer (batched with others, alone in its savepoint);
    /// nothing of it is kept when it throws.
    private func transaction<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabaseConnection) throws -> T) async throws -> T {
        try await writer.transaction(body)
    }

    private func decodeSession(_ row: SQLiteResultRow) throws -> StoredSession {
        guard let data = row.column("data")?.string, let version = row.column("version")?.integer else {
            throw StoreError.unavailable("session row is incomplete")
        }
        return StoredSession(session: try codec.decode(data), version: version)
    }

    private static func decodeJob(_ row: SQLiteResultRow) throws -> Job {
        guard let id = row.column("id")?.integer,
            let booking = row.column("booking_id")?.string.flatMap(BookingID.init),
            let kind = row.column("kind")?.string.flatMap(JobKind.init),
            let generation = row.column("generation")?.integer,
            let dueAt = row.column("due_at")?.integer,
            let state = row.column("state")?.string.flatMap(JobState.init(rawValue:)),
            let attempts = row.column("attempts")?.integer
        else { throw StoreError.unavailable("job row is incomplete") }
        return Job(
            id: Int64(id), bookingID: booking, kind: kind, generation: generation,
            dueAt: Date(millisecondsSince1970: Int64(dueAt)), state: state, attempts: attempts,
            lastError: row.column("last_error")?.string, payload: row.column("payload")?.string)
    }
}

extension SQLiteStore {
    /// The journal mode in force (`wal` once opened).
    public func journalMode() async throws -> String? {
        try await read("PRAGMA journal_mode", []).first?.column("journal_mode")?.string
    }

    /// `2` is FULL: every commit is synced to disk before the answer that depends on it.
    public func synchronousSetting() async throws -> Int? {
        try await query("PRAGMA synchronous", []).first?.column("synchronous")?.integer
    }

    /// Where the writer and a reader keep SQLite's temporary files: `2` is memory.
    public func temporaryStoreSettings() async throws -> (writer: Int?, reader: Int?) {
        let writer = try await query("PRAGMA temp_store", []).first?.column("temp_store")?.integer
        let reader = try await read("PRAGMA temp_store", []).first?.column("temp_store")?.integer
        return (writer, reader)
    }

    /// Runs one statement outside the store's API; for tests that check the database's own guards.
    func executeForTesting(_ sql: String) async throws {
        _ = try await query(sql, [])
    }
}
