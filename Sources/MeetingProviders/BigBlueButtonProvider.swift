import Crypto
import Foundation
import GatewayCore

#if canImport(FoundationXML)
import FoundationXML
#endif

/// BigBlueButton's API (providers.md §4): every call is a GET signed with a checksum over the call name,
/// the exact query string and the shared secret; answers are XML with a `returncode`.
///
/// `create` is idempotent on `meetingID` (the booking id), and BigBlueButton ends a meeting nobody joined
/// within minutes, so the gateway creates it when the room is provisioned and again on admission,
/// right before it signs the join URLs (citizens as guests who wait for the moderator).
public struct BigBlueButtonProvider: MeetingProvider {
    /// `meta_origin` of every meeting the gateway creates: how the reconciler tells them from others on
    /// the same server (BigBlueButton answers it as `<metadata><origin>`).
    public static let origin = "video-gateway"

    public enum ChecksumAlgorithm: String, Sendable, CaseIterable {
        case sha1, sha256, sha384, sha512

        /// Lowercase hex of the digest of `data` with this algorithm.
        func hexDigest(of data: Data) -> String {
            let digest: [UInt8] =
                switch self {
                case .sha1: Array(Insecure.SHA1.hash(data: data))
                case .sha256: Array(SHA256.hash(data: data))
                case .sha384: Array(SHA384.hash(data: data))
                case .sha512: Array(SHA512.hash(data: data))
                }
            return WebhookDigest.hex(digest)
        }
    }

    public struct Configuration: Sendable {
        /// For example `https://bbb.example.org/bigbluebutton/api`.
        public var apiURL: URL
        public var secret: String
        public var checksumAlgorithm: ChecksumAlgorithm
        public var timeout: Duration

        public init(
            apiURL: URL, secret: String, checksumAlgorithm: ChecksumAlgorithm = .sha256,
            timeout: Duration = .seconds(10)
        ) {
            self.apiURL = apiURL
            self.secret = secret
            self.checksumAlgorithm = checksumAlgorithm
            self.timeout = timeout
        }
    }

    private let configuration: Configuration
    private let http: ProviderHTTP
    private let clock: any GatewayClock

    public init(configuration: Configuration, transport: any HTTPTransport, clock: any GatewayClock) {
        self.configuration = configuration
        http = ProviderHTTP(provider: "bigbluebutton", transport: transport, timeout: configuration.timeout)
        self.clock = clock
    }

    /// `hex(sha(call + queryString + secret))` (providers.md §4.1).
    public static func checksum(call: String, query: String, secret: String, algorithm: ChecksumAlgorithm) -> String {
        algorithm.hexDigest(of: Data((call + query + secret).utf8))
    }

    /// The signed URL of a call: the parameters in the given order, then the checksum of exactly that
    /// query string.
    public func signedURL(_ call: String, _ parameters: [(String, String)]) -> URL {
        let query = FormEncoding.encode(parameters)
        let checksum = Self.checksum(
            call: call, query: query, secret: configuration.secret, algorithm: configuration.checksumAlgorithm)
        let base = configuration.apiURL.appendingPathComponent(call).absoluteString
        return URL(string: "\(base)?\(query)\(query.isEmpty ? "" : "&")checksum=\(checksum)")!
    }

    public func createOrGetRoom(for spec: RoomSpec, knownRoomID: String?, roomCreated: RoomCreated) async throws
        -> ProvisionedRoom
    {
        _ = try await create(spec)
        try await roomCreated(spec.bookingID.rawValue)
        return ProvisionedRoom(
            providerRoomID: spec.bookingID.rawValue, url: nil,
            recording: try await recordingState(of: spec.bookingID.rawValue))
    }

    /// BigBlueButton has no update call and a repeated create leaves a running meeting as it is; a new
    /// slot's duration takes effect when the meeting is created again on admission.
    public func updateRoom(_ providerRoomID: String, for spec: RoomSpec) async throws -> ProvisionedRoom {
        try await createOrGetRoom(for: spec, knownRoomID: providerRoomID, roomCreated: { _ in })
    }

    public func deleteRoom(for spec: RoomSpec, providerRoomID: String?) async throws {
        try await endMeeting(providerRoomID ?? spec.bookingID.rawValue)
    }

    /// `end`: BigBlueButton has no delete; a meeting that is not running (`notFound`) is already ended.
    func endMeeting(_ meetingID: String) async throws {
        let answer = try await call("end", [("meetingID", meetingID)])
        if answer.succeeded || answer.messageKey == "notFound" { return }
        throw answer.error
    }

