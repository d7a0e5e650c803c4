import Foundation
import GatewayCore
import GatewayStorage

extension SessionService {
    /// The stored session behind a lobby link: from memory (`lobbySessions`) when this replica keeps it
    /// current, otherwise read from the store (and kept for the next poll).
    public func lobbySession(joinToken: String) async throws -> StoredSession? {
        if let kept = lobbySessions.session(joinToken: joinToken, now: clock.now) { return kept }
        let mark = lobbySessions.readMark()
        guard let stored = try await store.session(joinToken: joinToken) else { return nil }
        lobbySessions.keep(stored, readSince: mark, now: clock.now)
        return stored
    }

    /// `queuePosition(of:)`, from memory while no session of the service changed since it was computed.
    public func lobbyQueuePosition(of session: Session) async throws -> QueuePosition? {
        guard session.state == .waiting, session.lobby.enteredAt != nil else { return nil }
        if let known = lobbySessions.queuePosition(of: session) { return known }
        let mark = lobbySessions.readMark()
        let position = try await queuePosition(of: session)
        lobbySessions.keep(position: position, of: session, readSince: mark)
        return position
    }

    /// After the write path stored `saved`: this replica's copy is replaced, and every replica (this one
    /// too, through the relay) is told.
    func announceStored(_ saved: StoredSession, previous: Session?) {
        lobbySessions.stored(saved, previous: previous, now: clock.now)
        let service = saved.session.booking.service
        let before = previous?.booking.service
        publishSessionChange(
            saved.session.bookingID, version: saved.version, services: [service] + (before == service ? [] : [before]))
    }

    /// A session stored or removed outside the write path (contract tests' provider states): every
    /// replica drops its copy, whatever its version; `service` `nil` forgets the positions of every service.
    public func forgetLobbySession(_ bookingID: BookingID, service: String?) {
        lobbySessions.changed(bookingID, version: nil, services: service.map { [$0] })
        publishSessionChange(bookingID, version: nil, services: [service])
    }

    /// `session.changed`: `version` absent drops any copy; `service` absent forgets every position;
    /// `previousService` is the service the booking moved from.
    private func publishSessionChange(_ bookingID: BookingID, version: Int?, services: [String?]) {
        var data: [String: LiveValue] = [
            "bookingId": .string(bookingID.rawValue), "version": LiveValue(version.map(String.init)),
            "service": LiveValue(services.first ?? nil),
        ]
        if services.count > 1 { data["previousService"] = LiveValue(services[1]) }
        liveEvents.publishInternal(LobbySessionCache.changeEventName, data: data)
    }
}

extension LobbySessionCache {
    /// Takes in a `session.changed` event (any other event is ignored); one it cannot read forgets everything.
    public func receive(_ event: LiveEvent) {
        guard event.audience == .presence, event.name == Self.changeEventName else { return }
        guard case .string(let id)? = event.data["bookingId"], let bookingID = BookingID(id) else { return removeAll() }
        var version: Int?
        if case .string(let text)? = event.data["version"] {
            guard let number = Int(text) else { return removeAll() }
            version = number
        }
        var services: [String]?
        if case .string(let service)? = event.data["service"] {
            services = [service]
            if case .string(let previous)? = event.data["previousService"] { services?.append(previous) }
        }
        changed(bookingID, version: version, services: services)
    }
}
