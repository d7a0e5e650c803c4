import Foundation
import GatewayCore
import Synchronization

/// Who a live event is for.
public enum LiveAudience: String, Sendable, Equatable, Codable {
    /// The citizen (and companions) of one booking.
    case citizen
    /// The attendants who may see the booking.
    case attendants
    /// No stream: what replicas tell each other (`LobbyPresence`); never kept for replays.
    case presence
}

/// One event for the SSE streams (DESIGN §3): `name` is the SSE event name, `data` its JSON object.
public struct LiveEvent: Sendable, Equatable, Codable {
    /// SSE `id:` and `Last-Event-ID`: grows with each event, in this process (one node) or across every
    /// replica (PostgreSQL's `live_event_ids`).
    public let sequence: Int
    public let audience: LiveAudience
    public let bookingID: BookingID
    public let service: String
    public let attendantID: String?
    public let name: String
    public let data: [String: LiveValue]
    /// For one participant only (`citizen`, `companion-1`…); `nil` for everyone of the booking.
    public let participant: String?

    /// What the bus sends every heartbeat interval to the streams that asked for heartbeats (an SSE
    /// comment on the wire); never published, never buffered.
    public static let heartbeat = LiveEvent(
        sequence: 0, audience: .presence, bookingID: LiveEventBus.internalBookingID, service: "", attendantID: nil,
        name: "heartbeat", data: [:], participant: nil)

    public var isHeartbeat: Bool { self == Self.heartbeat }

    /// The same event with the id it was given when it was relayed.
    public func numbered(_ sequence: Int) -> LiveEvent {
        LiveEvent(
            sequence: sequence, audience: audience, bookingID: bookingID, service: service, attendantID: attendantID,
            name: name, data: data, participant: participant)
    }
}

/// The JSON values live events carry.
public enum LiveValue: Sendable, Equatable, Codable {
    case string(String)
    case null

    public init(_ text: String?) {
        self = text.map(LiveValue.string) ?? .null
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        self = container.decodeNil() ? .null : .string(try container.decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let text): try container.encode(text)
        case .null: try container.encodeNil()
        }
    }
}

/// Fans live events out to SSE subscribers and keeps the last ones, so that a client resuming with
/// `Last-Event-ID` misses nothing that happened while it reconnected.
///
/// With replicas, `relay(through:)` hands each published event to the link between replicas instead;
/// it comes back numbered, through `deliver(_:)`, on every replica (this one too).
public final class LiveEventBus: Sendable {
    public struct Subscription: Sendable {
        public let events: AsyncStream<LiveEvent>
        /// Buffered events after the client's last id, to send first.
        public let replay: [LiveEvent]
        fileprivate let id: Int
        fileprivate let continuation: AsyncStream<LiveEvent>.Continuation

        /// Ends the subscription now (its client went away): `events` finishes.
        public func end() { continuation.finish() }
    }

    private struct State {
        var nextSequence = 1
        var buffer: [LiveEvent] = []
        var subscribers: [Int: (filter: @Sendable (LiveEvent) -> Bool, continuation: AsyncStream<LiveEvent>.Continuation)] = [:]
        /// Subscribers that are sent `LiveEvent.heartbeat` every `heartbeatInterval` (event streams).
        var heartbeatSubscribers: Set<Int> = []
        var heartbeats: Task<Void, Never>?
        /// Subscribers to one booking's events (a citizen's page), by booking: an event is offered to
        /// its booking's subscribers and to `anyBooking`, not to every stream.
        var byBooking: [BookingID: Set<Int>] = [:]
        var anyBooking: Set<Int> = []
        /// The booking of each subscriber in `byBooking`.
        var bookingOf: [Int: BookingID] = [:]
        /// Subscribers that are the gateway's own parts, not event streams.
        var internalSubscribers: Set<Int> = []
        var nextSubscriber = 1
        var relay: (@Sendable (LiveEvent) -> Void)?
        /// The gateway's own parts that take internal events as they are delivered, without a stream.
        var internalObservers: [@Sendable (LiveEvent) -> Void] = []
        /// The gateway's own parts to tell when events may have been missed (`announceMissedEvents`).
        var missedEventsObservers: [@Sendable () -> Void] = []

