import Foundation

/// A room the provider lists as the gateway's (by its name prefix, topic or tag).
public struct ListedRoom: Sendable, Equatable {
    /// The provider's room id, as sessions store it (`room.providerRoomID`).
    public let id: String
    public let createdAt: Date?

    public init(id: String, createdAt: Date?) {
        self.id = id
        self.createdAt = createdAt
    }
}

/// Providers whose rooms the gateway can list and delete by id alone, so that a reconciler can find
/// rooms with no live session behind them (orphans) and live sessions whose room is gone.
public protocol RoomInventory: Sendable {
    /// Every room of the provider that carries the gateway's mark.
    func listGatewayRooms() async throws -> [ListedRoom]
    /// Deletes a room by its id (gone already counts as deleted).
    func deleteListedRoom(_ id: String) async throws
    /// Whether the list shows every room the provider keeps for the gateway, started or not, so that a
    /// live session's room absent from it is gone. `false` for a provider that lists only running
    /// meetings (BigBlueButton): the reconciler then deletes orphans there but never makes a room again
    /// because the list lacks it.
    var listsRoomsNotStarted: Bool { get }
}

extension RoomInventory {
    /// Daily, Zoom and the simulator list rooms whether or not anyone has joined them.
    public var listsRoomsNotStarted: Bool { true }
}
