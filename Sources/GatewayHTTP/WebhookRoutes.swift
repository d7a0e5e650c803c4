import Crypto
import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import SessionOrchestration

/// The secrets that authenticate each provider's webhooks; a provider without one has no webhook.
public struct WebhookSecrets: Sendable {
    /// Daily's webhook `hmac`, base64 as Daily gives it.
    public var daily: String?
    /// Zoom's secret token.
    public var zoom: String?
    /// BigBlueButton's shared secret, the checksum algorithm (`sha1`, `sha256`, `sha384`, `sha512`) and the
    /// callback URL the hooks were registered with.
    public var bigBlueButton: (secret: String, algorithm: String, callbackURL: String)?
    /// The `clientState` of the gateway's Microsoft Graph subscriptions.
    public var graphClientState: String?
    /// How old a signed event may be.
    public var tolerance: TimeInterval = 300
    /// How long a receipt is kept to recognise a redelivery: the replay window on both sides of now
    /// (a timestamp may be up to `tolerance` ahead); older events are refused as stale anyway.
    public var receiptRetention: TimeInterval { 2 * tolerance }

    public init(
        daily: String? = nil, zoom: String? = nil,
        bigBlueButton: (secret: String, algorithm: String, callbackURL: String)? = nil, graphClientState: String? = nil
    ) {
        self.daily = daily
        self.zoom = zoom
        self.bigBlueButton = bigBlueButton
        self.graphClientState = graphClientState
    }
}

/// `POST /v1/webhooks/{provider}`: each event is verified on its raw bytes before it is parsed (401
/// otherwise, or when its timestamp is more than 5 minutes off), received once (deduplicated by event
/// id), and answered at once; a recording that started ends the room.
struct WebhookRoutes: Sendable {
    let dependencies: GatewayHTTPDependencies

    private var sessions: SessionService { dependencies.sessions }
    private var secrets: WebhookSecrets { dependencies.webhookSecrets }

    func add(to router: Router<GatewayRequestContext>) {
        router.post("v1/webhooks/{provider}", use: receive)
    }

    /// What a verified event means for the gateway.
    enum Meaning: Equatable {
        case recordingStarted
        case participantJoined
        case participantLeft
        case meetingEnded
        case other(String)
    }

    /// A verified event: its id (for deduplication), what it means, and the provider's room id it
    /// names (Daily's room name, Zoom's meeting id, BigBlueButton's external meeting id), if any.
    struct Event {
        let id: String
        let meaning: Meaning
        let roomID: String?
        /// For participant events: whether the provider names them the room's owner (the host).
        var isHost: Bool? = nil
    }

    @Sendable func receive(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let provider = context.parameters.get("provider") ?? ""
        let raw = Data(buffer: try await request.body.collect(upTo: context.maxUploadSize))
        let event: Event
        switch provider {
        case "daily":
            guard let secret = secrets.daily else { throw Self.unknownProvider }
            try verifyDaily(request, raw, secret: secret)
            event = try DailyWebhook.parse(raw)
        case "zoom":
            guard let secret = secrets.zoom else { throw Self.unknownProvider }
            try verifyZoom(request, raw, secret: secret)
            if let challenge = try? JSONDecoder().decode(ZoomWebhook.Validation.self, from: raw),
                challenge.event == "endpoint.url_validation"
            {
                return try JSONResponse.make(
                    ["plainToken": challenge.payload.plainToken,
                     "encryptedToken": Self.hexHMAC(key: Data(secret.utf8), Data(challenge.payload.plainToken.utf8))])
            }
            event = try ZoomWebhook.parse(raw)
        case "bigbluebutton":
            guard let bbb = secrets.bigBlueButton else { throw Self.unknownProvider }
            try verifyBigBlueButton(request, raw, bbb)
            event = try BigBlueButtonWebhook.parse(raw, now: sessions.clock.now, tolerance: secrets.tolerance)
        case "msteams":
            guard let clientState = secrets.graphClientState else { throw Self.unknownProvider }
            if let token = request.uri.queryParameters.get("validationToken") {
                return Response(
                    status: .ok,
                    headers: [.contentType: "text/plain; charset=utf-8", .init("X-Content-Type-Options")!: "nosniff"],
                    body: .init(byteBuffer: ByteBuffer(string: String(token).replacingOccurrences(of: "+", with: " "))))
            }
            event = try GraphWebhook.parse(raw, clientState: clientState)
        default:
            throw Self.unknownProvider
        }
        // An event that names no room of this provider is answered and forgotten: nothing is stored.
        guard let session = try await session(named: event, by: provider) else {
            context.logger.info("webhook for no known session", metadata: ["provider": "\(provider)"])
            return try JSONResponse.make(["received": true])
        }
        let now = sessions.clock.now
        let receipt = WebhookReceipt(
            provider: provider, eventID: event.id, at: now, forgettingBefore: now - secrets.receiptRetention)
        if event.meaning == .recordingStarted {
            try await stopRecording(for: session, receipt: receipt, context: context)
        } else if try await sessions.store.recordWebhookReceipt(
            provider: provider, eventID: event.id, at: now, forgettingBefore: receipt.forgettingBefore)
        {
            context.logger.info(
                "webhook", metadata: ["provider": "\(provider)", "booking.id": "\(session.bookingID)", "event": "\(event.meaning)"])
            publishCallPresence(event, in: session)
        }
        return try JSONResponse.make(["received": true])
    }

