// `trace packet`: runs one synthesized packet through the SAME PacketProcessor
// code the workers run, against a replica of the current snapshot (same
// tunnels, routes, ECMP tables and WCCP services, rebuilt from its specs)
// whose counters are scratch blocks, so a trace never moves a live counter.
// Nothing is sent: what the processor queued is returned, with the counters
// it moved and the route the FIB chose, for the shell to explain.

import Packet

/// One output the processor queued for the traced packet.
public struct TraceOutput: Sendable {
    public enum Kind: String, Sendable { case raw4 = "ip", raw6 = "ipv6", tun = "kernel", l2 = "l2" }
    public var kind: Kind
    public var length: Int
    /// For raw4/l2: the IPv4 destination the socket sends to (a GRE outer
    /// destination when encapsulated, else the inner packet's).
    public var destination: IPv4Address
    /// The tunnel whose encapsulation this is (nil: not encapsulated into a tunnel).
    public var tunnel: String?
    /// For l2: interface index and MAC.
    public var interfaceIndex: Int32
    public var mac: [UInt8]
    /// The queued bytes (outer headers included).
    public var bytes: [UInt8]
}

/// What the engine did with a traced packet.
public struct TraceResult: Sendable {
    /// Engine-wide counters that moved (EngineCounter fields), by field.
    public var engineCounters: [Int: UInt64]
    /// Per tunnel counters that moved (TunnelCounter fields).
    public var tunnelCounters: [String: [Int: UInt64]]
    /// Per WCCP service counters that moved (RedirectCounter fields).
    public var serviceCounters: [UInt8: [Int: UInt64]]
    public var outputs: [TraceOutput]
    /// The FIB's choice for the inner destination: prefix and route kind
    /// ("local", "tunnels", "nextHop", "blackhole"), nil when no route.
    public var route: (prefix: IPPrefix, kind: String)?
    /// For a tunnel route: the ECMP group's members and the one the flow hash picked.
    public var ecmpMembers: [String]
    public var ecmpChoice: String?
    public var flowHash: UInt64
    public var redirectSpecs: [RedirectServiceSpec]
}

extension ForwardingSnapshot {
    /// Where a traced packet enters.
    public enum TraceIngress: Sendable {
        /// GRE from this tunnel's Connect peer (the packet is wrapped in the tunnel's outer IPv4 + GRE).
        case tunnel(String)
        /// From the kernel through this tunnel's TUN (return traffic).
        case kernel(String)
    }