        /// The streams that want `event`: its booking's subscribers and those of every booking, each
        /// through its filter.
        func interested(in event: LiveEvent) -> [AsyncStream<LiveEvent>.Continuation] {
            var targets: [AsyncStream<LiveEvent>.Continuation] = []
            for id in anyBooking.union(byBooking[event.bookingID] ?? []) {
                if let subscriber = subscribers[id], subscriber.filter(event) { targets.append(subscriber.continuation) }
            }
            return targets
        }
    }

    private let state = Mutex(State())
    private let bufferSize: Int

    public init(bufferSize: Int = 2000) {
        self.bufferSize = bufferSize
    }

    deinit {
        state.withLock { $0.heartbeats?.cancel() }
    }

    /// How many events a subscriber may have waiting: one that falls further behind (a reader that
    /// stopped reading) has its stream ended after the events it has, and resumes after the last of
    /// them with `Last-Event-ID` (the newest are the ones not taken, so nothing is skipped).
    public static let subscriberBuffer = 500

    /// The sequence number the next event will carry; lets a new client start "from now".
    public var nextSequence: Int { state.withLock { $0.nextSequence } }

    public func publish(
        _ name: String, to audience: LiveAudience, about session: Session, data: [String: LiveValue],
        participant: String? = nil
    ) {
        let event = LiveEvent(
            sequence: 0, audience: audience, bookingID: session.bookingID, service: session.booking.service,
            attendantID: session.booking.attendantID, name: name, data: data, participant: participant)
        let relay = state.withLock { state -> (@Sendable (LiveEvent) -> Void)? in state.relay }
        if let relay { return relay(event) }
        let sequence = state.withLock { state in
            defer { state.nextSequence += 1 }
            return state.nextSequence
        }
        deliver(event.numbered(sequence))
    }

    /// An event between the gateway's own parts (and replicas), about no booking; never shown on a stream.
    public func publishInternal(_ name: String, data: [String: LiveValue]) {
        let event = LiveEvent(
            sequence: 0, audience: .presence, bookingID: Self.internalBookingID, service: "", attendantID: nil,
            name: name, data: data, participant: nil)
        let relay = state.withLock { state -> (@Sendable (LiveEvent) -> Void)? in state.relay }
        if let relay { return relay(event) }
        deliver(event)
    }

    static let internalBookingID = BookingID("gateway.internal")!

    /// Sends published events through `forward` from now on (replicas); they are shown when they come
    /// back through `deliver(_:)`.
    public func relay(through forward: @escaping @Sendable (LiveEvent) -> Void) {
        state.withLock { $0.relay = forward }
    }

    /// Calls `observer` with every internal event (`publishInternal`) as it is delivered, on the
    /// delivering thread, before the subscribers get it: for the gateway's own parts that must not miss
    /// one (no stream to end, no gap to subscribe again). `observer` must be quick and must not publish.
    public func observeInternalEvents(_ observer: @escaping @Sendable (LiveEvent) -> Void) {
        state.withLock { $0.internalObservers.append(observer) }
    }

    /// Calls `observer` each time `announceMissedEvents()` is called.
    public func onMissedEvents(_ observer: @escaping @Sendable () -> Void) {
        state.withLock { $0.missedEventsObservers.append(observer) }
    }

    /// Tells the observers that events of other replicas may have been missed (the link to them
    /// (re)connected): what they keep from past events is to be forgotten.
    public func announceMissedEvents() {
        let observers = state.withLock { $0.missedEventsObservers }
        for observer in observers { observer() }
    }

