import Foundation
import GatewayCore
import Hummingbird
import SessionOrchestration

/// The two web pages (citizen waiting room, attendant console), the cancel page and their assets:
/// server-rendered templates with HTML-escaped values, strict security headers.
struct PageRoutes: Sendable {
    let dependencies: GatewayHTTPDependencies

    private var sessions: SessionService { dependencies.sessions }

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        .init("Referrer-Policy")!: "no-referrer",
        .init("X-Content-Type-Options")!: "nosniff",
        .init("Permissions-Policy")!: "camera=(self), microphone=(self)",
        .cacheControl: "no-store",
    ]

    func add(to router: Router<GatewayRequestContext>) {
        router.get("join/{token}", use: join)
        router.get("cancel/{token}", use: cancelPage)
        router.get("console", use: console)
        router.get("assets/{file}", use: asset)
    }

    @Sendable func join(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        // The citizen's link, or a companion's (an interpreter, a representative): each has its own page.
        guard let token = context.parameters.get("token"),
            let session = try await sessions.store.session(joinToken: token)?.session,
            session.participant(joinToken: token) != nil
        else { return try notFoundPage(request) }
        let language = Self.language(request, citizen: session.booking.citizen.locale)
        return try page(
            "join",
            [
                "lang": language, "title": language == "en" ? "Video appointment — waiting room" : "Atendimento por videochamada — sala de espera",
                "token": token, "state": session.state.rawValue,
                "opensAt": RFC3339.string(from: sessions.policy.joinWindowOpens(for: session.booking)),
                "startsAt": RFC3339.string(from: session.booking.startsAt),
                "endsAt": RFC3339.string(from: session.booking.endsAt),
                "startsAtText": DisplayText.appointmentTime(session.booking.startsAt, english: language == "en"),
                "helpPhone": dependencies.helpPhone, "service": session.booking.service,
            ])
    }

    @Sendable func cancelPage(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        guard let token = context.parameters.get("token"),
            let session = try await sessions.store.session(cancelToken: token)?.session,
            SecureToken.constantTimeEquals(session.access.cancelToken, token)
        else { return try notFoundPage(request) }
        let language = Self.language(request, citizen: session.booking.citizen.locale)
        return try page(
            "cancel",
            [
                "lang": language, "title": language == "en" ? "Cancel the video appointment" : "Cancelar o atendimento por videochamada",
                "token": token, "state": session.state.rawValue,
                "startsAtText": DisplayText.appointmentTime(session.booking.startsAt, english: language == "en"),
                "service": session.booking.service, "helpPhone": dependencies.helpPhone,
            ])
    }

    @Sendable func console(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let language = Self.language(request, citizen: nil)
        return try page(
            "console",
            ["lang": language, "title": language == "en" ? "Attendant console" : "Consola do técnico"])
    }

    @Sendable func asset(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        guard let file = context.parameters.get("file"), let bytes = Assets.bytes(file) else {
            throw Problem(.notFound, code: "not_found", title: "No such resource")
        }
        var headers = Self.securityHeaders
        headers[.contentType] = Assets.contentType(file)
        headers[.cacheControl] = "public, max-age=300"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private func page(_ name: String, _ values: [String: String]) throws -> Response {
        guard let template = Assets.template(name) else {
            throw Problem(.internalServerError, code: "internal_error", title: "Page missing")
        }
        let html = PageTemplate.render(template, values)
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    private func notFoundPage(_ request: Request) throws -> Response {
        let english = Self.language(request, citizen: nil) == "en"
        let html = """
            <!doctype html><html lang="\(english ? "en" : "pt-PT")"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(english ? "Unknown link" : "Ligação desconhecida")</title>
            <link rel="stylesheet" href="/assets/lobby.css"></head>
            <body><main><h1>\(english ? "Unknown link" : "Ligação desconhecida")</h1>
            <p>\(english ? "Check the link in your e-mail or call" : "Verifique a ligação no seu e-mail ou ligue") \(DisplayText.htmlEscaped(dependencies.helpPhone)).</p>
            </main></body></html>
            """
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: .notFound, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// `?lang=` first, then the citizen's locale, then `Accept-Language`; Portuguese by default.
    static func language(_ request: Request, citizen locale: String?) -> String {
        if let asked = request.uri.queryParameters.get("lang") { return asked.hasPrefix("en") ? "en" : "pt-PT" }
        if let locale { return locale.hasPrefix("en") ? "en" : "pt-PT" }
        let accepted = request.headers[.acceptLanguage]?.lowercased() ?? ""
        return accepted.hasPrefix("en") ? "en" : "pt-PT"
    }

}

/// The page templates and static assets shipped as resources.
enum Assets {
    private static let allowed = #"^[a-z0-9-]+\.(js|css|svg|png|ico)$"#

    static func bytes(_ file: String) -> [UInt8]? {
        guard file.range(of: allowed, options: .regularExpression) != nil,
            let url = Bundle.module.url(forResource: file, withExtension: nil, subdirectory: "assets"),
            let data = try? Data(contentsOf: url)
        else { return nil }
        return Array(data)
    }

    static func template(_ name: String) -> String? {
        guard let url = Bundle.module.url(forResource: name, withExtension: "html", subdirectory: "pages") else {
            return nil
        }
        return try? String(contentsOf: url, encoding: .utf8)
    }

    static func contentType(_ file: String) -> String {
        switch file.split(separator: ".").last {
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }
}
