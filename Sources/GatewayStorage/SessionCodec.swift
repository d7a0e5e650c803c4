import Foundation
import GatewayCore

/// How a session is serialised into a database row: JSON with exact dates.
struct SessionCodec: Sendable {
    func encode(_ session: Session) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .deferredToDate
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(session), as: UTF8.self)
    }

    func decode(_ text: String) throws -> Session {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .deferredToDate
        return try decoder.decode(Session.self, from: Data(text.utf8))
    }
}
