import Crypto
import Foundation
@testable import MeetingProviders
import Testing

@Suite("BigBlueButton webhooks")
struct BigBlueButtonWebhookTests {
    static let secret = "bbb-shared-secret"
    static let callbackURL = "https://gateway.example/v1/webhooks/bigbluebutton"

    static func verifier(algorithm: String = "sha256") -> BigBlueButtonWebhook {
        BigBlueButtonWebhook(secret: secret, algorithm: algorithm, callbackURL: callbackURL, tolerance: 300)
    }

    /// The form body bbb-webhooks posts for one event, stamped `milliseconds`.
    static func body(id: String, meeting: String = "B-1", milliseconds: Int = WebhookTestSupport.unixNow * 1000)
        -> String
    {
        let event =
            #"[{"data":{"type":"event","id":"\#(id)","attributes":{"meeting":{"internal-meeting-id":"i-1","external-meeting-id":"\#(meeting)"}}}}]"#
        return "event=\(event.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&timestamp=\(milliseconds)"
    }

    /// A delivery of `body` with the checksum bbb-webhooks computes with `algorithm`.
    static func delivery(_ body: String, algorithm: String = "sha256", secret: String = secret)
        -> ProviderWebhookRequest
    {
        let message = Data((callbackURL + body + secret).utf8)
        let checksum: String
        switch algorithm {
        case "sha1": checksum = WebhookTestSupport.hex(Insecure.SHA1.hash(data: message))
        case "sha384": checksum = WebhookTestSupport.hex(SHA384.hash(data: message))
        case "sha512": checksum = WebhookTestSupport.hex(SHA512.hash(data: message))
        default: checksum = WebhookTestSupport.hex(SHA256.hash(data: message))
        }
        return ProviderWebhookRequest(query: ["checksum": checksum], body: Data(body.utf8), now: WebhookTestSupport.now)
    }

    @Test(
        "A signed event is read: its meaning and the external meeting id; its id is the body's digest",
        arguments: [
            ("meeting-recording-started", ProviderWebhookEvent.Meaning.recordingStarted),
            ("rap-archive-started", .recordingStarted),
            ("user-joined", .participantJoined),
            ("user-left", .participantLeft),
            ("meeting-ended", .meetingEnded),
            ("meeting-created", .other("meeting-created")),
        ])
    func signedEvent(id: String, meaning: ProviderWebhookEvent.Meaning) throws {
        let request = Self.delivery(Self.body(id: id))
        let outcome = try Self.verifier().verify(request)
        #expect(
            outcome
                == .event(
                    ProviderWebhookEvent(
                        id: WebhookTestSupport.contentID(of: request.body), meaning: meaning, roomID: "B-1")))
    }

    @Test(
        "Every configured checksum algorithm verifies its own checksum",
        arguments: ["sha1", "sha256", "sha384", "sha512"])
    func algorithms(algorithm: String) throws {
        let request = Self.delivery(Self.body(id: "user-joined"), algorithm: algorithm)
        #expect(WebhookTestSupport.event(of: try Self.verifier(algorithm: algorithm).verify(request))?.roomID == "B-1")
    }

    @Test("One changed byte, another secret, no checksum or an unknown algorithm is an invalid signature")
    func invalidSignature() {
        var flipped = Self.delivery(Self.body(id: "meeting-recording-started"))
        flipped.body = WebhookTestSupport.flippingByte(of: flipped.body, at: 20)
        #expect(WebhookTestSupport.refusal(Self.verifier(), flipped) == .invalidSignature)
        let forged = Self.delivery(Self.body(id: "meeting-recording-started"), secret: "another")
        #expect(WebhookTestSupport.refusal(Self.verifier(), forged) == .invalidSignature)
        var unsigned = Self.delivery(Self.body(id: "meeting-recording-started"))
        unsigned.query = [:]
        #expect(WebhookTestSupport.refusal(Self.verifier(), unsigned) == .invalidSignature)
        let md5 = Self.delivery(Self.body(id: "meeting-recording-started"))
        #expect(WebhookTestSupport.refusal(Self.verifier(algorithm: "md5"), md5) == .invalidSignature)
    }

    @Test("An event stamped more than the tolerance away is stale", arguments: [-301_000, 301_000])
    func staleTimestamp(offset: Int) {
        let body = Self.body(id: "meeting-recording-started", milliseconds: WebhookTestSupport.unixNow * 1000 + offset)
        #expect(WebhookTestSupport.refusal(Self.verifier(), Self.delivery(body)) == .staleTimestamp)
    }

    @Test("A signed body without a timestamp or a readable event is unreadable")
    func unreadable() {
        let noTimestamp = "event=%5B%5D"
        let garbage = "event=not-json&timestamp=\(WebhookTestSupport.unixNow * 1000)"
        #expect(WebhookTestSupport.refusal(Self.verifier(), Self.delivery(noTimestamp)) == .unreadable)
        #expect(WebhookTestSupport.refusal(Self.verifier(), Self.delivery(garbage)) == .unreadable)
        #expect(WebhookTestSupport.refusal(Self.verifier(), Self.delivery("garbage")) == .unreadable)
    }

    @Test("A signed body that is not form encoding (spaces, markup, raw bytes, a broken escape) is unreadable, never a crash")
    func notFormEncoded() {
        let timestamp = "timestamp=\(WebhookTestSupport.unixNow * 1000)"
        for body in ["event=[{\"a\": 1}] <x>&\(timestamp)", "event=%ZZ&\(timestamp)", "event=caf\u{e9}\u{1}&\(timestamp)"] {
            #expect(WebhookTestSupport.refusal(Self.verifier(), Self.delivery(body)) == .unreadable, "\(body)")
        }
    }

    @Test("Form fields: + is a space, escapes are decoded, the first of a repeated name wins")
    func formFields() throws {
        let fields = try BigBlueButtonWebhook.formFields(Data("a=x+y%21&b=&a=second&c".utf8))
        #expect(fields == ["a": "x y!", "b": "", "c": ""])
    }
}