    /// Keeps a numbered event for replays and hands it to the subscribers that want it. Events relayed
    /// between replicas may arrive slightly out of order: the buffer stays sorted by id.
    public func deliver(_ event: LiveEvent) {
        if event.audience == .presence {
            let observers = state.withLock { $0.internalObservers }
            for observer in observers { observer(event) }
        }
        let targets = state.withLock { state -> [AsyncStream<LiveEvent>.Continuation] in
            guard event.audience != .presence else { return state.interested(in: event) }
            state.nextSequence = max(state.nextSequence, event.sequence + 1)
            if let last = state.buffer.last, last.sequence > event.sequence {
                let index = state.buffer.firstIndex { $0.sequence > event.sequence } ?? state.buffer.endIndex
                state.buffer.insert(event, at: index)
            } else {
                state.buffer.append(event)
            }
            if state.buffer.count > bufferSize { state.buffer.removeFirst(state.buffer.count - bufferSize) }
            return state.interested(in: event)
        }
        Self.send(event, to: targets)
    }

    /// Yields `event` to each continuation; ends the streams whose buffer is full.
    private static func send(_ event: LiveEvent, to targets: [AsyncStream<LiveEvent>.Continuation]) {
        for continuation in targets {
            if case .dropped = continuation.yield(event) { continuation.finish() }
        }
    }

    /// Sends `LiveEvent.heartbeat` to the subscribers that asked for heartbeats, every `interval`, from
    /// one task for the whole bus (not one per stream); started with the first such subscriber.
    private func startHeartbeats(every interval: Duration) {
        state.withLock { state in
            guard state.heartbeats == nil else { return }
            state.heartbeats = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self, !Task.isCancelled else { return }
                    let targets = self.state.withLock { state in
                        state.heartbeatSubscribers.compactMap { state.subscribers[$0]?.continuation }
                    }
                    Self.send(.heartbeat, to: targets)
                }
            }
        }
    }

    /// Subscribes to the events `filter` accepts (only among `booking`'s events, when given); replays
    /// buffered ones after `lastEventID`. With `heartbeatEvery`, `LiveEvent.heartbeat` comes that often.
    public func subscribe(
        after lastEventID: Int?, booking: BookingID? = nil, isInternal: Bool = false, heartbeatEvery: Duration? = nil,
        filter: @escaping @Sendable (LiveEvent) -> Bool
    ) -> Subscription {
        if let heartbeatEvery { startHeartbeats(every: heartbeatEvery) }
        let (stream, continuation) = AsyncStream<LiveEvent>.makeStream(
            bufferingPolicy: .bufferingOldest(Self.subscriberBuffer))
        let (id, replay) = state.withLock { state -> (Int, [LiveEvent]) in
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[id] = (filter, continuation)
            if let booking {
                state.byBooking[booking, default: []].insert(id)
                state.bookingOf[id] = booking
            } else {
                state.anyBooking.insert(id)
            }
            if isInternal { state.internalSubscribers.insert(id) }
            if heartbeatEvery != nil { state.heartbeatSubscribers.insert(id) }
            let replay =
                lastEventID.map { last in
                    state.buffer.filter { $0.sequence > last && (booking == nil || $0.bookingID == booking) && filter($0) }
                } ?? []
            return (id, replay)
        }
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        return Subscription(events: stream, replay: replay, id: id, continuation: continuation)
    }

    /// Ends every stream (graceful shutdown).
    public func finishAll() {
        let continuations = state.withLock { state in
            let all = state.subscribers.values.map(\.continuation)
            state.subscribers = [:]
            state.internalSubscribers = []
            state.heartbeatSubscribers = []
            state.byBooking = [:]
            state.anyBooking = []
            state.bookingOf = [:]
            return all
        }
        for continuation in continuations { continuation.finish() }
    }

    /// Open event streams (the gateway's own subscribers not counted).
    public var subscriberCount: Int { state.withLock { $0.subscribers.count - $0.internalSubscribers.count } }

    private func unsubscribe(_ id: Int) {
        state.withLock { state in
            state.subscribers[id] = nil
            state.internalSubscribers.remove(id)
            state.heartbeatSubscribers.remove(id)
            state.anyBooking.remove(id)
            if let booking = state.bookingOf.removeValue(forKey: id) {
                state.byBooking[booking]?.remove(id)
                if state.byBooking[booking]?.isEmpty == true { state.byBooking[booking] = nil }
            }
        }
    }
}


