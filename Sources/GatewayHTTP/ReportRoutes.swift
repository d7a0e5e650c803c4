import Foundation
import GatewayCore
import Hummingbird
import SessionOrchestration

/// Management reports and a booking's audit trail, for the scheduler and for supervisors (their
/// services only).
struct ReportRoutes: Sendable {
    let dependencies: GatewayHTTPDependencies

    /// The longest range one report covers.
    static let maximumDays = 731

    func add(to router: Router<GatewayRequestContext>) {
        let authenticator = OversightAuthenticator(
            schedulerKeys: dependencies.schedulerKeys.map(SchedulerKey.init), attendants: dependencies.attendants)
        router.group("v1/reports").add(middleware: authenticator).get("summary", use: summary)
        router.group("v1/sessions").add(middleware: authenticator).get("{bookingId}/audit", use: audit)
    }

    @Sendable func summary(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var errors: [Problem.FieldError] = []
        let today = ReportFigures.day(of: dependencies.sessions.clock.now)
        let to = Self.day(query.get("to"), field: "to", errors: &errors) ?? Self.adding(1, to: today)
        let from = Self.day(query.get("from"), field: "from", errors: &errors) ?? Self.adding(-7, to: to)
        if errors.isEmpty, from >= to {
            errors.append(.init(field: "to", message: "must be after from"))
        } else if errors.isEmpty, Self.adding(Self.maximumDays, to: from) < to {
            errors.append(.init(field: "to", message: "a report covers at most \(Self.maximumDays) days"))
        }
        let service = query.get("service").flatMap { $0.isEmpty ? nil : $0 }
        if let service, service.unicodeScalars.count > 200 {
            errors.append(.init(field: "service", message: "must be at most 200 characters"))
        }
        guard errors.isEmpty else { throw Problem.validationFailed(errors) }
        let services = try context.requireOversight().services(narrowedTo: service)
        let sums = try await dependencies.sessions.store.reportCounts(fromDay: from, toDay: to, services: services)
        let rows = sums.keys.sorted().map { ReportRow(key: $0, counts: sums[$0] ?? [:]) }
        if Self.wantsCSV(request) {
            let lines = [ReportRow.csvHeader] + rows.map(\.csvFields)
            let text = lines.map { $0.map(Self.csvField).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/csv; charset=utf-8; header=present",
                    .contentDisposition: "attachment; filename=\"report-\(from)-\(to).csv\"",
                ],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        return try JSONResponse.make(ReportResource(from: from, to: to, service: service, rows: rows))
    }

    @Sendable func audit(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let raw = try context.parameters.require("bookingId")
        guard let bookingID = BookingID(raw) else { throw Problem.invalidBookingID }
        guard let session = try await dependencies.sessions.session(for: bookingID) else {
            throw Problem.sessionNotFound(raw)
        }
        _ = try context.requireOversight().services(narrowedTo: session.booking.service)
        let records = try await dependencies.sessions.store.auditTrail(for: bookingID)
        return try JSONResponse.make(
            AuditResource(bookingId: raw, events: records.map(AuditResource.Event.init)))
    }

    private static func wantsCSV(_ request: Request) -> Bool {
        (request.headers[.accept] ?? "").lowercased().contains("text/csv")
    }

    /// Quotes a CSV field when it needs it (RFC 4180), and keeps spreadsheet formulas from running.
    private static func csvField(_ value: String) -> String {
        var text = value
        if let first = text.first, "=+-@".contains(first), Int(text) == nil { text = "'" + text }
        guard text.contains(where: { ",\"\r\n".contains($0) }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func day(_ raw: String?, field: String, errors: inout [Problem.FieldError]) -> String? {
        guard let raw else { return nil }
        guard let date = dayFormatter.date(from: raw), dayFormatter.string(from: date) == raw else {
            errors.append(.init(field: field, message: "must be a date such as 2026-12-01"))
            return nil
        }
        return raw
    }

    private static func adding(_ days: Int, to day: String) -> String {
        guard let date = dayFormatter.date(from: day) else { return day }
        return dayFormatter.string(from: date.addingTimeInterval(TimeInterval(days) * 86400))
    }

    /// Calendar days as such (UTC arithmetic on `YYYY-MM-DD`, no time zone shifts).
    private static let dayFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.isLenient = false
        return formatter
    }()
}

/// Who may read reports and audit trails: the scheduler, or an attendant with the supervisor role.
enum Oversight: Sendable {
    case scheduler
    case supervisor(AttendantIdentity)

    /// The services a reader may see, narrowed to `service` when given (`nil`: all services); 403 when
    /// a supervisor asks for a service that is not theirs.
    func services(narrowedTo service: String?) throws -> Set<String>? {
        switch self {
        case .scheduler:
            return service.map { [$0] }
        case .supervisor(let attendant):
            let all = attendant.services.contains("*")
            if let service {
                guard all || attendant.services.contains(service) else { throw Problem.notYourService }
                return [service]
            }
            return all ? nil : attendant.services
        }
    }
}

/// Accepts a scheduler key or a supervisor's attendant token.
struct OversightAuthenticator: RouterMiddleware {
    let schedulerKeys: [SchedulerKey]
    let attendants: AttendantTokenVerifier

    func handle(
        _ request: Request, context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw Problem.unauthorized
        }
        let presented = String(header.dropFirst("Bearer ".count))
        var context = context
        if let matched = SchedulerKey.matching(presented, in: schedulerKeys) {
            context.oversight = .scheduler
            context.schedulerActor = matched.actor
        } else if let attendant = await attendants.attendant(from: presented) {
            guard attendant.isSupervisor else {
                throw Problem(.forbidden, code: "forbidden", title: "Reports and audit trails are for supervisors")
            }
            context.oversight = .supervisor(attendant)
        } else {
            throw Problem.unauthorized
        }
        return try await next(request, context)
    }
}

extension GatewayRequestContext {
    func requireOversight() throws -> Oversight {
        guard let oversight else { throw Problem.unauthorized }
        return oversight
    }
}

extension Problem {
    static let notYourService = Problem(
        .forbidden, code: "forbidden", title: "This service is not one of the supervisor's services")
}

struct ReportResource: Encodable {
    let from: String
    let to: String
    let service: String?
    let rows: [ReportRow]

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(service, forKey: .service)  // null when every service is included
        try container.encode(rows, forKey: .rows)
    }

    enum CodingKeys: String, CodingKey { case from, to, service, rows }
}

struct AuditResource: Encodable {
    struct Event: Encodable {
        let at: String
        let actor: String
        let event: String
        let fromState: String?
        let toState: String

        init(_ record: AuditRecord) {
            at = RFC3339.string(from: record.at)
            actor = record.actor.description
            event = record.event
            fromState = record.fromState?.rawValue
            toState = record.toState.rawValue
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(at, forKey: .at)
            try container.encode(actor, forKey: .actor)
            try container.encode(event, forKey: .event)
            try container.encode(fromState, forKey: .fromState)
            try container.encode(toState, forKey: .toState)
        }

        enum CodingKeys: String, CodingKey { case at, actor, event, fromState, toState }
    }

    let bookingId: String
    let events: [Event]
}
