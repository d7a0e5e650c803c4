import Foundation
import GatewayCore
import Hummingbird
import Synchronization

/// An in-memory stand-in for a meeting provider that speaks the subset of Daily's REST API the gateway
/// uses (rooms create/get/update/delete/list, meeting tokens), on its own loopback port. The gateway
/// reaches it through the same Daily adapter and HTTP transport as the real service.
public final class ProviderSimulator: Sendable {
    /// A room as the simulator keeps it.
    public struct Room: Sendable, Codable, Equatable {
        public let id: String
        public let name: String
        public let privacy: String
        public let url: String
        public let created_at: String
        public var config: [String: JSONValue]
    }

    private struct State {
        var rooms: [String: Room] = [:]
        var tokens: [String: (room: String, isOwner: Bool, expiresAt: Date?)] = [:]
        var roomsCreated = 0
        var createsByName: [String: Int] = [:]
        var requests = 0
    }

    private let state = Mutex(State())
    private let apiKey: String
    /// The base URL rooms are reachable under, e.g. `http://127.0.0.1:8081`.
    public let publicBaseURL: String
    /// A domain-wide recording default (`cloud`, `local`…) that new rooms inherit, as a Daily domain
    /// configured to record would; `nil` for none. Lets the gateway's fail-closed rule be exercised.
    public let domainRecording: String?
    private let faults: FaultInjector

    /// `faults` are injected into API answers (none by default), drawn from a generator seeded with `faultSeed`.
    public init(
        apiKey: String, publicBaseURL: String, domainRecording: String? = nil, faults: SimulatorFaults = .none,
        faultSeed: UInt64 = 1
    ) {
        self.apiKey = apiKey
        self.publicBaseURL = publicBaseURL
        self.domainRecording = domainRecording
        self.faults = FaultInjector(faults: faults, seed: faultSeed)
    }

    /// Rooms that exist now.
    public var roomNames: [String] { state.withLock { $0.rooms.keys.sorted() } }

    /// The rooms that exist now, by name.
    public var rooms: [Room] { allRooms() }

    /// How many rooms were ever created (a second create of the same name is not counted).
    public var roomsCreated: Int { state.withLock { $0.roomsCreated } }

