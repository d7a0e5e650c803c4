import Foundation
import GatewayCore

/// What a provider needs to know to set up a room. Carries no personal data.
public struct RoomSpec: Sendable, Equatable {
    public let bookingID: BookingID
    public let service: String
    public let startsAt: Date
    public let endsAt: Date
    /// No one may join before this time.
    public let opensAt: Date
    /// The room closes (and ejects everyone) at this time: the safety cap.
    public let expiresAt: Date

    public init(bookingID: BookingID, service: String, startsAt: Date, endsAt: Date, opensAt: Date, expiresAt: Date) {
        self.bookingID = bookingID
        self.service = service
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.opensAt = opensAt
        self.expiresAt = expiresAt
    }

    public init(session: Session, policy: SessionPolicy) {
        self.init(
            bookingID: session.bookingID, service: session.booking.service, startsAt: session.booking.startsAt,
            endsAt: session.booking.endsAt, opensAt: policy.joinWindowOpens(for: session.booking),
            expiresAt: policy.safetyCapReached(for: session.booking))
    }
}

/// A room as the provider answered, with recording read back.
public struct ProvisionedRoom: Sendable, Equatable {
    public let providerRoomID: String
    public let url: String?
    public let recording: RecordingReadback

    public init(providerRoomID: String, url: String?, recording: RecordingReadback) {
        self.providerRoomID = providerRoomID
        self.url = url
        self.recording = recording
    }
}

/// What the provider's answer says about recording.
public enum RecordingReadback: Sendable, Equatable {
    case off
    /// The answer shows recording enabled; the value is the provider's own setting.
    case on(String)
}

/// A participant's way into the room.
public struct RoomEntry: Sendable, Equatable {
    public let joinURL: String

    public init(joinURL: String) {
        self.joinURL = joinURL
    }
}

/// Typed failures of a provider call; the job worker decides from these whether to retry.
public enum ProviderError: Error, Sendable, Equatable {
    /// 429: retry after the given delay.
    case rateLimited(retryAfter: Duration?)
    /// 5xx, a timeout or a transport failure: retry with back-off.
    case unavailable(String)
    /// Credentials refused even after a refresh.
    case unauthorized(String)
    /// Any other 4xx: do not retry.
    case rejected(code: String, message: String)
    /// The answer could not be understood.
    case invalidResponse(String)

    public var isRetryable: Bool {
        switch self {
        case .rateLimited, .unavailable: true
        case .unauthorized, .rejected, .invalidResponse: false
        }
    }

    /// A stable machine code for the session's `room.error.code`.
    public var code: String {
        switch self {
        case .rateLimited: "provider_rate_limited"
        case .unavailable: "provider_unavailable"
        case .unauthorized: "provider_unauthorized"
        case .rejected(let code, _): code
        case .invalidResponse: "provider_invalid_response"
        }
    }

    public var message: String {
        switch self {
        case .rateLimited(let delay): "rate limited" + (delay.map { ", retry after \($0)" } ?? "")
        case .unavailable(let text), .unauthorized(let text), .invalidResponse(let text): text
        case .rejected(_, let text): text
        }
    }
}

/// Records a newly created room's provider id (see `MeetingProvider.createOrGetRoom`).
public typealias RoomCreated = @Sendable (_ providerRoomID: String) async throws -> Void

/// One external meeting provider behind the gateway (DESIGN §4).
public protocol MeetingProvider: Sendable {
    /// Creates the booking's room, or returns it when it already exists (safe to retry). `knownRoomID` is
    /// the room recorded by an earlier try; `roomCreated` is called as soon as the provider has created a
    /// room, before anything else can fail, so that a retry finds it instead of creating a second one.
    func createOrGetRoom(for spec: RoomSpec, knownRoomID: String?, roomCreated: RoomCreated) async throws
        -> ProvisionedRoom
    /// Moves the room to a new slot.
    func updateRoom(_ providerRoomID: String, for spec: RoomSpec) async throws -> ProvisionedRoom
    /// Ends any call in the room and deletes it; a room already gone is success.
    func deleteRoom(for spec: RoomSpec, providerRoomID: String?) async throws
    /// The citizen's entry, minted only on admission.
    func citizenEntry(for spec: RoomSpec, providerRoomID: String) async throws -> RoomEntry
    /// The attendant's (host's) entry.
    func hostEntry(for spec: RoomSpec, providerRoomID: String, attendantID: String) async throws -> RoomEntry
    /// Stops a recording running in the room; `false` when the provider has no API for it (the caller
    /// ends the room instead).
    func stopRecording(in providerRoomID: String) async throws -> Bool
    /// Reads the room's recording setting from the provider.
    func recordingState(of providerRoomID: String) async throws -> RecordingReadback
}

/// The providers a session may name, by name.
public struct ProviderRegistry: Sendable {
    public static let knownNames: Set<String> = ["simulator", "daily", "zoom", "msteams", "bigbluebutton"]

    private let providers: [String: any MeetingProvider]

    public init(_ providers: [String: any MeetingProvider]) {
        self.providers = providers
    }

    public func provider(named name: String) -> (any MeetingProvider)? {
        providers[name]
    }

    public var configuredNames: [String] { providers.keys.sorted() }
}