    /// Runs `inner` (an IP packet) through the packet processor as it would
    /// arrive at `ingress`, against a replica of this snapshot. `bulk` is the
    /// learned routes this snapshot was built with (the snapshot keeps only
    /// their prefix tables).
    public func trace(_ inner: [UInt8], ingress: TraceIngress, bulk: BulkRoutes = BulkRoutes()) -> TraceResult? {
        let names = tunnelSpecs.map(\.name)
        let ingressName: String
        switch ingress {
        case .tunnel(let n), .kernel(let n): ingressName = n
        }
        guard let ti = names.firstIndex(of: ingressName) else { return nil }
        // The replica: same specs, scratch counters, one worker, placeholder
        // TUN descriptors (never written: nothing is flushed).
        var counters: [String: CounterBlock] = [:]
        for n in names { counters[n] = CounterBlock(workers: 1, fields: TunnelCounter.fieldCount) }
        var serviceCounters: [UInt8: CounterBlock] = [:]
        for s in redirectSpecs { serviceCounters[s.serviceID] = CounterBlock(workers: 1, fields: RedirectCounter.fieldCount) }
        let fds = Dictionary(uniqueKeysWithValues: names.map { ($0, [Int32.max]) })
        let replica = ForwardingSnapshot(generation: generation, tunnels: tunnelSpecs, routes: routeSpecs, counters: counters,
                                         tunFDs: fds, workers: 1, redirect: redirectSpecs, redirectCounters: serviceCounters,
                                         bulk: bulk)
        let engineBlock = CounterBlock(workers: 1, fields: EngineCounter.fieldCount)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 4 * PacketProcessor.icmpSlotSize, alignment: 64)
        defer { scratch.deallocate() }
        var processor = PacketProcessor(worker: 0, engineCounters: engineBlock.row(0), icmpScratch: scratch, icmpSlots: 4)
        var out = OutputQueue(capacity: 8)
        defer { out.deallocate() }
        let headroom = PacketProcessor.headroom + 64
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: headroom + inner.count + 64, alignment: 64)
        defer { buffer.deallocate() }
        let view = replica.view
        let t = tunnelSpecs[ti]
        switch ingress {
        case .tunnel:
            let greLength = GREHeader.length(key: t.key)
            let p = buffer + headroom
            IPv4Header.write(into: p, totalLength: 20 + greLength + inner.count, dontFragment: true, ttl: 255,
                             proto: IPProtocolNumber.gre, source: t.remoteOuter, destination: t.localOuter)
            _ = GREHeader.write(into: p + 20, protocolType: inner.first.map { $0 >> 4 == 6 } == true ? EtherType.ipv6 : EtherType.ipv4,
                                key: t.key)
            inner.withUnsafeBytes { (p + 20 + greLength).copyMemory(from: $0.baseAddress!, byteCount: inner.count) }
            processor.fromTunnel(p, 20 + greLength + inner.count, view: view, out: &out)
        case .kernel:
            let p = buffer + headroom
            inner.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: inner.count) }
            processor.fromKernel(p, inner.count, tunnelIndex: ti, view: view, out: &out)
        }

        func moved(_ block: CounterBlock) -> [Int: UInt64] {
            var m: [Int: UInt64] = [:]
            for f in 0..<block.fields { let v = block.total(f); if v != 0 { m[f] = v } }
            return m
        }
        var outputs: [TraceOutput] = []
        for i in 0..<out.count {
            let e = out[i]
            let kind: TraceOutput.Kind = switch e.kind { case .raw4: .raw4; case .raw6: .raw6; case .tun: .tun; case .l2: .l2 }
            let mac = (0..<6).map { UInt8(truncatingIfNeeded: e.mac >> (40 - 8 * UInt64($0))) }
            outputs.append(TraceOutput(kind: kind, length: e.length, destination: IPv4Address(e.destination4),
                                       tunnel: e.txTunnel >= 0 ? names[Int(e.txTunnel)] : nil, interfaceIndex: e.interfaceIndex,
                                       mac: e.kind == .l2 ? mac : [], bytes: Array(UnsafeRawBufferPointer(start: e.data, count: e.length))))
        }
        // The FIB's choice for the inner destination (the lookup the processor made).
        var route: (IPPrefix, String)?
        var members: [String] = []
        var choice: String?
        var hash: UInt64 = 0
        let ri: UInt32 = inner.withUnsafeBytes { raw in
            let b = UnsafeMutableRawPointer(mutating: raw.baseAddress!)
            hash = FlowHash.of(packet: b, length: inner.count)
            if inner.first.map({ $0 >> 4 }) == 6 { return view.fib6.lookup(IPv6Header(b).destination) }
            return view.fib4.lookup(IPv4Header(b).destination.value)
        }
        if ri != noRouteIndex {
            let r = view.routes[Int(ri)]
            let kind = switch r.kind { case .local: "local"; case .tunnels: "tunnels"; case .nextHop: "nextHop"; case .blackhole: "blackhole" }
            let prefix = replica.routePrefixes[Int(ri)] ?? inner.withUnsafeBytes { raw in
                Self.longestLearnedPrefix(bulk, destinationOf: UnsafeMutableRawPointer(mutating: raw.baseAddress!))
            }
            if let prefix { route = (prefix, kind) }
            if r.kind == .tunnels {
                var seen = Set<Int>()
                for b in 0..<ResilientECMP.bucketCount {
                    let m = Int(view.buckets[Int(r.index) * ResilientECMP.bucketCount + b])
                    if seen.insert(m).inserted { members.append(names[m]) }
                }
                members.sort()
                choice = names[view.ecmpMember(group: r.index, hash: hash)]
            }
        }
        return TraceResult(engineCounters: moved(engineBlock),
                           tunnelCounters: counters.mapValues(moved).filter { !$0.value.isEmpty },
                           serviceCounters: serviceCounters.mapValues(moved).filter { !$0.value.isEmpty },
                           outputs: outputs, route: route, ecmpMembers: members, ecmpChoice: choice, flowHash: hash,
                           redirectSpecs: redirectSpecs)
    }

    /// The longest learned prefix covering the packet's destination: a linear
    /// search, fine for one trace, never on the packet path.
    static func longestLearnedPrefix(_ bulk: BulkRoutes, destinationOf packet: UnsafeMutableRawPointer) -> IPPrefix? {
        if packet.load(as: UInt8.self) >> 4 == 6 {
            let d = IPv6Header(packet).destination
            return bulk.v6.lazy.map(\.prefix).filter { $0.contains(d) }.max { $0.length < $1.length }.map { .v6($0) }
        }
        let d = IPv4Header(packet).destination
        return bulk.v4.lazy.map(\.prefix).filter { $0.contains(d) }.max { $0.length < $1.length }.map { .v4($0) }
    }
}
