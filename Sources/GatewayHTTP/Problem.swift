import Foundation
import Hummingbird

/// An RFC 9457 problem: every error answer of the gateway, with a stable machine `code`.
public struct Problem: Error, HTTPResponseError, Sendable {
    public struct FieldError: Codable, Sendable, Equatable {
        public let field: String
        public let message: String

        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }
    }

    public let status: HTTPResponse.Status
    public let code: String
    public let title: String
    public let detail: String?
    public let errors: [FieldError]?
    public let headers: HTTPFields
    /// Extra top-level members (e.g. `attemptsLeft`).
    public let extensions: [String: Int]
    /// Extra top-level text members (e.g. `opensAt`).
    public let textExtensions: [String: String]

    public init(
        _ status: HTTPResponse.Status, code: String, title: String, detail: String? = nil,
        errors: [FieldError]? = nil, headers: HTTPFields = [:], extensions: [String: Int] = [:],
        textExtensions: [String: String] = [:]
    ) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extensions = extensions
        self.textExtensions = textExtensions
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body = Body(
            type: "/problems/\(code)", title: title, status: Int(status.code), detail: detail, code: code,
            errors: errors)
        body.extensions = extensions
        body.textExtensions = textExtensions
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        return Response(
            status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try Self.encoder.encode(body))))
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private struct Body: Encodable {
        let type: String
        let title: String
        let status: Int
        let detail: String?
        let code: String
        let errors: [FieldError]?
        var extensions: [String: Int] = [:]
        var textExtensions: [String: String] = [:]

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(type, forKey: Key(stringValue: "type"))
            try container.encode(title, forKey: Key(stringValue: "title"))
            try container.encode(status, forKey: Key(stringValue: "status"))
            try container.encodeIfPresent(detail, forKey: Key(stringValue: "detail"))
            try container.encode(code, forKey: Key(stringValue: "code"))
            try container.encodeIfPresent(errors, forKey: Key(stringValue: "errors"))
            for (name, value) in extensions { try container.encode(value, forKey: Key(stringValue: name)) }
            for (name, value) in textExtensions { try container.encode(value, forKey: Key(stringValue: name)) }
        }
    }
}

extension Problem {
    static let unauthorized = Problem(
        .unauthorized, code: "unauthorized", title: "Missing or wrong credentials",
        headers: [.wwwAuthenticate: "Bearer"])

    static func sessionNotFound(_ id: String) -> Problem {
        Problem(.notFound, code: "session_not_found", title: "No session for this booking", detail: "booking \(id)")
    }

    static let invalidBookingID = Problem(
        .badRequest, code: "invalid_booking_id", title: "Invalid booking id",
        detail: "a booking id matches [A-Za-z0-9._-]{1,64}")

    static func validationFailed(_ errors: [FieldError]) -> Problem {
        Problem(.badRequest, code: "validation_failed", title: "The request is not valid", errors: errors)
    }

    static let payloadTooLarge = Problem(
        .contentTooLarge, code: "payload_too_large", title: "Request body too large",
        detail: "request bodies are limited to 64 KiB")
}
