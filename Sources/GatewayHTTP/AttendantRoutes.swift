import Foundation
import GatewayCore
import Hummingbird
import SessionOrchestration

/// The attendant console's API: agenda, live events, admit, message, end, manual fallback and script.
struct AttendantRoutes: Sendable {
    let dependencies: GatewayHTTPDependencies

    private var sessions: SessionService { dependencies.sessions }

    func add(to router: Router<GatewayRequestContext>) {
        let verifier = dependencies.attendants
        let attendant = router.group("v1/attendant").add(middleware: AttendantAuthenticator(verifier: verifier))
        attendant.get("agenda", use: agenda)
        attendant.get("events", use: events)
        let actions = router.group("v1/sessions").add(middleware: AttendantAuthenticator(verifier: verifier))
        actions.post("{bookingId}/admit", use: admit)
        actions.post("{bookingId}/messages", use: message)
        actions.post("{bookingId}/end", use: end)
        actions.post("{bookingId}/fallback", use: fallback)
        actions.post("{bookingId}/script", use: script)
        actions.post("{bookingId}/host-link", use: hostLink)
    }

    /// A fresh host entry while the call is on (a dropped connection, another device); audited.
    @Sendable func hostLink(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let attendant = try context.requireAttendant()
        let bookingID = try context.bookingID()
        do {
            let url = try await sessions.hostLink(bookingID, for: attendant)
            return try JSONResponse.make(["hostJoinUrl": url])
        } catch let error as SessionCommandError {
            throw Problem(error)
        }
    }

    @Sendable func agenda(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let attendant = try context.requireAttendant()
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Lisbon") ?? .gmt
        let day: Date
        if let raw = request.uri.queryParameters.get("date") {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = calendar.timeZone
            formatter.dateFormat = "yyyy-MM-dd"
            guard raw.count == 10, let parsed = formatter.date(from: raw) else {
                throw Problem.validationFailed([.init(field: "date", message: "must be a date such as 2026-12-01")])
            }
            day = parsed
        } else {
            day = calendar.startOfDay(for: sessions.clock.now)
        }
        let start = calendar.startOfDay(for: day)
        let end = calendar.date(byAdding: .day, value: 1, to: start) ?? start.addingTimeInterval(86400)
        let items = try await sessions.agenda(for: attendant, from: start, to: end)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = calendar.timeZone
        formatter.dateFormat = "yyyy-MM-dd"
        return try JSONResponse.make(
            AgendaResource(
                date: formatter.string(from: start),
                items: items.map { AgendaResource.Item($0, now: sessions.clock.now) }))
    }

    @Sendable func events(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let attendant = try context.requireAttendant()
        let limits = dependencies.streamLimits
        guard
            let permit = dependencies.streamLimiter.permit([
                ("attendant:\(attendant.id)", limits.perAttendant),
                ("address:\(context.remoteIP ?? "unknown")", limits.perAddress),
            ])
        else { throw ServerSentEvents.tooManyStreams }
        let subscription = sessions.liveEvents.subscribe(
            after: ServerSentEvents.lastEventID(request), heartbeatEvery: dependencies.heartbeat
        ) { event in
            event.audience == .attendants && attendant.canSee(service: event.service, assignedTo: event.attendantID)
        }
        return ServerSentEvents.response(
            snapshot: [], subscription: subscription, permit: permit, connectionClosed: context.connectionClosed)
    }

    @Sendable func admit(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let attendant = try context.requireAttendant()
        let bookingID = try context.bookingID()
        let bytes = try await request.body.collect(upTo: context.maxUploadSize)
        var admission = SessionService.Admission.participants([.citizen])
        if bytes.readableBytes > 0 {
            guard let body = try? JSONDecoder().decode(AdmitBody.self, from: Data(buffer: bytes)) else {
                throw Problem(.badRequest, code: "invalid_json", title: "The body is not the expected JSON object")
            }
            if body.all == true {
                admission = .everyoneWaiting
            } else if let names = body.participants {
                let participants = names.compactMap(Participant.init)
                guard participants.count == names.count, !participants.isEmpty else {
                    throw Problem.validationFailed([
                        .init(field: "participants", message: "must list citizen, companion-1 or companion-2")
                    ])
                }
                admission = .participants(participants)
            }
        }
        do {
            let (_, hostJoinURL, admitted) = try await sessions.admit(bookingID, admission, by: attendant)
            context.logger.info("admitted", metadata: ["booking.id": "\(bookingID)", "attendant.id": "\(attendant.id)"])
            return try JSONResponse.make(AdmitResource(hostJoinUrl: hostJoinURL, admitted: admitted.map(\.description)))
        } catch let error as SessionCommandError {
            throw Problem(error)
        }
    }

