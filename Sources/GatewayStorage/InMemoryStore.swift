import Foundation
import GatewayCore
import Synchronization

/// A store kept in memory, for unit tests. Same semantics as the database stores.
public final class InMemoryStore: GatewayStore {
    private struct State {
        var sessions: [BookingID: StoredSession] = [:]
        var audit: [AuditRecord] = []
        var jobs: [Int64: Job] = [:]
        var leases: [Int64: Date] = [:]
        var nextJobID: Int64 = 1
        var webhookReceipts: [String: Date] = [:]
        var reportCounts: [ReportFigures.Key: [String: Int]] = [:]
        var attemptWindows: [String: AttemptWindow] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func session(for bookingID: BookingID) async throws -> StoredSession? {
        state.withLock { $0.sessions[bookingID] }
    }

    public func session(joinToken: String) async throws -> StoredSession? {
        state.withLock { state in state.sessions.values.first { $0.session.participant(joinToken: joinToken) != nil } }
    }

    public func session(cancelToken: String) async throws -> StoredSession? {
        state.withLock { state in state.sessions.values.first { $0.session.access.cancelToken == cancelToken } }
    }

    public func sessions(matching query: SessionQuery) async throws -> [StoredSession] {
        state.withLock { state in
            state.sessions.values
                .filter { stored in
                    let session = stored.session
                    if let from = query.from, session.booking.startsAt < from { return false }
                    if let to = query.to, session.booking.startsAt >= to { return false }
                    if let service = query.service, session.booking.service != service { return false }
                    if let wanted = query.state, session.state != wanted { return false }
                    if let after = query.after {
                        let position = SessionCursor(after: session)
                        return (position.startsAtMilliseconds, position.bookingID.rawValue)
                            > (after.startsAtMilliseconds, after.bookingID.rawValue)
                    }
                    return true
                }
                .sorted {
                    let lhs = SessionCursor(after: $0.session)
                    let rhs = SessionCursor(after: $1.session)
                    return (lhs.startsAtMilliseconds, lhs.bookingID.rawValue)
                        < (rhs.startsAtMilliseconds, rhs.bookingID.rawValue)
                }
                .prefix(query.limit)
                .map { $0 }
        }
    }

    @discardableResult
    public func apply(_ change: SessionChange) async throws -> StoredSession {
        try state.withLock { state in
            let id = change.session.bookingID
            let current = state.sessions[id]
            switch (change.expectedVersion, current) {
            case (nil, .some): throw StoreError.alreadyExists(id)
            case (.some, nil): throw StoreError.versionConflict(id)
            case (.some(let expected), .some(let stored)) where stored.version != expected:
                throw StoreError.versionConflict(id)
            default: break
            }
            if let receipt = change.webhookReceipt {
                guard Self.insertReceipt(receipt, into: &state) else { throw StoreError.duplicateWebhookEvent }
            }
            let stored = StoredSession(session: change.session, version: (current?.version ?? 0) + 1)
            state.sessions[id] = stored
            state.audit.append(contentsOf: change.audit)
            if change.cancelsPendingDeadlines {
                for (jobID, job) in state.jobs
                where job.bookingID == id && job.kind.isDeadline && job.state == .pending {
                    state.jobs[jobID] = nil
                }
            }
            // The completed job first: a job that arms its own next run (a renewal) re-arms a finished job.
            if let jobID = change.completesJob {
                state.jobs[jobID]?.state = .done
                state.jobs[jobID]?.payload = nil
                state.leases[jobID] = nil
            }
            for request in change.jobs {
                Self.enqueue(request, into: &state)
            }
            for (key, counts) in ReportFigures.delta(from: current?.session, to: change.session) {
                state.reportCounts[key, default: [:]].merge(counts, uniquingKeysWith: +)
            }
            return stored
        }
    }

    public func auditTrail(for bookingID: BookingID) async throws -> [AuditRecord] {
        state.withLock { $0.audit.filter { $0.bookingID == bookingID } }
    }

    public func session(providerRoomID: String) async throws -> StoredSession? {
        state.withLock { state in state.sessions.values.first { $0.session.room.providerRoomID == providerRoomID } }
    }

    public func recordWebhookReceipt(provider: String, eventID: String, at date: Date, forgettingBefore cutoff: Date)
        async throws -> Bool
    {
        state.withLock { state in
            Self.insertReceipt(
                WebhookReceipt(provider: provider, eventID: eventID, at: date, forgettingBefore: cutoff), into: &state)
        }
    }

    private static func insertReceipt(_ receipt: WebhookReceipt, into state: inout State) -> Bool {
        state.webhookReceipts = state.webhookReceipts.filter { $0.value >= receipt.forgettingBefore }
        let key = "\(receipt.provider)|\(receipt.eventID)"
        guard state.webhookReceipts[key] == nil else { return false }
        state.webhookReceipts[key] = receipt.at
        return true
    }

    public func removeSession(_ bookingID: BookingID) async throws {
        state.withLock { state in
            if let old = state.sessions[bookingID]?.session {
                let figures = ReportFigures(old)
                state.reportCounts[figures.key, default: [:]].merge(figures.counts.mapValues { -$0 }, uniquingKeysWith: +)
            }
            state.sessions[bookingID] = nil
            state.jobs = state.jobs.filter { $0.value.bookingID != bookingID }
        }
    }

