import Foundation
import GatewayCore
import Logging
import Synchronization

/// Writes each log record as one JSON object on a line (`LOG_FORMAT=json`): `time`, `level`, `message`,
/// `logger`, the `replica`, and, where the record has them, `requestId`, `route`, `bookingId`; every
/// other metadata value under `metadata`. Keys are sorted.
///
/// The line is written by hand, not by `JSONEncoder`: with one line per request, the encoder and a
/// Foundation date format were a quarter of a lobby poll's time.
struct JSONLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let label: String
    let replica: String

    /// Metadata keys lifted to top-level fields.
    static let liftedKeys: [String: String] = [
        "hb.request.id": "requestId", "http.route": "route", "booking.id": "bookingId",
    ]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = Self.line(
            time: Date(), level: event.level, message: "\(event.message)", label: label, replica: replica,
            metadata: merged)
        Self.output.withLock { _ in FileHandle.standardError.write(Data(line)) }
    }

    private static let output = Mutex(())

    /// One record's line, its newline included.
    static func line(
        time: Date, level: Logger.Level, message: String, label: String, replica: String, metadata: Logger.Metadata
    ) -> [UInt8] {
        var record: [String: JSONField] = [
            "time": .text(RFC3339.stringWithMilliseconds(from: time)), "level": .text(level.rawValue),
            "message": .text(message), "logger": .text(label), "replica": .text(replica),
        ]
        var rest: [String: JSONField] = [:]
        for (key, value) in metadata {
            if let lifted = liftedKeys[key] {
                record[lifted] = .text("\(value)")
            } else {
                rest[key] = JSONField(value)
            }
        }
        if !rest.isEmpty { record["metadata"] = .object(rest) }
        var line: [UInt8] = []
        line.reserveCapacity(256)
        JSONField.object(record).write(to: &line)
        line.append(0x0A)
        return line
    }
}

/// A metadata value as JSON.
private indirect enum JSONField {
    case text(String)
    case array([JSONField])
    case object([String: JSONField])

    init(_ value: Logger.Metadata.Value) {
        switch value {
        case .string(let text): self = .text(text)
        case .stringConvertible(let value): self = .text(value.description)
        case .array(let values): self = .array(values.map(JSONField.init))
        case .dictionary(let values): self = .object(values.mapValues(JSONField.init))
        }
    }

    /// Its JSON (RFC 8259): objects with their keys sorted, strings as UTF-8 with `"`, `\` and control
    /// characters escaped.
    func write(to out: inout [UInt8]) {
        switch self {
        case .text(let text):
            Self.write(string: text, to: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            for (index, key) in fields.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.write(string: key, to: &out)
                out.append(UInt8(ascii: ":"))
                fields[key]!.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func write(string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: out += "\\u00\([byte].lowercaseHex)".utf8
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
