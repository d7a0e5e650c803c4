import Foundation
import GatewayCore

/// A session as stored, with the version used for optimistic concurrency.
public struct StoredSession: Sendable, Equatable {
    public let session: Session
    public let version: Int

    public init(session: Session, version: Int) {
        self.session = session
        self.version = version
    }
}

/// Everything one transition writes, applied atomically: the session, its audit records, the jobs it
/// enqueues, the deadlines it drops and the job it completes.
public struct SessionChange: Sendable {
    public var session: Session
    /// `nil` inserts a new session; otherwise the stored version must still be this one.
    public var expectedVersion: Int?
    public var audit: [AuditRecord]
    public var jobs: [JobRequest]
    /// Drop every pending deadline job of the booking before enqueuing `jobs`.
    public var cancelsPendingDeadlines: Bool
    /// A job to mark done in the same transaction.
    public var completesJob: Int64?
    /// The change erases personal data: the store also removes every earlier copy it keeps.
    public var erasesPersonalData: Bool
    /// The provider event behind the change: stored with it, or the change fails as a duplicate.
    public var webhookReceipt: WebhookReceipt?

    public init(
        session: Session, expectedVersion: Int?, audit: [AuditRecord] = [], jobs: [JobRequest] = [],
        cancelsPendingDeadlines: Bool = false, completesJob: Int64? = nil, erasesPersonalData: Bool = false,
        webhookReceipt: WebhookReceipt? = nil
    ) {
        self.erasesPersonalData = erasesPersonalData
        self.webhookReceipt = webhookReceipt
        self.session = session
        self.expectedVersion = expectedVersion
        self.audit = audit
        self.jobs = jobs
        self.cancelsPendingDeadlines = cancelsPendingDeadlines
        self.completesJob = completesJob
    }
}

/// Filters of the scheduler's session list; `startsAt` in `[from, to)`.
public struct SessionQuery: Sendable, Equatable {
    public var from: Date?
    public var to: Date?
    public var service: String?
    public var state: SessionState?
    /// Continue after this position (exclusive).
    public var after: SessionCursor?
    public var limit: Int

    public init(
        from: Date? = nil, to: Date? = nil, service: String? = nil, state: SessionState? = nil,
        after: SessionCursor? = nil, limit: Int = 50
    ) {
        self.from = from
        self.to = to
        self.service = service
        self.state = state
        self.after = after
        self.limit = limit
    }
}

/// A position in the list ordered by (`startsAt`, `bookingId`).
public struct SessionCursor: Sendable, Equatable {
    public let startsAtMilliseconds: Int64
    public let bookingID: BookingID

    public init(startsAtMilliseconds: Int64, bookingID: BookingID) {
        self.startsAtMilliseconds = startsAtMilliseconds
        self.bookingID = bookingID
    }

    public init(after session: Session) {
        self.init(startsAtMilliseconds: session.booking.startsAt.millisecondsSince1970, bookingID: session.bookingID)
    }

    /// An opaque string for clients.
    public var token: String {
        Data("\(startsAtMilliseconds)|\(bookingID.rawValue)".utf8).base64URLEncodedString()
    }

    public init?(token: String) {
        guard let data = Data(base64URLEncoded: token), let text = String(data: data, encoding: .utf8) else {
            return nil
        }
        let parts = text.split(separator: "|", maxSplits: 1).map(String.init)
        guard parts.count == 2, let millis = Int64(parts[0]), let id = BookingID(parts[1]) else { return nil }
        self.init(startsAtMilliseconds: millis, bookingID: id)
    }
}

/// Errors every store reports in the same terms, whatever its driver.
public enum StoreError: Error, Equatable, Sendable {
    /// An insert found the booking already stored.
    case alreadyExists(BookingID)
    /// The stored version moved on since it was read.
    case versionConflict(BookingID)
    /// The database could not be reached or answered with an error.
    case unavailable(String)
    /// The change carried a provider event's receipt that was already stored: it was acted on before.
    case duplicateWebhookEvent
}

/// A provider event's receipt, stored in the same transaction as the session change it causes, so that
/// an event is marked received only once its effect is stored.
public struct WebhookReceipt: Sendable, Equatable {
    public let provider: String
    public let eventID: String
    public let at: Date
    /// Receipts older than this are forgotten (past the replay window).
    public let forgettingBefore: Date

    public init(provider: String, eventID: String, at: Date, forgettingBefore: Date) {
        self.provider = provider
        self.eventID = eventID
        self.at = at
        self.forgettingBefore = forgettingBefore
    }
}

