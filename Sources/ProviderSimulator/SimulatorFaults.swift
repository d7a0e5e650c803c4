import Foundation
import Synchronization

/// Faults the simulator injects into its API answers, so that retries, time-outs and lost answers can
/// be exercised against a provider that misbehaves the way real ones do.
///
/// Written as `kind=share` pairs, e.g. `5xx=0.3,timeout=0.1,retry_after=1`: each API request draws one
/// fault (or none) with those probabilities, from a seeded generator so that a run can be repeated.
public struct SimulatorFaults: Sendable, Equatable {
    /// What can go wrong with one request.
    public enum Kind: String, Sendable, CaseIterable, Codable {
        /// `503` with a Daily error body.
        case serverError = "5xx"
        /// `429` with `Retry-After`.
        case rateLimited = "429"
        /// No answer for `timeoutSeconds`, then `504`; nothing is done.
        case timeout
        /// The connection is dropped before a complete answer; nothing is done.
        case reset
        /// The request is carried out and answered after `slowMilliseconds`.
        case slow
        /// The request is carried out (a room is created) but the connection is dropped before the answer.
        case lost
    }

    /// The share of requests that get each fault; the shares add up to at most 1.
    public var shares: [Kind: Double] = [:]
    public var retryAfterSeconds = 1
    public var timeoutSeconds = 30.0
    public var slowMilliseconds = 1500

    public static let none = SimulatorFaults()

    public init() {}

    /// Parses `kind=share,…`; throws a message naming the wrong part.
    public init(parsing text: String) throws(SimulatorFaultsError) {
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, let value = Double(pair[1]), value >= 0 else {
                throw SimulatorFaultsError("'\(part)' is not kind=number")
            }
            switch pair[0] {
            case "retry_after": retryAfterSeconds = Int(value)
            case "timeout_seconds": timeoutSeconds = value
            case "slow_ms": slowMilliseconds = Int(value)
            default:
                guard let kind = Kind(rawValue: pair[0]) else {
                    let kinds = Kind.allCases.map(\.rawValue) + ["retry_after", "timeout_seconds", "slow_ms"]
                    throw SimulatorFaultsError("unknown fault '\(pair[0])' (allowed: \(kinds.joined(separator: ", ")))")
                }
                guard value <= 1 else { throw SimulatorFaultsError("the share of \(pair[0]) must be between 0 and 1") }
                shares[kind] = value
            }
        }
        guard shares.values.reduce(0, +) <= 1.000_001 else {
            throw SimulatorFaultsError("the fault shares add up to more than 1")
        }
    }

    /// The fault for a uniform draw in `0..<1`, or `nil` for a normal answer.
    public func fault(for draw: Double) -> Kind? {
        var bound = 0.0
        for kind in Kind.allCases {
            bound += shares[kind] ?? 0
            if draw < bound { return kind }
        }
        return nil
    }

    public var isEmpty: Bool { shares.values.allSatisfy { $0 == 0 } }
}

public struct SimulatorFaultsError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = "SIMULATOR_FAULTS: " + description }
}

/// Draws faults from a seeded generator (SplitMix64) and counts what it injected.
final class FaultInjector: Sendable {
    let faults: SimulatorFaults
    private let state: Mutex<(seed: UInt64, injected: [SimulatorFaults.Kind: Int])>

    init(faults: SimulatorFaults, seed: UInt64) {
        self.faults = faults
        self.state = Mutex((seed, [:]))
    }

    func draw() -> SimulatorFaults.Kind? {
        guard !faults.isEmpty else { return nil }
        return state.withLock { state in
            state.seed &+= 0x9E37_79B9_7F4A_7C15
            var z = state.seed
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let kind = faults.fault(for: Double(z >> 11) / Double(1 << 53))
            if let kind { state.injected[kind, default: 0] += 1 }
            return kind
        }
    }

    var injected: [String: Int] {
        state.withLock { state in Dictionary(uniqueKeysWithValues: state.injected.map { ($0.key.rawValue, $0.value) }) }
    }
}
