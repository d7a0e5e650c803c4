import Foundation
import GatewayCore
import Hummingbird
import SessionOrchestration
import Synchronization

/// `…/v1/lobby/{token}`: the citizen's side. The token in the link is the first factor, the
/// validation code the second.
struct LobbyRoutes: Sendable {
    let dependencies: GatewayHTTPDependencies

    private var sessions: SessionService { dependencies.sessions }

    func add(to group: RouterGroup<GatewayRequestContext>) {
        group.post("{token}/enter", use: enter)
        group.get("{token}", use: state)
        group.get("{token}/events", use: events)
        group.post("{token}/cancel", use: cancel)
        group.post("{token}/rejoin", use: rejoin)
    }

    /// A fresh provider entry for an admitted participant while the call is on; audited.
    @Sendable func rejoin(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let (session, participant) = try await ticketHolder(request, context)
        do {
            let url = try await sessions.rejoin(session.bookingID, participant: participant)
            return try JSONResponse.make(["joinUrl": url])
        } catch let error as SessionCommandError {
            throw Problem(error)
        }
    }

    @Sendable func enter(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let token = try token(context)
        let limiter = dependencies.rateLimiter
        let waitForAddress = try await limiter.retryAfter(
            key: "ip:\(context.remoteIP ?? "unknown")", limit: dependencies.lobbyLimits.perAddress)
        let waitForLink = try await limiter.retryAfter(key: "token:\(token)", limit: dependencies.lobbyLimits.perLink)
        if let wait = waitForAddress ?? waitForLink {
            throw Problem(
                .tooManyRequests, code: "rate_limited", title: "Too many attempts", detail: "try again in \(wait) s",
                headers: [.retryAfter: "\(wait)"])
        }
        let bytes = try await request.body.collect(upTo: context.maxUploadSize)
        guard let body = try? JSONDecoder().decode(EnterBody.self, from: Data(buffer: bytes)) else {
            throw Problem(
                .badRequest, code: "validation_failed", title: "The request is not valid",
                errors: [.init(field: "code", message: "is required: the 6-digit validation code")])
        }
        let code = body.code.trimmingCharacters(in: .whitespaces)
        guard code.count == 6, code.allSatisfy(\.isASCII), code.allSatisfy(\.isNumber) else {
            throw Problem(
                .badRequest, code: "validation_failed", title: "The request is not valid",
                errors: [.init(field: "code", message: "must be 6 digits")])
        }
        switch try await sessions.enterLobby(joinToken: token, code: code) {
        case .entered(let session, let participant):
            dependencies.presence?.polled(session.bookingID, participant: participant.description)
            let ticket = try LobbyTicket.issue(for: session, participant: participant, sealer: sessions.sealer)
            var response = try JSONResponse.make(
                LobbyStateResource(
                    state: session.state, bookingId: session.bookingID.rawValue, participant: participant.description,
                    ticket: ticket))
            response.headers[.setCookie] =
                "lobby_ticket=\(ticket); Path=/v1/lobby/\(token); HttpOnly; Secure; SameSite=Strict"
            return response
        case .wrongCode(let attemptsLeft):
            throw Problem(
                .unauthorized, code: "invalid_code", title: "Wrong validation code",
                extensions: ["attemptsLeft": attemptsLeft])
        case .locked(let until):
            throw Problem(
                .init(code: 423, reasonPhrase: "Locked"), code: "locked", title: "Too many wrong codes",
                detail: "try again after \(RFC3339.string(from: until))",
                textExtensions: ["lockedUntil": RFC3339.string(from: until)])
        case .tooEarly(let opensAt):
            throw Problem(
                .tooEarly, code: "too_early", title: "The session is not open yet",
                textExtensions: ["opensAt": RFC3339.string(from: opensAt)])
        case .closed:
            throw Problem(.gone, code: "closed", title: "The session is closed")
        case .cancelled:
            throw Problem(.gone, code: "cancelled", title: "The appointment was cancelled")
        case .unknownToken:
            throw Problem(.notFound, code: "unknown_token", title: "Unknown link")
        }
    }

