import Dispatch
import Foundation
import Synchronization

/// The SQLite store's one writing connection, driven through SQLite's C API on a serial queue of its
/// own: a transaction runs from `BEGIN` to `COMMIT` without leaving that queue, instead of one hop
/// between threads per statement.
///
/// Group commit: transactions that arrive while a batch is being written are written together in the
/// next batch, in order of arrival. Each runs inside its own savepoint, so one that throws is rolled
/// back alone (and its caller gets the error); the batch is one `BEGIN IMMEDIATE … COMMIT`, so one sync
/// to disk (`synchronous = FULL`) covers all of them. No caller is answered before the commit that
/// holds its change.
final class SQLiteWriter: @unchecked Sendable {
    /// One transaction waiting to be written: `run` executes it (inside its savepoint) and keeps its
    /// outcome; `finish` answers the caller once the batch is committed (or failed).
    private struct Work: Sendable {
        let run: @Sendable (SQLiteDatabaseConnection) -> Bool
        let finish: @Sendable ((any Error)?) -> Void
    }

    private let queue = DispatchQueue(label: "gateway.sqlite.writer")
    /// Owned by `queue`: touched only from work running on it.
    private let connection: SQLiteDatabaseConnection
    private let waiting = Mutex<(work: [Work], drainScheduled: Bool)>(([], false))

    init(path: String) throws {
        connection = try SQLiteDatabaseConnection(path: path)
    }

    deinit {
        connection.close()
    }

    /// Runs `body` in a transaction of the next batch; returns its result once that batch is committed.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabaseConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let outcome = OutcomeBox<T>()
            enqueue(
                Work(
                    run: { connection in
                        outcome.result = Result { try body(connection) }
                        if case .failure = outcome.result { return false }
                        return true
                    },
                    finish: { batchError in
                        if let batchError {
                            continuation.resume(throwing: batchError)
                        } else {
                            continuation.resume(with: outcome.result ?? .failure(StoreError.unavailable("not run")))
                        }
                    }))
        }
    }

    /// Runs `body` on the connection outside any transaction (a `PRAGMA`, a checkpoint), after the
    /// transactions already waiting.
    func outsideTransaction<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabaseConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            queue.async {
                self.drain()
                continuation.resume(with: Result { try body(self.connection) })
            }
        }
    }

    /// Closes the connection once what is waiting has been written.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.drain()
                self.connection.close()
                continuation.resume()
            }
        }
    }

    private func enqueue(_ work: Work) {
        let schedule = waiting.withLock { waiting -> Bool in
            waiting.work.append(work)
            defer { waiting.drainScheduled = true }
            return !waiting.drainScheduled
        }
        if schedule { queue.async { self.drain() } }
    }

    /// Writes every transaction waiting now as one batch (on `queue`).
    private func drain() {
        let batch = waiting.withLock { waiting -> [Work] in
            defer { waiting = ([], false) }
            return waiting.work
        }
        guard !batch.isEmpty else { return }
        do {
            try connection.execute("BEGIN IMMEDIATE")
        } catch {
            batch.forEach { $0.finish(error) }
            return
        }
        do {
            for work in batch {
                try connection.execute("SAVEPOINT change")
                if work.run(connection) {
                    try connection.execute("RELEASE change")
                } else {
                    try connection.execute("ROLLBACK TO change")
                    try connection.execute("RELEASE change")
                }
            }
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            batch.forEach { $0.finish(error) }
            return
        }
        batch.forEach { $0.finish(nil) }
    }

    /// A transaction's result, written on the queue before `finish` reads it there.
    private final class OutcomeBox<T>: @unchecked Sendable {
        var result: Result<T, any Error>?
    }
}
