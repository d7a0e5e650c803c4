import Foundation
import MeetingProviders
import NIOCore
import NIOPosix
import Testing

/// Every provider call ends by its timeout, however the provider fails to answer.
@Suite("Outbound HTTP transport", .timeLimit(.minutes(1)))
struct NIOHTTPTransportTests {
    @Test("A refused connection fails the call at once, again and again (the job worker retries, not the client)")
    func refusedConnection() async throws {
        let port = try await closedPort()
        let transport = NIOHTTPTransport()
        let started = ContinuousClock.now
        for _ in 0..<6 {
            let request = HTTPRequest(method: "DELETE", url: URL(string: "http://127.0.0.1:\(port)/v1/rooms/r")!, timeout: .seconds(20))
            await #expect(throws: ProviderError.self) { try await transport.send(request) }
        }
        #expect(ContinuousClock.now - started < .seconds(20), "six refused calls take less than one call's timeout")
    }

    @Test("A provider that sends the answer's head and then nothing fails the call at its timeout")
    func stalledBody() async throws {
        try await withRawServer(answer: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"name\":") { port in
            let request = HTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:\(port)/v1/rooms/r")!, timeout: .seconds(1))
            let started = ContinuousClock.now
            do {
                _ = try await NIOHTTPTransport().send(request)
                Issue.record("a body that never ends was answered")
            } catch let error as ProviderError {
                #expect("\(error)".contains("deadline"))
            }
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test("A provider that accepts the connection and never answers fails the call at its timeout")
    func silentServer() async throws {
        try await withRawServer(answer: nil) { port in
            let request = HTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:\(port)/v1/rooms/r")!, timeout: .seconds(1))
            let started = ContinuousClock.now
            await #expect(throws: ProviderError.self) { try await NIOHTTPTransport().send(request) }
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test("A complete answer is read whole")
    func completeAnswer() async throws {
        try await withRawServer(answer: "HTTP/1.1 201 Created\r\nContent-Length: 11\r\nX-Room: r\r\n\r\n{\"id\":\"r\"}\n") { port in
            let request = HTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:\(port)/v1/rooms/r")!, timeout: .seconds(5))
            let response = try await NIOHTTPTransport().send(request)
            #expect(response.status == 201)
            #expect(response.headers["x-room"] == "r")
            #expect(String(decoding: response.body, as: UTF8.self) == "{\"id\":\"r\"}\n")
        }
    }
}

/// A loopback port nothing listens on: bound, then closed.
private func closedPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}

/// A loopback server that answers every request's first bytes with `answer` (raw HTTP), or never
/// answers when it is `nil`; it keeps every connection open.
private func withRawServer(answer: String?, _ body: (Int) async throws -> Void) async throws {
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { channel in channel.pipeline.addHandler(RawAnswer(answer: answer)) }
        .bind(host: "127.0.0.1", port: 0).get()
    do {
        try await body(server.localAddress!.port!)
    } catch {
        try? await server.close()
        throw error
    }
    try await server.close()
}

private final class RawAnswer: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let answer: String?

    init(answer: String?) { self.answer = answer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let answer else { return }
        context.writeAndFlush(Self.wrapOutboundOut(context.channel.allocator.buffer(string: answer)), promise: nil)
    }
}
