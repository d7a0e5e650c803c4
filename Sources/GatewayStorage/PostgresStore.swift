import Foundation
import GatewayCore
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The store for several replicas: PostgreSQL through a bounded connection pool. Sessions are `jsonb`
/// beside the columns the queries need; jobs are claimed with `FOR UPDATE SKIP LOCKED` and a lease.
/// Every call waits at most `PostgresSettings.timeout` (for a connection or an answer) and then fails
/// with `StoreError.unavailable`, which the HTTP layer answers 503: never a hang.
public final class PostgresStore: GatewayStore {
    /// Notification channels: a job was enqueued; a live event for the SSE streams.
    public static let jobsChannel = "jobs_enqueued"
    public static let liveEventsChannel = "live_events"

    let settings: PostgresSettings
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let logger: Logger
    private let codec = SessionCodec()

    private init(settings: PostgresSettings, client: PostgresClient, runTask: Task<Void, Never>, logger: Logger) {
        self.settings = settings
        self.client = client
        self.runTask = runTask
        self.logger = logger
    }

    deinit {
        // A store dropped without `close()` (a test, a failed start) still closes its connections.
        runTask.cancel()
    }

    /// Starts the pool (connections open on demand). Does not migrate; fails only on bad settings.
    public static func open(settings: PostgresSettings, logger: Logger) throws -> PostgresStore {
        // The pool reports each failed connection attempt at `info`: while the database is away that is
        // one line per attempt, so only its warnings and errors are kept.
        var poolLogger = logger
        poolLogger.logLevel = max(logger.logLevel, .warning)
        let client = PostgresClient(configuration: try clientConfiguration(settings), backgroundLogger: poolLogger)
        let runTask = Task { await client.run() }
        return PostgresStore(settings: settings, client: client, runTask: runTask, logger: logger)
    }

