import NIOCore
import NIOPosix
import Testing
@testable import BGP
import Packet

// Two speakers on the loopback interface, each the other's neighbour: real
// TCP, real timers, both sides opening at once (a collision), routes learned
// and withdrawn through the RIB into the route sink.

/// Collects what a speaker hands to its sinks (touched on the event loop only).
private final class Sinks: @unchecked Sendable {
    var routes: [IPPrefix: [IPAddress]] = [:]
    var events: [String] = []
}

private func settings(peer: IPAddress, port: Int, localAS: UInt32, peerAS: UInt32, routerID: IPv4Address,
                      source: IPAddress, advertised: [IPPrefix]) -> BGPNeighborSettings {
    var session = BGPSessionConfiguration(localAS: localAS, peerAS: peerAS, routerID: routerID)
    session.holdTime = 9
    session.keepaliveTime = 3
    session.connectRetryTime = 2
    session.idleHoldTime = 1
    var n = BGPNeighborSettings(address: peer, session: session)
    n.port = port
    n.updateSource = source
    n.importPolicy = .acceptAll
    n.advertised = advertised
    return n
}

/// Polls `condition` on the loop until it holds or `seconds` pass.
private func waitFor(_ loop: EventLoop, seconds: Double = 15, _ condition: @escaping @Sendable () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await loop.submit(condition).get() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return false
}

private func freePort() throws -> Int {
    // Bind port 0 and read the kernel's choice; a tiny race with other users is acceptable in tests.
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    defer { try? group.syncShutdownGracefully() }
    let channel = try ServerBootstrap(group: group).bind(host: "::1", port: 0).wait()
    let port = channel.localAddress!.port!
    try channel.close().wait()
    return port
}

/// A (AS 65000, router ID 10.0.0.1) and B (AS 64512, 10.0.0.2) on ::1, listening on `portA` and
/// `portB`, each the other's neighbour, advertising `advertisedA` and `advertisedB`.
private func pairConfigurations(portA: Int, portB: Int, advertisedA: [IPPrefix], advertisedB: [IPPrefix])
    -> (a: BGPSpeakerConfiguration, b: BGPSpeakerConfiguration) {
    let lo: IPAddress = .v6(IPv6Address("::1")!)
    func configuration(localAS: UInt32, peerAS: UInt32, routerID: IPv4Address, port: Int, peerPort: Int,
                       advertised: [IPPrefix]) -> BGPSpeakerConfiguration {
        var c = BGPSpeakerConfiguration(localAS: localAS, routerID: routerID)
        c.listenAddresses = [lo]
        c.listenPort = port
        c.neighbors = [settings(peer: lo, port: peerPort, localAS: localAS, peerAS: peerAS, routerID: routerID,
                                source: lo, advertised: advertised)]
        return c
    }
    return (configuration(localAS: 65000, peerAS: 64512, routerID: IPv4Address(10, 0, 0, 1), port: portA, peerPort: portB,
                          advertised: advertisedA),
            configuration(localAS: 64512, peerAS: 65000, routerID: IPv4Address(10, 0, 0, 2), port: portB, peerPort: portA,
                          advertised: advertisedB))
}

/// Starts A and B on `loop`, their routes and events going to `sinkA` and `sinkB`.
private func startPair(on loop: EventLoop, _ configA: BGPSpeakerConfiguration, _ configB: BGPSpeakerConfiguration,
                       sinks sinkA: Sinks, _ sinkB: Sinks) async throws -> (BGPSpeaker, BGPSpeaker) {
    try await loop.submit {
        let a = BGPSpeaker(eventLoop: loop, configuration: configA, routeSink: { sinkA.routes = $0 }, eventSink: { sinkA.events.append($0) })
        let b = BGPSpeaker(eventLoop: loop, configuration: configB, routeSink: { sinkB.routes = $0 }, eventSink: { sinkB.events.append($0) })
        try a.start()
        try b.start()
        return (a, b)
    }.get()
}

