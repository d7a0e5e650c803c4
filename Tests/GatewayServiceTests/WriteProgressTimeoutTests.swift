@testable import GatewayService
import NIOCore
import NIOEmbedded
import Testing

@Suite("Write progress timeout")
struct WriteProgressTimeoutTests {
    static let timeout = TimeAmount.seconds(10)

    static func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: WriteProgressTimeout(timeout: timeout))
        try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @discardableResult
    static func write(_ channel: EmbeddedChannel, flush: Bool) -> EventLoopPromise<Void> {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.write(ByteBuffer(string: "data: x\n\n"), promise: promise)
        if flush { channel.flush() }
        return promise
    }

    /// Open a second before the timeout has passed, closed when it has.
    static func expectClosedAtTimeout(_ channel: EmbeddedChannel) {
        channel.embeddedEventLoop.advanceTime(by: timeout - .seconds(1))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
    }

    @Test("A connection that writes nothing is closed after the timeout, not before")
    func idle() throws {
        Self.expectClosedAtTimeout(try Self.channel())
    }

    @Test("Completed writes keep it open; it closes a timeout after the last one")
    func completedWrites() throws {
        let channel = try Self.channel()
        for _ in 0..<5 {
            channel.embeddedEventLoop.advanceTime(by: .seconds(6))
            Self.write(channel, flush: true)
            Self.write(channel, flush: true)
        }
        #expect(channel.isActive)
        Self.expectClosedAtTimeout(channel)
    }

    @Test("Writes that never complete close it a timeout after the last completed one, whatever is written since")
    func stalledWrites() throws {
        let channel = try Self.channel()
        Self.write(channel, flush: true)
        // A reader that stopped: the writes stay pending (never flushed out here), more keep coming.
        var pending = [Self.write(channel, flush: false)]
        for _ in 0..<3 {
            channel.embeddedEventLoop.advanceTime(by: .seconds(3))
            pending.append(Self.write(channel, flush: false))
        }
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
        // An embedded channel leaves unflushed writes as they are when it closes; a socket fails them.
        for promise in pending { promise.fail(ChannelError.ioOnClosedChannel) }
    }

    @Test("Untouched promises of the writes made while one is followed still complete")
    func otherPromises() throws {
        let channel = try Self.channel()
        let first = Self.write(channel, flush: false)
        let second = Self.write(channel, flush: false)
        channel.flush()
        try first.futureResult.wait()
        try second.futureResult.wait()
        #expect(try channel.readOutbound(as: ByteBuffer.self) != nil)
        #expect(try channel.readOutbound(as: ByteBuffer.self) != nil)
        _ = try channel.finish()
    }
}