    static func clientConfiguration(_ settings: PostgresSettings) throws -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socket = settings.socketPath {
            configuration = .init(
                unixSocketPath: socket, username: settings.username, password: settings.password,
                database: settings.database)
        } else {
            configuration = .init(
                host: settings.host, port: settings.port, username: settings.username, password: settings.password,
                database: settings.database, tls: try tls(settings.tls))
        }
        configuration.options.maximumConnections = settings.poolSize
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = settings.timeout
        // A statement the server has not finished by then is cancelled there too.
        configuration.options.additionalStartupParameters = [("statement_timeout", "\(settings.timeout.milliseconds)")]
        return configuration
    }

    /// The same connection settings for one dedicated connection (the notification listener).
    static func connectionConfiguration(_ settings: PostgresSettings) throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socket = settings.socketPath {
            configuration = .init(
                unixSocketPath: socket, username: settings.username, password: settings.password,
                database: settings.database)
        } else {
            let mode: PostgresConnection.Configuration.TLS
            switch settings.tls {
            case .disable: mode = .disable
            case .require, .verifyFull: mode = .require(try NIOSSLContext(configuration: tlsConfiguration(settings.tls)))
            }
            configuration = .init(
                host: settings.host, port: settings.port, username: settings.username, password: settings.password,
                database: settings.database, tls: mode)
        }
        configuration.options.connectTimeout = .milliseconds(settings.timeout.milliseconds)
        return configuration
    }

    private static func tls(_ mode: PostgresSettings.TLSMode) throws -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: return .disable
        case .require, .verifyFull: return .require(tlsConfiguration(mode))
        }
    }

    private static func tlsConfiguration(_ mode: PostgresSettings.TLSMode) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if mode == .require { tls.certificateVerification = .none }
        return tls
    }

    // MARK: SessionStore

    public func session(for bookingID: BookingID) async throws -> StoredSession? {
        try await rows("SELECT data::text AS data, version FROM sessions WHERE booking_id = \(bookingID.rawValue)")
            .first.map(decodeSession)
    }

    public func session(joinToken: String) async throws -> StoredSession? {
        try await rows(
            """
            SELECT data::text AS data, version FROM sessions
            WHERE join_token = \(joinToken)
                OR booking_id = (SELECT booking_id FROM participant_tokens WHERE token = \(joinToken))
            """
        ).first.map(decodeSession)
    }

    public func session(cancelToken: String) async throws -> StoredSession? {
        try await rows("SELECT data::text AS data, version FROM sessions WHERE cancel_token = \(cancelToken)")
            .first.map(decodeSession)
    }

    public func session(providerRoomID: String) async throws -> StoredSession? {
        try await rows("SELECT data::text AS data, version FROM sessions WHERE provider_room_id = \(providerRoomID)")
            .first.map(decodeSession)
    }

    public func sessions(matching query: SessionQuery) async throws -> [StoredSession] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let from = query.from { conditions.append("starts_at >= \(bind(from.millisecondsSince1970))") }
        if let to = query.to { conditions.append("starts_at < \(bind(to.millisecondsSince1970))") }
        if let service = query.service { conditions.append("service = \(bind(service))") }
        if let state = query.state { conditions.append("state = \(bind(state.rawValue))") }
        if let after = query.after {
            let starts = bind(after.startsAtMilliseconds)
            conditions.append("(starts_at > \(starts) OR (starts_at = \(starts) AND booking_id > \(bind(after.bookingID.rawValue))))")
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let limit = bind(Int64(query.limit))
        return try await rows(
            PostgresQuery(
                unsafeSQL: "SELECT data::text AS data, version FROM sessions \(whereClause) ORDER BY starts_at, booking_id LIMIT \(limit)",
                binds: binds)
        ).map(decodeSession)
    }

    @discardableResult
    public func apply(_ change: SessionChange) async throws -> StoredSession {
        let session = change.session
        let id = session.bookingID.rawValue
        let data = try codec.encode(session)
        let codec = self.codec
        return try await transaction { connection in
            if let receipt = change.webhookReceipt {
                guard try await Self.insertReceipt(receipt, on: connection) else { throw StoreError.duplicateWebhookEvent }
            }
            let version: Int
            let previous: Session?
            let roomID = session.room.providerRoomID
            if let expected = change.expectedVersion {
                version = expected + 1
                // The row as it was (`old`, read from the statement's snapshot) comes back with the update.
                let updated = try await Self.collect(
                    connection.query(
                        """
                        UPDATE sessions AS s SET state = \(session.state.rawValue), service = \(session.booking.service),
                            starts_at = \(session.booking.startsAt.millisecondsSince1970),
                            join_token = \(session.access.joinToken), cancel_token = \(session.access.cancelToken),
                            version = \(Int64(version)), data = \(data)::jsonb, provider_room_id = \(roomID)
                        FROM sessions AS old
                        WHERE s.booking_id = \(id) AND s.version = \(Int64(expected)) AND old.booking_id = s.booking_id
                        RETURNING old.data::text AS data
                        """, logger: Self.quiet))
                guard let old = updated.first else { throw StoreError.versionConflict(session.bookingID) }
                previous = try codec.decode(try old.decode(String.self))
            } else {
                version = 1
                previous = nil
                let inserted = try await Self.collect(
                    connection.query(
                        """
                        INSERT INTO sessions (booking_id, state, service, starts_at, join_token, cancel_token, version,
                            data, provider_room_id)
                        VALUES (\(id), \(session.state.rawValue), \(session.booking.service),
                            \(session.booking.startsAt.millisecondsSince1970), \(session.access.joinToken),
                            \(session.access.cancelToken), 1, \(data)::jsonb, \(roomID))
                        ON CONFLICT (booking_id) DO NOTHING
                        RETURNING 1
                        """, logger: Self.quiet))
                guard inserted.count == 1 else { throw StoreError.alreadyExists(session.bookingID) }
            }
            // Companions' tokens are rewritten only when they changed (a new session has none stored:
            // `removeSession` removes them with the session).
            let tokens = session.companions.map(\.access.joinToken)
            if tokens != (previous?.companions.map(\.access.joinToken) ?? []) {
                try await connection.query("DELETE FROM participant_tokens WHERE booking_id = \(id)", logger: Self.quiet)
                if !tokens.isEmpty {
                    try await connection.query(
                        "INSERT INTO participant_tokens (token, booking_id) SELECT unnest(\(tokens)::text[]), \(id)",
                        logger: Self.quiet)
                }
            }
            if !change.audit.isEmpty {
                try await connection.query(Self.auditInsert(change.audit), logger: Self.quiet)
            }
            if change.cancelsPendingDeadlines {
                try await connection.query(
                    "DELETE FROM jobs WHERE booking_id = \(id) AND state = 'pending' AND kind LIKE 'deadline.%'",
                    logger: Self.quiet)
            }
            // The completed job first: a job that arms its own next run (a renewal) re-arms a finished job.
            if let jobID = change.completesJob {
                try await connection.query(
                    "UPDATE jobs SET state = 'done', locked_until = NULL, payload = NULL WHERE id = \(jobID)",
                    logger: Self.quiet)
            }
            let batches = Self.jobBatches(change.jobs)
            for (index, batch) in batches.enumerated() {
                // The last one also notifies, delivered at commit to every replica's worker (this one's too).
                try await connection.query(Self.jobsUpsert(batch, notifying: index == batches.count - 1), logger: Self.quiet)
            }
            for (key, counts) in ReportFigures.delta(from: previous, to: session) {
                try await Self.addReportCounts(counts, to: key, on: connection)
            }
            return StoredSession(session: session, version: version)
        }
        // PostgreSQL keeps no readable copy of an erased row once VACUUM has run; autovacuum does that.
    }

    public func auditTrail(for bookingID: BookingID) async throws -> [AuditRecord] {
        try await rows(
            """
            SELECT at, actor, event, from_state, to_state FROM audit_events
            WHERE booking_id = \(bookingID.rawValue) ORDER BY id
            """
        ).map { row in
            let (at, actor, event, from, to) = try row.decode((Int64, String, String, String?, String).self)
            return AuditRecord(
                bookingID: bookingID, at: Date(millisecondsSince1970: at),
                actor: SessionActor(storedName: actor) ?? .system, event: event,
                fromState: from.flatMap(SessionState.init(rawValue:)),
                toState: SessionState(rawValue: to) ?? .scheduled)
        }
    }

    public func recordWebhookReceipt(provider: String, eventID: String, at date: Date, forgettingBefore cutoff: Date)
        async throws -> Bool
    {
        try await transaction { connection in
            try await Self.insertReceipt(
                WebhookReceipt(provider: provider, eventID: eventID, at: date, forgettingBefore: cutoff), on: connection)
        }
    }

    private static func insertReceipt(_ receipt: WebhookReceipt, on connection: PostgresConnection) async throws -> Bool {
        try await connection.query(
            "DELETE FROM webhook_receipts WHERE received_at < \(receipt.forgettingBefore.millisecondsSince1970)",
            logger: quiet)
        let inserted = try await collect(
            connection.query(
                """
                INSERT INTO webhook_receipts (provider, event_id, received_at)
                VALUES (\(receipt.provider), \(receipt.eventID), \(receipt.at.millisecondsSince1970))
                ON CONFLICT DO NOTHING RETURNING 1
                """, logger: quiet))
        return inserted.count == 1
    }

    public func removeSession(_ bookingID: BookingID) async throws {
        let codec = self.codec
        try await transaction { connection in
            let old = try await Self.collect(
                connection.query(
                    "SELECT data::text AS data FROM sessions WHERE booking_id = \(bookingID.rawValue) FOR UPDATE",
                    logger: Self.quiet))
            if let text = try old.first?.decode(String.self) {
                let figures = ReportFigures(try codec.decode(text))
                try await Self.addReportCounts(figures.counts.mapValues { -$0 }, to: figures.key, on: connection)
            }
            // The audit trail stays (it is append-only).
            try await connection.query("DELETE FROM sessions WHERE booking_id = \(bookingID.rawValue)", logger: Self.quiet)
            try await connection.query("DELETE FROM jobs WHERE booking_id = \(bookingID.rawValue)", logger: Self.quiet)
            try await connection.query(
                "DELETE FROM participant_tokens WHERE booking_id = \(bookingID.rawValue)", logger: Self.quiet)
        }
    }

    // MARK: ReportStore

    public func reportCounts(fromDay: String, toDay: String, services: Set<String>?) async throws
        -> [ReportFigures.Key: [String: Int]]
    {
        if let services, services.isEmpty { return [:] }
        let serviceList = services.map { Array($0).sorted() }
        var sums: [ReportFigures.Key: [String: Int]] = [:]
        let counts = try await rows(
            """
            SELECT service, day, metric, SUM(value)::bigint FROM report_counts
            WHERE day >= \(fromDay) AND day < \(toDay) AND (\(serviceList == nil) OR service = ANY(\(serviceList ?? [])))
            GROUP BY day, service, metric
            """)
        for row in counts {
            let (service, day, metric, value) = try row.decode((String, String, String, Int64).self)
            guard value != 0 else { continue }
            sums[ReportFigures.Key(service: service, day: day), default: [:]][metric] = Int(value)
        }
        let waits = try await rows(
            """
            SELECT service, day, buckets FROM report_waits
            WHERE day >= \(fromDay) AND day < \(toDay) AND (\(serviceList == nil) OR service = ANY(\(serviceList ?? [])))
            """)
        for row in waits {
            let (service, day, buckets) = try row.decode((String, String, String).self)
            let key = ReportFigures.Key(service: service, day: day)
            sums[key, default: [:]].merge(ReportFigures.waitSummary(ReportWaitBuckets.parse(buckets))) { _, summary in summary }
        }
        return sums
    }

    public func operationalCounts(at now: Date) async throws -> OperationalCounts {
        let waiting = try await rows("SELECT COUNT(*)::bigint FROM sessions WHERE state = 'waiting'")
            .first.map { try $0.decode(Int64.self) } ?? 0
        var jobs: [String: OperationalCounts.Queue] = [:]
        let nowMillis = now.millisecondsSince1970
        for row in try await rows(
            """
            SELECT kind, COUNT(*)::bigint, MIN(CASE WHEN state = 'pending' THEN due_at END) FROM jobs
            WHERE state IN ('pending', 'running') GROUP BY kind
            """)
        {
            let (kind, count, oldest) = try row.decode((String, Int64, Int64?).self)
            jobs[kind] = .init(
                pending: Int(count), oldestDueAgeSeconds: oldest.map { Double(max(0, nowMillis - $0)) / 1000 } ?? 0)
        }
        return OperationalCounts(citizensWaiting: Int(waiting), jobsByKind: jobs)
    }

    /// Adds signed counts (wait buckets and plain metrics) to a service and day's sums.
    private static func addReportCounts(_ counts: [String: Int], to key: ReportFigures.Key, on connection: PostgresConnection)
        async throws
    {
        let waits = counts.filter { $0.key.hasPrefix(ReportFigures.waitPrefix) }
        if !waits.isEmpty {
            let stored = try await collect(
                connection.query(
                    "SELECT buckets FROM report_waits WHERE day = \(key.day) AND service = \(key.service) FOR UPDATE",
                    logger: quiet))
            let text = ReportWaitBuckets.adding(waits, to: try stored.first?.decode(String.self))
            try await connection.query(
                """
                INSERT INTO report_waits (service, day, buckets) VALUES (\(key.service), \(key.day), \(text))
                ON CONFLICT (day, service) DO UPDATE SET buckets = excluded.buckets
                """, logger: quiet)
        }
        let plain = counts.filter { !$0.key.hasPrefix(ReportFigures.waitPrefix) }.sorted { $0.key < $1.key }
        guard !plain.isEmpty else { return }
        var binds = PostgresBindings()
        var rows: [String] = []
        for (metric, value) in plain {
            binds.append(key.service)
            binds.append(key.day)
            binds.append(metric)
            binds.append(Int64(value))
            let last = binds.count
            rows.append("($\(last - 3), $\(last - 2), $\(last - 1), $\(last))")
        }
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO report_counts (service, day, metric, value) VALUES \(rows.joined(separator: ", "))
                    ON CONFLICT (day, service, metric) DO UPDATE SET value = report_counts.value + excluded.value
                    """, binds: binds), logger: quiet)
    }

    /// One statement inserting `records` in their order (their ids, which order an audit trail, follow it).
    private static func auditInsert(_ records: [AuditRecord]) -> PostgresQuery {
        var binds = PostgresBindings()
        var rows: [String] = []
        for record in records {
            binds.append(record.bookingID.rawValue)
            binds.append(record.at.millisecondsSince1970)
            binds.append(record.actor.description)
            binds.append(record.event)
            if let from = record.fromState { binds.append(from.rawValue) } else { binds.appendNull() }
            binds.append(record.toState.rawValue)
            let first = binds.count - 5
            rows.append("(" + (first...binds.count).map { "$\($0)" }.joined(separator: ", ") + ")")
        }
        return PostgresQuery(
            unsafeSQL: "INSERT INTO audit_events (booking_id, at, actor, event, from_state, to_state) VALUES "
                + rows.joined(separator: ", "),
            binds: binds)
    }

    /// `jobs` split into batches in which no job's key (booking, kind, generation) repeats, in order: the
    /// n-th job of a key goes in the n-th batch, so the batches upserted one after the other do what
    /// upserting the jobs one by one would (one statement cannot upsert the same row twice).
    static func jobBatches(_ jobs: [JobRequest]) -> [[JobRequest]] {
        var batches: [[JobRequest]] = []
        var seen: [String: Int] = [:]
        for job in jobs {
            let key = "\(job.bookingID.rawValue)|\(job.kind.description)|\(job.generation)"
            let index = seen[key, default: 0]
            seen[key] = index + 1
            if index == batches.count { batches.append([]) }
            batches[index].append(job)
        }
        return batches
    }

    /// One statement upserting `jobs` (keys distinct), and notifying the workers when `notifying`.
    private static func jobsUpsert(_ jobs: [JobRequest], notifying: Bool) -> PostgresQuery {
        var binds = PostgresBindings()
        var rows: [String] = []
        for job in jobs {
            binds.append(job.bookingID.rawValue)
            binds.append(job.kind.description)
            binds.append(Int64(job.generation))
            binds.append(job.dueAt.millisecondsSince1970)
            if let payload = job.payload { binds.append(payload) } else { binds.appendNull() }
            let last = binds.count
            rows.append("($\(last - 4), $\(last - 3), $\(last - 2), $\(last - 1), 'pending', 0, $\(last))")
        }
        let upsert = """
            INSERT INTO jobs (booking_id, kind, generation, due_at, state, attempts, payload)
            VALUES \(rows.joined(separator: ", "))
            ON CONFLICT (booking_id, kind, generation) DO UPDATE
            SET state = 'pending', due_at = excluded.due_at, attempts = 0, last_error = NULL, locked_until = NULL,
                payload = excluded.payload
            WHERE jobs.state IN ('done', 'dead') OR (jobs.state = 'pending' AND excluded.payload IS NOT NULL)
            """
        guard notifying else { return PostgresQuery(unsafeSQL: upsert, binds: binds) }
        binds.append(jobsChannel)
        return PostgresQuery(unsafeSQL: "WITH upserted AS (\(upsert) RETURNING 1) SELECT pg_notify($\(binds.count), '')", binds: binds)
    }

    // MARK: JobStore

    public func claimDueJobs(at now: Date, limit: Int, leaseUntil: Date) async throws -> [Job] {
        let nowMillis = now.millisecondsSince1970
        return try await rows(
            """
            UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = \(leaseUntil.millisecondsSince1970)
            WHERE id IN (
                SELECT id FROM jobs
                WHERE (state = 'pending' AND due_at <= \(nowMillis)) OR (state = 'running' AND locked_until <= \(nowMillis))
                ORDER BY due_at, id LIMIT \(Int64(limit))
                FOR UPDATE SKIP LOCKED)
            RETURNING \(unescaped: Self.jobColumns)
            """
        ).map(Self.decodeJob).sorted { ($0.dueAt, $0.id) < ($1.dueAt, $1.id) }
    }

    public func extendLeases(of jobIDs: [Int64], until leaseUntil: Date) async throws {
        guard !jobIDs.isEmpty else { return }
        try await execute(
            """
            UPDATE jobs SET locked_until = \(leaseUntil.millisecondsSince1970)
            WHERE state = 'running' AND id = ANY(\(jobIDs))
            """)
    }

    public func release(_ jobs: [Job]) async throws {
        guard !jobs.isEmpty else { return }
        try await execute(
            """
            UPDATE jobs SET state = 'pending', locked_until = NULL, attempts = GREATEST(attempts - 1, 0)
            WHERE id = ANY(\(jobs.map(\.id))) AND state = 'running'
            """)
    }

    public func resolve(_ job: Job, as resolution: JobResolution, at now: Date) async throws {
        switch resolution {
        case .done:
            try await execute(
                "UPDATE jobs SET state = 'done', locked_until = NULL, payload = NULL WHERE id = \(job.id) AND state = 'running'")
        case .retry(let at, let error):
            try await execute(
                """
                UPDATE jobs SET state = 'pending', due_at = \(at.millisecondsSince1970), last_error = \(error),
                    locked_until = NULL
                WHERE id = \(job.id) AND state = 'running'
                """)
        case .dead(let error):
            try await execute(
                """
                UPDATE jobs SET state = 'dead', last_error = \(error), locked_until = NULL, payload = NULL
                WHERE id = \(job.id) AND state = 'running'
                """)
        }
    }

    public func jobs(for bookingID: BookingID) async throws -> [Job] {
        try await rows(
            "SELECT \(unescaped: Self.jobColumns) FROM jobs WHERE booking_id = \(bookingID.rawValue) ORDER BY id"
        ).map(Self.decodeJob)
    }

    public func nextDueDate() async throws -> Date? {
        try await rows(
            """
            SELECT MIN(CASE WHEN state = 'pending' THEN due_at ELSE locked_until END) FROM jobs
            WHERE state IN ('pending', 'running')
            """
        ).first.flatMap { try $0.decode(Int64?.self) }.map(Date.init(millisecondsSince1970:))
    }

    // MARK: AttemptStore

    public func countAttempt(key: String, at now: Date, window: Duration) async throws -> AttemptWindow {
        let nowMillis = now.millisecondsSince1970
        let windowStartAfter = nowMillis - window.milliseconds
        let row = try await rows(
            """
            INSERT INTO attempt_windows (key, window_start, count) VALUES (\(key), \(nowMillis), 1)
            ON CONFLICT (key) DO UPDATE SET
                count = CASE WHEN attempt_windows.window_start <= \(windowStartAfter) THEN 1 ELSE attempt_windows.count + 1 END,
                window_start = CASE WHEN attempt_windows.window_start <= \(windowStartAfter) THEN \(nowMillis)
                    ELSE attempt_windows.window_start END
            RETURNING count, window_start
            """
        ).first
        guard let (count, start) = try row?.decode((Int64, Int64).self) else {
            throw StoreError.unavailable("attempt counter did not answer")
        }
        if count == 1 {
            // A new window: forget windows long past, so the table holds only recent keys.
            try await execute("DELETE FROM attempt_windows WHERE window_start <= \(windowStartAfter)")
        }
        return AttemptWindow(count: Int(count), start: Date(millisecondsSince1970: start))
    }

    // MARK: Notifications

    /// Sends a live event to every replica (this one too), numbered from the shared `live_event_ids`:
    /// the payload delivered is `<id> <json>`.
    public func publishLiveEvent(json: String) async throws {
        try await execute(
            "SELECT pg_notify(\(Self.liveEventsChannel), nextval('live_event_ids')::text || ' ' || \(json))")
    }

    /// Listens to `channels` on a connection of its own until it fails or the task is cancelled;
    /// `onListening` runs once every channel is listened to (notifications sent before were missed).
    public func listen(
        to channels: [String], onListening: @escaping @Sendable () -> Void,
        onNotification: @escaping @Sendable (_ channel: String, _ payload: String) -> Void
    ) async throws {
        do {
            let connection = try await PostgresConnection.connect(
                configuration: try Self.connectionConfiguration(settings), id: 1, logger: Self.quiet)
            defer { Task { try? await connection.close() } }
            try await withThrowingTaskGroup(of: Void.self) { group in
                let ready = ListeningCount(channels.count, onAll: onListening)
                for channel in channels {
                    group.addTask {
                        try await connection.listen(on: channel) { notifications in
                            ready.one()
                            for try await notification in notifications { onNotification(channel, notification.payload) }
                        }
                    }
                }
                // The first channel to stop (the connection closed) ends the listening.
                try await group.next()
                group.cancelAll()
            }
        } catch let error as PSQLError {
            throw StoreError.unavailable(Self.describe(error))
        }
    }

    // MARK: StoreMaintenance

    @discardableResult
    public func migrate() async throws -> [Int] {
        try await transaction { connection in
            // Replicas starting together migrate one after the other.
            try await connection.query("SELECT pg_advisory_xact_lock(7300501)", logger: Self.quiet)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                logger: Self.quiet)
            let applied = Set(
                try await Self.collect(connection.query("SELECT version FROM schema_migrations", logger: Self.quiet))
                    .map { Int(try $0.decode(Int64.self)) })
            var appliedNow: [Int] = []
            for migration in PostgresMigrations.all where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Self.quiet)
                }
                try await connection.query(
                    """
                    INSERT INTO schema_migrations (version, applied_at)
                    VALUES (\(Int64(migration.version)), \(Date().millisecondsSince1970))
                    """, logger: Self.quiet)
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }

    public func isReady() async -> Bool {
        // A health check answers quickly: it does not wait the full timeout for a connection.
        guard let row = try? await rows("SELECT MAX(version) FROM schema_migrations", within: .seconds(2)).first,
            let version = try? row.decode(Int64?.self)
        else { return false }
        return version == Int64(Migrations.latestVersion)
    }

    public func close() async throws {
        runTask.cancel()
        await runTask.value
    }

    // MARK: Helpers

    static let quiet = Logger(label: "postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    private static let jobColumns = "id, booking_id, kind, generation, due_at, state, attempts, last_error, payload"

    private static func collect(_ sequence: PostgresRowSequence) async throws -> [PostgresRow] {
        try await sequence.collect()
    }

    /// Runs one statement on a pooled connection and reads every row, within the timeout.
    private func rows(_ query: PostgresQuery, within limit: Duration? = nil) async throws -> [PostgresRow] {
        let client = self.client
        return try await withTimeout(limit) {
            try await client.withConnection { connection in
                try await connection.query(query, logger: Self.quiet).collect()
            }
        }
    }

    private func execute(_ query: PostgresQuery) async throws {
        _ = try await rows(query)
    }

    /// Runs `body` in one transaction on one pooled connection; rolls back when it throws.
    private func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws
        -> T
    {
        let client = self.client
        return try await withTimeout(nil) {
            try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: Self.quiet)
                do {
                    let result = try await body(connection)
                    try await connection.query("COMMIT", logger: Self.quiet)
                    return result
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: Self.quiet)
                    throw error
                }
            }
        }
    }

    /// Fails with `StoreError.unavailable` when `body` has not finished within the timeout (no connection
    /// to be had, the server away); maps driver errors to `StoreError.unavailable` as well.
    private func withTimeout<T: Sendable>(_ limit: Duration?, _ body: @escaping @Sendable () async throws -> T)
        async throws -> T
    {
        let timeout = min(limit ?? settings.timeout, settings.timeout)
        do {
            return try await Self.race(body, against: timeout)
        } catch let error as StoreError {
            throw error
        } catch let error as PSQLError {
            throw StoreError.unavailable(Self.describe(error))
        } catch is CancellationError {
            throw StoreError.unavailable("cancelled")
        } catch {
            throw StoreError.unavailable(String(describing: type(of: error)))
        }
    }

    /// `body`'s result, or `StoreError.unavailable` once `timeout` has passed. The caller never waits
    /// longer: the work is cancelled then, but not waited for (a task group would wait for it, and a
    /// driver call that ignores cancellation would hold the caller, a job, and a stopping worker).
    static func race<T: Sendable>(_ body: @escaping @Sendable () async throws -> T, against timeout: Duration)
        async throws -> T
    {
        let outcome = FirstOutcome<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                outcome.attach(continuation)
                let work = Task {
                    do { outcome.finish(.success(try await body())) } catch { outcome.finish(.failure(error)) }
                }
                let timer = Task {
                    try? await Task.sleep(for: timeout)
                    if outcome.finish(.failure(StoreError.unavailable("PostgreSQL did not answer within \(timeout)"))) {
                        work.cancel()
                    }
                }
                outcome.onFinish { work.cancel(); timer.cancel() }
            }
        } onCancel: {
            outcome.finish(.failure(CancellationError()))
        }
    }

    /// The server's message and SQL state when it sent one, else the driver's code (never the query's
    /// bound values).
    private static func describe(_ error: PSQLError) -> String {
        if let server = error.serverInfo, let message = server[.message] {
            return "\(server[.sqlState] ?? "?"): \(message)"
        }
        return "\(error.code)"
    }

    private func decodeSession(_ row: PostgresRow) throws -> StoredSession {
        let (data, version) = try row.decode((String, Int64).self)
        return StoredSession(session: try codec.decode(data), version: Int(version))
    }

    private static func decodeJob(_ row: PostgresRow) throws -> Job {
        let (id, booking, kind, generation, dueAt, state, attempts, lastError, payload) = try row.decode(
            (Int64, String, String, Int64, Int64, String, Int64, String?, String?).self)
        guard let bookingID = BookingID(booking), let jobKind = JobKind(kind), let jobState = JobState(rawValue: state)
        else { throw StoreError.unavailable("job row is incomplete") }
        return Job(
            id: id, bookingID: bookingID, kind: jobKind, generation: Int(generation),
            dueAt: Date(millisecondsSince1970: dueAt), state: jobState, attempts: Int(attempts), lastError: lastError,
            payload: payload)
    }
}

extension PostgresStore {
    /// Runs one statement outside the store's API; for tests that check the database's own guards.
    func executeForTesting(_ sql: String, within limit: Duration? = nil) async throws {
        _ = try await rows(PostgresQuery(unsafeSQL: sql), within: limit)
    }
}

/// The first of several outcomes resumes the waiting caller; the others are dropped.
private final class FirstOutcome<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var early: Result<T, any Error>?
        var done = false
        var onFinish: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func attach(_ continuation: CheckedContinuation<T, any Error>) {
        let early = state.withLock { state -> Result<T, any Error>? in
            if let early = state.early { return early }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    /// Runs `action` once an outcome is in (at once if one already is).
    func onFinish(_ action: @escaping @Sendable () -> Void) {
        let already = state.withLock { state -> Bool in
            if state.done { return true }
            state.onFinish = action
            return false
        }
        if already { action() }
    }

    /// `true` when this was the first outcome.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let (isFirst, continuation, action) = state.withLock {
            state -> (Bool, CheckedContinuation<T, any Error>?, (@Sendable () -> Void)?) in
            guard !state.done else { return (false, nil, nil) }
            state.done = true
            let continuation = state.continuation
            state.continuation = nil
            if continuation == nil { state.early = result }
            let action = state.onFinish
            state.onFinish = nil
            return (true, continuation, action)
        }
        continuation?.resume(with: result)
        action?()
        return isFirst
    }
}

/// Calls `onAll` once `count` listeners have started.
private final class ListeningCount: Sendable {
    private let remaining: Mutex<Int>
    private let onAll: @Sendable () -> Void

    init(_ count: Int, onAll: @escaping @Sendable () -> Void) {
        remaining = Mutex(count)
        self.onAll = onAll
    }

    func one() {
        let isLast = remaining.withLock { remaining in
            remaining -= 1
            return remaining == 0
        }
        if isLast { onAll() }
    }
}
