import Foundation
import MeetingProviders
import Testing

@Suite("Zoom webhooks")
struct ZoomWebhookTests {
    static let secretToken = "zoom-secret-token"
    static let verifier = ZoomWebhook(secretToken: secretToken, tolerance: 300)

    /// A delivery of `body` signed as Zoom signs it, at `timestamp`.
    static func delivery(_ body: String, at timestamp: Int = WebhookTestSupport.unixNow, secret: String = secretToken)
        -> ProviderWebhookRequest
    {
        let signature = WebhookTestSupport.hexHMAC(key: Data(secret.utf8), Data("v0:\(timestamp):\(body)".utf8))
        return ProviderWebhookRequest(
            headers: ["x-zm-request-timestamp": "\(timestamp)", "x-zm-signature": "v0=" + signature],
            body: Data(body.utf8), now: WebhookTestSupport.now)
    }

    static func body(event: String, id: String = "85012345678") -> String {
        #"{"event":"\#(event)","event_ts":1796119200000,"payload":{"object":{"id":\#(id),"topic":"Abono"}}}"#
    }

    @Test(
        "A signed event is read: its meaning and the meeting it names; its id is the body's digest",
        arguments: [
            ("recording.started", ProviderWebhookEvent.Meaning.recordingStarted),
            ("meeting.participant_joined", .participantJoined),
            ("meeting.participant_left", .participantLeft),
            ("meeting.ended", .meetingEnded),
            ("meeting.started", .other("meeting.started")),
        ])
    func signedEvent(event: String, meaning: ProviderWebhookEvent.Meaning) throws {
        let request = Self.delivery(Self.body(event: event))
        let outcome = try Self.verifier.verify(request)
        #expect(
            outcome
                == .event(
                    ProviderWebhookEvent(
                        id: WebhookTestSupport.contentID(of: request.body), meaning: meaning, roomID: "85012345678")))
    }

    @Test("A meeting id sent as a string is read the same")
    func stringMeetingID() throws {
        let outcome = try Self.verifier.verify(
            Self.delivery(Self.body(event: "recording.started", id: #""85012345678""#)))
        #expect(WebhookTestSupport.event(of: outcome)?.roomID == "85012345678")
    }

    @Test("A signed endpoint.url_validation is answered with the token and its HMAC under the secret token")
    func urlValidation() throws {
        let body =
            #"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1796119200000,"event":"endpoint.url_validation"}"#
        let outcome = try Self.verifier.verify(Self.delivery(body))
        let encrypted = WebhookTestSupport.hexHMAC(
            key: Data(Self.secretToken.utf8), Data("qgg8vlvZRS6UYooatFL8Aw".utf8))
        #expect(outcome == .challengeJSON(["plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": encrypted]))
        let forged = Self.delivery(body, secret: "another")
        #expect(WebhookTestSupport.refusal(Self.verifier, forged) == .invalidSignature)
    }

    @Test("One changed byte of the body, another secret or a missing header is an invalid signature")
    func invalidSignature() {
        var flipped = Self.delivery(Self.body(event: "recording.started"))
        flipped.body = WebhookTestSupport.flippingByte(of: flipped.body, at: 12)
        #expect(WebhookTestSupport.refusal(Self.verifier, flipped) == .invalidSignature)
        let forged = Self.delivery(Self.body(event: "recording.started"), secret: "another")
        #expect(WebhookTestSupport.refusal(Self.verifier, forged) == .invalidSignature)
        var unsigned = Self.delivery(Self.body(event: "recording.started"))
        unsigned.headers["x-zm-request-timestamp"] = nil
        #expect(WebhookTestSupport.refusal(Self.verifier, unsigned) == .invalidSignature)
    }

    @Test("A signature over a timestamp more than the tolerance away is stale", arguments: [-301, 301])
    func staleTimestamp(offset: Int) {
        let request = Self.delivery(Self.body(event: "recording.started"), at: WebhookTestSupport.unixNow + offset)
        #expect(WebhookTestSupport.refusal(Self.verifier, request) == .staleTimestamp)
    }

    @Test("A signed body that is not Zoom's envelope is unreadable")
    func unreadable() {
        #expect(WebhookTestSupport.refusal(Self.verifier, Self.delivery("<xml/>")) == .unreadable)
    }
}
