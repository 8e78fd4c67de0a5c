// The fuzz targets: one function per parser that reads the network or the
// operator. Each takes arbitrary bytes and must neither crash nor trap; where
// a parser has an invariant (the config language round-trips), a violation
// traps on purpose so that libFuzzer reports it.

import BGP
import Commands
import Engine
import Packet
import WCCP

enum FuzzTarget: String, CaseIterable {
    /// Raw frames through the packet processor: outer IPv4, GRE, inner
    /// IPv4/IPv6/TCP/UDP/ICMP, ICMP error building, the WCCP redirect stage.
    case packet
    /// BGP framing (a TCP byte stream) and every message and path attribute,
    /// with 4- and 2-octet AS contexts.
    case bgp
    /// The BGP session FSM (and the RIB) fed with the frames of the input as a peer's stream.
    case bgpSession = "bgp-session"
    /// WCCP message and component decoding, MD5 check, and the router state machine.
    case wccp
    /// The command language: config text parsed, rendered and parsed again.
    case config

    func run(_ data: UnsafeRawBufferPointer) {
        switch self {
        case .packet: PacketTarget.shared.run(data)
        case .bgp: fuzzBGP(Array(data))
        case .bgpSession: fuzzBGPSession(Array(data))
        case .wccp: fuzzWCCP(Array(data))
        case .config: fuzzConfig(Array(data))
        }
    }
}

// MARK: packet

/// One forwarding snapshot and processor, built once (like a worker's), used for every input.
final class PacketTarget: @unchecked Sendable {
    static let shared = PacketTarget()

    static let bufferSize = 16384
    let snapshot: ForwardingSnapshot
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: 64 * PacketProcessor.icmpSlotSize, alignment: 64)
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: PacketTarget.bufferSize, alignment: 64)
    let engineCounters = CounterBlock(workers: 1, fields: EngineCounter.fieldCount)
    var processor: PacketProcessor
    var out = OutputQueue(capacity: 256)

    init() {
        let a4 = { (s: String) in IPv4Address(s)! }
        let tunnels = [
            TunnelSpec(name: "tgw0", localOuter: a4("10.0.1.10"), remoteOuter: a4("10.0.0.1"),
                       insideV4: IPv4InterfaceAddress("169.254.6.1/29"), insideV6: IPv6InterfaceAddress("fd00::1/125")),
            TunnelSpec(name: "tgw1", localOuter: a4("10.0.1.10"), remoteOuter: a4("10.0.0.2"), key: 7, mtu: 1500,
                       insideV4: IPv4InterfaceAddress("169.254.7.1/29")),
        ]
        var counters: [String: CounterBlock] = [:]
        var fds: [String: [Int32]] = [:]
        for (i, t) in tunnels.enumerated() {
            counters[t.name] = CounterBlock(workers: 1, fields: TunnelCounter.fieldCount)
            fds[t.name] = [Int32(100 + i)]
        }
        let routes = [
            RouteSpec(prefix: IPPrefix("10.1.0.0/16")!, target: .tunnels(["tgw0", "tgw1"])),
            RouteSpec(prefix: IPPrefix("2001:db8:1::/48")!, target: .tunnels(["tgw0"])),
            RouteSpec(prefix: IPPrefix("0.0.0.0/0")!, target: .nextHop(.v4(a4("10.0.2.1")), mtu: 1500)),
            RouteSpec(prefix: IPPrefix("::/0")!, target: .nextHop(.v6(IPv6Address("fd02::1")!), mtu: 1500)),
            RouteSpec(prefix: IPPrefix("10.9.0.0/16")!, target: .blackhole),
        ]
        // Web-cache over GRE (hash: every bucket to one of two caches) and a
        // dynamic UDP service with mask assignment over L2.
        let hash = RedirectServiceSpec.webCache(
            assignment: .hash(flags: 0x2, buckets: (0..<256).map { UInt8($0 % 2) | ($0 % 7 == 0 ? 0x80 : 0) }),
            caches: [RedirectCacheSpec(address: a4("10.0.2.50"), method: .gre(source: a4("10.0.2.10"))),
                     RedirectCacheSpec(address: a4("10.0.2.51"), method: .gre(source: a4("10.0.2.10")), usable: false)])
        let mask = RedirectServiceSpec(
            serviceID: 90, dynamic: true, priority: 100, protocolNumber: 17, ports: [53, 443],
            assignment: .mask([RedirectMaskSet(sourceIPMask: 0, destinationIPMask: 0x1741, sourcePortMask: 0, destinationPortMask: 0,
                                               values: [.init(sourceIP: 0, destinationIP: 0x1, sourcePort: 0, destinationPort: 0, cacheIndex: 0)])]),
            caches: [RedirectCacheSpec(address: a4("10.0.2.60"), method: .l2(interfaceIndex: 3, mac: [2, 0, 0, 0, 0, 0x60]))])
        let redirectCounters: [UInt8: CounterBlock] = [
            0: CounterBlock(workers: 1, fields: RedirectCounter.fieldCount),
            90: CounterBlock(workers: 1, fields: RedirectCounter.fieldCount),
        ]
        snapshot = ForwardingSnapshot(generation: 1, tunnels: tunnels, routes: routes, counters: counters, tunFDs: fds,
                                      workers: 1, redirect: [hash, mask], redirectCounters: redirectCounters)
        processor = PacketProcessor(worker: 0, engineCounters: engineCounters.row(0), icmpScratch: scratch, icmpSlots: 64)
    }

    /// First byte: bit 0 chooses the direction (0 from a tunnel, 1 from the
    /// kernel), bit 1 the TUN it came from. The rest is the packet, copied
    /// after the headroom exactly as a worker receives it.
    func run(_ data: UnsafeRawBufferPointer) {
        guard let selector = data.first else { return }
        let packet = UnsafeRawBufferPointer(rebasing: data.dropFirst())
        let room = Self.bufferSize - PacketProcessor.headroom
        guard packet.count <= room else { return }
        let p = buffer + PacketProcessor.headroom
        if let base = packet.baseAddress { p.copyMemory(from: base, byteCount: packet.count) }
        out.removeAll()
        if selector & 1 == 0 {
            processor.fromTunnel(p, packet.count, view: snapshot.view, out: &out)
        } else {
            processor.fromKernel(p, packet.count, tunnelIndex: Int(selector >> 1) & 1, view: snapshot.view, out: &out)
        }
        // Whatever was queued must lie inside memory the worker owns.
        let bufferEnd = buffer + Self.bufferSize
        let scratchEnd = scratch + 64 * PacketProcessor.icmpSlotSize
        for i in 0..<out.count {
            let e = out[i]
            let inBuffer = e.data >= buffer && e.data + e.length <= bufferEnd
            let inScratch = e.data >= scratch && e.data + e.length <= scratchEnd
            precondition(e.length > 0 && (inBuffer || inScratch), "output \(i) outside the worker's memory")
        }
    }
}

