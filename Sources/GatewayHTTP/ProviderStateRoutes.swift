import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import MeetingProviders
import SessionOrchestration

/// `POST /_test/provider-states`: sets up the named state of a contract interaction — the clock and the
/// sessions it needs. Registered only when the gateway runs with `TEST_PROVIDER_STATES=true` on a
/// loopback address (otherwise the route does not exist), and answered only to a request carrying
/// `TEST_PROVIDER_STATES_SECRET` in `Test-Provider-States-Secret` (a reverse proxy on the same host
/// does not open it to anyone).
struct ProviderStateRoutes: Sendable {
    let dependencies: GatewayHTTPDependencies
    let clock: FreezableClock

    private var sessions: SessionService { dependencies.sessions }

    func add(to router: Router<GatewayRequestContext>) {
        router.post("_test/provider-states", use: setUp)
    }

    /// The body the pact verifier sends: `{"state": …, "params": {…}, "action": "setup" | "teardown"}`.
    struct StateChange: Decodable {
        let state: String?
        let params: Params?
        let action: String?
    }

    /// `now` freezes the clock; `session` creates (or replaces) one session; `absent` removes one.
    struct Params: Decodable {
        let now: String?
        let session: SeedSession?
        let absent: String?
    }

    struct SeedSession: Decodable {
        let bookingId: String
        let state: String?
        let service: String?
        let startsAt: String?
        let endsAt: String?
        let attendantId: String?
        let joinToken: String?
        let cancelToken: String?
        let code: String?
        let roomReady: Bool?
        let phone: String?
        /// The citizen gave no phone number.
        let withoutPhone: Bool?
        /// The link is locked (five wrong codes) until this time.
        let lockedUntil: String?
    }

    @Sendable func setUp(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        guard let secret = dependencies.providerStatesSecret, let presented = request.headers[.init("Test-Provider-States-Secret")!],
            SecureToken.constantTimeEquals(secret, presented)
        else {
            throw Problem(
                .unauthorized, code: "provider_states_secret_required",
                title: "This test route needs the Test-Provider-States-Secret header")
        }
        let change = try await request.jsonBody(StateChange.self, context: context)
        guard change.action != "teardown" else { return try JSONResponse.make(["state": change.state ?? ""]) }
        let params = change.params
        if let now = params?.now {
            guard let date = RFC3339.date(from: now) else {
                throw Problem.validationFailed([.init(field: "params.now", message: "must be an RFC 3339 date-time")])
            }
            clock.freeze(at: date)
        }
        if let absent = params?.absent.flatMap(BookingID.init) {
            try await sessions.store.removeSession(absent)
            sessions.forgetLobbySession(absent, service: nil)
        }
        if let seed = params?.session {
            try await seedSession(seed)
        }
        context.logger.info("provider state set up", metadata: ["state": "\(change.state ?? "")"])
        return try JSONResponse.make(["state": change.state ?? ""])
    }

    private func seedSession(_ seed: SeedSession) async throws {
        guard let bookingID = BookingID(seed.bookingId) else { throw Problem.invalidBookingID }
        let now = clock.now
        let startsAt = seed.startsAt.flatMap(RFC3339.date(from:)) ?? now + .seconds(600)
        let endsAt = seed.endsAt.flatMap(RFC3339.date(from:)) ?? startsAt + .seconds(1800)
        let booking = Booking(
            service: seed.service ?? "prestacoes-familiares", startsAt: startsAt, endsAt: endsAt,
            provider: dependencies.defaultProvider, attendantID: seed.attendantId ?? "a-17",
            topic: Topic(theme: "Prestações", subtheme: "Abono de família", reason: "Pedido de informação"),
            citizen: Citizen(
                name: "Maria Sousa", email: "maria@example.pt",
                phone: seed.withoutPhone == true ? nil : seed.phone ?? "+351912345678"),
            notifyCitizen: false)
        var access = AccessCredentials.issue(using: sessions.codeHasher).0
        if let token = seed.joinToken { access.joinToken = token }
        if let token = seed.cancelToken { access.cancelToken = token }
        if let code = seed.code { access.codeHash = sessions.codeHasher.hash(code) }
        access.lockedUntil = seed.lockedUntil.flatMap(RFC3339.date(from:))
        var session = Session(bookingID: bookingID, booking: booking, access: access, createdAt: now)
        session.state = seed.state.flatMap(SessionState.init(rawValue:)) ?? .scheduled
        if seed.roomReady ?? true, let provider = sessions.providers.provider(named: booking.provider) {
            let room = try await provider.createOrGetRoom(
                for: RoomSpec(session: session, policy: sessions.policy), knownRoomID: nil, roomCreated: { _ in })
            session.room = Room(status: .ready, recording: .disabled, providerRoomID: room.providerRoomID, url: room.url)
        }
        switch session.state {
        case .waiting:
            session.lobby.enteredAt = now
        case .inProgress:
            session.lobby.enteredAt = now
            session.lobby.admittedAt = now
        case .completed:
            session.outcome = .resolved
        default:
            break
        }
        try await sessions.store.removeSession(bookingID)
        // The one write outside `SessionService.write`: a contract test's fixture, stored as it is (any state,
        // a locked link), which no event of the state machine makes. Seeded as the scheduler would have
        // created it, so that its audit trail starts the same way.
        let created = AuditRecord(
            bookingID: bookingID, at: now, actor: .scheduler, event: "created", fromState: nil, toState: session.state)
        try await sessions.store.apply(SessionChange(session: session, expectedVersion: nil, audit: [created]))
        // Removed and stored again, its version starts over: every copy of the lobby is dropped.
        sessions.forgetLobbySession(bookingID, service: nil)
        // A citizen the state says is waiting is in the lobby now, as if their page had just asked: the
        // presence check must not take them for gone before the interaction's request arrives.
        if session.state == .waiting {
            dependencies.presence?.polled(bookingID, participant: Participant.citizen.description)
        }
    }
}