    /// Someone joined or left the call: the attendants' console is told (`call.participant`), so a citizen
    /// who dropped out of the call is seen. The receipt is stored first, so a redelivery says nothing twice.
    private func publishCallPresence(_ event: Event, in session: Session) {
        let presence: String
        switch event.meaning {
        case .participantJoined: presence = "joined"
        case .participantLeft: presence = "left"
        default: return
        }
        let role = event.isHost.map { $0 ? "host" : "guest" } ?? "participant"
        sessions.liveEvents.publish(
            "call.participant", to: .attendants, about: session,
            data: ["bookingId": .string(session.bookingID.rawValue), "role": .string(role), "presence": .string(presence)])
    }

    /// The session whose room the event names, only when that session is on this provider: the room id
    /// is the only key (never a topic or other free text), and another provider's session is never touched.
    private func session(named event: Event, by provider: String) async throws -> Session? {
        guard let roomID = event.roomID, !roomID.isEmpty,
            let session = try await sessions.store.session(providerRoomID: roomID)?.session,
            session.booking.provider == provider, session.room.providerRoomID == roomID
        else { return nil }
        return session
    }

    /// A recording that started: the receipt and the session change that stops it are one transaction,
    /// so the provider is answered 200 only once the effect is stored; a failed write is a 5xx, and the
    /// provider's redelivery is acted on. A redelivery of an event already acted on is answered 200.
    private func stopRecording(for session: Session, receipt: WebhookReceipt, context: GatewayRequestContext)
        async throws
    {
        context.logger.error(
            "recording started at the provider; stopping it", metadata: ["booking.id": "\(session.bookingID)"])
        do {
            _ = try await sessions.handle(.recordingStarted, for: session.bookingID, by: .provider, receipt: receipt)
        } catch StoreError.duplicateWebhookEvent {
            context.logger.info("recording event received before; already acted on")
        }
    }

    // MARK: Verification on the raw bytes

    private func verifyDaily(_ request: Request, _ raw: Data, secret: String) throws {
        guard let timestamp = request.headers[.init("X-Webhook-Timestamp")!], let signature = request.headers[.init("X-Webhook-Signature")!],
            let key = Data(base64Encoded: secret)
        else { throw Self.invalidSignature }
        let expected = Data(HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).".utf8) + raw, using: SymmetricKey(data: key)))
            .base64EncodedString()
        guard SecureToken.constantTimeEquals(expected, signature) else { throw Self.invalidSignature }
        try checkFreshness(seconds: TimeInterval(timestamp))
    }

    private func verifyZoom(_ request: Request, _ raw: Data, secret: String) throws {
        guard let timestamp = request.headers[.init("x-zm-request-timestamp")!], let signature = request.headers[.init("x-zm-signature")!]
        else { throw Self.invalidSignature }
        let expected = "v0=" + Self.hexHMAC(key: Data(secret.utf8), Data("v0:\(timestamp):".utf8) + raw)
        guard SecureToken.constantTimeEquals(expected, signature) else { throw Self.invalidSignature }
        try checkFreshness(seconds: TimeInterval(timestamp))
    }