/// Turns stored transitions into live events for the citizen page and the console.
public struct LiveEventPublisher: Sendable {
    let bus: LiveEventBus

    func publish(from previous: Session, to session: Session, after event: SessionEvent) {
        let stateChanged = previous.state != session.state
        switch event {
        case .fallbackSent(let channel):
            bus.publish(
                "fallback.sent", to: .attendants, about: session,
                data: ["bookingId": .string(session.bookingID.rawValue), "channel": .string(channel.rawValue)])
            bus.publish("fallback", to: .citizen, about: session, data: ["channel": .string(channel.rawValue)])
        case .companionEntered(let id), .companionAdmitted(let id, _):
            if let companion = session.companions.first(where: { $0.id == id }) { publishCompanion(companion, in: session) }
        case .companionLeft(let id):
            if let companion = session.companions.first(where: { $0.id == id }), companion.leftAt != nil,
                previous.companions.first(where: { $0.id == id })?.leftAt == nil
            {
                bus.publish(
                    "companion.left", to: .attendants, about: session,
                    data: ["bookingId": .string(session.bookingID.rawValue), "participant": .string(id)])
            }
        case .messagePosted:
            if let message = session.lobby.messages.last { publishMessage(message, in: session) }
        case .entryRenewed(let participant, let url):
            bus.publish(
                "admitted", to: .citizen, about: session, data: ["joinUrl": .string(url)], participant: participant.description)
        default:
            break
        }
        guard stateChanged else { return }
        let id = LiveValue.string(session.bookingID.rawValue)
        switch session.state {
        case .waiting:
            bus.publish(
                "citizen.waiting", to: .attendants, about: session,
                data: ["bookingId": id, "enteredAt": LiveValue(session.lobby.enteredAt.map(RFC3339.string(from:)))])
        case .late:
            bus.publish(
                "session.late", to: .attendants, about: session,
                data: ["bookingId": id, "phone": LiveValue(session.booking.citizen.phone)])
        default:
            break
        }
        if previous.state == .waiting && (session.state == .open || session.state == .late) {
            bus.publish("citizen.left", to: .attendants, about: session, data: ["bookingId": id])
        }
        bus.publish(
            "session.updated", to: .attendants, about: session, data: ["bookingId": id, "state": .string(session.state.rawValue)])
        switch session.state {
        case .inProgress:
            bus.publish(
                "admitted", to: .citizen, about: session, data: ["joinUrl": LiveValue(session.lobby.citizenEntryURL)],
                participant: "citizen")
        case .completed, .noShow:
            bus.publish("ended", to: .citizen, about: session, data: ["outcome": LiveValue(session.outcome?.rawValue)])
        default:
            bus.publish("state", to: .citizen, about: session, data: Self.citizenState(session))
        }
    }

    /// A companion entered the lobby, or was admitted.
    private func publishCompanion(_ companion: CompanionAccess, in session: Session) {
        let id = LiveValue.string(session.bookingID.rawValue)
        if let url = companion.entryURL, companion.admittedAt != nil {
            bus.publish("admitted", to: .citizen, about: session, data: ["joinUrl": .string(url)], participant: companion.id)
            bus.publish("session.updated", to: .attendants, about: session, data: ["bookingId": id, "state": .string(session.state.rawValue)])
        } else {
            bus.publish(
                "citizen.waiting", to: .attendants, about: session,
                data: [
                    "bookingId": id, "participant": .string(companion.id),
                    "enteredAt": LiveValue(companion.enteredAt.map(RFC3339.string(from:))),
                ])
        }
    }

    private func publishMessage(_ message: LobbyMessage, in session: Session) {
        bus.publish(
            "message", to: .citizen, about: session,
            data: ["id": .string(message.id), "text": .string(message.text), "at": .string(RFC3339.string(from: message.at))])
    }

    /// The citizen's `state` event data for `session`.
    public static func citizenState(_ session: Session) -> [String: LiveValue] {
        ["state": .string(session.state.rawValue), "enteredAt": LiveValue(session.lobby.enteredAt.map(RFC3339.string(from:)))]
    }
}
