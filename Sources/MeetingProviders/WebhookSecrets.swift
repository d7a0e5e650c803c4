import Foundation

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