/// Starts one speaker on `loop`, its routes going nowhere.
private func startSpeaker(on loop: EventLoop, _ config: BGPSpeakerConfiguration) async throws -> BGPSpeaker {
    try await loop.submit {
        let s = BGPSpeaker(eventLoop: loop, configuration: config, routeSink: { _ in })
        try s.start()
        return s
    }.get()
}

@Test(.timeLimit(.minutes(1)))
func twoSpeakersEstablishAndExchangeRoutes() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    let portA = try freePort(), portB = try freePort()
    let lo: IPAddress = .v6(IPv6Address("::1")!)
    let defaultRoute = IPPrefix("::/0")!, spoke = IPPrefix("2001:db8:1::/48")!, extra = IPPrefix("2001:db8:ff::/48")!
    let pair = pairConfigurations(portA: portA, portB: portB, advertisedA: [defaultRoute, extra], advertisedB: [spoke])
    var configA = pair.a

    let sinkA = Sinks(), sinkB = Sinks()
    let (a, b) = try await startPair(on: loop, configA, pair.b, sinks: sinkA, sinkB)

    // Both Established; each learned the other's routes with the peer's address as next hop.
    let learned = try await waitFor(loop) {
        sinkA.routes == [spoke: [lo]] && sinkB.routes == [defaultRoute: [lo], extra: [lo]]
    }
    #expect(learned, "A: \(sinkA.events) B: \(sinkB.events)")
    let status = try await loop.submit { (a.peerStatus(), b.routeStatus()) }.get()
    #expect(status.0.first?.state == .established)
    #expect(status.0.first?.prefixesReceived == 1 && status.0.first?.prefixesSent == 2)
    #expect(status.1.first { $0.prefix == defaultRoute }?.paths.first?.asPath == "65000")
    // Both announce graceful restart and send End-of-RIB after their routes: each side's initial
    // routes are complete by the explicit marker, for every negotiated family.
    #expect(try await waitFor(loop) { a.peerStatus().first?.initialRoutes.complete == true && b.peerStatus().first?.initialRoutes.complete == true })
    let eor = try await loop.submit { a.peerStatus().first!.initialRoutes }.get()
    #expect(!eor.families.isEmpty && eor.endOfRIB == eor.families && eor.promisesEndOfRIB && !eor.implicitEndOfRIB)
    #expect(try await loop.submit { sinkA.events.contains { $0.hasSuffix("; initial routes complete") } }.get())

    // A stops advertising one prefix: B's route goes, the session stays.
    configA.neighbors[0].advertised = [defaultRoute]
    try await loop.submit { [configA] in try a.reconfigure(configA) }.get()
    #expect(try await waitFor(loop) { sinkB.routes == [defaultRoute: [lo]] })

    // A prepends twice more: B sees the longer path without a reset.
    configA.neighbors[0].extraPrepends = 2
    try await loop.submit { [configA] in try a.reconfigure(configA) }.get()
    #expect(try await waitFor(loop) { b.routeStatus().first?.paths.first?.asPath == "65000 65000 65000" })
    #expect(try await loop.submit { b.peerStatus().first?.establishedTransitions }.get() == 1)

    // A stops: it sends a Cease, B drops A's routes at once (no graceful restart for a deconfigured peer).
    try await loop.submit { a.stop() }.get()
    #expect(try await waitFor(loop) { sinkB.routes.isEmpty && b.peerStatus().first?.state != .established })
    #expect(try await loop.submit { sinkA.routes }.get().isEmpty)
    // The End-of-RIB state belongs to the session: gone with it.
    #expect(try await loop.submit { b.peerStatus().first?.initialRoutes }.get() == InitialRoutes())
    try await loop.submit { b.stop() }.get()
    try await group.shutdownGracefully()
}

