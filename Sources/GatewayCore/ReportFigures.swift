import Foundation

/// Facts about a session's history that management reports count and that its state alone no longer
/// shows: who cancelled, whether the citizen was late, how often the recording policy had to act.
/// Never personal data.
public struct SessionHistory: Sendable, Equatable, Codable {
    /// `citizen` or `scheduler`, for a cancelled session.
    public var cancelledBy: String?
    /// When the session became late (the citizen was not in the lobby at start + grace).
    public var wentLateAt: Date?
    /// Recordings reported started, and rooms refused because the provider had recording on.
    public var recordingPolicyEvents: Int

    public init(cancelledBy: String? = nil, wentLateAt: Date? = nil, recordingPolicyEvents: Int = 0) {
        self.cancelledBy = cancelledBy
        self.wentLateAt = wentLateAt
        self.recordingPolicyEvents = recordingPolicyEvents
    }
}

/// The management-report figures one session adds to its service and day (the Lisbon date of its
/// start). Stores keep their sums in the same transaction as the session, adding the new session's
/// figures and taking away the old ones, so a report reads a few rows per service and day.
public struct ReportFigures: Sendable, Equatable {
    public struct Key: Sendable, Hashable, Comparable {
        public let service: String
        /// `YYYY-MM-DD`, Europe/Lisbon.
        public let day: String

        public init(service: String, day: String) {
            self.service = service
            self.day = day
        }

        public static func < (lhs: Key, rhs: Key) -> Bool { (lhs.service, lhs.day) < (rhs.service, rhs.day) }
    }

    public let key: Key
    /// Metric name → count. Lobby waits count under `wait:<bucket start in seconds, six digits>`, so
    /// that the names sort as the waits do.
    public let counts: [String: Int]

    public static let waitPrefix = "wait:"

    /// Every metric besides the wait buckets.
    public static let countMetrics = [
        "sessions", "completed", "no_show", "failed", "cancelled_by_citizen", "cancelled_by_scheduler", "late",
        "fallback_email_sent", "fallback_email_failed", "fallback_phone_sent", "fallback_phone_failed",
        "admitted_after_fallback", "recording_policy_events", "provider_failures",
    ]

    public static func waitMetric(_ seconds: Int) -> String {
        let digits = String(min(max(seconds, 0), 999_999))
        return waitPrefix + String(repeating: "0", count: 6 - digits.count) + digits
    }

    public init(_ session: Session) {
        key = Key(service: session.booking.service, day: Self.day(of: session.booking.startsAt))
        var counts: [String: Int] = ["sessions": 1]
        let history = session.history ?? SessionHistory()
        switch session.state {
        case .completed: counts["completed"] = 1
        case .noShow: counts["no_show"] = 1
        case .failed: counts["failed"] = 1
        case .cancelled: counts[history.cancelledBy == "citizen" ? "cancelled_by_citizen" : "cancelled_by_scheduler"] = 1
        case .scheduled, .open, .late, .waiting, .inProgress: break
        }
        if history.wentLateAt != nil { counts["late"] = 1 }
        for fallback in session.fallbacks {
            switch fallback.status {
            case .sent: counts["fallback_\(fallback.channel.rawValue)_sent", default: 0] += 1
            case .failed: counts["fallback_\(fallback.channel.rawValue)_failed", default: 0] += 1
            case .queued: break
            }
        }
        if let admittedAt = session.lobby.admittedAt {
            if session.fallbacks.contains(where: { $0.status == .sent && $0.at <= admittedAt }) {
                counts["admitted_after_fallback"] = 1
            }
            if let enteredAt = session.lobby.enteredAt {
                let seconds = max(0, Int(admittedAt.timeIntervalSince(enteredAt)))
                counts[Self.waitMetric(Self.waitBucket(seconds))] = 1
            }
        }
        if history.recordingPolicyEvents > 0 { counts["recording_policy_events"] = history.recordingPolicyEvents }
        if session.room.status == .failed { counts["provider_failures"] = 1 }
        self.counts = counts
    }

    /// The signed changes to the stored sums when a session goes from `old` (nil: new) to `new`.
    public static func delta(from old: Session?, to new: Session) -> [Key: [String: Int]] {
        var delta: [Key: [String: Int]] = [:]
        let added = ReportFigures(new)
        for (metric, value) in added.counts { delta[added.key, default: [:]][metric, default: 0] += value }
        if let old {
            let removed = ReportFigures(old)
            for (metric, value) in removed.counts { delta[removed.key, default: [:]][metric, default: 0] -= value }
        }
        return delta.compactMapValues { counts in
            let changed = counts.filter { $0.value != 0 }
            return changed.isEmpty ? nil : changed
        }
    }

    /// Waits are counted to the second below a minute, to 5 s below 5 minutes, to 30 s below half an
    /// hour and to 5 minutes beyond: percentiles are exact at those steps.
    public static func waitBucket(_ seconds: Int) -> Int {
        switch seconds {
        case ..<60: seconds
        case ..<300: seconds - seconds % 5
        case ..<1800: seconds - seconds % 30
        default: seconds - seconds % 300
        }
    }