// MARK: BGP

private let contexts = [
    UpdateDecodingContext(fourOctetAS: true, localAS: 65000, peerAS: 64512, families: [.ipv4Unicast, .ipv6Unicast]),
    UpdateDecodingContext(fourOctetAS: false, localAS: 65000, peerAS: 64512, families: [.ipv4Unicast]),
]

func fuzzBGP(_ bytes: [UInt8]) {
    // As one frame, whatever its header says.
    for context in contexts { _ = try? InboundMessage.decode(frame: bytes[...], context: context) }
    // As a TCP stream: every frame the framer yields, decoded, and what
    // decodes must encode (an accepted OPEN or UPDATE re-encodes and decodes to the same).
    var framer = BGPFrameDecoder()
    framer.append(bytes)
    while let frame = try? framer.nextFrame() {
        for context in contexts {
            guard let message = try? InboundMessage.decode(frame: frame, context: context) else { continue }
            if case .open(let open) = message {
                let again = BGPMessage.open(open).encoded()
                guard case .open(let back)? = try? InboundMessage.decode(frame: again[...], context: context) else {
                    preconditionFailure("a decoded OPEN does not decode after re-encoding")
                }
                precondition(back == open, "OPEN changed in a round trip")
            }
            if case .update(let received) = message { _ = received.routeChanges }
        }
    }
}