@Test(.timeLimit(.minutes(1)))
func unconfiguredPeersAreRefusedAndShutdownNeighboursStayDown() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    let port = try freePort()
    let lo: IPAddress = .v6(IPv6Address("::1")!)
    var config = BGPSpeakerConfiguration(localAS: 65000, routerID: IPv4Address(10, 0, 0, 1))
    config.listenAddresses = [lo]
    config.listenPort = port
    // The only neighbour is elsewhere: a connection from ::1 is not from a configured peer.
    var n = settings(peer: .v6(IPv6Address("fd00::99")!), port: 179, localAS: 65000, peerAS: 64512, routerID: config.routerID,
                     source: lo, advertised: [])
    n.shutdown = true
    config.neighbors = [n]
    let speaker = try await startSpeaker(on: loop, config)
    let client = try await ClientBootstrap(group: group).connect(host: "::1", port: port).get()
    // The speaker closes it without a word.
    try await client.closeFuture.get()
    let peer = try #require(try await loop.submit { speaker.peerStatus().first }.get())
    #expect(peer.state == .idle && peer.shutdown && peer.messagesSent == 0)
    try await loop.submit { speaker.stop() }.get()
    try await group.shutdownGracefully()
}

@Test(.timeLimit(.minutes(1)))
func inboundConnectionsFromUnconfiguredSourcesAndFloodsAreClosedAndCounted() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    let port = try freePort()
    // The speaker listens on 127.0.0.1; its only neighbour is 127.0.0.2 (passive, so it waits).
    var config = BGPSpeakerConfiguration(localAS: 65000, routerID: IPv4Address(10, 0, 0, 1))
    config.listenAddresses = [.v4(IPv4Address(127, 0, 0, 1))]
    config.listenPort = port
    var neighbour = settings(peer: .v4(IPv4Address(127, 0, 0, 2)), port: port, localAS: 65000, peerAS: 64512,
                             routerID: config.routerID, source: .v4(IPv4Address(127, 0, 0, 1)), advertised: [])
    neighbour.session.passive = true
    config.neighbors = [neighbour]
    let speaker = try await startSpeaker(on: loop, config)
    let client = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    func connect(from source: String, count: Int) async {
        for _ in 0..<count {
            let bootstrap = ClientBootstrap(group: client).bind(to: try! SocketAddress(ipAddress: source, port: 0))
            if let c = try? await bootstrap.connect(host: "127.0.0.1", port: port).get() { try? await c.close() }
        }
    }
    // An unconfigured address: every connection closed at once and counted.
    await connect(from: "127.0.0.3", count: 3)
    #expect(try await waitFor(loop, seconds: 10) { speaker.rejectedUnconfigured == 3 })
    // The neighbour's address reconnecting in a tight loop: past the burst, connections are refused.
    await connect(from: "127.0.0.2", count: 20)
    #expect(try await waitFor(loop, seconds: 10) { speaker.rejectedRateLimited >= 10 })
    #expect(try await loop.submit { speaker.rejectedUnconfigured }.get() == 3)
    try await loop.submit { speaker.stop() }.get()
    try await client.shutdownGracefully()
    try await group.shutdownGracefully()
}

