import Dispatch
import Synchronization

/// Connections that only read, each on a serial queue of its own: in WAL mode they see the last
/// commit and never wait behind the writer. A read goes to an idle connection, or, when all are busy,
/// to the one with the fewest reads waiting; it runs whole on that queue (no thread hop per row).
final class SQLiteReaders: Sendable {
    private struct Reader: Sendable {
        let connection: SQLiteDatabaseConnection
        let queue: DispatchQueue
    }

    private let readers: [Reader]
    /// Reads queued or running on each reader.
    private let load: Mutex<[Int]>

    /// SQLite's temporary files (statement journals within savepoints, sorts) in memory: on disk they
    /// were a file created and unlinked in /var/tmp for most bookings created, with pages of the
    /// session (personal data) in it, outside the data folder and `secure_delete`.
    static let temporaryFilesInMemory = "PRAGMA temp_store = MEMORY"

    init(path: String, count: Int) throws {
        readers = try (0..<max(1, count)).map { index in
            let connection = try SQLiteDatabaseConnection(path: path)
            try connection.execute("PRAGMA busy_timeout = 5000")
            try connection.execute(Self.temporaryFilesInMemory)
            return Reader(connection: connection, queue: DispatchQueue(label: "gateway.sqlite.reader.\(index)"))
        }
        load = Mutex(Array(repeating: 0, count: readers.count))
    }

    /// Runs `body` on a reader's connection.
    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabaseConnection) throws -> T) async throws -> T {
        let index = load.withLock { load -> Int in
            let index = load.indices.min { load[$0] < load[$1] } ?? 0
            load[index] += 1
            return index
        }
        let reader = readers[index]
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            reader.queue.async {
                let result = Result { try body(reader.connection) }
                self.load.withLock { $0[index] -= 1 }
                continuation.resume(with: result)
            }
        }
    }

    /// Closes every reader once its waiting reads are done.
    func close() async {
        for reader in readers {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                reader.queue.async {
                    reader.connection.close()
                    continuation.resume()
                }
            }
        }
    }
}
