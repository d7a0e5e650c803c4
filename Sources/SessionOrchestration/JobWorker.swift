import Foundation
import GatewayCore
import GatewayStorage
import Logging
import MeetingProviders
import Metrics
import ServiceLifecycle
import Synchronization

/// Runs due jobs: claims them with a lease, carries each out, and records the outcome. A job whose
/// worker died is claimed again when its lease ends; every handler is safe to run twice.
public final class JobWorker: Service, Sendable {
    public struct Configuration: Sendable {
        /// The most jobs claimed in one look at the job table.
        public var batchSize: Int
        /// The most jobs running at the same time; a slow receiver holds one slot, not the queue.
        public var concurrency: Int
        public var lease: Duration
        /// The longest sleep between two looks at the job table.
        public var idlePoll: Duration
        public var retry: RetryPolicy
        /// How long a stopping worker waits for running jobs before handing them back to the queue.
        public var shutdownGrace: Duration

        public init(
            batchSize: Int = 16, concurrency: Int = 32, lease: Duration = .seconds(60), idlePoll: Duration = .seconds(1),
            retry: RetryPolicy = RetryPolicy(), shutdownGrace: Duration = .seconds(10)
        ) {
            self.batchSize = batchSize
            self.concurrency = max(1, concurrency)
            self.lease = lease
            self.idlePoll = idlePoll
            self.retry = retry
            self.shutdownGrace = shutdownGrace
        }
    }

    private let sessions: SessionService
    private let notifier: any Notifier
    private let configuration: Configuration
    private let logger: Logger
    private let doorbell: Doorbell

    /// `doorbell` is rung by whoever enqueues work (see `SessionService`).
    public init(
        sessions: SessionService, notifier: any Notifier = UnconfiguredNotifier(), doorbell: Doorbell,
        configuration: Configuration = Configuration(), logger: Logger
    ) {
        self.sessions = sessions
        self.notifier = notifier
        self.doorbell = doorbell
        self.configuration = configuration
        self.logger = logger
    }