    /// Replaces the `wait:` buckets of one service and day by their summary: `lobby_waits` (how many),
    /// and `lobby_wait_p50`, `lobby_wait_p90` (nearest rank) and `lobby_wait_max` in seconds. Stores that
    /// summarise in SQL give the same result.
    public static func summarizingWaits(_ counts: [String: Int]) -> [String: Int] {
        var buckets: [Int: Int] = [:]
        for (metric, count) in counts where metric.hasPrefix(waitPrefix) {
            if let seconds = Int(metric.dropFirst(waitPrefix.count)) { buckets[seconds, default: 0] += count }
        }
        return counts.filter { !$0.key.hasPrefix(waitPrefix) }.merging(waitSummary(buckets)) { _, summary in summary }
    }

    /// `lobby_waits`, `lobby_wait_p50`, `lobby_wait_p90` and `lobby_wait_max` of a histogram of waits
    /// (bucket start in seconds → count); empty when nobody waited.
    public static func waitSummary(_ buckets: [Int: Int]) -> [String: Int] {
        let waits = buckets.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        let total = waits.reduce(0) { $0 + $1.value }
        guard total > 0, let longest = waits.last?.key else { return [:] }
        func percentile(_ numerator: Int, _ denominator: Int) -> Int {
            var seen = 0
            for (seconds, count) in waits {
                seen += count
                if seen * denominator >= total * numerator { return seconds }
            }
            return longest
        }
        return [
            "lobby_waits": total, "lobby_wait_p50": percentile(1, 2), "lobby_wait_p90": percentile(9, 10),
            "lobby_wait_max": longest,
        ]
    }

    /// The Lisbon calendar day of `date`.
    public static func day(of date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = lisbon
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    private static let lisbon = TimeZone(identifier: "Europe/Lisbon") ?? TimeZone(secondsFromGMT: 0)!
}

/// One row of the management report: a service's figures for one Lisbon day.
public struct ReportRow: Sendable, Equatable, Codable {
    public struct LobbyWait: Sendable, Equatable, Codable {
        public let count: Int
        public let p50Seconds: Int?
        public let p90Seconds: Int?
        public let maxSeconds: Int?

        /// Percentiles are `null` (not absent) when nobody was admitted.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(count, forKey: .count)
            try container.encode(p50Seconds, forKey: .p50Seconds)
            try container.encode(p90Seconds, forKey: .p90Seconds)
            try container.encode(maxSeconds, forKey: .maxSeconds)
        }
    }

    public struct Fallbacks: Sendable, Equatable, Codable {
        public let emailSent: Int
        public let emailFailed: Int
        public let phoneSent: Int
        public let phoneFailed: Int
    }

    public let service: String
    public let day: String
    public let sessions: Int
    public let completed: Int
    public let noShow: Int
    public let cancelledByCitizen: Int
    public let cancelledByScheduler: Int
    public let failed: Int
    public let lobbyWait: LobbyWait
    public let late: Int
    public let fallbacks: Fallbacks
    public let admittedAfterFallback: Int
    public let recordingPolicyEvents: Int
    public let providerFailures: Int

    /// The row for the sums of one service and day, waits summarised (`ReportFigures.summarizingWaits`).
    public init(key: ReportFigures.Key, counts: [String: Int]) {
        let value = { (metric: String) in counts[metric] ?? 0 }
        service = key.service
        day = key.day
        sessions = value("sessions")
        completed = value("completed")
        noShow = value("no_show")
        cancelledByCitizen = value("cancelled_by_citizen")
        cancelledByScheduler = value("cancelled_by_scheduler")
        failed = value("failed")
        late = value("late")
        fallbacks = Fallbacks(
            emailSent: value("fallback_email_sent"), emailFailed: value("fallback_email_failed"),
            phoneSent: value("fallback_phone_sent"), phoneFailed: value("fallback_phone_failed"))
        admittedAfterFallback = value("admitted_after_fallback")
        recordingPolicyEvents = value("recording_policy_events")
        providerFailures = value("provider_failures")
        let waits = value("lobby_waits")
        lobbyWait = LobbyWait(
            count: waits, p50Seconds: waits > 0 ? value("lobby_wait_p50") : nil,
            p90Seconds: waits > 0 ? value("lobby_wait_p90") : nil, maxSeconds: waits > 0 ? value("lobby_wait_max") : nil)
    }

    /// The CSV header, in the order of `csvFields`.
    public static let csvHeader = [
        "service", "day", "sessions", "completed", "no_show", "cancelled_by_citizen", "cancelled_by_scheduler",
        "failed", "lobby_waits", "lobby_wait_p50_seconds", "lobby_wait_p90_seconds", "lobby_wait_max_seconds", "late",
        "fallback_email_sent", "fallback_email_failed", "fallback_phone_sent", "fallback_phone_failed",
        "admitted_after_fallback", "recording_policy_events", "provider_failures",
    ]

    public var csvFields: [String] {
        let optional = { (value: Int?) in value.map(String.init) ?? "" }
        return [service, day] + [sessions, completed, noShow, cancelledByCitizen, cancelledByScheduler, failed, lobbyWait.count].map(String.init)
            + [optional(lobbyWait.p50Seconds), optional(lobbyWait.p90Seconds), optional(lobbyWait.maxSeconds)]
            + [
                late, fallbacks.emailSent, fallbacks.emailFailed, fallbacks.phoneSent, fallbacks.phoneFailed,
                admittedAfterFallback, recordingPolicyEvents, providerFailures,
            ].map(String.init)
    }
}
