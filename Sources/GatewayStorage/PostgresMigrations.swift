/// The versioned schema on PostgreSQL: the same tables and versions as `Migrations` (SQLite), written
/// for PostgreSQL, with the session as `jsonb`. Each migration runs once, in order, in one transaction
/// under an advisory lock, so replicas starting together apply it once.
enum PostgresMigrations {
    static let all: [Migrations.Migration] = [
        Migrations.Migration(
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
                    version BIGINT NOT NULL,
                    data JSONB NOT NULL
                )
                """,
                "CREATE INDEX sessions_by_start ON sessions (starts_at, booking_id)",
                """
                CREATE TABLE jobs (
                    id BIGSERIAL PRIMARY KEY,
                    booking_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    generation BIGINT NOT NULL,
                    due_at BIGINT NOT NULL,
                    state TEXT NOT NULL,
                    attempts BIGINT NOT NULL,
                    last_error TEXT,
                    locked_until BIGINT,
                    UNIQUE (booking_id, kind, generation)
                )
                """,
                "CREATE INDEX jobs_by_due ON jobs (state, due_at)",
                """
                CREATE TABLE audit_events (
                    id BIGSERIAL PRIMARY KEY,
                    booking_id TEXT NOT NULL,
                    at BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    event TEXT NOT NULL,
                    from_state TEXT,
                    to_state TEXT NOT NULL
                )
                """,
                "CREATE INDEX audit_by_booking ON audit_events (booking_id, id)",
            ]),
        Migrations.Migration(version: 2, statements: ["ALTER TABLE jobs ADD COLUMN payload TEXT"]),
        Migrations.Migration(
            version: 3,
            statements: [
                "CREATE TABLE participant_tokens (token TEXT PRIMARY KEY, booking_id TEXT NOT NULL)",
                "CREATE INDEX participant_tokens_by_booking ON participant_tokens (booking_id)",
            ]),
        Migrations.Migration(
            version: 4,
            statements: [
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
            ]),
        Migrations.Migration(
            version: 5,
            statements: [
                """
                CREATE TABLE report_counts (
                    service TEXT NOT NULL,
                    day TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    value BIGINT NOT NULL,
                    PRIMARY KEY (day, service, metric)
                )
                """,
                """
                CREATE TABLE report_waits (
                    service TEXT NOT NULL,
                    day TEXT NOT NULL,
                    buckets TEXT NOT NULL,
                    PRIMARY KEY (day, service)
                )
                """,
                "CREATE INDEX sessions_by_state ON sessions (state)",
                """
                CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$
                """,
                """
                CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
                FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()
                """,
                "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events EXECUTE FUNCTION audit_events_refuse_change()",
            ]),
        Migrations.Migration(
            version: 6,
            statements: [
                // Attempt counters shared by replicas (lobby codes per address and per link), and the
                // global ids of live events (SSE `id:`), so that `Last-Event-ID` resumes on any replica.
                """
                CREATE TABLE attempt_windows (
                    key TEXT PRIMARY KEY,
                    window_start BIGINT NOT NULL,
                    count BIGINT NOT NULL
                )
                """,
                "CREATE SEQUENCE live_event_ids",
            ]),
    ]
}
