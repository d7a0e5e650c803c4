import Foundation
import GatewayCore
import GatewayStorage
import Metrics
import Synchronization

/// The gateway's domain metrics, with bounded labels only (service, provider, outcome, channel, kind —
/// never a booking id). Counters move with stored transitions; gauges are read at scrape time.
enum DomainMetrics {
    /// Counts what a stored transition did.
    static func record(_ event: SessionEvent, from old: Session, to new: Session) {
        let service = new.booking.service
        let provider = new.booking.provider
        switch event {
        case .admitted:
            count("gateway_admissions_total", [("service", service)])
            if let entered = new.lobby.enteredAt, let admitted = new.lobby.admittedAt {
                Recorder(label: "gateway_lobby_wait_seconds", dimensions: [("service", service)], aggregate: true)
                    .record(max(0, admitted.timeIntervalSince(entered)))
            }
        case .lateCheckDue where old.state != .late && new.state == .late:
            count("gateway_late_total", [("service", service)])
        case .slotEnded where new.state == .noShow && old.state != .noShow:
            count("gateway_no_shows_total", [("service", service)])
        case .fallbackSent(let channel):
            count("gateway_fallbacks_total", [("channel", channel.rawValue), ("result", "sent")])
        case .fallbackFailed(let channel, _, let isFinal):
            count("gateway_fallbacks_total", [("channel", channel.rawValue), ("result", isFinal ? "failed" : "retrying")])
        case .recordingStarted:
            count("gateway_recording_policy_events_total", [("provider", provider), ("kind", "recording_started")])
        case .recordingStopped:
            count("gateway_recording_policy_events_total", [("provider", provider), ("kind", "recording_stopped")])
        case .roomProvisioningFailed(let code, _) where code == "recording_policy":
            count("gateway_recording_policy_events_total", [("provider", provider), ("kind", "recording_on_at_creation")])
        default:
            break
        }
        if old.state != new.state, new.state.isTerminal {
            count("gateway_sessions_closed_total", [("service", service), ("outcome", new.state.rawValue)])
        }
    }

    /// Sets the gauges that describe the present: citizens waiting, the job queue by kind, open streams.
    static func refreshGauges(_ counts: OperationalCounts, openStreams: Int) {
        Gauge(label: "gateway_citizens_waiting").record(counts.citizensWaiting)
        // A kind whose queue emptied since the last scrape reads 0, not its last value.
        let kinds = reportedKinds.withLock { kinds in
            kinds.formUnion(counts.jobsByKind.keys)
            return kinds
        }
        for kind in kinds {
            let queue = counts.jobsByKind[kind] ?? .init(pending: 0, oldestDueAgeSeconds: 0)
            Gauge(label: "gateway_job_queue_depth", dimensions: [("kind", kind)]).record(queue.pending)
            Gauge(label: "gateway_job_oldest_due_age_seconds", dimensions: [("kind", kind)]).record(queue.oldestDueAgeSeconds)
        }
        Gauge(label: "gateway_sse_streams_open").record(openStreams)
    }

    /// The job kinds the queue gauges have shown (a bounded set: the kinds of job).
    private static let reportedKinds = Mutex<Set<String>>([])

    private static func count(_ label: String, _ dimensions: [(String, String)]) {
        Counter(label: label, dimensions: dimensions).increment()
    }
}

extension SessionService {
    /// Reads the present state into the scrape-time gauges.
    public func refreshOperationalGauges() async throws {
        DomainMetrics.refreshGauges(try await store.operationalCounts(at: clock.now), openStreams: liveEvents.subscriberCount)
    }
}