    /// Keeps up to `concurrency` jobs running, claiming more as soon as a slot is free or new work is
    /// enqueued. On graceful shutdown it claims nothing more, waits up to `shutdownGrace` for the running
    /// jobs, and hands the rest back to the queue so that another process takes them at once.
    public func run() async throws {
        logger.info("job worker started")
        let running = RunningJobs()
        await withDiscardingTaskGroup { group in
            // While a job runs, its lease is renewed, so that no one else takes over a live job.
            group.addTask { await self.renewLeases(of: running) }
            await withGracefulShutdownHandler {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    let free = configuration.concurrency - running.count
                    if free > 0 {
                        let wanted = min(free, configuration.batchSize)
                        do {
                            let jobs = try await claim(limit: wanted)
                            // A job of ours whose lease ran out while it ran is not started twice.
                            for job in jobs where running.insert(job) {
                                group.addTask {
                                    await self.run(job)
                                    running.remove(job)
                                    self.doorbell.ring()
                                }
                            }
                            if jobs.count == wanted { continue }
                        } catch {
                            self.logger.error("could not claim jobs", metadata: ["error": "\(error)"])
                        }
                    }
                    await self.doorbell.wait(upTo: free > 0 ? await self.delayUntilNextJob() : configuration.idlePoll)
                }
            } onGracefulShutdown: {
                self.doorbell.ring()
            }
            await handOver(running)
            group.cancelAll()
        }
        logger.info("job worker stopped")
    }

    /// Every third of a lease, pushes the leases of the running jobs one lease ahead; ends on cancellation.
    private func renewLeases(of running: RunningJobs) async {
        let interval = configuration.lease / 3
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled else { return }
            let ids = running.all.map(\.id)
            do {
                try await sessions.store.extendLeases(of: ids, until: sessions.clock.now + configuration.lease)
            } catch {
                logger.warning("could not renew job leases", metadata: ["error": "\(error)"])
            }
        }
    }

    private func claim(limit: Int) async throws -> [Job] {
        let now = sessions.clock.now
        return try await sessions.store.claimDueJobs(at: now, limit: limit, leaseUntil: now + configuration.lease)
    }

    /// Waits for running jobs up to the grace period, then releases the claims of those still running.
    private func handOver(_ running: RunningJobs) async {
        let deadline = ContinuousClock.now + configuration.shutdownGrace
        while running.count > 0 && ContinuousClock.now < deadline && !Task.isCancelled {
            await doorbell.wait(upTo: .milliseconds(50))
        }
        let unfinished = running.all
        guard !unfinished.isEmpty else { return }
        do {
            try await sessions.store.release(unfinished)
            logger.info("stopping: running jobs handed back to the queue", metadata: ["jobs": "\(unfinished.count)"])
        } catch {
            logger.warning("stopping: could not hand back running jobs; their leases will expire", metadata: ["error": "\(error)"])
        }
    }

    /// Claims and runs one batch of due jobs; returns how many ran.
    @discardableResult
    public func runDueJobs() async throws -> Int {
        let now = sessions.clock.now
        let jobs = try await sessions.store.claimDueJobs(
            at: now, limit: configuration.batchSize, leaseUntil: now + configuration.lease)
        await withTaskGroup(of: Void.self) { group in
            for job in jobs {
                group.addTask { await self.run(job) }
            }
        }
        return jobs.count
    }

    /// Runs batches until no job is due at the clock's current time.
    public func runUntilIdle() async throws {
        while try await runDueJobs() > 0 {}
    }

    private func delayUntilNextJob() async -> Duration {
        guard let next = try? await sessions.store.nextDueDate() else { return configuration.idlePoll }
        let seconds = next.timeIntervalSince(sessions.clock.now)
        guard seconds > 0 else { return .milliseconds(10) }
        return min(.milliseconds(Int64(seconds * 1000) + 1), configuration.idlePoll)
    }

    private func run(_ job: Job) async {
        var logger = self.logger
        logger[metadataKey: "job.id"] = "\(job.id)"
        logger[metadataKey: "job.kind"] = "\(job.kind)"
        logger[metadataKey: "booking.id"] = "\(job.bookingID)"
        logger[metadataKey: "job.attempt"] = "\(job.attempts)"
        let outcome: String
        do {
            try await JobHandler(sessions: sessions, notifier: notifier, logger: logger).run(job)
            outcome = "done"
            logger.debug("job done")
        } catch {
            let failure = error as? any DeliveryFailure
            let message = failure.map { "\($0.code): \($0.message)" } ?? String(describing: type(of: error))
            var notBefore: Date?
            if case .rateLimited(let retryAfter?) = error as? ProviderError { notBefore = sessions.clock.now + retryAfter }
            let resolution: JobResolution =
                failure?.isRetryable == false
                ? .dead(error: message)
                : configuration.retry.resolution(
                    afterFailedAttempt: job.attempts, error: message, at: sessions.clock.now, notBefore: notBefore)
            switch resolution {
            case .retry(let at, _):
                outcome = "retry"
                logger.warning("job failed, will retry", metadata: ["error": "\(message)", "retry.at": "\(at)"])
                await recordFailure(job, failure: failure, isFinal: false)
            case .dead, .done:
                outcome = "dead"
                if failure?.code == "not_configured" {
                    logger.warning("job not done: its channel is not configured", metadata: ["error": "\(message)"])
                } else {
                    logger.error("job failed for good", metadata: ["error": "\(message)"])
                }
                await recordFailure(job, failure: failure, isFinal: true)
            }
            await record(resolution, of: job, logger: logger)
        }
        Counter(label: "gateway_jobs_total", dimensions: [("kind", "\(job.kind)"), ("outcome", outcome)]).increment()
    }

    /// Stores a failed job's outcome, trying again while the database is away (within half the lease, during
    /// which the job stays claimed); after that the lease expires and the job runs again.
    private func record(_ resolution: JobResolution, of job: Job, logger: Logger) async {
        let giveUpAt = ContinuousClock.now + configuration.lease / 2
        var delay = Duration.milliseconds(250)
        while true {
            do {
                return try await sessions.store.resolve(job, as: resolution, at: sessions.clock.now)
            } catch {
                guard ContinuousClock.now + delay < giveUpAt, !Task.isCancelled else {
                    return logger.error("could not record job outcome; the lease will expire and the job run again")
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// A failed room or fallback job leaves its trace on the session, so that no failure is silent.
    private func recordFailure(_ job: Job, failure: (any DeliveryFailure)?, isFinal: Bool) async {
        let code = failure?.code ?? "internal_error"
        switch job.kind {
        case .provisionRoom where isFinal:
            let message = failure?.message ?? "the room could not be provisioned"
            _ = try? await sessions.handle(
                .roomProvisioningFailed(code: code, message: message), for: job.bookingID, by: .system)
        case .deleteRoom, .endRoom:
            let message = failure?.message ?? "the room could not be deleted"
            _ = try? await sessions.handle(
                .roomDeleteFailed(code: code, message: message, isFinal: isFinal), for: job.bookingID, by: .system)
        case .fallback(let channel):
            _ = try? await sessions.handle(
                .fallbackFailed(channel, reason: code, isFinal: isFinal), for: job.bookingID, by: .system)
        default:
            break
        }
    }
}

/// The jobs this worker is running now.
private final class RunningJobs: Sendable {
    private let jobs = Mutex<[Int64: Job]>([:])

    var count: Int { jobs.withLock { $0.count } }
    var all: [Job] { jobs.withLock { Array($0.values) } }
    /// Adds `job`; `false` when it is running already.
    func insert(_ job: Job) -> Bool {
        jobs.withLock { jobs in
            guard jobs[job.id] == nil else { return false }
            jobs[job.id] = job
            return true
        }
    }
    func remove(_ job: Job) { _ = jobs.withLock { $0.removeValue(forKey: job.id) } }
}
