import Foundation
import MeetingProviders
import Testing

@Suite("Microsoft Graph webhooks")
struct GraphWebhookTests {
    static let verifier = GraphWebhook(clientState: "graph-client-state")

    static func delivery(_ body: String, query: [String: String] = [:]) -> ProviderWebhookRequest {
        ProviderWebhookRequest(query: query, body: Data(body.utf8), now: WebhookTestSupport.now)
    }

    static func recording(clientState: String = "graph-client-state") -> String {
        ##"{"value":[{"subscriptionId":"s-1","clientState":"\##(clientState)","resource":"communications/onlineMeetings('MSo1')/recordings('r-1')","resourceData":{"@odata.type":"#Microsoft.Graph.callRecording","@odata.id":"communications/onlineMeetings('MSo1')/recordings('r-1')"}}]}"##
    }

    @Test("A recording notification with the client state starts recording in the meeting it names")
    func recordingNotification() throws {
        let request = Self.delivery(Self.recording())
        let outcome = try Self.verifier.verify(request)
        #expect(
            outcome
                == .event(
                    ProviderWebhookEvent(
                        id: WebhookTestSupport.contentID(of: request.body), meaning: .recordingStarted, roomID: "MSo1"))
        )
    }

    @Test("A call-ended notification ends the meeting")
    func callEnded() throws {
        let body =
            #"{"value":[{"clientState":"graph-client-state","resource":"communications/onlineMeetings?$filter=x","resourceData":{"eventType":"Microsoft.Communication.CallEnded"}}]}"#
        let event = WebhookTestSupport.event(of: try Self.verifier.verify(Self.delivery(body)))
        #expect(event?.meaning == .meetingEnded && event?.roomID == nil)
    }

    @Test("A validation token is echoed as text, a plus read as a space, before anything is read of the body")
    func validationToken() throws {
        let outcome = try Self.verifier.verify(
            Self.delivery("", query: ["validationToken": "Validation:+Testing+client+application"]))
        #expect(outcome == .challengeText("Validation: Testing client application"))
    }

    @Test("A notification with another client state, or none, is an invalid signature")
    func wrongClientState() {
        #expect(
            WebhookTestSupport.refusal(Self.verifier, Self.delivery(Self.recording(clientState: "guess")))
                == .invalidSignature)
        let batch =
            ##"{"value":[{"clientState":"graph-client-state","lifecycleEvent":"missed"},{"lifecycleEvent":"missed"}]}"##
        #expect(WebhookTestSupport.refusal(Self.verifier, Self.delivery(batch)) == .invalidSignature)
    }

    @Test("A body that is not a list of notifications, or an empty one, is unreadable")
    func unreadable() {
        #expect(WebhookTestSupport.refusal(Self.verifier, Self.delivery("not json")) == .unreadable)
        #expect(WebhookTestSupport.refusal(Self.verifier, Self.delivery(#"{"value":[]}"#)) == .unreadable)
    }
}