    @Sendable func state(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        var (session, participant) = try await ticketHolder(request, context)
        dependencies.presence?.polled(session.bookingID, participant: participant.description)
        session = await backInLobby(session, participant)
        let position = participant == .citizen ? try await sessions.lobbyQueuePosition(of: session) : nil
        let view = LobbyView(session, participant: participant, policy: sessions.policy, position: position)
        return try JSONResponse.make(encoded: dependencies.lobbyAnswers.body(of: view, for: participant))
    }

    /// The lobby's event stream, opened in a task of its own. The connection's task lives as long as
    /// the stream and keeps the memory of the deepest call it ever made (Swift's task allocator keeps
    /// its slabs), so the reads and checks that open a stream, made on that task, would stay allocated
    /// for the stream's whole life: about 12 KB more per open stream, measured with heaptrack.
    @Sendable func events(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        try await Task { try await openEvents(request, context) }.value
    }

    private func openEvents(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        var (session, participant) = try await ticketHolder(request, context)
        let bookingID = session.bookingID
        let me = participant.description
        let limits = dependencies.streamLimits
        guard
            let permit = dependencies.streamLimiter.permit([
                ("lobby:\(bookingID.rawValue):\(me)", limits.perTicket),
                ("address:\(context.remoteIP ?? "unknown")", limits.perAddress),
            ])
        else { throw ServerSentEvents.tooManyStreams }
        let subscription = sessions.liveEvents.subscribe(
            after: ServerSentEvents.lastEventID(request), booking: bookingID, heartbeatEvery: dependencies.heartbeat
        ) {
            $0.audience == .citizen && $0.bookingID == bookingID && ($0.participant == nil || $0.participant == me)
        }
        let presence = dependencies.presence
        presence?.streamOpened(bookingID, participant: me)
        // The stream is gone when the connection closes (seen at once) or the stream ends (seen at
        // the next write), whichever comes first.
        let ended = Mutex(false)
        let streamEnded: @Sendable () -> Void = {
            let first = ended.withLock { ended in
                defer { ended = true }
                return !ended
            }
            if first { presence?.streamClosed(bookingID, participant: me) }
        }
        context.connectionClosed.whenComplete { _ in streamEnded() }
        session = await backInLobby(session, participant)
        // The current state first, so that a client that missed events (or the buffer) is right anyway.
        let view = LobbyView(session, participant: participant, policy: sessions.policy)
        var snapshot = [SSEFrame(event: "state", data: ["state": .string(session.state.rawValue), "enteredAt": LiveValue(view.enteredAt)])]
        if let url = view.joinUrl {
            snapshot.append(SSEFrame(event: "admitted", data: ["joinUrl": .string(url)]))
        }
        return ServerSentEvents.response(
            snapshot: snapshot, subscription: subscription, permit: permit,
            connectionClosed: context.connectionClosed, onEnd: streamEnded)
    }

    /// The citizen's cancel link: `token` is the cancel token of the link in the invitation.
    @Sendable func cancel(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let token = try token(context)
        guard let stored = try await sessions.store.session(cancelToken: token),
            SecureToken.constantTimeEquals(stored.session.access.cancelToken, token)
        else { throw Problem(.notFound, code: "unknown_token", title: "Unknown link") }
        switch stored.session.state {
        case .completed, .noShow:
            throw Problem(.gone, code: "closed", title: "The session is over")
        default:
            break
        }
        do {
            let session = try await sessions.cancel(stored.session.bookingID, by: .citizen)
            return try JSONResponse.make(["state": session.state.rawValue])
        } catch let error as SessionCommandError {
            throw Problem(error)
        }
    }

    /// A citizen who left the lobby (a closed page, a lost connection) and shows up again with their
    /// ticket (a stream, a poll) is back in the lobby.
    private func backInLobby(_ session: Session, _ participant: Participant) async -> Session {
        guard dependencies.presence != nil else { return session }
        let back: SessionEvent
        switch participant {
        case .citizen:
            guard session.state == .open || session.state == .late, session.lobby.enteredAt != nil else { return session }
            back = .citizenEntered
        case .companion(let id):
            guard !session.state.isTerminal, session.companions.first(where: { $0.id == id })?.leftAt != nil
            else { return session }
            back = .companionEntered(id)
        }
        return (try? await sessions.handle(back, for: session.bookingID, by: .citizen)) ?? session
    }

