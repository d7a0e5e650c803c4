import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import MeetingProviders
import SessionOrchestration

/// `…/v1/sessions`: the booking system's API (DESIGN §3), behind a scheduler key.
struct SchedulerRoutes: Sendable {
    let dependencies: GatewayHTTPDependencies

    private var sessions: SessionService { dependencies.sessions }

    func add(to group: RouterGroup<GatewayRequestContext>) {
        let group = group.add(middleware: SchedulerAuthenticator(keys: dependencies.schedulerKeys))
        group.get(use: list)
        group.put("{bookingId}", use: put)
        group.get("{bookingId}", use: get)
        group.delete("{bookingId}", use: cancel)
        group.post("{bookingId}/access-code", use: rotateAccessCode)
    }

    @Sendable func put(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let bookingID = try bookingID(context)
        if let contentType = request.headers[.contentType], !contentType.lowercased().hasPrefix("application/json") {
            throw Problem(
                .unsupportedMediaType, code: "unsupported_media_type", title: "Send application/json")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > GatewayRequestContext.maximumBodySize {
            throw Problem.payloadTooLarge
        }
        let bytes = try await request.body.collect(upTo: context.maxUploadSize)
        let body: SessionRequestBody
        do {
            body = try JSONDecoder().decode(SessionRequestBody.self, from: Data(buffer: bytes))
        } catch {
            throw Problem(.badRequest, code: "invalid_json", title: "The body is not a JSON object")
        }
        let validator = SessionRequestValidator(
            defaultProvider: dependencies.defaultProvider, policy: sessions.policy)
        let booking = try validator.booking(from: body, now: sessions.clock.now).get()
        do {
            switch try await sessions.put(booking, for: bookingID, by: context.schedulerActor) {
            case .created(let session, let code, let companionCodes):
                context.logger.info("session created", metadata: ["booking.id": "\(bookingID)"])
                return try JSONResponse.make(
                    resource(session, validationCode: code, companionCodes: companionCodes), status: .created)
            case .updated(let session, let companionCodes):
                return try JSONResponse.make(resource(session, companionCodes: companionCodes))
            case .unchanged(let session):
                return try JSONResponse.make(resource(session))
            }
        } catch let error as SessionCommandError {
            throw Problem(error)
        }
    }

    @Sendable func get(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let bookingID = try bookingID(context)
        guard let session = try await sessions.session(for: bookingID) else {
            throw Problem.sessionNotFound(bookingID.rawValue)
        }
        return try JSONResponse.make(resource(session))
    }

    @Sendable func cancel(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let bookingID = try bookingID(context)
        do {
            _ = try await sessions.cancel(bookingID, by: context.schedulerActor)
            context.logger.info("session cancelled", metadata: ["booking.id": "\(bookingID)"])
            return Response(status: .noContent)
        } catch let error as SessionCommandError {
            throw Problem(error)
        }
    }

    /// Optional body `{"participant": "citizen" | "companion-1" | "companion-2"}`; the citizen by default.
    struct RotationBody: Decodable {
        let participant: String?
    }

    @Sendable func rotateAccessCode(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let bookingID = try bookingID(context)
        let bytes = try await request.body.collect(upTo: context.maxUploadSize)
        var participant = Participant.citizen
        if bytes.readableBytes > 0 {
            guard let body = try? JSONDecoder().decode(RotationBody.self, from: Data(buffer: bytes)) else {
                throw Problem(.badRequest, code: "invalid_json", title: "The body is not a JSON object")
            }
            if let name = body.participant {
                guard let named = Participant(name) else {
                    throw Problem.validationFailed([
                        .init(field: "participant", message: "must be citizen, companion-1 or companion-2")
                    ])
                }
                participant = named
            }
        }
        do {
            let (_, code) = try await sessions.rotateAccessCode(
                for: bookingID, participant: participant, by: context.schedulerActor)
            context.logger.info(
                "access code rotated", metadata: ["booking.id": "\(bookingID)", "participant": "\(participant)"])
            return try JSONResponse.make(
                AccessCodeResource(
                    bookingId: bookingID.rawValue, validationCode: code,
                    participant: participant == .citizen ? nil : participant.description))
        } catch let error as SessionCommandError {
            throw Problem(error)
        }
    }

    @Sendable func list(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        var errors: [Problem.FieldError] = []
        var query = SessionQuery()
        func date(_ name: String) -> Date? {
            guard let raw = parameters.get(name) else { return nil }
            guard let date = RFC3339.date(from: raw) else {
                errors.append(.init(field: name, message: "must be an RFC 3339 date-time with an offset"))
                return nil
            }
            return date
        }
        query.from = date("from")
        query.to = date("to")
        query.service = parameters.get("service")
        if let service = query.service, service.isEmpty || !TextLimit.fits(service, maxLength: 100) {
            errors.append(.init(field: "service", message: "must be 1 to 100 Unicode code points"))
        }
        if let raw = parameters.get("state") {
            query.state = SessionState(rawValue: raw)
            if query.state == nil { errors.append(.init(field: "state", message: "is not a session state")) }
        }
        if let raw = parameters.get("cursor") {
            query.after = SessionCursor(token: raw)
            if query.after == nil { errors.append(.init(field: "cursor", message: "is not a cursor from this API")) }
        }
        if let raw = parameters.get("limit") {
            if let limit = Int(raw), (1...200).contains(limit) {
                query.limit = limit
            } else {
                errors.append(.init(field: "limit", message: "must be an integer from 1 to 200"))
            }
        }
        guard errors.isEmpty else { throw Problem.validationFailed(errors) }
        let requested = query.limit
        query.limit = requested + 1
        let found = try await sessions.store.sessions(matching: query).map(\.session)
        let page = Array(found.prefix(requested))
        let next = found.count > requested ? page.last.map { SessionCursor(after: $0).token } : nil
        return try JSONResponse.make(SessionPageResource(items: page.map { resource($0) }, nextCursor: next))
    }

    private func bookingID(_ context: GatewayRequestContext) throws -> BookingID {
        guard let raw = context.parameters.get("bookingId"), let id = BookingID(raw) else {
            throw Problem.invalidBookingID
        }
        return id
    }

    private func resource(
        _ session: Session, validationCode: String? = nil, companionCodes: [String: String] = [:]
    ) -> SessionResource {
        SessionResource(
            session, policy: sessions.policy, publicBaseURL: dependencies.publicBaseURL,
            validationCode: validationCode, companionCodes: companionCodes)
    }
}
