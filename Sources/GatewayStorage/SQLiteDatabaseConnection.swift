import CSQLite
import Foundation

/// A value bound to or read from SQLite.
enum SQLiteValue: Sendable, Equatable {
    case integer(Int)
    case float(Double)
    case text(String)
    case blob([UInt8])
    case null

    /// The value as an integer (a float truncated, a text parsed); nil for a blob or NULL.
    var integer: Int? {
        switch self {
        case .integer(let value): value
        case .float(let value): Int(value)
        case .text(let value): Int(value)
        case .blob, .null: nil
        }
    }

    /// The value as text (a number written out); nil for a blob or NULL.
    var string: String? {
        switch self {
        case .integer(let value): String(value)
        case .float(let value): String(value)
        case .text(let value): value
        case .blob, .null: nil
        }
    }
}

/// One row of a result, its columns by name.
struct SQLiteResultRow: Sendable {
    let values: [String: SQLiteValue]

    func column(_ name: String) -> SQLiteValue? { values[name] }
}

/// A connection to the SQLite file through SQLite's C API (the system's libsqlite3). Used by one
/// thread at a time (its owner's serial queue). Prepared statements are kept (by their SQL) and reused.
final class SQLiteDatabaseConnection: @unchecked Sendable {
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
    func query(_ sql: String, _ binds: [SQLiteValue] = []) throws -> [SQLiteResultRow] {
        let statement = try prepared(sql)
        defer { csqlite_reset(statement) }
        for (index, value) in binds.enumerated() {
            try check(bind(value, at: Int32(index + 1), of: statement))
        }
        var rows: [SQLiteResultRow] = []
        while true {
            let status = csqlite_step(statement)
            if status == Int32(CSQLITE_DONE) { break }
            guard status == Int32(CSQLITE_ROW) else { throw error(status) }
            var values: [String: SQLiteValue] = [:]
            for column in 0..<csqlite_column_count(statement) {
                values[String(cString: csqlite_column_name(statement, column))] = value(at: column, of: statement)
            }
            rows.append(SQLiteResultRow(values: values))
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

    private func bind(_ value: SQLiteValue, at index: Int32, of statement: OpaquePointer) -> Int32 {
        switch value {
        case .integer(let integer): return csqlite_bind_int64(statement, index, Int64(integer))
        case .float(let double): return csqlite_bind_double(statement, index, double)
        case .text(let text): return csqlite_bind_text(statement, index, text, -1)
        case .blob(let bytes):
            return bytes.withUnsafeBytes { bytes in
                csqlite_bind_blob(statement, index, bytes.baseAddress, Int32(bytes.count))
            }
        case .null: return csqlite_bind_null(statement, index)
        }
    }

    private func value(at column: Int32, of statement: OpaquePointer) -> SQLiteValue {
        switch csqlite_column_type(statement, column) {
        case Int32(CSQLITE_INTEGER): return .integer(Int(csqlite_column_int64(statement, column)))
        case Int32(CSQLITE_FLOAT): return .float(csqlite_column_double(statement, column))
        case Int32(CSQLITE_TEXT):
            guard let text = csqlite_column_text(statement, column) else { return .null }
            return .text(String(cString: text))
        case Int32(CSQLITE_BLOB):
            let count = Int(csqlite_column_bytes(statement, column))
            guard let bytes = csqlite_column_blob(statement, column), count > 0 else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
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