    public func reportCounts(fromDay: String, toDay: String, services: Set<String>?) async throws
        -> [ReportFigures.Key: [String: Int]]
    {
        state.withLock { state in
            state.reportCounts
                .filter { $0.key.day >= fromDay && $0.key.day < toDay && services?.contains($0.key.service) != false }
                .compactMapValues { counts in
                    let nonZero = counts.filter { $0.value != 0 }
                    return nonZero.isEmpty ? nil : ReportFigures.summarizingWaits(nonZero)
                }
        }
    }

    public func operationalCounts(at now: Date) async throws -> OperationalCounts {
        state.withLock { state in
            var jobs: [String: OperationalCounts.Queue] = [:]
            for job in state.jobs.values where job.state == .pending || job.state == .running {
                var queue = jobs[job.kind.description] ?? .init(pending: 0, oldestDueAgeSeconds: 0)
                queue.pending += 1
                if job.state == .pending {
                    queue.oldestDueAgeSeconds = max(queue.oldestDueAgeSeconds, now.timeIntervalSince(job.dueAt))
                }
                jobs[job.kind.description] = queue
            }
            return OperationalCounts(
                citizensWaiting: state.sessions.values.filter { $0.session.state == .waiting }.count, jobsByKind: jobs)
        }
    }

    public func claimDueJobs(at now: Date, limit: Int, leaseUntil: Date) async throws -> [Job] {
        state.withLock { state in
            let due = state.jobs.values
                .filter { job in
                    switch job.state {
                    case .pending: job.dueAt <= now
                    case .running: (state.leases[job.id] ?? .distantPast) <= now
                    case .done, .dead: false
                    }
                }
                .sorted { ($0.dueAt, $0.id) < ($1.dueAt, $1.id) }
                .prefix(limit)
            return due.map { job in
                var claimed = job
                claimed.state = .running
                claimed.attempts += 1
                state.jobs[job.id] = claimed
                state.leases[job.id] = leaseUntil
                return claimed
            }
        }
    }

    public func extendLeases(of jobIDs: [Int64], until leaseUntil: Date) async throws {
        state.withLock { state in
            for id in jobIDs where state.jobs[id]?.state == .running { state.leases[id] = leaseUntil }
        }
    }

    public func release(_ jobs: [Job]) async throws {
        state.withLock { state in
            for job in jobs {
                guard var stored = state.jobs[job.id], stored.state == .running else { continue }
                stored.state = .pending
                stored.attempts = max(stored.attempts - 1, 0)
                state.jobs[job.id] = stored
                state.leases[job.id] = nil
            }
        }
    }

    public func resolve(_ job: Job, as resolution: JobResolution, at now: Date) async throws {
        state.withLock { state in
            guard var stored = state.jobs[job.id], stored.state == .running else { return }
            switch resolution {
            case .done:
                stored.state = .done
                stored.payload = nil
            case .retry(let at, let error):
                stored.state = .pending
                stored.dueAt = at
                stored.lastError = error
            case .dead(let error):
                stored.state = .dead
                stored.lastError = error
                stored.payload = nil
            }
            state.jobs[job.id] = stored
            state.leases[job.id] = nil
        }
    }

    public func jobs(for bookingID: BookingID) async throws -> [Job] {
        state.withLock { $0.jobs.values.filter { $0.bookingID == bookingID }.sorted { $0.id < $1.id } }
    }

    public func nextDueDate() async throws -> Date? {
        state.withLock { state in
            state.jobs.values.compactMap { job in
                switch job.state {
                case .pending: job.dueAt
                case .running: state.leases[job.id]
                case .done, .dead: nil
                }
            }.min()
        }
    }

    @discardableResult
    public func migrate() async throws -> [Int] { [] }
    public func isReady() async -> Bool { true }
    public func close() async throws {}

    /// Inserts the job, or re-arms a finished one with the same key; a pending one is left as it is.
    private static func enqueue(_ request: JobRequest, into state: inout State) {
        if let (id, existing) = state.jobs.first(where: {
            $0.value.bookingID == request.bookingID && $0.value.kind == request.kind
                && $0.value.generation == request.generation
        }) {
            // A finished job is armed again; a waiting one takes a new payload (a replaced companion's code).
            guard existing.state == .done || existing.state == .dead || (existing.state == .pending && request.payload != nil)
            else { return }
            var rearmed = existing
            rearmed.state = .pending
            rearmed.dueAt = request.dueAt
            rearmed.attempts = 0
            rearmed.lastError = nil
            rearmed.payload = request.payload
            state.jobs[id] = rearmed
            return
        }
        let id = state.nextJobID
        state.nextJobID += 1
        state.jobs[id] = Job(
            id: id, bookingID: request.bookingID, kind: request.kind, generation: request.generation,
            dueAt: request.dueAt, state: .pending, attempts: 0, lastError: nil, payload: request.payload)
    }

    public func countAttempt(key: String, at now: Date, window: Duration) async throws -> AttemptWindow {
        state.withLock { state in
            let seconds = window.timeInterval
            var current = state.attemptWindows[key] ?? AttemptWindow(count: 0, start: now)
            if now.timeIntervalSince(current.start) >= seconds { current = AttemptWindow(count: 0, start: now) }
            current = AttemptWindow(count: current.count + 1, start: current.start)
            if current.count == 1 {
                state.attemptWindows = state.attemptWindows.filter { now.timeIntervalSince($0.value.start) < seconds }
            }
            state.attemptWindows[key] = current
            return current
        }
    }
}
