/// The versioned schema. Each migration runs once, in order, inside a transaction.
/// Written for SQLite.
enum Migrations {
    struct Migration: Sendable {
        let version: Int
        let statements: [String]
    }

    static let all: [Migration] = [
        Migration(
            version: 1,
            statements: [
                """
                CREATE TABLE sessions (
                    booking_id TEXT PRIMARY KEY,
                    state TEXT NOT NULL,
                    service TEXT NOT NULL,
                    starts_at BIGINT NOT NULL,
                    join_token TEXT NOT NULL UNIQUE,
                    cancel_token TEXT NOT NULL UNIQUE,
                    version INTEGER NOT NULL,
                    data TEXT NOT NULL
                )
                """,
                "CREATE INDEX sessions_by_start ON sessions (starts_at, booking_id)",
                """
                CREATE TABLE jobs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    booking_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    generation INTEGER NOT NULL,
                    due_at BIGINT NOT NULL,
                    state TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    last_error TEXT,
                    locked_until BIGINT,
                    UNIQUE (booking_id, kind, generation)
                )
                """,
                "CREATE INDEX jobs_by_due ON jobs (state, due_at)",
                """
                CREATE TABLE audit_events (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    booking_id TEXT NOT NULL,
                    at BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    event TEXT NOT NULL,
                    from_state TEXT,
                    to_state TEXT NOT NULL
                )
                """,
                "CREATE INDEX audit_by_booking ON audit_events (booking_id, id)",
            ]
        ),
        Migration(
            version: 2,
            statements: [
                // Sealed data a job needs until it is done (an invitation's validation code).
                "ALTER TABLE jobs ADD COLUMN payload TEXT"
            ]
        ),
        Migration(
            version: 3,
            statements: [
                // The links of a booking's companions, to find their session by token.
                "CREATE TABLE participant_tokens (token TEXT PRIMARY KEY, booking_id TEXT NOT NULL)",
                "CREATE INDEX participant_tokens_by_booking ON participant_tokens (booking_id)",
            ]
        ),
        Migration(
            version: 4,
            statements: [
                // Find a session from a provider's webhook, and receive each webhook event once.
                "ALTER TABLE sessions ADD COLUMN provider_room_id TEXT",
                "CREATE INDEX sessions_by_provider_room ON sessions (provider_room_id)",
                """
                CREATE TABLE webhook_receipts (
                    provider TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    received_at BIGINT NOT NULL,
                    PRIMARY KEY (provider, event_id)
                )
                """,
            ]
        ),
        Migration(
            version: 5,
            statements: [
                // Management-report sums per service, Lisbon day and metric, kept in the same transaction
                // as the sessions they count (see `ReportFigures`).
                """
                CREATE TABLE report_counts (
                    service TEXT NOT NULL,
                    day TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    value BIGINT NOT NULL,
                    PRIMARY KEY (day, service, metric)
                )
                """,
                // The lobby-wait histogram of a service and day: `seconds:count` pairs, comma-separated.
                """
                CREATE TABLE report_waits (
                    service TEXT NOT NULL,
                    day TEXT NOT NULL,
                    buckets TEXT NOT NULL,
                    PRIMARY KEY (day, service)
                )
                """,
                // Counting the citizens waiting now (a metrics gauge) without reading every session.
                "CREATE INDEX sessions_by_state ON sessions (state)",
                // The audit trail is append-only: the database refuses to change or remove a record.
                """
                CREATE TRIGGER audit_events_append_only_update BEFORE UPDATE ON audit_events
                BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END
                """,
                """
                CREATE TRIGGER audit_events_append_only_delete BEFORE DELETE ON audit_events
                BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END
                """,
            ]
        ),
        Migration(
            version: 6,
            statements: [
                // Attempt counters (lobby codes per address and per link), kept with the data.
                """
                CREATE TABLE attempt_windows (
                    key TEXT PRIMARY KEY,
                    window_start BIGINT NOT NULL,
                    count INTEGER NOT NULL
                )
                """
            ]
        ),
    ]

    static var latestVersion: Int { all.map(\.version).max() ?? 0 }
}
