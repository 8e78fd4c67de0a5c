// One TCP connection to a peer: the NIO channel, the frame decoder that cuts
// its byte stream into messages, and the thin handler that hands both to the
// speaker. Everything here runs on the speaker's event loop.

import NIOCore
import Packet

/// A TCP connection carrying BGP messages (before or after it is bound to a session).
final class BGPConnection: @unchecked Sendable {
    let channel: Channel
    let direction: ConnectionDirection
    var decoder = BGPFrameDecoder()
    /// Set once the connection drives a session's FSM (or waits as its collision candidate).
    var onBytes: (() -> Void)?
    var onClose: (() -> Void)?
    private(set) var isClosed = false
    /// The future of the last write, so that a close waits for it (a NOTIFICATION must leave first).
    private var lastWrite: EventLoopFuture<Void>?

    init(channel: Channel, direction: ConnectionDirection) {
        self.channel = channel
        self.direction = direction
    }

    var remoteAddress: IPAddress? { channel.remoteAddress.flatMap(IPAddress.init(socketAddress:)) }
    var localAddress: IPAddress? { channel.localAddress.flatMap(IPAddress.init(socketAddress:)) }

    /// Bytes a peer may leave unread (queued in the channel beyond the kernel's socket buffer)
    /// before the connection is dropped as failed: a peer that stops reading cannot make the
    /// speaker buffer a whole table per session (docs/architecture.md, "Bounded queues").
    static let maximumUnsentBytes = 64 << 20
    /// Set when the connection was dropped for that reason.
    private(set) var sendOverflowed = false

    /// Sends one encoded message.
    func send(_ bytes: [UInt8]) {
        guard !isClosed else { return }
        if let unsent = try? channel.syncOptions?.getOption(.bufferedWritableBytes), unsent > Self.maximumUnsentBytes {
            // Closed at once (the unread backlog is discarded), not after the last write.
            sendOverflowed = true
            let callback = onClose
            isClosed = true
            onBytes = nil
            onClose = nil
            channel.close(promise: nil)
            callback?()
            return
        }
        lastWrite = channel.writeAndFlush(channel.allocator.buffer(bytes: bytes))
    }

    /// Closes after what was written is out; no more callbacks are delivered.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        onBytes = nil
        onClose = nil
        let channel = self.channel
        if let lastWrite {
            lastWrite.whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    // Called by the handler.
    func received(_ buffer: ByteBuffer) {
        guard !isClosed else { return }
        decoder.append(buffer.readableBytesView)
        onBytes?()
    }

    func closedByPeer() {
        guard !isClosed else { return }
        isClosed = true
        let callback = onClose
        onBytes = nil
        onClose = nil
        callback?()
    }
}

/// Passes a channel's bytes and closure to its `BGPConnection`.
final class BGPChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// Set right after the channel is created; reads before that are kept.
    var connection: BGPConnection?
    private var early: [ByteBuffer] = []
    private var closedEarly = false

    func attach(_ connection: BGPConnection) {
        self.connection = connection
        for b in early { connection.received(b) }
        early = []
        if closedEarly { connection.closedByPeer() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let connection { connection.received(buffer) } else { early.append(buffer) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let connection { connection.closedByPeer() } else { closedEarly = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

extension IPAddress {
    /// The address of an IPv4 or IPv6 socket address (v4-mapped IPv6 becomes IPv4).
    init?(socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let a):
            self = .v4(IPv4Address(UInt32(bigEndian: a.address.sin_addr.s_addr)))
        case .v6(let a):
            var addr = a.address.sin6_addr
            let bytes = withUnsafeBytes(of: &addr) { Array($0) }
            let v6 = IPv6Address(bytes: bytes)
            if v6.high == 0, v6.low >> 32 == 0xFFFF {
                self = .v4(IPv4Address(UInt32(truncatingIfNeeded: v6.low)))
            } else {
                self = .v6(v6)
            }
        case .unixDomainSocket:
            return nil
        }
    }

    /// The socket address of this IP address and `port`.
    func socketAddress(port: Int) throws -> SocketAddress {
        try SocketAddress(ipAddress: description, port: port)
    }
}
