import Foundation
import Logging
import Synchronization

/// Writes each log record as one JSON object on a line (`LOG_FORMAT=json`): `time`, `level`, `message`,
/// `logger`, the `replica`, and, where the record has them, `requestId`, `route`, `bookingId`; every
/// other metadata value under `metadata`.
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
        var record: [String: JSONField] = [
            "time": .text(Self.timestamp()), "level": .text(event.level.rawValue), "message": .text("\(event.message)"),
            "logger": .text(label), "replica": .text(replica),
        ]
        var rest: [String: JSONField] = [:]
        for (key, value) in merged {
            if let lifted = Self.liftedKeys[key] {
                record[lifted] = .text("\(value)")
            } else {
                rest[key] = JSONField(value)
            }
        }
        if !rest.isEmpty { record["metadata"] = .object(rest) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(record) else { return }
        line.append(0x0A)
        Self.output.withLock { _ in FileHandle.standardError.write(line) }
    }

    private static let output = Mutex(())

    private static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}

/// A metadata value as JSON.
private indirect enum JSONField: Encodable {
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

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .array(let values): try container.encode(values)
        case .object(let values): try container.encode(values)
        }
    }
}