    /// The session and participant of a request that carries a valid lobby ticket for this link. The
    /// session is the lobby's copy when it is current (`SessionService.lobbySession`).
    private func ticketHolder(_ request: Request, _ context: GatewayRequestContext) async throws -> (Session, Participant) {
        let token = try token(context)
        guard let stored = try await sessions.lobbySession(joinToken: token),
            let participant = stored.session.participant(joinToken: token)
        else { throw Problem(.notFound, code: "unknown_token", title: "Unknown link") }
        let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        let ticket = bearer ?? request.cookies["lobby_ticket"]?.value
        let now = sessions.clock.now
        guard let ticket,
            dependencies.lobbyTickets.claims(of: ticket, sealer: sessions.sealer, now: now)?
                .participant(for: stored.session, now: now) == participant
        else {
            throw Problem(
                .unauthorized, code: "ticket_required", title: "Enter the validation code first",
                headers: [.wwwAuthenticate: "Bearer"])
        }
        return (stored.session, participant)
    }

    private func token(_ context: GatewayRequestContext) throws -> String {
        // Checked on the bytes: only ASCII letters, digits, `-` and `_` pass, so bytes are characters.
        guard let token = context.parameters.get("token"), (16...128).contains(token.utf8.count),
            token.utf8.allSatisfy({ byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == 0x2D || byte == 0x5F
            })
        else { throw Problem(.notFound, code: "unknown_token", title: "Unknown link") }
        return token
    }

    private struct EnterBody: Decodable {
        let code: String
    }
}

struct LobbyStateResource: Encodable, Sendable {
    let state: SessionState
    let bookingId: String
    /// `citizen`, or `companion-1`/`companion-2`.
    let participant: String
    let ticket: String
}

/// What the citizen's page may know, behind a lobby ticket.
struct LobbyView: Encodable, Sendable, Equatable {
    struct Message: Encodable, Sendable, Equatable {
        let id: String
        let text: String
        let at: String
    }

    let state: SessionState
    let bookingId: String
    let opensAt: String
    let startsAt: String
    let endsAt: String
    let enteredAt: String?
    let admittedAt: String?
    /// Only once admitted.
    let joinUrl: String?
    let messages: [Message]
    let position: String?

    init(_ session: Session, participant: Participant, policy: SessionPolicy, position: QueuePosition? = nil) {
        state = session.state
        bookingId = session.bookingID.rawValue
        opensAt = RFC3339.string(from: policy.joinWindowOpens(for: session.booking))
        startsAt = RFC3339.string(from: session.booking.startsAt)
        endsAt = RFC3339.string(from: session.booking.endsAt)
        switch participant {
        case .citizen:
            enteredAt = session.lobby.enteredAt.map(RFC3339.string(from:))
            admittedAt = session.lobby.admittedAt.map(RFC3339.string(from:))
            joinUrl = session.state == .inProgress ? session.lobby.citizenEntryURL : nil
        case .companion(let id):
            let companion = session.companions.first { $0.id == id }
            enteredAt = companion?.enteredAt.map(RFC3339.string(from:))
            admittedAt = companion?.admittedAt.map(RFC3339.string(from:))
            joinUrl = session.state.isTerminal ? nil : companion?.entryURL
        }
        messages = session.lobby.messages.map { Message(id: $0.id, text: $0.text, at: RFC3339.string(from: $0.at)) }
        self.position = position?.rawValue
    }

    enum CodingKeys: String, CodingKey {
        case state, bookingId, opensAt, startsAt, endsAt, enteredAt, admittedAt, joinUrl, messages, position
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(state, forKey: .state)
        try container.encode(bookingId, forKey: .bookingId)
        try container.encode(opensAt, forKey: .opensAt)
        try container.encode(startsAt, forKey: .startsAt)
        try container.encode(endsAt, forKey: .endsAt)
        try container.encode(enteredAt, forKey: .enteredAt)
        try container.encode(admittedAt, forKey: .admittedAt)
        try container.encode(joinUrl, forKey: .joinUrl)
        try container.encode(messages, forKey: .messages)
        try container.encode(position, forKey: .position)
    }
}
