import Foundation
import Testing

@testable import GatewayCore

@Suite("RFC 3339")
struct RFC3339Tests {
    @Test("Writing agrees with Foundation's formatter on 20,000 instants from 1970 to 2200, and truncates to the second")
    func writing() {
        let foundation = ISO8601DateFormatter()
        foundation.formatOptions = [.withInternetDateTime]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let date = Date(timeIntervalSince1970: Double.random(in: 0..<7_258_118_400, using: &generator))
            #expect(RFC3339.string(from: date) == foundation.string(from: date))
        }
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1_900_000_000.999)) == "2030-03-17T17:46:40Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
    }

    @Test("Writing to the millisecond agrees with Foundation's formatter on 20,000 instants from 1970 to 2200")
    func writingMilliseconds() {
        let foundation = ISO8601DateFormatter()
        foundation.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            // Whole milliseconds: how a half-millisecond rounds is the formatter's own business.
            let milliseconds = Int64.random(in: 0..<7_258_118_400_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            #expect(RFC3339.stringWithMilliseconds(from: date) == foundation.string(from: date))
        }
        #expect(RFC3339.stringWithMilliseconds(from: Date(timeIntervalSince1970: 1_900_000_000.9996)) == "2030-03-17T17:46:41.000Z")
        #expect(RFC3339.stringWithMilliseconds(from: Date(timeIntervalSince1970: 1_900_000_000.007)) == "2030-03-17T17:46:40.007Z")
        #expect(RFC3339.stringWithMilliseconds(from: Date(timeIntervalSince1970: 1_900_000_000.07)) == "2030-03-17T17:46:40.070Z")
    }

    @Test("Reading: offsets, fractions, lower-case letters, and the round trip")
    func reading() throws {
        #expect(RFC3339.date(from: "2026-12-01T09:50:00Z") == Date(timeIntervalSince1970: 1_796_118_600))
        #expect(RFC3339.date(from: "2026-12-01T10:50:00+01:00") == Date(timeIntervalSince1970: 1_796_118_600))
        #expect(RFC3339.date(from: "2026-12-01T08:20:00-01:30") == Date(timeIntervalSince1970: 1_796_118_600))
        #expect(RFC3339.date(from: "2026-12-01t09:50:00z") == Date(timeIntervalSince1970: 1_796_118_600))
        let fraction = try #require(RFC3339.date(from: "2026-11-30T10:00:00.250Z"))
        #expect(abs(fraction.timeIntervalSince1970 - 1_796_032_800.25) < 0.000_001)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let date = Date(timeIntervalSince1970: Double(Int.random(in: 0..<7_258_118_400, using: &generator)))
            #expect(RFC3339.date(from: RFC3339.string(from: date)) == date)
        }
    }

    @Test("Reading refuses what is not RFC 3339 or not a real date", arguments: [
        "2026-12-01T09:50:00", "2026-12-01 09:50:00Z", "2026-12-01T09:50Z", "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-01T24:00:00Z", "2026-12-01T09:60:00Z",
        "2026-12-01T09:50:00.Z", "2026-12-01T09:50:00.1234567890Z", "2026-12-01T09:50:00+0100",
        "2026-12-01T09:50:00+01:00x", "２026-12-01T09:50:00Z", "", "2026-12-01T09:50:00+24:00",
    ])
    func refusals(_ text: String) {
        #expect(RFC3339.date(from: text) == nil)
    }
}
