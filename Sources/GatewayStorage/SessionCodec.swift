import Foundation
import GatewayCore
import Synchronization

/// How a session is serialised into a database row: JSON with exact dates.
///
/// The sessions last encoded or decoded are kept by their JSON text, so reading back a row this
/// process wrote or read a moment ago (the write path reads the session it is about to change, the
/// job worker the session a create just stored) costs a string comparison instead of a JSON decode.
/// The same text always decodes to the same session, so a hit is exactly what decoding would give.
struct SessionCodec: Sendable {
    private let recent = RecentSessions(limit: 1024)

    func encode(_ session: Session) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .deferredToDate
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(session), as: UTF8.self)
        recent.keep(session, as: text)
        return text
    }

    func decode(_ text: String) throws -> Session {
        if let session = recent.session(for: text) { return session }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .deferredToDate
        let session = try decoder.decode(Session.self, from: Data(text.utf8))
        recent.keep(session, as: text)
        return session
    }
}

/// Sessions by their JSON text, at most 2 × `limit`: when the newer half is full it becomes the older
/// half and the older one is dropped; a hit in the older half moves back to the newer one.
final class RecentSessions: Sendable {
    private struct Halves {
        var newer: [String: Session] = [:]
        var older: [String: Session] = [:]
    }

    private let limit: Int
    private let halves = Mutex(Halves())

    init(limit: Int) {
        self.limit = limit
    }

    func session(for text: String) -> Session? {
        halves.withLock { halves in
            if let session = halves.newer[text] { return session }
            guard let session = halves.older.removeValue(forKey: text) else { return nil }
            Self.insert(session, as: text, into: &halves, limit: limit)
            return session
        }
    }

    func keep(_ session: Session, as text: String) {
        halves.withLock { Self.insert(session, as: text, into: &$0, limit: limit) }
    }

    var count: Int { halves.withLock { $0.newer.count + $0.older.count } }

    private static func insert(_ session: Session, as text: String, into halves: inout Halves, limit: Int) {
        if halves.newer.count >= limit {
            halves.older = halves.newer
            halves.newer = [:]
        }
        halves.newer[text] = session
    }
}