    @Sendable func message(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let attendant = try context.requireAttendant()
        let bookingID = try context.bookingID()
        let body = try await request.jsonBody(MessageBody.self, context: context)
        let text = (body.text ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, TextLimit.fits(text, maxLength: 500),
            !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" })
        else {
            throw Problem.validationFailed([.init(field: "text", message: "must be 1 to 500 Unicode code points of text")])
        }
        do {
            let message = try await sessions.postMessage(text, to: bookingID, by: attendant)
            return try JSONResponse.make(["id": message.id], status: .accepted)
        } catch let error as SessionCommandError {
            throw Problem(error)
        }
    }

    @Sendable func end(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let attendant = try context.requireAttendant()
        let bookingID = try context.bookingID()
        let body = try await request.jsonBody(EndBody.self, context: context)
        guard let outcome = body.outcome.flatMap(SessionOutcome.init(rawValue:)),
            [.resolved, .unresolved, .rescheduled].contains(outcome)
        else {
            throw Problem.validationFailed([.init(field: "outcome", message: "must be resolved, unresolved or rescheduled")])
        }
        do {
            let session = try await sessions.end(bookingID, outcome: outcome, by: attendant)
            return try JSONResponse.make(["state": session.state.rawValue, "outcome": outcome.rawValue])
        } catch let error as SessionCommandError {
            throw Problem(error)
        }
    }

    @Sendable func fallback(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let attendant = try context.requireAttendant()
        let bookingID = try context.bookingID()
        let body = try await request.jsonBody(FallbackBody.self, context: context)
        guard let channel = body.channel.flatMap(FallbackChannel.init(rawValue:)) else {
            throw Problem.validationFailed([.init(field: "channel", message: "must be phone or email")])
        }
        do {
            _ = try await sessions.requestFallback(channel, for: bookingID, by: attendant)
            return try JSONResponse.make(["channel": channel.rawValue, "status": "queued"], status: .accepted)
        } catch let error as SessionCommandError {
            throw Problem(error)
        }
    }

    @Sendable func script(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let attendant = try context.requireAttendant()
        let bookingID = try context.bookingID()
        let body = try await request.jsonBody(ScriptBody.self, context: context)
        var errors: [Problem.FieldError] = []
        let level = body.authenticationLevel.flatMap(AttendanceScript.AuthenticationLevel.init(rawValue:))
        if level == nil { errors.append(.init(field: "authenticationLevel", message: "must be none, weak or strong")) }
        let caller = body.caller.flatMap(AttendanceScript.Caller.init(rawValue:))
        if caller == nil { errors.append(.init(field: "caller", message: "must be citizen or third_party")) }
        let checks = body.checks ?? []
        if !Set(checks).isSubset(of: AttendanceScript.checkNames) {
            errors.append(.init(field: "checks", message: "has an unknown item"))
        }
        guard errors.isEmpty, let level, let caller else { throw Problem.validationFailed(errors) }
        do {
            try await sessions.saveScript(
                AttendanceScript(
                    authenticationLevel: level, caller: caller, checks: Array(Set(checks)).sorted(),
                    updatedAt: sessions.clock.now),
                for: bookingID, by: attendant)
            return try JSONResponse.make(["saved": true])
        } catch let error as SessionCommandError {
            throw Problem(error)
        }
    }

    private struct MessageBody: Decodable { let text: String? }
    private struct AdmitBody: Decodable {
        let participants: [String]?
        let all: Bool?
    }
    private struct AdmitResource: Encodable {
        let hostJoinUrl: String
        let admitted: [String]
    }
    private struct EndBody: Decodable { let outcome: String? }
    private struct FallbackBody: Decodable { let channel: String? }
    private struct ScriptBody: Decodable {
        let authenticationLevel: String?
        let caller: String?
        let checks: [String]?
    }
}

extension GatewayRequestContext {
    func requireAttendant() throws -> AttendantIdentity {
        guard let attendant else { throw Problem.unauthorized }
        return attendant
    }

    func bookingID() throws -> BookingID {
        guard let raw = parameters.get("bookingId"), let id = BookingID(raw) else { throw Problem.invalidBookingID }
        return id
    }
}

extension Request {
    /// Decodes a small JSON body; a malformed one is 400 `invalid_json`.
    func jsonBody<T: Decodable>(_ type: T.Type, context: GatewayRequestContext) async throws -> T {
        let bytes = try await body.collect(upTo: context.maxUploadSize)
        do {
            return try JSONDecoder().decode(type, from: Data(buffer: bytes))
        } catch {
            throw Problem(.badRequest, code: "invalid_json", title: "The body is not the expected JSON object")
        }
    }
}

/// The attendant's day.
struct AgendaResource: Encodable, Sendable {
    struct Item: Encodable, Sendable {
        struct CitizenBody: Encodable, Sendable {
            let name: String
            let phone: String?
            let email: String?
        }

        let bookingId: String
        let state: SessionState
        let service: String
        let startsAt: String
        let endsAt: String
        let attendantId: String?
        let topic: SessionResource.TopicBody?
        let citizen: CitizenBody
        let lobby: SessionResource.LobbyBody
        let waitingSeconds: Int
        let fallbacks: [SessionResource.FallbackBody]
        let companions: [CompanionItem]

        struct CompanionItem: Encodable, Sendable {
            let id: String
            let role: String
            let name: String
            let lobby: SessionResource.LobbyBody
        }

        init(_ session: Session, now: Date) {
            bookingId = session.bookingID.rawValue
            state = session.state
            service = session.booking.service
            startsAt = RFC3339.string(from: session.booking.startsAt)
            endsAt = RFC3339.string(from: session.booking.endsAt)
            attendantId = session.booking.attendantID
            topic = session.booking.topic.map { .init(theme: $0.theme, subtheme: $0.subtheme, reason: $0.reason) }
            let citizen = session.booking.citizen
            self.citizen = CitizenBody(name: citizen.name, phone: citizen.phone, email: citizen.email)
            lobby = .init(
                enteredAt: session.lobby.enteredAt.map(RFC3339.string(from:)),
                admittedAt: session.lobby.admittedAt.map(RFC3339.string(from:)))
            waitingSeconds =
                session.state == .waiting ? max(0, Int(now.timeIntervalSince(session.lobby.enteredAt ?? now))) : 0
            fallbacks = session.fallbacks.map {
                .init(channel: $0.channel, status: $0.status, at: RFC3339.string(from: $0.at), reason: $0.reason)
            }
            companions = zip(session.booking.companions, session.companions).map { companion, access in
                CompanionItem(
                    id: access.id, role: companion.role.rawValue, name: companion.name,
                    lobby: .init(access))
            }
        }
    }

    let date: String
    let items: [Item]
}