    private func verifyBigBlueButton(_ request: Request, _ raw: Data, _ bbb: (secret: String, algorithm: String, callbackURL: String)) throws {
        guard let checksum = request.uri.queryParameters.get("checksum") else { throw Self.invalidSignature }
        let message = Data(bbb.callbackURL.utf8) + raw + Data(bbb.secret.utf8)
        let expected: String
        switch bbb.algorithm {
        case "sha1": expected = Insecure.SHA1.hash(data: message).map { String(format: "%02x", $0) }.joined()
        case "sha256": expected = SHA256.hash(data: message).map { String(format: "%02x", $0) }.joined()
        case "sha384": expected = SHA384.hash(data: message).map { String(format: "%02x", $0) }.joined()
        case "sha512": expected = SHA512.hash(data: message).map { String(format: "%02x", $0) }.joined()
        default: throw Self.invalidSignature  // refused at start; never a silent fallback
        }
        guard SecureToken.constantTimeEquals(expected, String(checksum)) else { throw Self.invalidSignature }
    }

    private func checkFreshness(seconds: TimeInterval?) throws {
        guard let seconds else { throw Self.invalidSignature }
        guard abs(sessions.clock.now.timeIntervalSince1970 - seconds) <= secrets.tolerance else { throw Self.staleTimestamp }
    }

    static func hexHMAC(key: Data, _ message: Data) -> String {
        HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)).map { String(format: "%02x", $0) }.joined()
    }

    static let invalidSignature = Problem(.unauthorized, code: "invalid_signature", title: "Invalid signature")
    static let staleTimestamp = Problem(.unauthorized, code: "stale_timestamp", title: "Stale timestamp")
    static let unknownProvider = Problem(.notFound, code: "unknown_provider", title: "No webhook for this provider")
    static let unreadable = Problem(.badRequest, code: "invalid_event", title: "The event could not be read")
}

/// Daily's envelope: `{version, type, id, payload, event_ts}`.
enum DailyWebhook {
    struct Envelope: Decodable {
        struct Payload: Decodable {
            let room: String?
            let room_name: String?
            /// Participant events: whether the participant's meeting token made them the room's owner.
            let owner: Bool?
        }
        let id: String
        let type: String
        let payload: Payload?
    }

    static func parse(_ raw: Data) throws -> WebhookRoutes.Event {
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: raw) else { throw WebhookRoutes.unreadable }
        let meaning: WebhookRoutes.Meaning
        switch envelope.type {
        case "recording.started": meaning = .recordingStarted
        case "participant.joined", "waiting-participant.joined": meaning = .participantJoined
        case "participant.left", "waiting-participant.left": meaning = .participantLeft
        case "meeting.ended": meaning = .meetingEnded
        default: meaning = .other(envelope.type)
        }
        return .init(
            id: envelope.id, meaning: meaning, roomID: envelope.payload?.room ?? envelope.payload?.room_name,
            isHost: envelope.payload?.owner)
    }
}

/// Zoom's `{event, event_ts, payload: {object: {id, topic}}}`.
enum ZoomWebhook {
    struct Validation: Decodable {
        struct Payload: Decodable { let plainToken: String }
        let event: String
        let payload: Payload
    }

    struct Envelope: Decodable {
        struct Payload: Decodable {
            struct Object: Decodable {
                let id: FlexibleID?
                let topic: String?
            }
            let object: Object?
        }
        let event: String
        let payload: Payload?
    }

    /// Zoom sends meeting ids as numbers, sometimes as strings.
    struct FlexibleID: Decodable {
        let value: String
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int64.self) { value = String(number) } else { value = try container.decode(String.self) }
        }
    }

    static func parse(_ raw: Data) throws -> WebhookRoutes.Event {
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: raw) else { throw WebhookRoutes.unreadable }
        let meaning: WebhookRoutes.Meaning
        switch envelope.event {
        case "recording.started": meaning = .recordingStarted
        case "meeting.participant_joined": meaning = .participantJoined
        case "meeting.participant_left": meaning = .participantLeft
        case "meeting.ended": meaning = .meetingEnded
        default: meaning = .other(envelope.event)
        }
        return .init(
            id: "sha256:" + SHA256.hash(data: raw).map { String(format: "%02x", $0) }.joined(), meaning: meaning,
            roomID: envelope.payload?.object?.id?.value)
    }
}

/// bbb-webhooks: a form body with `event` (a JSON array) and `timestamp` (milliseconds).
enum BigBlueButtonWebhook {
    struct Item: Decodable {
        struct Data: Decodable {
            struct Attributes: Decodable {
                struct Meeting: Decodable {
                    let externalMeetingID: String?
                    enum CodingKeys: String, CodingKey { case externalMeetingID = "external-meeting-id" }
                }
                let meeting: Meeting?
            }
            let id: String
            let attributes: Attributes?
        }
        let data: Data
    }

