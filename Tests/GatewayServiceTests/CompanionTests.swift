import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import HummingbirdTesting
import SessionOrchestration
import Synchronization
import Testing

@testable import GatewayService

@Suite("Companions")
struct CompanionTests {
    static var interpreter: [String: Any] { ["role": "interpreter", "name": "Rita Gomes", "email": "rita@example.pt"] }
    static var representative: [String: Any] { ["role": "representative", "name": "João Sousa"] }

    @Test("Each companion gets a link and a code, waits in the same lobby and can be admitted with the citizen")
    func admitAll() async throws {
        try await withSimulator { _, url in
            let gateway = await TestGateway(store: try await ProvisioningTests.sqliteStore(), simulatorURL: url)
            let token = try await Attendant.token()
            try await gateway.test { client in
                let created = try await client.create("B-1", extra: ["companions": [Self.interpreter, Self.representative]])
                #expect(created.status == .created)
                let companions = try #require(created.json["companions"] as? [[String: Any]])
                #expect(companions.map { $0["id"] as? String } == ["companion-1", "companion-2"])
                #expect(companions.allSatisfy { ($0["validationCode"] as? String)?.count == 6 })
                let links = companions.compactMap { $0["joinUrl"] as? String }
                #expect(Set(links + [created.json["citizenJoinUrl"] as? String ?? ""]).count == 3)
                try await gateway.worker.runUntilIdle()

                // Each companion's link opens their own waiting-room page.
                for link in links {
                    let page = try await client.call(.get, "/join/\(link.split(separator: "/").last ?? "")", key: nil)
                    #expect(page.status == .ok)
                    #expect(String(decoding: page.body, as: UTF8.self).contains("lang=\"pt-PT\""))
                }

                // The interpreter enters with their own code (the citizen's does not work on their link).
                let interpreterToken = String(links[0].split(separator: "/").last ?? "")
                let wrong = try await client.call(
                    .post, "/v1/lobby/\(interpreterToken)/enter",
                    body: Body.json(["code": created.json["validationCode"] as? String ?? ""]), key: nil)
                #expect(wrong.code == "invalid_code" || companions[0]["validationCode"] as? String == created.json["validationCode"] as? String)
                let entered = try await client.call(
                    .post, "/v1/lobby/\(interpreterToken)/enter",
                    body: Body.json(["code": companions[0]["validationCode"] as? String ?? ""]), key: nil)
                #expect(entered.status == .ok)
                #expect(entered.json["participant"] as? String == "companion-1")
                let interpreterTicket = try #require(entered.json["ticket"] as? String)
                let citizenTicket = try #require(try await client.enter(created).json["ticket"] as? String)

                let date = String(Body.RFC3339String(gateway.clock.now).prefix(10))
                let agenda = try await client.call(.get, "/v1/attendant/agenda?date=\(date)", key: token)
                let item = try #require((agenda.json["items"] as? [[String: Any]])?.first)
                let listed = item["companions"] as? [[String: Any]] ?? []
                #expect(listed.map { $0["role"] as? String } == ["interpreter", "representative"])
                #expect((listed.first?["lobby"] as? [String: Any])?["enteredAt"] is String)

                // A ticket opens only its own link.
                #expect(try await client.call(.get, "/v1/lobby/\(interpreterToken)", key: citizenTicket).status == .unauthorized)

                let admitted = try await client.call(.post, "/v1/sessions/B-1/admit", body: Body.json(["all": true]), key: token)
                #expect(admitted.status == .ok)
                #expect(admitted.json["admitted"] as? [String] == ["citizen", "companion-1"])
                let citizenView = try await client.call(.get, "/v1/lobby/\(created.joinToken)", key: citizenTicket)
                let interpreterView = try await client.call(.get, "/v1/lobby/\(interpreterToken)", key: interpreterTicket)
                let citizenURL = try #require(citizenView.json["joinUrl"] as? String)
                let interpreterURL = try #require(interpreterView.json["joinUrl"] as? String)
                #expect(citizenURL != interpreterURL)
                #expect(citizenView.json["state"] as? String == "in_progress")
                // The representative never came: nobody to admit.
                #expect(try await client.call(.post, "/v1/sessions/B-1/admit", body: Body.json(["participants": ["companion-2"]]), key: token).code == "not_waiting")
            }
        }
    }