func fuzzBGPSession(_ bytes: [UInt8]) {
    var configuration = BGPSessionConfiguration(localAS: 65000, peerAS: 64512, routerID: IPv4Address("10.0.1.10")!)
    configuration.passive = bytes.first.map { $0 & 1 == 1 } ?? false
    var fsm = BGPSessionStateMachine(configuration: configuration, randomSeed: 1)
    var rib = RIB()
    guard let peer = try? rib.addPeer(RIBPeerConfiguration(address: .v4(IPv4Address("169.254.6.2")!), peerAS: 64512, localAS: 65000,
                                                           identifier: IPv4Address("10.0.0.1")!,
                                                           maximumPrefix: MaximumPrefix(limit: 1000))) else { return }
    func execute(_ actions: [BGPSessionAction]) {
        for action in actions {
            switch action {
            case .deliver(let update): _ = rib.apply(update.routeChanges, from: peer)
            case .send(let message): _ = message.encoded(fourOctetAS: fsm.negotiated?.decodingContext.fourOctetAS ?? true)
            default: break
            }
        }
    }
    execute(fsm.handle(.manualStart))
    execute(fsm.handle(configuration.passive ? .tcpConnectionConfirmed : .tcpConnectionAcknowledged))
    var framer = BGPFrameDecoder()
    // The stream in chunks whose sizes come from the input itself, with a timer between chunks.
    var i = bytes.isEmpty ? 0 : 1
    var timers = BGPTimer.allCases.makeIterator()
    while i < bytes.count {
        let n = min(bytes.count - i, Int(bytes[i]) + 1)
        framer.append(bytes[(i + 1)..<min(bytes.count, i + 1 + n)])
        i += 1 + n
        while true {
            let frame: ArraySlice<UInt8>
            do {
                guard let f = try framer.nextFrame() else { break }
                frame = f
            } catch {
                execute(fsm.handle(.decodeError(error)))
                break
            }
            do {
                execute(fsm.handle(.message(try InboundMessage.decode(frame: frame, context: fsm.decodingContext))))
            } catch {
                execute(fsm.handle(.decodeError(error)))
            }
        }
        if fsm.state == .idle { break }
        if let t = timers.next(), bytes[i - 1 - n] & 0x80 != 0 { execute(fsm.handle(.timerExpired(t))) }
    }
    execute(fsm.handle(.tcpConnectionFails))
    _ = rib.removePeerRoutes(peer)
}

// MARK: WCCP

private let wccpPassword = WCCPPassword("s3cret")
private let routerConfig = try! WCCPRouterConfig(routerID: IPv4Address("10.77.0.1")!, services: [
    WCCPServiceConfig(serviceID: 0),
    WCCPServiceConfig(serviceID: 90, password: wccpPassword, forwarding: .gre, assignment: .mask, packetReturn: .gre),
])

func fuzzWCCP(_ bytes: [UInt8]) {
    if let message = try? WCCPMessage.decode(bytes) {
        // What decodes re-encodes to something that decodes as the same kind of message.
        let again = message.encode()
        guard let back = try? WCCPMessage.decode(again) else { preconditionFailure("a decoded WCCP message does not decode after re-encoding") }
        precondition(back.type == message.type, "WCCP message type changed in a round trip")
    }
    _ = try? WCCPMessage.decode(bytes, password: wccpPassword)
    // The router: the datagram from a cache, again 10 s later (a registered
    // cache's next HERE_I_AM), then its timers run out.
    var router = WCCPRouter(config: routerConfig)
    let cache = IPv4Address("10.77.0.2")!
    var now = Duration.seconds(1)
    for _ in 0..<2 {
        _ = router.receive(bytes, from: cache, now: now) { _, ip in ip != IPv4Address("10.77.0.9")! }
        _ = router.tick(now: now)
        now += .seconds(10)
    }
    _ = router.status()
    _ = router.tick(now: now + .seconds(60))
}

// MARK: command language

func fuzzConfig(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let config = try? ConfigParser.parse(text: text) else { return }
    // Loading a file is typing it, and show running-config loads back to the same.
    let rendered = config.render()
    let again: RunningConfig
    do {
        again = try ConfigParser.parse(text: rendered)
    } catch {
        preconditionFailure("running-config does not load back: \(error)\n--- input\n\(text)\n--- rendered\n\(rendered)")
    }
    precondition(again == config, "running-config loads back to a different config:\n--- input\n\(text)\n--- rendered\n\(rendered)")
    precondition(again.render() == rendered, "render is not a fixed point")
}
