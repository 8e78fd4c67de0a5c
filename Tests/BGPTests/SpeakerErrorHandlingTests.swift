import NIOCore
import NIOPosix
import Testing
@testable import BGP
import Packet

// A scripted peer (raw bytes over TCP on ::1) against a real speaker: a valid
// route is learned, an UPDATE with a bad ORIGIN is treated as withdraw (the
// session stays), and an NLRI prefix length of 33 gets NOTIFICATION 3/10 and
// the connection closed, as RFC 7606 and BIRD's behaviour prescribe.

/// Bytes received by the scripted peer, and whether the speaker closed.
private final class Received: @unchecked Sendable {
    var decoder = BGPFrameDecoder()
    var messages: [InboundMessage] = []
    var closed = false
}

private final class ScriptedPeerHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let received: Received
    init(_ received: Received) { self.received = received }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received.decoder.append(unwrapInboundIn(data).readableBytesView)
        let context = UpdateDecodingContext(fourOctetAS: true, localAS: 64512, peerAS: 65000)
        while let frame = try? received.decoder.nextFrame() {
            if let m = try? InboundMessage.decode(frame: frame, context: context) { received.messages.append(m) }
        }
    }
    func channelInactive(context: ChannelHandlerContext) { received.closed = true }
}

private final class RouteBox: @unchecked Sendable { var routes: [IPPrefix: [IPAddress]] = [:] }

@Test(.timeLimit(.minutes(1)))
func malformedUpdatesGetTheRightAnswer() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    let lo: IPAddress = .v6(IPv6Address("::1")!)
    // Listen on a free port; the speaker's own connects go to a closed port and fail.
    let probe = try await ServerBootstrap(group: group).bind(host: "::1", port: 0).get()
    let listenPort = probe.localAddress!.port!
    try await probe.close()

    var session = BGPSessionConfiguration(localAS: 65000, peerAS: 64512, routerID: IPv4Address(10, 0, 0, 1))
    session.families = [.ipv4Unicast]
    session.connectRetryTime = 60
    var neighbor = BGPNeighborSettings(address: lo, session: session)
    neighbor.port = 1  // nothing listens there
    neighbor.importPolicy = .acceptAll
    var config = BGPSpeakerConfiguration(localAS: 65000, routerID: session.routerID, neighbors: [neighbor])
    config.listenAddresses = [lo]
    config.listenPort = listenPort
    let box = RouteBox()
    let speaker = try await loop.submit { [config] in
        let s = BGPSpeaker(eventLoop: loop, configuration: config, routeSink: { box.routes = $0 })
        try s.start()
        return s
    }.get()

    // Connect (retrying until the listener is up) and open the session.
    let received = Received()
    var channel: Channel?
    for _ in 0..<50 where channel == nil {
        channel = try? await ClientBootstrap(group: group)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(ScriptedPeerHandler(received)) } }
            .connect(host: "::1", port: listenPort).get()
        if channel == nil { try await Task.sleep(for: .milliseconds(100)) }
    }
    let peer = try #require(channel)
    func send(_ bytes: [UInt8]) async throws { try await peer.writeAndFlush(peer.allocator.buffer(bytes: bytes)) }
    func until(_ condition: @escaping @Sendable () -> Bool) async throws -> Bool {
        for _ in 0..<200 {
            if try await loop.submit(condition).get() { return true }
            try await Task.sleep(for: .milliseconds(25))
        }
        return false
    }

    var theirOpen = BGPSessionConfiguration(localAS: 64512, peerAS: 65000, routerID: IPv4Address(10, 0, 0, 2))
    theirOpen.families = [.ipv4Unicast]
    try await send(BGPMessage.open(theirOpen.open).encoded())
    try await send(BGPMessage.keepalive.encoded())
    #expect(try await until { speaker.peerStatus().first?.state == .established })

    // A valid route.
    let route = BGPUpdate(attributes: PathAttributes(origin: .igp, asPath: ASPath(sequence: [64512]), nextHop: addr4("169.254.6.2")),
                          nlri: [prefix4("10.99.0.0/24")])
    try await send(BGPMessage.update(route).encoded())
    #expect(try await until { box.routes == [.v4(prefix4("10.99.0.0/24")): [.v4(addr4("169.254.6.2"))]] })

    // ORIGIN value 7: treat-as-withdraw, the session stays.
    let badOrigin = updateFrame(attributes: [0x40, 1, 1, 7] + [0x40, 2, 6, 2, 1, 0, 0, 0xFC, 0x00] + [0x40, 3, 4, 169, 254, 6, 2],
                                nlri: [24, 10, 99, 0])
    try await send(badOrigin)
    #expect(try await until { box.routes.isEmpty })
    #expect(try await loop.submit { speaker.peerStatus().first?.state }.get() == .established)

    // NLRI prefix length 33: NOTIFICATION 3/10 (Invalid Network Field), connection closed.
    try await send(updateFrame(attributes: [0x40, 1, 1, 0] + [0x40, 2, 6, 2, 1, 0, 0, 0xFC, 0x00] + [0x40, 3, 4, 169, 254, 6, 2],
                               nlri: [33, 10, 99, 0, 0, 0]))
    #expect(try await until { received.closed })
    let last = try await loop.submit { received.messages.last }.get()
    guard case .notification(let n)? = last else {
        Issue.record("expected a NOTIFICATION, got \(String(describing: last))")
        return
    }
    #expect(n.code == 3 && n.subcode == 10)
    #expect(try await loop.submit { speaker.peerStatus().first?.state }.get() != .established)

    try await loop.submit { speaker.stop() }.get()
    try await group.shutdownGracefully()
}
