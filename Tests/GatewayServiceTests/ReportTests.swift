import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import MeetingProviders
import SessionOrchestration
import Testing

/// Management reports and audit trails, through the routes, for a scripted day with known outcomes.
@Suite("Reports and audit", .timeLimit(.minutes(3)))
struct ReportTests {
    static let day = "2030-03-17"  // the Lisbon day of the test clock's start (2030-03-17T17:46:40Z, WET)

    @Test("A scripted day gives exactly the expected rows, in JSON and CSV, to the scheduler and to supervisors")
    func scriptedDay() async throws {
        try await withSimulator { _, url in
            let gateway = await TestGateway(
                store: try await ProvisioningTests.sqliteStore(), simulatorURL: url, notifier: DeliveringNotifier(),
                providers: { clock in
                    // A provider nobody answers for: its rooms fail after the retries.
                    ["daily": DailyProvider(
                        configuration: .init(baseURL: URL(string: "http://127.0.0.1:9/v1")!, apiKey: "k", timeout: .seconds(2)),
                        transport: NIOHTTPTransport(), clock: clock)]
                })
            let attendant = try await Attendant.token()
            let supervisor = try await Attendant.token(id: "s-1", roles: ["attendant", "supervisor"])
            try await gateway.test { client in
                func run(advancing seconds: Int = 0) async throws {
                    gateway.clock.advance(by: .seconds(seconds))
                    try await gateway.worker.runUntilIdle()
                }
                func admitAndEnd(_ id: String) async throws {
                    #expect(try await client.call(.post, "/v1/sessions/\(id)/admit", key: attendant).status == .ok)
                    let ended = try await client.call(
                        .post, "/v1/sessions/\(id)/end", body: Body.json(["outcome": "resolved"]), key: attendant)
                    #expect(ended.status == .ok)
                }
                var created: [String: Reply] = [:]
                for id in ["R-done", "R-noshow", "R-ccit", "R-csch"] { created[id] = try await client.create(id) }
                // Booked by a named scheduler client, whose name the audit trail keeps.
                created["R-late"] = try await client.call(
                    .put, "/v1/sessions/R-late", body: Body.json(Body.booking(startOffset: 600)), key: TestGateway.namedSchedulerKey)
                created["R-fail"] = try await client.create("R-fail", extra: ["provider": "daily"])
                created["R-other"] = try await client.call(
                    .put, "/v1/sessions/R-other",
                    body: Body.json(Body.booking(startOffset: 2 * 86400, extra: ["service": "pensoes"])))
                // The unreachable provider's room fails after its retries, before the slot.
                for _ in 0..<3 { try await run(advancing: 5) }
                #expect(try await client.call(.get, "/v1/sessions/R-fail").json["state"] as? String == "failed")

                // Admitted after 45 s in the lobby.
                #expect(try await client.enter(created["R-done"]!).status == .ok)
                try await run(advancing: 45)
                try await admitAndEnd("R-done")
                // Cancelled by the citizen, and by the scheduler.
                #expect(try await client.call(.post, "/v1/lobby/\(created["R-ccit"]!.cancelToken)/cancel", key: nil).status == .ok)
                #expect(try await client.call(.delete, "/v1/sessions/R-csch").status == .noContent)
                #expect(try await client.call(.delete, "/v1/sessions/R-other").status == .noContent)
                // Start + grace passes: two citizens are late and both fallbacks go out.
                try await run(advancing: 600 + 300 - 45 - 15 + 1)
                try await run(advancing: 10)
                // One of them comes in after the fallback (a wrong code first), reads a message and waits 90 s.
                let wrongCode = created["R-late"]!.json["validationCode"] as? String == "000000" ? "111111" : "000000"
                #expect(try await client.enter(created["R-late"]!, code: wrongCode).status == .unauthorized)
                #expect(try await client.enter(created["R-late"]!).status == .ok)
                #expect(
                    try await client.call(
                        .post, "/v1/sessions/R-late/messages", body: Body.json(["text": "Um momento, por favor."]),
                        key: attendant
                    ).status == .accepted)
                try await run(advancing: 90)
                try await admitAndEnd("R-late")
                // The slot ends: the other is a no-show.
                try await run(advancing: 1800)

                let expectedRow: [String: Any] = [
                    "service": "prestacoes-familiares", "day": Self.day, "sessions": 6, "completed": 2, "noShow": 1,
                    "cancelledByCitizen": 1, "cancelledByScheduler": 1, "failed": 1,
                    "lobbyWait": ["count": 2, "p50Seconds": 45, "p90Seconds": 90, "maxSeconds": 90], "late": 2,
                    "fallbacks": ["emailSent": 2, "emailFailed": 0, "phoneSent": 2, "phoneFailed": 0],
                    "admittedAfterFallback": 1, "recordingPolicyEvents": 0, "providerFailures": 1,
                ]
                let otherRow: [String: Any] = [
                    "service": "pensoes", "day": "2030-03-19", "sessions": 1, "completed": 0, "noShow": 0,
                    "cancelledByCitizen": 0, "cancelledByScheduler": 1, "failed": 0,
                    "lobbyWait": ["count": 0, "p50Seconds": NSNull(), "p90Seconds": NSNull(), "maxSeconds": NSNull()],
                    "late": 0, "fallbacks": ["emailSent": 0, "emailFailed": 0, "phoneSent": 0, "phoneFailed": 0],
                    "admittedAfterFallback": 0, "recordingPolicyEvents": 0, "providerFailures": 0,
                ]
                let uri = "/v1/reports/summary?from=\(Self.day)&to=2030-03-20"
                let report = try await client.call(.get, uri)
                #expect(report.status == .ok)
                let rows = try #require(report.json["rows"] as? [[String: Any]])
                #expect(rows.count == 2)
                #expect(NSDictionary(dictionary: rows[0]) == NSDictionary(dictionary: otherRow))
                #expect(NSDictionary(dictionary: rows[1]) == NSDictionary(dictionary: expectedRow))
                #expect(report.json["service"] is NSNull)

                let csv = try await client.execute(
                    uri: uri, method: .get,
                    headers: [.authorization: "Bearer \(TestGateway.schedulerKey)", .accept: "text/csv"]
                ) { String(buffer: $0.body) }
                #expect(
                    csv.components(separatedBy: "\r\n") == [
                        "service,day,sessions,completed,no_show,cancelled_by_citizen,cancelled_by_scheduler,failed,"
                            + "lobby_waits,lobby_wait_p50_seconds,lobby_wait_p90_seconds,lobby_wait_max_seconds,late,"
                            + "fallback_email_sent,fallback_email_failed,fallback_phone_sent,fallback_phone_failed,"
                            + "admitted_after_fallback,recording_policy_events,provider_failures",
                        "pensoes,2030-03-19,1,0,0,0,1,0,0,,,,0,0,0,0,0,0,0,0",
                        "prestacoes-familiares,2030-03-17,6,2,1,1,1,1,2,45,90,90,2,2,0,2,0,1,0,1",
                        "",
                    ])

                // A supervisor sees their services only; an attendant without the role sees nothing.
                let own = try await client.call(.get, uri, key: supervisor)
                #expect((own.json["rows"] as? [[String: Any]])?.map { $0["service"] as? String } == ["prestacoes-familiares"])
                #expect(try await client.call(.get, uri + "&service=pensoes", key: supervisor).status == .forbidden)
                #expect(try await client.call(.get, uri, key: attendant).status == .forbidden)
                #expect(try await client.call(.get, uri, key: nil).status == .unauthorized)
                #expect(try await client.call(.get, "/v1/reports/summary?from=2030-02-30").code == "validation_failed")
                #expect(try await client.call(.get, "/v1/reports/summary?from=2030-03-20&to=2030-03-17").code == "validation_failed")

                // The audit trail of a whole journey, in order, naming who acted and nothing personal.
                let audit = try await client.call(.get, "/v1/sessions/R-late/audit", key: supervisor)
                #expect(audit.status == .ok)
                let events = try #require(audit.json["events"] as? [[String: Any]])
                let trail = events.map { "\($0["actor"] as? String ?? "?") \($0["event"] as? String ?? "?")" }
                let journey = [
                    "scheduler:booking-system created", "provider room_provisioned", "system late_check_due",
                    "system fallback_sent", "citizen code_rejected", "citizen citizen_entered",
                    "attendant:a-17 message_posted", "attendant:a-17 admitted", "attendant:a-17 ended",
                ]
                var position = trail.startIndex
                for step in journey {
                    let found = trail[position...].firstIndex(of: step)
                    #expect(found != nil, "\(step) missing, or out of order, in \(trail)")
                    position = found.map { trail.index(after: $0) } ?? position
                }
                let text = String(decoding: audit.body, as: UTF8.self)
                for personal in ["Maria", "maria@example.pt", "+351912345678"] { #expect(!text.contains(personal)) }
                #expect(try await client.call(.get, "/v1/sessions/R-other/audit", key: supervisor).status == .forbidden)
                #expect(try await client.call(.get, "/v1/sessions/R-other/audit").status == .ok)
                #expect(try await client.call(.get, "/v1/sessions/NOPE/audit").status == .notFound)
            }
        }
    }
}

/// Delivers every e-mail and callback at once.
private struct DeliveringNotifier: Notifier {
    func sendNotice(_ notice: CitizenNotice, for session: Session, validationCode: String?) async throws {}
    func sendFallback(_ channel: FallbackChannel, for session: Session) async throws {}
    func notifyScheduler(_ event: SchedulerEvent, about session: Session) async throws {}
}
