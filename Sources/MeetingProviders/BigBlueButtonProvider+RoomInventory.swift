import Foundation
import GatewayCore

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The server's meetings whose metadata carries `origin` = `BigBlueButtonProvider.origin`, for the
/// reconciler: `getMeetings` (signed like every call, no parameters) answers every meeting created on
/// the server and not yet ended, with its `<metadata>` (bigbluebutton/bigbluebutton:
/// docs/docs/development/api.md, getMeetings and getMeetingInfo).
///
/// BigBlueButton forgets a meeting once it has ended, and ends one nobody joined within minutes, so a
/// live session's meeting missing from the list is not gone for good: it is created again on admission
/// (`create` is idempotent on `meetingID`). Hence `listsRoomsNotStarted` is `false`: the reconciler
/// deletes orphans here but never makes a meeting again because the list lacks it.
extension BigBlueButtonProvider: RoomInventory {
    public var listsRoomsNotStarted: Bool { false }

    public func listGatewayRooms() async throws -> [ListedRoom] {
        let response = try await signedGet("getMeetings", [])
        guard let answer = BBBAnswer(xml: response.body) else {
            throw ProviderError.invalidResponse("bigbluebutton: getMeetings answered with something that is not its XML")
        }
        guard answer.succeeded else { throw answer.error }
        let reader = MeetingListReader()
        let parser = XMLParser(data: response.body)
        parser.delegate = reader
        guard parser.parse() else {
            throw ProviderError.invalidResponse("bigbluebutton: getMeetings answered with XML that does not parse")
        }
        return reader.meetings.filter { $0.metadata["origin"] == Self.origin }.compactMap { meeting in
            guard let id = meeting.fields["meetingID"], !id.isEmpty else { return nil }
            let createdAt = meeting.fields["createTime"].flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) }
            return ListedRoom(id: id, createdAt: createdAt)
        }
    }

    /// `end` (BigBlueButton has no delete); a meeting not found is already gone.
    public func deleteListedRoom(_ id: String) async throws {
        try await endMeeting(id)
    }
}

/// The `<meeting>` elements of a `getMeetings` answer: each one's own fields, and its `<metadata>` with
/// names lower-cased (BigBlueButton answers `meta_endCallbackUrl` as `<endcallbackurl>`).
private final class MeetingListReader: NSObject, XMLParserDelegate {
    struct Meeting {
        var fields: [String: String] = [:]
        var metadata: [String: String] = [:]
    }

    private static let meetingPath = ["response", "meetings", "meeting"]

    private(set) var meetings: [Meeting] = []
    private var path: [String] = []
    private var current: Meeting?
    private var text = ""

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        path.append(elementName)
        text = ""
        if path == Self.meetingPath { current = Meeting() }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        text += string
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if path == Self.meetingPath, let meeting = current {
            meetings.append(meeting)
            current = nil
        } else if path.count == 4, Array(path.prefix(3)) == Self.meetingPath {
            current?.fields[elementName] = value
        } else if path.count == 5, Array(path.prefix(4)) == Self.meetingPath + ["metadata"] {
            current?.metadata[elementName.lowercased()] = value
        }
        path.removeLast()
        text = ""
    }
}
