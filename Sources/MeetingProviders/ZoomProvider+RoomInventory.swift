import Foundation
import GatewayCore

/// The host's meetings whose topic starts with `ZoomProvider.topicMark`, for the reconciler.
///
/// The list is `GET /users/{userId}/meetings?type=scheduled` (the same user the meetings are created
/// for; "scheduled" is every valid previous, live and upcoming meeting, started or not), 300 a page,
/// following `next_page_token`. A list longer than `maximumInventoryPages` pages is an error rather
/// than a partial answer: the reconciler takes a live session's meeting missing from the list for gone.
extension ZoomProvider: RoomInventory {
    /// At most this many pages of 300 meetings are read in one round.
    static let maximumInventoryPages = 100

    public func listGatewayRooms() async throws -> [ListedRoom] {
        var rooms: [ListedRoom] = []
        var pageToken: String?
        for _ in 0..<Self.maximumInventoryPages {
            let page = try await meetingPage(after: pageToken)
            rooms += (page.meetings ?? []).filter { $0.topic?.hasPrefix(Self.topicMark) == true }.map {
                ListedRoom(id: $0.id.value, createdAt: $0.created_at.flatMap(RFC3339.date(from:)))
            }
            guard let next = page.next_page_token, !next.isEmpty else { return rooms }
            pageToken = next
        }
        throw ProviderError.invalidResponse(
            "zoom: the host has more than \(Self.maximumInventoryPages) pages of meetings; the list is incomplete")
    }

    /// Ends the meeting and deletes it (`PUT /meetings/{id}/status`, `DELETE /meetings/{id}`), as
    /// `deleteRoom` does; a meeting already gone is deleted.
    public func deleteListedRoom(_ id: String) async throws {
        try await endAndDelete(id)
    }
}
