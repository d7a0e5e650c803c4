import CSQLite
import Dispatch
import Foundation
import SQLiteNIO
import Synchronization

/// A row's columns by name: rows of the writer and of SQLiteNIO's reader alike.
protocol SQLiteColumns {
    func column(_ name: String) -> SQLiteData?
}

extension SQLiteRow: SQLiteColumns {}

/// A row read on the writer connection.
struct WriterRow: SQLiteColumns, Sendable {
    let values: [String: SQLiteData]

    func column(_ name: String) -> SQLiteData? { values[name] }
}

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
        let run: @Sendable (Connection) -> Bool
        let finish: @Sendable ((any Error)?) -> Void
    }

    private let queue = DispatchQueue(label: "gateway.sqlite.writer")
    /// Owned by `queue`: touched only from work running on it.
    private let connection: Connection
    private let waiting = Mutex<(work: [Work], drainScheduled: Bool)>(([], false))

    init(path: String) throws {
        connection = try Connection(path: path)
    }

    deinit {
        connection.close()
    }

    /// Runs `body` in a transaction of the next batch; returns its result once that batch is committed.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
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
    func outsideTransaction<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
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

    /// The raw connection: prepared statements are kept (by their SQL) and reused.
    final class Connection: @unchecked Sendable {
        private var handle: OpaquePointer?
        private var statements: [String: OpaquePointer] = [:]
        /// Statements built with a variable number of placeholders are many: the cache is emptied past this.
        private static let maximumStatements = 256

        init(path: String) throws {
            var handle: OpaquePointer?
            let status = csqlite_open(path, &handle)
            guard status == Int32(CSQLITE_OK), let handle else {
                let message = handle.map { String(cString: csqlite_errmsg($0)) } ?? "cannot open \(path)"
                if let handle { csqlite_close(handle) }
                throw StoreError.unavailable(message)
            }
            self.handle = handle
        }

        func close() {
            for statement in statements.values { csqlite_finalize(statement) }
            statements = [:]
            if let handle { csqlite_close(handle) }
            handle = nil
        }

        /// Runs one statement and returns its rows.
        @discardableResult
        func query(_ sql: String, _ binds: [SQLiteData] = []) throws -> [WriterRow] {
            let statement = try prepared(sql)
            defer { csqlite_reset(statement) }
            for (index, value) in binds.enumerated() {
                try check(bind(value, at: Int32(index + 1), of: statement))
            }
            var rows: [WriterRow] = []
            while true {
                let status = csqlite_step(statement)
                if status == Int32(CSQLITE_DONE) { break }
                guard status == Int32(CSQLITE_ROW) else { throw error(status) }
                var values: [String: SQLiteData] = [:]
                for column in 0..<csqlite_column_count(statement) {
                    values[String(cString: csqlite_column_name(statement, column))] = value(at: column, of: statement)
                }
                rows.append(WriterRow(values: values))
            }
            return rows
        }

        func execute(_ sql: String) throws {
            try query(sql)
        }

        private func prepared(_ sql: String) throws -> OpaquePointer {
            if let statement = statements[sql] { return statement }
            guard let handle else { throw StoreError.unavailable("the database is closed") }
            if statements.count >= Self.maximumStatements {
                for statement in statements.values { csqlite_finalize(statement) }
                statements = [:]
            }
            var statement: OpaquePointer?
            let status = csqlite_prepare(handle, sql, &statement)
            guard status == Int32(CSQLITE_OK), let statement else { throw error(status) }
            statements[sql] = statement
            return statement
        }

        private func bind(_ value: SQLiteData, at index: Int32, of statement: OpaquePointer) -> Int32 {
            switch value {
            case .integer(let integer): return csqlite_bind_int64(statement, index, Int64(integer))
            case .float(let double): return csqlite_bind_double(statement, index, double)
            case .text(let text): return csqlite_bind_text(statement, index, text, -1)
            case .blob(let buffer):
                return buffer.withUnsafeReadableBytes { bytes in
                    csqlite_bind_blob(statement, index, bytes.baseAddress, Int32(bytes.count))
                }
            case .null: return csqlite_bind_null(statement, index)
            }
        }

        private func value(at column: Int32, of statement: OpaquePointer) -> SQLiteData {
            switch csqlite_column_type(statement, column) {
            case Int32(CSQLITE_INTEGER): return .integer(SQLiteInt64(csqlite_column_int64(statement, column)))
            case Int32(CSQLITE_FLOAT): return .float(csqlite_column_double(statement, column))
            case Int32(CSQLITE_TEXT):
                guard let text = csqlite_column_text(statement, column) else { return .null }
                return .text(String(cString: text))
            case Int32(CSQLITE_BLOB):
                let count = Int(csqlite_column_bytes(statement, column))
                guard let bytes = csqlite_column_blob(statement, column), count > 0 else { return .blob(ByteBuffer()) }
                return .blob(ByteBuffer(bytes: UnsafeRawBufferPointer(start: bytes, count: count)))
            default: return .null
            }
        }

        private func check(_ status: Int32) throws {
            guard status == Int32(CSQLITE_OK) else { throw error(status) }
        }

        private func error(_ status: Int32) -> StoreError {
            let message = handle.map { String(cString: csqlite_errmsg($0)) } ?? "SQLite error \(status)"
            return StoreError.unavailable(message)
        }
    }
}