/// Durable storage of sessions and their audit trail.
public protocol SessionStore: Sendable {
    func session(for bookingID: BookingID) async throws -> StoredSession?
    func session(joinToken: String) async throws -> StoredSession?
    func session(cancelToken: String) async throws -> StoredSession?
    /// The session whose provider room has this id (a Daily room name, a Zoom meeting id…).
    func session(providerRoomID: String) async throws -> StoredSession?
    func sessions(matching query: SessionQuery) async throws -> [StoredSession]
    /// Applies `change` atomically and returns the stored result.
    @discardableResult
    func apply(_ change: SessionChange) async throws -> StoredSession
    func auditTrail(for bookingID: BookingID) async throws -> [AuditRecord]
    /// Removes a session with its jobs, audit records and links (contract tests' provider states).
    func removeSession(_ bookingID: BookingID) async throws
}

/// Durable work: claimed with a lease so that a crashed worker's jobs are picked up again.
public protocol JobStore: Sendable {
    /// Claims up to `limit` jobs due at `now` (and jobs whose lease ended), counting an attempt each.
    func claimDueJobs(at now: Date, limit: Int, leaseUntil: Date) async throws -> [Job]
    func resolve(_ job: Job, as resolution: JobResolution, at now: Date) async throws
    /// Hands claimed jobs back to the queue at once (a stopping worker), without counting the attempt.
    func release(_ jobs: [Job]) async throws
    /// Keeps the claims of jobs still running (their worker is alive) until `leaseUntil`.
    func extendLeases(of jobIDs: [Int64], until leaseUntil: Date) async throws
    func jobs(for bookingID: BookingID) async throws -> [Job]
    /// The earliest time a pending job becomes due, to let the worker sleep until then.
    func nextDueDate() async throws -> Date?
}

/// Remembers which provider webhook events were received, so that each is acted on once.
public protocol WebhookReceiptStore: Sendable {
    /// Records the event and forgets receipts older than `cutoff`; `false` when it was already recorded
    /// (a redelivery).
    func recordWebhookReceipt(provider: String, eventID: String, at date: Date, forgettingBefore cutoff: Date)
        async throws -> Bool
}

/// Schema management and health.
public protocol StoreMaintenance: Sendable {
    /// Applies every migration not yet applied; returns the versions applied now.
    @discardableResult
    func migrate() async throws -> [Int]
    /// Whether the database answers and every known migration is applied.
    func isReady() async -> Bool
    func close() async throws
}

/// The sums behind management reports (see `ReportFigures`), kept by `SessionStore.apply`.
public protocol ReportStore: Sendable {
    /// The sums of the days in `[fromDay, toDay)` (`YYYY-MM-DD`), of `services` only when given, with the
    /// lobby waits summarised as `ReportFigures.summarizingWaits` does.
    func reportCounts(fromDay: String, toDay: String, services: Set<String>?) async throws
        -> [ReportFigures.Key: [String: Int]]
    /// Citizens waiting now and the job queue by kind, for the operations gauges.
    func operationalCounts(at now: Date) async throws -> OperationalCounts
}

/// Counts attempts in fixed windows (lobby codes per address and per link), in the database so that
/// every replica counts against the same limit.
public protocol AttemptStore: Sendable {
    /// Counts one attempt for `key`: a window starts at a key's first attempt and lasts `window`; returns
    /// the attempts counted in the current window (this one included) and when it started.
    func countAttempt(key: String, at now: Date, window: Duration) async throws -> AttemptWindow
}

public struct AttemptWindow: Sendable, Equatable {
    public let count: Int
    public let start: Date

    public init(count: Int, start: Date) {
        self.count = count
        self.start = start
    }
}

/// A store the gateway can run on.
public typealias GatewayStore = SessionStore & JobStore & WebhookReceiptStore & StoreMaintenance & ReportStore
    & AttemptStore

extension Date {
    public var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    public init(millisecondsSince1970: Int64) {
        self.init(timeIntervalSince1970: TimeInterval(millisecondsSince1970) / 1000)
    }
}

/// What the operations gauges show at scrape time.
public struct OperationalCounts: Sendable, Equatable {
    public struct Queue: Sendable, Equatable {
        /// Pending and running jobs of the kind.
        public var pending: Int
        /// How long the earliest due pending job has been due (0 when none is overdue).
        public var oldestDueAgeSeconds: Double

        public init(pending: Int, oldestDueAgeSeconds: Double) {
            self.pending = pending
            self.oldestDueAgeSeconds = oldestDueAgeSeconds
        }
    }

    public var citizensWaiting: Int
    /// By job kind family (`room.provision`, `deadline.late_check`, `fallback.email`, …).
    public var jobsByKind: [String: Queue]

    public init(citizensWaiting: Int, jobsByKind: [String: Queue]) {
        self.citizensWaiting = citizensWaiting
        self.jobsByKind = jobsByKind
    }
}