    /// The HTTP routes; `/v1/...` speaks Daily, `/{room}` shows a placeholder room page.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.group("_simulator").add(middleware: BearerKeyMiddleware(apiKey: apiKey))
            .get("stats") { _, _ in try self.json(self.stats) }
        let api = router.group("v1").add(middleware: BearerKeyMiddleware(apiKey: apiKey))
            .add(middleware: FaultMiddleware(injector: faults, onRequest: { self.state.withLock { $0.requests += 1 } }))
        api.get("rooms") { request, _ in try self.listRooms(request) }
        api.post("rooms") { request, context in try await self.createRoom(request, context) }
        api.get("rooms/{name}") { _, context in try self.getRoom(context.parameters.require("name")) }
        api.post("rooms/{name}") { request, context in
            try await self.updateRoom(context.parameters.require("name"), request, context)
        }
        api.delete("rooms/{name}") { _, context in try self.deleteRoom(context.parameters.require("name")) }
        api.post("meeting-tokens") { request, context in try await self.createToken(request, context) }
        router.get("{name}") { request, context in try self.roomPage(context.parameters.require("name"), request) }
        return router
    }

    /// What the simulator has done: the rooms that exist, how often each name was created, the faults
    /// injected and the API requests answered; served at `GET /_simulator/stats` (never faulty).
    public struct Stats: Sendable, Codable, Equatable {
        public let rooms: [String]
        public let createsByName: [String: Int]
        public let duplicateRooms: [String]
        public let faultsInjected: [String: Int]
        public let requests: Int
    }

    public var stats: Stats {
        state.withLock { state in
            Stats(
                rooms: state.rooms.keys.sorted(), createsByName: state.createsByName,
                duplicateRooms: state.createsByName.filter { $0.value > 1 }.keys.sorted(),
                faultsInjected: faults.injected, requests: state.requests)
        }
    }

    private func allRooms() -> [Room] {
        state.withLock { $0.rooms.values.sorted { $0.name < $1.name } }
    }

    private func createRoom(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let body = try await request.decode(as: CreateRoom.self, context: context)
        let name = body.name ?? UUID().uuidString.lowercased()
        guard name.range(of: "^[A-Za-z0-9_-]{1,128}$", options: .regularExpression) != nil else {
            return try error(400, "invalid-request-error", "name must match [A-Za-z0-9_-]")
        }
        var config = body.properties ?? [:]
        if config["enable_recording"] == nil, let domainRecording { config["enable_recording"] = .string(domainRecording) }
        let created: Room? = state.withLock { state in
            guard state.rooms[name] == nil else { return nil }
            let room = Room(
                id: UUID().uuidString.lowercased(), name: name, privacy: body.privacy ?? "public",
                url: "\(publicBaseURL)/\(name)", created_at: Date().ISO8601Format(), config: config)
            state.rooms[name] = room
            state.roomsCreated += 1
            state.createsByName[name, default: 0] += 1
            return room
        }
        guard let created else { return try error(400, "invalid-request-error", "a room named \(name) already exists") }
        return try json(created)
    }

    private func getRoom(_ name: String) throws -> Response {
        guard let room = state.withLock({ $0.rooms[name] }) else { return try notFound() }
        return try json(room)
    }

    private func updateRoom(_ name: String, _ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let body = try await request.decode(as: UpdateRoom.self, context: context)
        let updated: Room? = state.withLock { state in
            guard var room = state.rooms[name] else { return nil }
            room.config.merge(body.properties ?? [:]) { _, new in new }
            state.rooms[name] = room
            return room
        }
        guard let updated else { return try notFound() }
        return try json(updated)
    }

    private func deleteRoom(_ name: String) throws -> Response {
        let existed = state.withLock { state in
            state.tokens = state.tokens.filter { $0.value.room != name }
            return state.rooms.removeValue(forKey: name) != nil
        }
        guard existed else { return try notFound() }
        return try json(Deleted(deleted: true, name: name))
    }

    /// `GET /rooms?limit=&starting_after=`: Daily's list, in a stable order (by room id), 100 a page at most.
    private func listRooms(_ request: Request) throws -> Response {
        let limit = min(100, max(1, request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 100))
        let after: String? = request.uri.queryParameters.get("starting_after").map { String($0) }
        let all = allRooms().sorted { $0.id < $1.id }
        let page = all.filter { room in after.map { room.id > $0 } ?? true }.prefix(limit)
        return try json(RoomList(total_count: all.count, data: Array(page)))
    }

    private func createToken(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let body = try await request.decode(as: CreateToken.self, context: context)
        guard let roomName = body.properties.room_name else {
            return try error(400, "invalid-request-error", "room_name is required")
        }
        let token = UUID().uuidString.lowercased()
        let exists = state.withLock { state in
            guard state.rooms[roomName] != nil else { return false }
            state.tokens[token] = (
                roomName, body.properties.is_owner ?? false,
                body.properties.exp.map { Date(timeIntervalSince1970: TimeInterval($0)) }
            )
            return true
        }
        guard exists else { return try error(400, "invalid-request-error", "room \(roomName) does not exist") }
        return try json(Token(token: token))
    }

    private func roomPage(_ name: String, _ request: Request) throws -> Response {
        let room = state.withLock { $0.rooms[name] }
        let token = request.uri.queryParameters.get("t")
        let entry = token.flatMap { token in state.withLock { $0.tokens[token] } }
        let role = entry.map { $0.isOwner ? "host" : "guest" }
        let text: String
        if room == nil {
            text = "This simulated room does not exist (any more)."
        } else if let expiresAt = entry?.expiresAt, expiresAt <= Date() {
            text = "This meeting token has expired: ask for a new link."
        } else if let role {
            text = "You are in simulated room \(name) as \(role). Nobody is recording."
        } else {
            text = "Simulated room \(name): knock to enter (no meeting token)."
        }
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Simulated meeting</title></head>
            <body><main><h1>Simulated meeting</h1><p>\(text)</p></main></body></html>
            """
        return Response(
            status: room == nil ? .notFound : .ok,
            headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    private func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    private func notFound() throws -> Response {
        try error(404, "not-found", "not found")
    }

    private func error(_ status: Int, _ type: String, _ info: String) throws -> Response {
        try json(DailyError(error: type, info: info), status: .init(code: status))
    }
}

private struct BearerKeyMiddleware: RouterMiddleware {
    let apiKey: String

    func handle(
        _ request: Request, context: BasicRequestContext,
        next: (Request, BasicRequestContext) async throws -> Response
    ) async throws -> Response {
        let expected = Array("Bearer \(apiKey)".utf8)
        let given = Array((request.headers[.authorization] ?? "").utf8)
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for (a, b) in zip(given, expected) { difference |= a ^ b }
        guard difference == 0 else {
            let body = #"{"error":"authentication-error","info":"missing or wrong API key"}"#
            return Response(
                status: .unauthorized, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        return try await next(request, context)
    }
}

private struct CreateRoom: Decodable {
    let name: String?
    let privacy: String?
    let properties: [String: JSONValue]?
}

private struct UpdateRoom: Decodable {
    let properties: [String: JSONValue]?
}

private struct CreateToken: Decodable {
    struct Properties: Decodable {
        let room_name: String?
        let is_owner: Bool?
        /// Seconds since 1970 after which the token no longer lets anyone in.
        let exp: Int?
    }
    let properties: Properties
}

private struct RoomList: Encodable {
    let total_count: Int
    let data: [ProviderSimulator.Room]
}

private struct Deleted: Encodable {
    let deleted: Bool
    let name: String
}

private struct Token: Encodable {
    let token: String
}

private struct DailyError: Encodable {
    let error: String
    let info: String
}
