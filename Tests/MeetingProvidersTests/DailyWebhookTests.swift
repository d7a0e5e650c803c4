import Crypto
import Foundation
import MeetingProviders
import Testing

@Suite("Daily webhooks")
struct DailyWebhookTests {
    static let key = Data("daily-webhook-test-secret".utf8)
    static let verifier = DailyWebhook(secret: key.base64EncodedString(), tolerance: 300)

    /// A delivery of `body` signed as Daily signs it, at `timestamp`.
    static func delivery(_ body: String, at timestamp: Int = WebhookTestSupport.unixNow, key: Data = key)
        -> ProviderWebhookRequest
    {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: key))
        return ProviderWebhookRequest(
            headers: ["x-webhook-timestamp": "\(timestamp)", "x-webhook-signature": Data(mac).base64EncodedString()],
            body: Data(body.utf8), now: WebhookTestSupport.now)
    }

    static func body(type: String, room: String = "vg-room-1") -> String {
        #"{"id":"evt-1","payload":{"room":"\#(room)","owner":true},"type":"\#(type)","version":"1.0.0"}"#
    }

    @Test(
        "A signed event is read: its id, its meaning and the room it names",
        arguments: [
            ("recording.started", ProviderWebhookEvent.Meaning.recordingStarted),
            ("participant.joined", .participantJoined),
            ("waiting-participant.joined", .participantJoined),
            ("participant.left", .participantLeft),
            ("waiting-participant.left", .participantLeft),
            ("meeting.ended", .meetingEnded),
            ("transcript.started", .other("transcript.started")),
        ])
    func signedEvent(type: String, meaning: ProviderWebhookEvent.Meaning) throws {
        let outcome = try Self.verifier.verify(Self.delivery(Self.body(type: type)))
        #expect(
            outcome == .event(ProviderWebhookEvent(id: "evt-1", meaning: meaning, roomID: "vg-room-1", isHost: true)))
    }

    @Test("The room is read from room_name when room is absent")
    func roomName() throws {
        let body = #"{"id":"evt-2","payload":{"room_name":"vg-room-2"},"type":"recording.started","version":"1.0.0"}"#
        let event = WebhookTestSupport.event(of: try Self.verifier.verify(Self.delivery(body)))
        #expect(event?.roomID == "vg-room-2" && event?.isHost == nil)
    }

    @Test("One changed byte of the body, another key or a missing header is an invalid signature")
    func invalidSignature() {
        var flipped = Self.delivery(Self.body(type: "recording.started"))
        flipped.body = WebhookTestSupport.flippingByte(of: flipped.body, at: 10)
        #expect(WebhookTestSupport.refusal(Self.verifier, flipped) == .invalidSignature)
        let forged = Self.delivery(Self.body(type: "recording.started"), key: Data("another".utf8))
        #expect(WebhookTestSupport.refusal(Self.verifier, forged) == .invalidSignature)
        var unsigned = Self.delivery(Self.body(type: "recording.started"))
        unsigned.headers["x-webhook-signature"] = nil
        #expect(WebhookTestSupport.refusal(Self.verifier, unsigned) == .invalidSignature)
    }

    @Test("A signature over a timestamp more than the tolerance away is stale", arguments: [-301, 301, -900])
    func staleTimestamp(offset: Int) {
        let request = Self.delivery(Self.body(type: "recording.started"), at: WebhookTestSupport.unixNow + offset)
        #expect(WebhookTestSupport.refusal(Self.verifier, request) == .staleTimestamp)
    }

    @Test("A signed body that is not Daily's envelope is unreadable")
    func unreadable() {
        #expect(WebhookTestSupport.refusal(Self.verifier, Self.delivery("not json")) == .unreadable)
        #expect(WebhookTestSupport.refusal(Self.verifier, Self.delivery(#"{"type":"x"}"#)) == .unreadable)
    }
}
