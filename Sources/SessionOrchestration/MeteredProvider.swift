import Foundation
import GatewayCore
import MeetingProviders
import Metrics

/// Wraps a provider to measure every call: `gateway_provider_call_duration_seconds` and
/// `gateway_provider_call_errors_total`, by provider, operation and (for errors) error code.
public struct MeteredProvider: MeetingProvider {
    let name: String
    let provider: any MeetingProvider

    public init(name: String, provider: any MeetingProvider) {
        self.name = name
        self.provider = provider
    }

    /// Every provider of `providers`, metered under its name.
    public static func registry(_ providers: [String: any MeetingProvider]) -> ProviderRegistry {
        ProviderRegistry(Dictionary(uniqueKeysWithValues: providers.map { ($0.key, MeteredProvider(name: $0.key, provider: $0.value) as any MeetingProvider) }))
    }

    private func measure<T>(_ operation: String, _ call: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - start
            Timer(
                label: "gateway_provider_call_duration_seconds",
                dimensions: [("provider", name), ("operation", operation)], preferredDisplayUnit: .seconds
            ).recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        }
        do {
            return try await call()
        } catch {
            let code = (error as? ProviderError)?.code ?? "internal_error"
            Counter(
                label: "gateway_provider_call_errors_total",
                dimensions: [("provider", name), ("operation", operation), ("code", code)]
            ).increment()
            throw error
        }
    }

    public func createOrGetRoom(for spec: RoomSpec, knownRoomID: String?, roomCreated: RoomCreated) async throws
        -> ProvisionedRoom
    {
        try await measure("create_room") {
            try await provider.createOrGetRoom(for: spec, knownRoomID: knownRoomID, roomCreated: roomCreated)
        }
    }

    public func updateRoom(_ providerRoomID: String, for spec: RoomSpec) async throws -> ProvisionedRoom {
        try await measure("update_room") { try await provider.updateRoom(providerRoomID, for: spec) }
    }

    public func deleteRoom(for spec: RoomSpec, providerRoomID: String?) async throws {
        try await measure("delete_room") { try await provider.deleteRoom(for: spec, providerRoomID: providerRoomID) }
    }

    public func citizenEntry(for spec: RoomSpec, providerRoomID: String) async throws -> RoomEntry {
        try await measure("citizen_entry") { try await provider.citizenEntry(for: spec, providerRoomID: providerRoomID) }
    }

    public func hostEntry(for spec: RoomSpec, providerRoomID: String, attendantID: String) async throws -> RoomEntry {
        try await measure("host_entry") {
            try await provider.hostEntry(for: spec, providerRoomID: providerRoomID, attendantID: attendantID)
        }
    }

    public func stopRecording(in providerRoomID: String) async throws -> Bool {
        try await measure("stop_recording") { try await provider.stopRecording(in: providerRoomID) }
    }

    public func recordingState(of providerRoomID: String) async throws -> RecordingReadback {
        try await measure("recording_state") { try await provider.recordingState(of: providerRoomID) }
    }
}
