import Foundation
import GatewayStorage
import Logging
import ServiceLifecycle
import SessionOrchestration
import Synchronization

/// Joins replicas on PostgreSQL: this replica's live events go out as notifications and come back,
/// numbered, with every other replica's (so an admission done on one replica reaches a citizen's
/// stream on another); an enqueued job wakes every replica's worker.
final class ReplicaLink: Service {
    private let store: PostgresStore
    private let bus: LiveEventBus
    private let doorbell: Doorbell
    private let logger: Logger
    private let outgoing: AsyncStream<LiveEvent>
    private let outgoingContinuation: AsyncStream<LiveEvent>.Continuation

    init(store: PostgresStore, bus: LiveEventBus, doorbell: Doorbell, logger: Logger) {
        self.store = store
        self.bus = bus
        self.doorbell = doorbell
        self.logger = logger
        (outgoing, outgoingContinuation) = AsyncStream<LiveEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let continuation = outgoingContinuation
        bus.relay { continuation.yield($0) }
    }

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.sendEvents() }
            group.addTask { await self.listen() }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Publishes this replica's events in order; a failed send is tried again for a few seconds.
    private func sendEvents() async {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        for await event in outgoing {
            guard let json = try? String(decoding: encoder.encode(event), as: UTF8.self) else { continue }
            var delay = Duration.milliseconds(50)
            for attempt in 1...6 {
                do {
                    try await store.publishLiveEvent(json: json)
                    break
                } catch {
                    if Task.isCancelled { return }
                    if attempt == 6 {
                        logger.error(
                            "a live event could not be relayed", metadata: ["event": "\(event.name)", "error": "\(error)"])
                    }
                    try? await Task.sleep(for: delay)
                    delay *= 2
                }
            }
        }
    }

    /// Listens for the other replicas' notifications; reconnects every second while the connection is
    /// lost (logged once when lost and once when back).
    private func listen() async {
        let decoder = JSONDecoder()
        let wasLost = Mutex(false)
        while !Task.isCancelled {
            do {
                try await store.listen(
                    to: [PostgresStore.liveEventsChannel, PostgresStore.jobsChannel],
                    onListening: { [bus, doorbell, logger] in
                        let recovered = wasLost.withLock { lost in
                            defer { lost = false }
                            return lost
                        }
                        logger.info(recovered ? "linked to the other replicas again" : "linked to the other replicas")
                        // Events sent while the link was down never arrive here: the streams end, and their
                        // clients reconnect (after 1 s) to start again from the current state.
                        if recovered { bus.finishAll() }
                        // What this replica keeps from other replicas' events (the lobby's sessions) may
                        // miss those sent before it listened: forgotten on every (re)connection.
                        bus.announceMissedEvents()
                        // Jobs enqueued while this replica was not listening are due now.
                        doorbell.ring()
                    },
                    onNotification: { [bus, doorbell] channel, payload in
                        if channel == PostgresStore.jobsChannel { return doorbell.ring() }
                        guard let space = payload.firstIndex(of: " "), let id = Int(payload[..<space]),
                            let event = try? decoder.decode(LiveEvent.self, from: Data(payload[payload.index(after: space)...].utf8))
                        else { return }
                        bus.deliver(event.numbered(id))
                    })
            } catch {
                if Task.isCancelled { return }
                let firstLoss = wasLost.withLock { lost in
                    defer { lost = true }
                    return !lost
                }
                if firstLoss {
                    logger.warning("the link to the other replicas is lost; reconnecting", metadata: ["error": "\(error)"])
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
