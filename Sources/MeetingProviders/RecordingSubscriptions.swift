import Foundation

/// A provider's subscription to the recordings of one meeting, and when it lapses.
public struct RecordingSubscription: Sendable, Equatable {
    public let id: String
    public let expiresAt: Date

    public init(id: String, expiresAt: Date) {
        self.id = id
        self.expiresAt = expiresAt
    }
}

/// Providers that report a meeting's recordings only to those who subscribe to them (Microsoft Teams,
/// through Graph change notifications to `POST /v1/webhooks/msteams`). A subscription lapses at
/// `expiresAt` unless it is renewed; the provider never sends a notification after that.
///
/// Use: `createRecordingSubscription` once the room is ready; `renewSubscription` before `expiresAt`
/// for as long as the room exists; `deleteSubscription` when the room is deleted or ended.
public protocol RecordingSubscriptions: Sendable {
    /// Whether subscriptions can be made here (the notification URL and secret are configured).
    var canSubscribe: Bool { get }
    /// The longest a subscription may live from its creation or renewal.
    var maximumSubscriptionLifetime: Duration { get }
    /// Subscribes to the recordings of the meeting `providerRoomID` for `maximumSubscriptionLifetime`.
    func createRecordingSubscription(for providerRoomID: String) async throws -> RecordingSubscription
    /// Moves the subscription's expiry to `until`, or to `maximumSubscriptionLifetime` from now when that
    /// is sooner; the answer holds the expiry the provider recorded.
    func renewSubscription(_ id: String, until: Date) async throws -> RecordingSubscription
    /// Ends the subscription; one that is already gone is success.
    func deleteSubscription(_ id: String) async throws
}
