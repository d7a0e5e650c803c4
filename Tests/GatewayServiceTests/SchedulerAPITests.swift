import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Scheduler API")
struct SchedulerAPITests {
    @Test("PUT creates a session once: 201 with the code, then 200 with the same session and no new work")
    func idempotentCreate() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let created = try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking()))
            #expect(created.status == .created)
            let code = try #require(created.json["validationCode"] as? String)
            #expect(code.count == 6 && code.allSatisfy(\.isNumber))
            #expect(created.json["state"] as? String == "scheduled")
            #expect(created.room["status"] as? String == "pending")
            #expect((created.json["citizenJoinUrl"] as? String)?.hasPrefix("https://video.example.pt/join/") == true)
            #expect(created.json["citizen"] == nil)
            let jobsAfterCreate = try await gateway.store.jobs(for: BookingID("B-1")!)
            #expect(jobsAfterCreate.map(\.kind.description).sorted() == [
                "deadline.join_window_opens", "deadline.late_check", "deadline.personal_data_purge",
                "deadline.safety_cap", "deadline.slot_end", "notice.invitation", "room.provision",
            ])
            // The invitation carries the code sealed, never in the clear.
            let invitation = try #require(jobsAfterCreate.first { $0.kind == .citizenNotice(.invitation) })
            #expect(try gateway.sessions.sealer.open(try #require(invitation.payload)) == code)
            #expect(invitation.payload?.contains(code) == false)

            let again = try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking()))
            #expect(again.status == .ok)
            #expect(again.json["validationCode"] == nil)
            #expect(again.json["citizenJoinUrl"] as? String == created.json["citizenJoinUrl"] as? String)
            #expect(try await gateway.store.jobs(for: BookingID("B-1")!) == jobsAfterCreate)

            let fetched = try await client.call(.get, "/v1/sessions/B-1")
            #expect(fetched.status == .ok)
            #expect(fetched.json["validationCode"] == nil)
            #expect(fetched.json["bookingId"] as? String == "B-1")
        }
    }

    @Test("A changed time is a reschedule: same link and code, a new generation")
    func reschedule() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let created = try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking()))
            let code = try #require(created.json["validationCode"] as? String)
            let moved = try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking(startOffset: 90000)))
            #expect(moved.status == .ok)
            #expect(moved.json["generation"] as? Int == 2)
            #expect(moved.json["citizenJoinUrl"] as? String == created.json["citizenJoinUrl"] as? String)
            #expect(moved.json["cancelUrl"] as? String == created.json["cancelUrl"] as? String)
            let stored = try #require(try await gateway.store.session(for: BookingID("B-1")!))
            #expect(gateway.sessions.codeHasher.matches(code, stored.session.access.codeHash))
        }
    }

    @Test("DELETE cancels: 204, and 204 again; then changes are refused with 409")
    func cancel() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            _ = try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking()))
            #expect(try await client.call(.delete, "/v1/sessions/B-1").status == .noContent)
            #expect(try await client.call(.delete, "/v1/sessions/B-1").status == .noContent)
            let fetched = try await client.call(.get, "/v1/sessions/B-1")
            #expect(fetched.json["state"] as? String == "cancelled")
            let change = try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking(startOffset: 9000)))
            #expect(change.status == .conflict)
            #expect(change.code == "session_closed")
            let rotate = try await client.call(.post, "/v1/sessions/B-1/access-code")
            #expect(rotate.status == .conflict)
            let deletes = try await gateway.store.jobs(for: BookingID("B-1")!).filter { $0.kind == .deleteRoom }
            #expect(deletes.count == 1)
            let deadlines = try await gateway.store.jobs(for: BookingID("B-1")!).filter { $0.kind.isDeadline }
            #expect(deadlines.map(\.kind) == [.deadline(.personalDataPurge)])
            let notices = try await gateway.store.jobs(for: BookingID("B-1")!).filter { $0.kind == .citizenNotice(.cancelled) }
            #expect(notices.count == 1)
            let trail = try await gateway.store.auditTrail(for: BookingID("B-1")!)
            #expect(trail.map(\.event) == ["created", "cancelled"])
            #expect(trail.last?.actor == .scheduler)
        }
    }

    @Test("Rotating the code returns a new one that alone matches; GET never shows it")
    func rotateCode() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let created = try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking()))
            let old = try #require(created.json["validationCode"] as? String)
            let rotated = try await client.call(.post, "/v1/sessions/B-1/access-code")
            #expect(rotated.status == .ok)
            let new = try #require(rotated.json["validationCode"] as? String)
            let stored = try #require(try await gateway.store.session(for: BookingID("B-1")!))
            #expect(gateway.sessions.codeHasher.matches(new, stored.session.access.codeHash))
            #expect(old == new || !gateway.sessions.codeHasher.matches(old, stored.session.access.codeHash))
            #expect(try await client.call(.post, "/v1/sessions/B-404/access-code").status == .notFound)
        }
    }

    struct BadInput: CustomTestStringConvertible, Sendable {
        let name: String
        let uri: String
        let body: @Sendable () -> ByteBuffer
        let status: HTTPResponse.Status
        let code: String
        let fields: [String]
        var testDescription: String { name }
    }

    static let badInputs: [BadInput] = [
        .init(name: "malformed JSON", uri: "/v1/sessions/B-1", body: { ByteBuffer(string: "{\"service\": ") }, status: .badRequest, code: "invalid_json", fields: []),
        .init(name: "a JSON array", uri: "/v1/sessions/B-1", body: { ByteBuffer(string: "[1]") }, status: .badRequest, code: "invalid_json", fields: []),
        .init(name: "wrong types", uri: "/v1/sessions/B-1", body: { Body.json(Body.booking(extra: ["service": 5, "notifyCitizen": "yes", "topic": "x"])) }, status: .badRequest, code: "validation_failed", fields: ["service", "topic", "notifyCitizen"]),
        .init(name: "missing fields", uri: "/v1/sessions/B-1", body: { Body.json(["service": "x"]) }, status: .badRequest, code: "validation_failed", fields: ["startsAt", "endsAt", "citizen"]),
        .init(name: "no contact", uri: "/v1/sessions/B-1", body: { Body.json(Body.booking(extra: ["citizen": ["name": "Maria"]])) }, status: .badRequest, code: "validation_failed", fields: ["citizen"]),
        .init(name: "bad e-mail and phone", uri: "/v1/sessions/B-1", body: { Body.json(Body.booking(extra: ["citizen": ["name": "Maria", "email": "no", "phone": "call me"]])) }, status: .badRequest, code: "validation_failed", fields: ["citizen.email", "citizen.phone"]),
        .init(name: "header injection in a name", uri: "/v1/sessions/B-1", body: { Body.json(Body.booking(extra: ["citizen": ["name": "Maria\r\nBcc: x@y.z", "email": "m@example.pt"]])) }, status: .badRequest, code: "validation_failed", fields: ["citizen.name"]),
        .init(name: "endsAt before startsAt", uri: "/v1/sessions/B-1", body: { Body.json(Body.booking(length: -60)) }, status: .badRequest, code: "validation_failed", fields: ["endsAt"]),
        .init(name: "slot longer than 8 h", uri: "/v1/sessions/B-1", body: { Body.json(Body.booking(length: 8 * 3600 + 1)) }, status: .badRequest, code: "validation_failed", fields: ["endsAt"]),
        .init(name: "time without offset", uri: "/v1/sessions/B-1", body: { Body.json(Body.booking(extra: ["startsAt": "2030-12-01T10:00:00"])) }, status: .badRequest, code: "validation_failed", fields: ["startsAt"]),
        .init(name: "date only", uri: "/v1/sessions/B-1", body: { Body.json(Body.booking(extra: ["endsAt": "2030-12-01"])) }, status: .badRequest, code: "validation_failed", fields: ["endsAt"]),
        .init(name: "invalid booking id", uri: "/v1/sessions/B%201", body: { Body.json(Body.booking()) }, status: .badRequest, code: "invalid_booking_id", fields: []),
        .init(name: "booking id too long", uri: "/v1/sessions/" + String(repeating: "x", count: 65), body: { Body.json(Body.booking()) }, status: .badRequest, code: "invalid_booking_id", fields: []),
        .init(name: "unknown provider", uri: "/v1/sessions/B-1", body: { Body.json(Body.booking(provider: "skype")) }, status: .unprocessableContent, code: "unknown_provider", fields: ["provider"]),
        .init(name: "provider without credentials", uri: "/v1/sessions/B-1", body: { Body.json(Body.booking(provider: "zoom")) }, status: .unprocessableContent, code: "provider_not_configured", fields: ["provider"]),
        .init(name: "slot already over", uri: "/v1/sessions/B-1", body: { Body.json(Body.booking(startOffset: -7200)) }, status: .unprocessableContent, code: "slot_in_past", fields: []),
        .init(name: "body over 64 KiB", uri: "/v1/sessions/B-1", body: { Body.json(Body.booking(extra: ["padding": String(repeating: "a", count: 70_000)])) }, status: .contentTooLarge, code: "payload_too_large", fields: []),
    ]

    @Test("Bad input gets a problem with a stable code and writes nothing", arguments: badInputs)
    func badInput(_ row: BadInput) async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let reply = try await client.call(.put, row.uri, body: row.body())
            #expect(reply.status == row.status)
            #expect(reply.code == row.code)
            #expect(reply.headers[.contentType] == "application/problem+json")
            let fields = (reply.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
            #expect(fields == row.fields)
            #expect(try await gateway.store.sessions(matching: SessionQuery()).isEmpty)
        }
    }

    @Test("Unknown members are ignored")
    func unknownMembers() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let reply = try await client.call(
                .put, "/v1/sessions/B-1", body: Body.json(Body.booking(extra: ["colour": "blue", "priority": [1, 2]])))
            #expect(reply.status == .created)
        }
    }

    @Test("Wrong media type is 415")
    func mediaType() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let reply = try await client.call(.put, "/v1/sessions/B-1", body: Body.json(Body.booking()), contentType: "text/plain")
            #expect(reply.status == .unsupportedMediaType)
        }
    }

    @Test("Every scheduler route needs a valid key", arguments: [
        (HTTPRequest.Method.put, "/v1/sessions/B-1"), (.get, "/v1/sessions/B-1"), (.delete, "/v1/sessions/B-1"),
        (.get, "/v1/sessions"), (.post, "/v1/sessions/B-1/access-code"),
    ])
    func authentication(_ method: HTTPRequest.Method, _ uri: String) async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            for key in [nil, "", "wrong-key", TestGateway.schedulerKey + "x"] as [String?] {
                let reply = try await client.call(method, uri, body: method == .put ? Body.json(Body.booking()) : nil, key: key)
                #expect(reply.status == .unauthorized)
                #expect(reply.code == "unauthorized")
                #expect(reply.headers[.wwwAuthenticate] == "Bearer")
            }
            #expect(try await gateway.store.sessions(matching: SessionQuery()).isEmpty)
        }
    }

    @Test("Unknown sessions and routes are 404 problems")
    func notFound() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let missing = try await client.call(.get, "/v1/sessions/B-404")
            #expect(missing.status == .notFound)
            #expect(missing.code == "session_not_found")
            #expect(try await client.call(.delete, "/v1/sessions/B-404").code == "session_not_found")
            let route = try await client.call(.get, "/v2/nothing")
            #expect(route.status == .notFound)
            #expect(route.code == "not_found")
        }
    }

    @Test("The list filters and pages with a cursor; bad filters are field errors")
    func list() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            for index in 0..<5 {
                _ = try await client.call(
                    .put, "/v1/sessions/B-\(index)", body: Body.json(Body.booking(startOffset: 7200 + index * 3600)))
            }
            _ = try await client.call(.delete, "/v1/sessions/B-4")
            var seen: [String] = []
            var uri = "/v1/sessions?limit=2"
            while true {
                let page = try await client.call(.get, uri)
                #expect(page.status == .ok)
                seen += (page.json["items"] as? [[String: Any]] ?? []).compactMap { $0["bookingId"] as? String }
                guard let cursor = page.json["nextCursor"] as? String else { break }
                uri = "/v1/sessions?limit=2&cursor=\(cursor)"
            }
            #expect(seen == ["B-0", "B-1", "B-2", "B-3", "B-4"])
            let cancelled = try await client.call(.get, "/v1/sessions?state=cancelled")
            #expect((cancelled.json["items"] as? [[String: Any]])?.count == 1)
            let from = Body.RFC3339String(Body.now.addingTimeInterval(7200 + 3600))
            let to = Body.RFC3339String(Body.now.addingTimeInterval(7200 + 3 * 3600))
            let window = try await client.call(.get, "/v1/sessions?from=\(from)&to=\(to)&service=prestacoes-familiares")
            #expect((window.json["items"] as? [[String: Any]])?.compactMap { $0["bookingId"] as? String } == ["B-1", "B-2"])
            let bad = try await client.call(.get, "/v1/sessions?state=lost&limit=0&from=yesterday&cursor=%%%")
            #expect(bad.status == .badRequest)
            let fields = (bad.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
            #expect(Set(fields) == ["state", "limit", "from", "cursor"])
        }
    }
}