@Test(.timeLimit(.minutes(1)))
func listenerChangesKeepSessionsAndAPlannedStopWithdrawsThenCeasesWithACommunication() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    let portA = try freePort(), portB = try freePort()
    let lo: IPAddress = .v6(IPv6Address("::1")!)
    let defaultRoute = IPPrefix("::/0")!, spoke = IPPrefix("2001:db8:1::/48")!
    let pair = pairConfigurations(portA: portA, portB: portB, advertisedA: [defaultRoute], advertisedB: [spoke])
    var configA = pair.a
    let sinkA = Sinks(), sinkB = Sinks()
    let (a, b) = try await startPair(on: loop, configA, pair.b, sinks: sinkA, sinkB)
    #expect(try await waitFor(loop) { sinkA.routes == [spoke: [lo]] && sinkB.routes == [defaultRoute: [lo]] })

    // A new listen address (as when the first neighbour of the other family is configured):
    // the listeners change, the session does not reset.
    configA.listenAddresses = [lo, .v4(IPv4Address(127, 0, 0, 1))]
    try await loop.submit { [configA] in try a.reconfigure(configA) }.get()
    try await Task.sleep(for: .milliseconds(500))
    let kept = try await loop.submit { (a.peerStatus().first?.establishedTransitions, b.peerStatus().first?.establishedTransitions) }.get()
    #expect(kept.0 == 1 && kept.1 == 1, "A: \(sinkA.events) B: \(sinkB.events)")
    let downs = try await loop.submit { (sinkA.events + sinkB.events).filter { $0.contains(" down") } }.get()
    #expect(downs.isEmpty)
    #expect(try await loop.submit { b.peerStatus().first?.state == .established }.get())

    // The drain: A advertises nothing, the session stays and A keeps B's routes (the return path).
    configA.neighbors[0].advertised = []
    try await loop.submit { [configA] in try a.reconfigure(configA) }.get()
    #expect(try await waitFor(loop) { sinkB.routes.isEmpty })
    #expect(try await loop.submit { b.peerStatus().first?.state == .established && sinkA.routes == [spoke: [lo]] }.get())

    // Then the Cease: Administrative Shutdown with the shutdown communication, seen by B.
    try await loop.submit { a.stop(.administrativeShutdown(message: GracefulShutdown.message)) }.get()
    #expect(try await waitFor(loop) { b.peerStatus().first?.lastError?.contains("egressd stopping") == true },
            "B: \(sinkB.events)")
    try await loop.submit { b.stop() }.get()
    try await group.shutdownGracefully()
}

@Test(.timeLimit(.minutes(1)))
func softReconfigurationInboundReappliesAChangedPolicyFromTheStoredRoutes() async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    let portA = try freePort(), portB = try freePort()
    let lo: IPAddress = .v6(IPv6Address("::1")!)
    let spoke1 = IPPrefix("2001:db8:1::/48")!, spoke2 = IPPrefix("2001:db8:2::/48")!
    let pair = pairConfigurations(portA: portA, portB: portB, advertisedA: [], advertisedB: [spoke1, spoke2])
    var configA = pair.a
    configA.neighbors[0].keepReceived = true
    let sinkA = Sinks(), sinkB = Sinks()
    let (a, b) = try await startPair(on: loop, configA, pair.b, sinks: sinkA, sinkB)
    #expect(try await waitFor(loop) { sinkA.routes == [spoke1: [lo], spoke2: [lo]] })
    let sentByB = try await loop.submit { b.peerStatus().first?.updatesSent }.get()

    // A new inbound prefix list: applied from the stored routes, no reset, nothing asked of B.
    configA.neighbors[0].importPolicy = .prefixList(PrefixList(name: "ONLY1", entries: [PrefixListEntry(.permit, spoke1)]))
    try await loop.submit { [configA] in try a.reconfigure(configA) }.get()
    #expect(try await waitFor(loop) { sinkA.routes == [spoke1: [lo]] }, "A: \(sinkA.events)")
    // And back: the refused route comes back from the stored copy.
    configA.neighbors[0].importPolicy = .acceptAll
    try await loop.submit { [configA] in try a.reconfigure(configA) }.get()
    #expect(try await waitFor(loop) { sinkA.routes == [spoke1: [lo], spoke2: [lo]] }, "A: \(sinkA.events)")
    let after = try await loop.submit { (b.peerStatus().first?.updatesSent, a.peerStatus().first?.establishedTransitions) }.get()
    #expect(after.0 == sentByB && after.1 == 1)
    try await loop.submit { a.stop(); b.stop() }.get()
    try await group.shutdownGracefully()
}