    static func parse(_ raw: Data, now: Date, tolerance: TimeInterval) throws -> WebhookRoutes.Event {
        var components = URLComponents()
        components.percentEncodedQuery = String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "+", with: "%20")
        let fields = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
        guard let milliseconds = fields["timestamp"].flatMap(Double.init) else { throw WebhookRoutes.unreadable }
        guard abs(now.timeIntervalSince1970 - milliseconds / 1000) <= tolerance else { throw WebhookRoutes.staleTimestamp }
        guard let json = fields["event"], let items = try? JSONDecoder().decode([Item].self, from: Foundation.Data(json.utf8)),
            let item = items.first
        else { throw WebhookRoutes.unreadable }
        let meaning: WebhookRoutes.Meaning
        switch item.data.id {
        case "meeting-recording-started", "rap-archive-started": meaning = .recordingStarted
        case "user-joined": meaning = .participantJoined
        case "user-left": meaning = .participantLeft
        case "meeting-ended": meaning = .meetingEnded
        default: meaning = .other(item.data.id)
        }
        return .init(
            id: "sha256:" + SHA256.hash(data: raw).map { String(format: "%02x", $0) }.joined(), meaning: meaning,
            roomID: item.data.attributes?.meeting?.externalMeetingID)
    }
}

/// Microsoft Graph change notifications: `{value: [{subscriptionId, clientState, resource, resourceData}]}`
/// (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks). A recording notification
/// names its meeting in `resource` (and `resourceData.@odata.id`) as
/// `communications/onlineMeetings('{meetingId}')/recordings('{recordingId}')`
/// (https://learn.microsoft.com/graph/teams-changenotifications-callrecording-and-calltranscript); that
/// meeting id is the session's `room.providerRoomID`. Lifecycle notifications (`lifecycleEvent`) name no
/// resource, so they reach no session.
enum GraphWebhook {
    struct Notifications: Decodable {
        struct Notification: Decodable {
            struct ResourceData: Decodable {
                let odataType: String?
                let odataID: String?
                let eventType: String?
                enum CodingKeys: String, CodingKey {
                    case odataType = "@odata.type"
                    case odataID = "@odata.id"
                    case eventType
                }
            }
            let subscriptionId: String?
            let clientState: String?
            let resource: String?
            let resourceData: ResourceData?
            let lifecycleEvent: String?

            var isRecording: Bool { resourceData?.odataType?.lowercased().contains("callrecording") == true }
        }
        let value: [Notification]
    }

    static func parse(_ raw: Data, clientState: String) throws -> WebhookRoutes.Event {
        guard let notifications = try? JSONDecoder().decode(Notifications.self, from: raw), !notifications.value.isEmpty
        else { throw WebhookRoutes.unreadable }
        // Every notification must carry our clientState (Graph's proof of origin for basic notifications).
        guard notifications.value.allSatisfy({ SecureToken.constantTimeEquals($0.clientState ?? "", clientState) }) else {
            throw WebhookRoutes.invalidSignature
        }
        // Graph may batch notifications: a recording among them is the one acted on.
        let notification = notifications.value.first(where: \.isRecording) ?? notifications.value[0]
        let meaning: WebhookRoutes.Meaning
        switch (notification.isRecording, notification.resourceData?.eventType ?? "", notification.lifecycleEvent) {
        case (true, _, _): meaning = .recordingStarted
        case (_, _, let lifecycle?): meaning = .other(lifecycle)
        case (_, "Microsoft.Communication.CallEnded", _): meaning = .meetingEnded
        case (_, let event, _): meaning = .other(event)
        }
        return .init(
            id: "sha256:" + SHA256.hash(data: raw).map { String(format: "%02x", $0) }.joined(), meaning: meaning,
            roomID: meetingID(in: notification.resource) ?? meetingID(in: notification.resourceData?.odataID))
    }

    /// The key of `onlineMeetings('…')` in a resource path; nil when the path names no meeting by its id
    /// (a meeting call event names it by `joinWebUrl` instead).
    static func meetingID(in resource: String?) -> String? {
        guard let resource, let open = resource.range(of: "onlineMeetings('") else { return nil }
        let rest = resource[open.upperBound...]
        guard let close = rest.range(of: "')") else { return nil }
        let id = String(rest[..<close.lowerBound])
        return id.isEmpty ? nil : id
    }
}
