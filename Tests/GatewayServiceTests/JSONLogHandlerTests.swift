import Foundation
import Logging
import Testing

@testable import GatewayService

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    @Test("A record is one line of JSON that reads back as written: escapes, Unicode, nested metadata, lifted keys")
    func oneLine() throws {
        let message = "quote \" backslash \\ slash / newline \n return \r tab \t bell \u{07} unit \u{1F} atenção 🎥"
        let time = Date(timeIntervalSince1970: 1_900_000_000.25)
        let line = JSONLogHandler.line(
            time: time, level: .warning, message: message, label: "video-session-gateway", replica: "replica-a",
            metadata: [
                "hb.request.id": "r-1", "http.route": "/v1/sessions/{bookingId}", "booking.id": "B-1",
                "job.attempt": .stringConvertible(3), "tags": ["a", "b\"c"], "nested": ["key \n": ["x": "y"]],
            ])
        #expect(line.last == 0x0A)
        #expect(line.dropLast().contains(0x0A) == false, "one line: newlines inside values are escaped")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(object["time"] as? String == "2030-03-17T17:46:40.250Z")
        #expect(object["level"] as? String == "warning")
        #expect(object["message"] as? String == message)
        #expect(object["logger"] as? String == "video-session-gateway")
        #expect(object["replica"] as? String == "replica-a")
        #expect(object["requestId"] as? String == "r-1")
        #expect(object["route"] as? String == "/v1/sessions/{bookingId}")
        #expect(object["bookingId"] as? String == "B-1")
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(Set(metadata.keys) == ["job.attempt", "tags", "nested"])
        #expect(metadata["job.attempt"] as? String == "3")
        #expect(metadata["tags"] as? [String] == ["a", "b\"c"])
        #expect((metadata["nested"] as? [String: Any])?["key \n"] as? [String: String] == ["x": "y"])
        // Keys come sorted, as they did from JSONEncoder's .sortedKeys.
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#"bell \u0007 unit \u001f"#), "control characters as \\u escapes")
        let order = try ["\"bookingId\"", "\"level\"", "\"logger\"", "\"message\"", "\"metadata\"", "\"replica\"", "\"requestId\"", "\"route\"", "\"time\""]
            .map { try #require(text.range(of: $0)).lowerBound }
        #expect(order == order.sorted())
    }

    @Test("Without metadata there is no metadata object")
    func noMetadata() throws {
        let line = JSONLogHandler.line(time: Date(), level: .info, message: "started", label: "l", replica: "r", metadata: [:])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(Set(object.keys) == ["time", "level", "message", "logger", "replica"])
    }
}