    public func citizenEntry(for spec: RoomSpec, providerRoomID: String) async throws -> RoomEntry {
        let meeting = try await create(spec)
        return RoomEntry(
            joinURL: signedURL(
                "join",
                [
                    ("fullName", "Cidadão"), ("meetingID", providerRoomID), ("role", "VIEWER"), ("guest", "true"),
                    ("createTime", meeting.createTime),
                ]
            ).absoluteString)
    }

    public func hostEntry(for spec: RoomSpec, providerRoomID: String, attendantID: String) async throws -> RoomEntry {
        let meeting = try await create(spec)
        return RoomEntry(
            joinURL: signedURL(
                "join",
                [
                    ("fullName", "Atendimento"), ("meetingID", providerRoomID), ("role", "MODERATOR"),
                    ("userID", attendantID), ("createTime", meeting.createTime),
                ]
            ).absoluteString)
    }

    /// BigBlueButton's API has no call that stops a recording (providers.md §4.4).
    public func stopRecording(in providerRoomID: String) async throws -> Bool { false }

    /// `getMeetingInfo`'s `<recording>`; a meeting that is not running records nothing.
    public func recordingState(of providerRoomID: String) async throws -> RecordingReadback {
        let answer = try await call("getMeetingInfo", [("meetingID", providerRoomID)])
        if answer.messageKey == "notFound" { return .off }
        guard answer.succeeded else { throw answer.error }
        let recording = answer.fields["recording"]
        return recording == "false" ? .off : .on("recording=\(recording ?? "not reported")")
    }

    // MARK: Wire

    private struct CreatedMeeting {
        let createTime: String
    }

    private func create(_ spec: RoomSpec) async throws -> CreatedMeeting {
        let minutes = Int((spec.expiresAt.timeIntervalSince(max(clock.now, spec.opensAt)) / 60).rounded(.up))
        let answer = try await call(
            "create",
            [
                ("name", String("\(spec.service) \(spec.bookingID.rawValue)".prefix(64))),
                ("meetingID", spec.bookingID.rawValue),
                ("record", "false"), ("autoStartRecording", "false"), ("allowStartStopRecording", "false"),
                ("guestPolicy", "ASK_MODERATOR"), ("duration", String(max(1, minutes))),
                ("meta_origin", Self.origin),
            ])
        guard answer.succeeded else { throw answer.error }
        guard let createTime = answer.fields["createTime"] else {
            throw ProviderError.invalidResponse("bigbluebutton: create answered without createTime")
        }
        return CreatedMeeting(createTime: createTime)
    }

    private func call(_ name: String, _ parameters: [(String, String)]) async throws -> BBBAnswer {
        let response = try await signedGet(name, parameters)
        guard let answer = BBBAnswer(xml: response.body) else {
            throw ProviderError.invalidResponse("bigbluebutton: \(name) answered with something that is not its XML")
        }
        return answer
    }

    /// A signed GET of `name`, answered 200 (any other status is the typed failure).
    func signedGet(_ name: String, _ parameters: [(String, String)]) async throws -> HTTPResponse {
        let response = try await http.send("GET", signedURL(name, parameters))
        guard response.status == 200 else { throw http.failure(response) }
        return response
    }
}

/// A BigBlueButton XML answer: the text of each child of `<response>`, read with a real XML parser.
struct BBBAnswer {
    let fields: [String: String]

    var succeeded: Bool { fields["returncode"] == "SUCCESS" }
    var messageKey: String? { fields["messageKey"].flatMap { $0.isEmpty ? nil : $0 } }

    /// `FAILED` as a typed error: a wrong secret is unauthorized, everything else is a refusal.
    var error: ProviderError {
        let key = messageKey ?? "unknown"
        if key == "checksumError" {
            return .unauthorized("bigbluebutton FAILED: checksumError (the shared secret differs)")
        }
        return .rejected(code: "provider_rejected", message: "bigbluebutton FAILED: \(key)")
    }

    init?(xml: Data) {
        let reader = ResponseReader()
        let parser = XMLParser(data: xml)
        parser.delegate = reader
        guard parser.parse(), reader.rootName == "response", reader.fields["returncode"] != nil else { return nil }
        fields = reader.fields
    }
}

private final class ResponseReader: NSObject, XMLParserDelegate {
    var rootName: String?
    var fields: [String: String] = [:]
    private var depth = 0
    private var current: String?
    private var text = ""

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        depth += 1
        if depth == 1 { rootName = elementName }
        if depth == 2 {
            current = elementName
            text = ""
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if depth == 2 { text += string }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        if depth == 2, let current {
            fields[current] = text.trimmingCharacters(in: .whitespacesAndNewlines)
            self.current = nil
        }
        depth -= 1
    }
}
