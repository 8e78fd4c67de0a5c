import Packet
@testable import Engine

/// A snapshot over two (or more) tunnels with fake TUN descriptors, and a
/// processor with its own scratch memory, for driving the packet path
/// without sockets.
final class Rig {
    let workers = 1
    var counters: [String: CounterBlock] = [:]
    let engineCounters = CounterBlock(workers: 1, fields: EngineCounter.fieldCount)
    let snapshot: ForwardingSnapshot
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: 64 * PacketProcessor.icmpSlotSize, alignment: 64)
    var processor: PacketProcessor
    var out = OutputQueue(capacity: 128)
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 12000, alignment: 64)

    static let tgw0 = TunnelSpec(name: "tgw0", localOuter: IPv4Address("10.0.1.10")!, remoteOuter: IPv4Address("10.0.0.1")!,
                                 insideV4: IPv4InterfaceAddress("169.254.6.1/29"), insideV6: IPv6InterfaceAddress("fd00::1/125"))
    static let tgw1 = TunnelSpec(name: "tgw1", localOuter: IPv4Address("10.0.1.10")!, remoteOuter: IPv4Address("10.0.0.2")!,
                                 insideV4: IPv4InterfaceAddress("169.254.7.1/29"))

    var redirectCounters: [UInt8: CounterBlock] = [:]

    init(tunnels: [TunnelSpec] = [Rig.tgw0, Rig.tgw1], routes: [RouteSpec]? = nil, redirect: [RedirectServiceSpec] = []) {
        var fds: [String: [Int32]] = [:]
        for (i, t) in tunnels.enumerated() {
            counters[t.name] = CounterBlock(workers: 1, fields: TunnelCounter.fieldCount)
            fds[t.name] = [Int32(100 + i)]
        }
        let defaultRoutes = [
            RouteSpec(prefix: IPPrefix("10.1.0.0/16")!, target: .tunnels(tunnels.map(\.name))),
            RouteSpec(prefix: IPPrefix("0.0.0.0/0")!, target: .nextHop(.v4(IPv4Address("10.0.2.1")!), mtu: 1500)),
            RouteSpec(prefix: IPPrefix("::/0")!, target: .nextHop(.v6(IPv6Address("fd02::1")!), mtu: 1500)),
            RouteSpec(prefix: IPPrefix("10.9.0.0/16")!, target: .blackhole),
        ]
        for r in redirect { redirectCounters[r.serviceID] = CounterBlock(workers: 1, fields: RedirectCounter.fieldCount) }
        snapshot = ForwardingSnapshot(generation: 1, tunnels: tunnels, routes: routes ?? defaultRoutes,
                                      counters: counters, tunFDs: fds, workers: 1,
                                      redirect: redirect, redirectCounters: redirectCounters)
        processor = PacketProcessor(worker: 0, engineCounters: engineCounters.row(0), icmpScratch: scratch, icmpSlots: 64)
    }

    deinit {
        scratch.deallocate()
        buffer.deallocate()
        out.deallocate()
    }

    /// Copies `bytes` after the headroom and runs the decapsulation path.
    func fromTunnel(_ bytes: [UInt8]) {
        let p = buffer + PacketProcessor.headroom
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        processor.fromTunnel(p, bytes.count, view: snapshot.view, out: &out)
    }

    func fromKernel(_ bytes: [UInt8], tunnel: Int = 0) {
        let p = buffer + PacketProcessor.headroom
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        processor.fromKernel(p, bytes.count, tunnelIndex: tunnel, view: snapshot.view, out: &out)
    }

    func counter(_ tunnel: String, _ c: TunnelCounter) -> UInt64 { counters[tunnel]!.total(c.rawValue) }
    func drops(_ tunnel: String, _ r: DropReason) -> UInt64 { counters[tunnel]!.total(TunnelCounter.dropBase + r.rawValue) }
    func engineDrops(_ r: DropReason) -> UInt64 { engineCounters.total(EngineCounter.dropBase + r.rawValue) }
    func redirectCounter(_ service: UInt8, _ field: Int) -> UInt64 { redirectCounters[service]!.total(field) }

    func output(_ i: Int) -> [UInt8] {
        let e = out[i]
        return Array(UnsafeRawBufferPointer(start: e.data, count: e.length))
    }
}

/// Minimal packet builders for tests (scapy-checked layouts live in PacketTests).
enum Build {
    static func ipv4(src: String, dst: String, proto: UInt8 = 17, ttl: UInt8 = 64, df: Bool = false,
                     payload: [UInt8] = [0x9C, 0x40, 0x00, 0x07, 0x00, 0x0C, 0x00, 0x00, 1, 2, 3, 4]) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 20 + payload.count)
        b.withUnsafeMutableBytes { p in
            IPv4Header.write(into: p.baseAddress!, totalLength: 20 + payload.count, dontFragment: df, ttl: ttl, proto: proto,
                             source: IPv4Address(src)!, destination: IPv4Address(dst)!)
        }
        b.replaceSubrange(20..., with: payload)
        return b
    }

    static func ipv6(src: String, dst: String, hopLimit: UInt8 = 64, payload: [UInt8] = [0x9C, 0x40, 0x00, 0x07, 0, 12, 0, 0, 1, 2, 3, 4]) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 40 + payload.count)
        b.withUnsafeMutableBytes { p in
            IPv6Header.write(into: p.baseAddress!, payloadLength: payload.count, nextHeader: 17, hopLimit: hopLimit,
                             source: IPv6Address(src)!, destination: IPv6Address(dst)!)
        }
        b.replaceSubrange(40..., with: payload)
        return b
    }

    static func gre(src: String, dst: String, proto: UInt16 = EtherType.ipv4, flags: UInt16 = 0, extra: [UInt8] = [], inner: [UInt8]) -> [UInt8] {
        let greHeader: [UInt8] = [UInt8(flags >> 8), UInt8(flags & 0xFF), UInt8(proto >> 8), UInt8(proto & 0xFF)] + extra
        return ipv4(src: src, dst: dst, proto: 47, ttl: 255, payload: greHeader + inner)
    }
}