    @Test("A companion can be admitted alone, before the citizen")
    func admitAlone() async throws {
        try await withSimulator { _, url in
            let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: url)
            let token = try await Attendant.token()
            try await gateway.test { client in
                let created = try await client.create("B-1", extra: ["companions": [Self.interpreter]])
                try await gateway.worker.runUntilIdle()
                let companion = try #require((created.json["companions"] as? [[String: Any]])?.first)
                let link = String((companion["joinUrl"] as? String ?? "").split(separator: "/").last ?? "")
                _ = try await client.call(.post, "/v1/lobby/\(link)/enter", body: Body.json(["code": companion["validationCode"] as? String ?? ""]), key: nil)
                let admitted = try await client.call(.post, "/v1/sessions/B-1/admit", body: Body.json(["participants": ["companion-1"]]), key: token)
                #expect(admitted.json["admitted"] as? [String] == ["companion-1"])
                let session = try #require(try await gateway.sessions.session(for: BookingID("B-1")!))
                #expect(session.state != .inProgress)
                #expect(session.companions.first?.admittedAt != nil)
                #expect(try await client.call(.post, "/v1/sessions/B-1/admit", body: Body.json(["participants": ["nobody"]]), key: token).code == "validation_failed")
            }
        }
    }

    @Test("Companions are validated: at most two, a known role and a name; a later one gets its code once")
    func validation() async throws {
        let gateway = await TestGateway(store: InMemoryStore(), simulatorURL: URL(string: "http://127.0.0.1:9/v1"))
        try await gateway.test { client in
            let three = try await client.create("B-1", extra: ["companions": [Self.interpreter, Self.interpreter, Self.representative]])
            #expect(three.code == "validation_failed")
            let bad = try await client.create("B-1", extra: ["companions": [["role": "friend"], "x"]])
            let fields = Set((bad.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
            #expect(fields == ["companions"] || fields.isSuperset(of: ["companions[0].role"]))
            let created = try await client.create("B-2", extra: ["companions": [Self.interpreter]])
            let first = try #require((created.json["companions"] as? [[String: Any]])?.first)
            let added = try await client.call(
                .put, "/v1/sessions/B-2",
                body: Body.json(Body.booking(startOffset: 600, extra: ["companions": [Self.interpreter, Self.representative]])))
            #expect(added.status == .ok)
            let list = try #require(added.json["companions"] as? [[String: Any]])
            #expect(list[0]["joinUrl"] as? String == first["joinUrl"] as? String)
            #expect(list[0]["validationCode"] == nil)
            #expect((list[1]["validationCode"] as? String)?.count == 6)
            #expect(try await client.call(.get, "/v1/sessions/B-2").json["companions"].map { ($0 as? [[String: Any]])?[1]["validationCode"] == nil } == true)
        }
    }

    @Test("A companion with an e-mail address gets their own invitation, with the code shown in the answer")
    func invitations() async throws {
        try await withSimulator { _, url in
            let notifier = CompanionInvitationRecorder()
            let gateway = await TestGateway(store: try await ProvisioningTests.sqliteStore(), simulatorURL: url, notifier: notifier)
            try await gateway.test { client in
                let created = try await client.create("B-1", extra: ["companions": [Self.interpreter, Self.representative]])
                let companions = try #require(created.json["companions"] as? [[String: Any]])
                let jobs = try await gateway.store.jobs(for: BookingID("B-1")!)
                // The interpreter gave an e-mail address, the representative none.
                #expect(jobs.filter { if case .companionInvitation = $0.kind { true } else { false } }.map(\.kind)
                    == [.companionInvitation("companion-1")])
                try await gateway.worker.runUntilIdle()
                #expect(notifier.invitations == ["companion-1 \(companions[0]["validationCode"] as? String ?? "?")"])
                #expect(try await gateway.store.jobs(for: BookingID("B-1")!).first { $0.kind == .companionInvitation("companion-1") }?.payload == nil)
            }
        }
    }
}

/// Records the companions' invitations as `"<companion id> <code>"`.
private final class CompanionInvitationRecorder: Notifier {
    private let sent = Mutex<[String]>([])

    var invitations: [String] { sent.withLock { $0 } }

    func sendCompanionInvitation(_ companionID: String, for session: Session, validationCode: String) async throws {
        sent.withLock { $0.append("\(companionID) \(validationCode)") }
    }

    func sendNotice(_ notice: CitizenNotice, for session: Session, validationCode: String?) async throws {}
    func sendFallback(_ channel: FallbackChannel, for session: Session) async throws {}
    func notifyScheduler(_ event: SchedulerEvent, about session: Session) async throws {}
}
