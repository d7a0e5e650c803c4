import GatewayCore
import Hummingbird
import Synchronization

/// The JSON of the last lobby answer of each participant, so that polls of an unchanged lobby do not
/// encode the same answer again: reused only when the new `LobbyView` equals the one encoded. At most
/// `capacity` participants (the one encoded longest ago goes first).
final class LobbyAnswerCache: Sendable {
    private struct Key: Hashable {
        let bookingID: String
        let participant: Participant
    }

    private struct Answer {
        let view: LobbyView
        let body: ByteBuffer
    }

    private let answers: Mutex<BoundedDictionary<Key, Answer>>

    init(capacity: Int = 20_000) {
        answers = Mutex(BoundedDictionary(capacity: capacity))
    }

    /// The JSON body of `view`, encoded now or reused.
    func body(of view: LobbyView, for participant: Participant) throws -> ByteBuffer {
        let key = Key(bookingID: view.bookingId, participant: participant)
        if let known = answers.withLock({ $0[key] }), known.view == view { return known.body }
        let body = try JSONResponse.encode(view)
        answers.withLock { _ = $0.set(Answer(view: view, body: body), for: key) }
        return body
    }
}
