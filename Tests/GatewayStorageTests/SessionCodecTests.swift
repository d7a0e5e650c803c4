import Foundation
import GatewayCore
@testable import GatewayStorage
import Testing

@Suite("Session codec")
struct SessionCodecTests {
    @Test("A session read back is the one written, whether it was kept or decoded afresh")
    func roundTrip() throws {
        let writer = SessionCodec()
        let session = Fixture.session("CODEC-1")
        let text = try writer.encode(session)
        #expect(try writer.decode(text) == session)
        // Another codec has kept nothing: it decodes the text.
        #expect(try SessionCodec().decode(text) == session)
        // The next version of the same booking is a different text and reads as itself.
        var changed = session
        changed.booking.citizen.name = "Rita Gomes"
        let changedText = try SessionCodec().encode(changed)
        #expect(try writer.decode(changedText) == changed)
        #expect(try writer.decode(text) == session)
    }

    @Test("Text that is not a session still fails, kept or not")
    func invalidText() throws {
        let codec = SessionCodec()
        #expect(throws: (any Error).self) { try codec.decode("{\"bookingID\":\"X\"}") }
        #expect(throws: (any Error).self) { try codec.decode("{\"bookingID\":\"X\"}") }
    }

    @Test("The kept sessions stay within twice the limit, and a hit in the older half is kept")
    func bounded() throws {
        let recent = RecentSessions(limit: 4)
        let sessions = (0..<10).map { Fixture.session("KEPT-\($0)") }
        for (index, session) in sessions.enumerated() {
            recent.keep(session, as: "text-\(index)")
            #expect(recent.count <= 8)
        }
        #expect(recent.session(for: "text-0") == nil)
        #expect(recent.session(for: "text-9") == sessions[9])
        // text-5 is in the older half now; found, it moves to the newer half and outlives the next turn.
        #expect(recent.session(for: "text-5") == sessions[5])
        for index in 10..<13 { recent.keep(Fixture.session("KEPT-\(index)"), as: "text-\(index)") }
        #expect(recent.session(for: "text-5") == sessions[5])
    }
}
