import Foundation
import GatewayCore
import GatewayStorage
import Hummingbird
import MeetingProviders
import SessionOrchestration

/// `POST /v1/webhooks/{provider}`: each event is verified on its raw bytes before it is parsed (401
/// otherwise, or when its timestamp is more than 5 minutes off), received once (deduplicated by event
/// id), and answered at once; a recording that started ends the room. The providers' verifiers
/// (`MeetingProviders`) check and read the bytes; this route reads them, answers, and stores the effect.
struct WebhookRoutes: Sendable {
    let dependencies: GatewayHTTPDependencies

    private var sessions: SessionService { dependencies.sessions }
    private var secrets: WebhookSecrets { dependencies.webhookSecrets }

    func add(to router: Router<GatewayRequestContext>) {
        router.post("v1/webhooks/{provider}", use: receive)
    }

    @Sendable func receive(_ request: Request, context: GatewayRequestContext) async throws -> Response {
        let provider = context.parameters.get("provider") ?? ""
        let raw = Data(buffer: try await request.body.collect(upTo: context.maxUploadSize))
        guard let verifier = verifier(for: provider) else { throw Problem.unknownWebhookProvider }
        let outcome: ProviderWebhookOutcome
        do throws(ProviderWebhookError) {
            outcome = try verifier.verify(Self.delivery(request, body: raw, now: sessions.clock.now))
        } catch {
            throw Problem(error)
        }
        let event: ProviderWebhookEvent
        switch outcome {
        case .event(let verified): event = verified
        case .challengeJSON(let reply): return try JSONResponse.make(reply)
        case .challengeText(let reply):
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; charset=utf-8", .init("X-Content-Type-Options")!: "nosniff"],
                body: .init(byteBuffer: ByteBuffer(string: reply)))
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

    /// The verifier of the provider the path names; nil when the gateway has no secret for it.
    private func verifier(for provider: String) -> (any ProviderWebhookVerifier)? {
        switch provider {
        case "daily": secrets.daily.map { DailyWebhook(secret: $0, tolerance: secrets.tolerance) }
        case "zoom": secrets.zoom.map { ZoomWebhook(secretToken: $0, tolerance: secrets.tolerance) }
        case "bigbluebutton":
            secrets.bigBlueButton.map {
                BigBlueButtonWebhook(
                    secret: $0.secret, algorithm: $0.algorithm, callbackURL: $0.callbackURL,
                    tolerance: secrets.tolerance)
            }
        case "msteams": secrets.graphClientState.map { GraphWebhook(clientState: $0) }
        default: nil
        }
    }

    /// What the verifiers read of a request: header fields by lowercase name, query items (the first of a
    /// repeated name) and the body's bytes.
    private static func delivery(_ request: Request, body: Data, now: Date) -> ProviderWebhookRequest {
        ProviderWebhookRequest(
            headers: Dictionary(
                request.headers.map { ($0.name.canonicalName, $0.value) }, uniquingKeysWith: { "\($0), \($1)" }),
            query: Dictionary(
                request.uri.queryParameters.map { (String($0.key), String($0.value)) },
                uniquingKeysWith: { first, _ in first }),
            body: body, now: now)
    }

    /// Someone joined or left the call: the attendants' console is told (`call.participant`), so a citizen
    /// who dropped out of the call is seen. The receipt is stored first, so a redelivery says nothing twice.
    private func publishCallPresence(_ event: ProviderWebhookEvent, in session: Session) {
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
    private func session(named event: ProviderWebhookEvent, by provider: String) async throws -> Session? {
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
}
