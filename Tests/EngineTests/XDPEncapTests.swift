import CEgressSys
import Packet
import Testing
@testable import Engine
#if canImport(Glibc)
import Glibc
#endif

// Encapsulation steering with AF_XDP (`afxdp`): the spoke trie's contents
// for a snapshot, the diff that keeps it in step with publications, and the
// steered packets' path (TTL and checksum as a router rewrites them, then the
// TUN path's own encapsulation), checked against a checksum computed here.

private typealias E = XDPSpokePrefixes

private func e(_ prefix: String, _ limit: UInt16) -> E.Entry {
    let p = IPv4Prefix(prefix)!
    return E.entry(address: p.address.value, length: p.length, limit: limit)
}

@Test func spokeEntryPacksAndSortsByPrefix() {
    let x = e("10.1.0.0/16", 8476)
    let p = E.parts(x)
    #expect(p.address == 0x0A01_0000 && p.length == 16 && p.limit == 8476)
    // Sorted by address, then length: the diff merges on that order.
    #expect(e("10.1.0.0/16", 9000) < e("10.1.0.0/24", 0))
    #expect(e("10.1.0.0/24", 0) < e("10.2.0.0/16", 0))
    var k = E.key(x)
    #expect(withUnsafeBytes(of: &k) { Array($0) } == [16, 0, 0, 0, 10, 1, 0, 0])
}

@Test func spokeDiffChangesOnlyWhatDiffers() {
    let old = [e("10.1.0.0/16", 1400), e("10.2.0.0/16", 1400), e("10.3.0.0/16", 1400), e("10.4.0.0/16", 0)].sorted()
    let new = [e("10.1.0.0/16", 1400), e("10.2.0.0/16", 1300), e("10.4.0.0/16", 1400), e("10.5.0.0/16", 1400)].sorted()
    let c = E.diff(from: old, to: new)
    #expect(c.remove == [e("10.3.0.0/16", 1400)])
    #expect(c.lower == [e("10.2.0.0/16", 1300)])
    #expect(c.raise == [e("10.4.0.0/16", 1400), e("10.5.0.0/16", 1400)])
    #expect(E.diff(from: new, to: new).isEmpty)
    #expect(E.diff(from: [], to: new).raise == new)
    #expect(E.diff(from: old, to: []).remove == old)
    // A prefix and a longer one at the same address are different prefixes.
    let c2 = E.diff(from: [e("10.1.0.0/16", 1400)], to: [e("10.1.0.0/24", 1400)])
    #expect(c2.remove == [e("10.1.0.0/16", 1400)] && c2.raise == [e("10.1.0.0/24", 1400)])
}

@Test func spokeDiffMatchesASetDifferenceOnRandomTables() {
    var rng = SplitMix64(seed: 9)
    for _ in 0..<50 {
        func table() -> [E.Entry] {
            var d: [UInt64: UInt16] = [:]
            for _ in 0..<Int(rng.next() % 200) {
                let len = UInt8(8 + rng.next() % 25)
                let addr = UInt32(truncatingIfNeeded: rng.next()) & IPv4Prefix.mask(len) & 0x0AFF_FFFF
                d[UInt64(addr) << 8 | UInt64(len)] = UInt16(rng.next() % 3 == 0 ? 0 : 1300 + rng.next() % 3)
            }
            return d.map { E.entry(address: UInt32($0.key >> 8), length: UInt8($0.key & 0xFF), limit: $0.value) }.sorted()
        }
        let a = table(), b = table()
        let c = E.diff(from: a, to: b)
        // Applying the changes to a's contents gives b's, and nothing unchanged was touched.
        var m: [UInt64: UInt16] = [:]
        for x in a { m[x >> 16] = UInt16(x & 0xFFFF) }
        for x in c.remove { #expect(m.removeValue(forKey: x >> 16) != nil) }
        for x in c.lower { #expect(m[x >> 16]! > UInt16(x & 0xFFFF)); m[x >> 16] = UInt16(x & 0xFFFF) }
        for x in c.raise { #expect(m[x >> 16].map { $0 < UInt16(x & 0xFFFF) } ?? true); m[x >> 16] = UInt16(x & 0xFFFF) }
        #expect(m.map { E.entry(address: UInt32($0.key >> 8), length: UInt8($0.key & 0xFF), limit: $0.value) }.sorted() == b)
        #expect(c.count <= a.count + b.count)
    }
}

@Test func spokeEntriesFollowTheSnapshotsIPv4Table() {
    let small = TunnelSpec(name: "tgw1", localOuter: IPv4Address("10.0.1.10")!, remoteOuter: IPv4Address("10.0.0.2")!, mtu: 1500)
    let rig = Rig(tunnels: [Rig.tgw0, small], routes: [
        RouteSpec(prefix: IPPrefix("10.1.0.0/16")!, target: .tunnels(["tgw0", "tgw1"])),
        RouteSpec(prefix: IPPrefix("10.2.0.0/16")!, target: .tunnels(["tgw0"])),
        RouteSpec(prefix: IPPrefix("10.1.5.0/24")!, target: .nextHop(.v4(IPv4Address("10.0.2.1")!), mtu: 1500)),
        RouteSpec(prefix: IPPrefix("0.0.0.0/0")!, target: .nextHop(.v4(IPv4Address("10.0.2.1")!), mtu: 1500)),
        RouteSpec(prefix: IPPrefix("fd01::/64")!, target: .tunnels(["tgw0"])),
    ])
    let entries = E.entries(of: rig.snapshot, frameLimit: 3762)
    var byPrefix: [String: UInt16] = [:]
    for x in entries {
        let p = E.parts(x)
        byPrefix["\(IPv4Address(p.address))/\(p.length)"] = p.limit
    }
    // ECMP group: the smaller tunnel's inner MTU (1500 - 24); one tunnel of 8500: the frame's limit.
    #expect(byPrefix["10.1.0.0/16"] == 1476)
    #expect(byPrefix["10.2.0.0/16"] == 3762)
    // Other routes are in the trie with 0 (a longest match there is not steered).
    #expect(byPrefix["10.1.5.0/24"] == 0)
    #expect(byPrefix["0.0.0.0/0"] == 0)
    #expect(byPrefix["169.254.6.1/32"] == 0)   // the appliance's own inside address
    #expect(byPrefix["169.254.6.0/29"] == 0)   // the tunnel's connected subnet
    #expect(entries == entries.sorted())
    #expect(entries.count == byPrefix.count)    // IPv6 is not in it
    #expect(!E.overCap(rig.snapshot))
    // Without a tunnel route the trie is empty (nothing to steer).
    let noTunnelRoutes = Rig(routes: [RouteSpec(prefix: IPPrefix("0.0.0.0/0")!, target: .nextHop(.v4(IPv4Address("10.0.2.1")!), mtu: 1500))])
    #expect(E.entries(of: noTunnelRoutes.snapshot, frameLimit: 3762).isEmpty)
}

@Test func learnedPrefixesAreInTheTrieAndCountTowardTheCap() {
    let t = Rig.tgw0
    var routes: [BulkRoutes.IPv4Route] = []
    for i in 0..<300 { routes.append(.init(prefix: IPv4Prefix(IPv4Address(0x0A80_0000 | UInt32(i) << 8), length: 24)!, target: 0)) }
    let bulk = BulkRoutes(targets: [.init(target: .tunnels(["tgw0"]))], v4: routes)
    let snap = ForwardingSnapshot(generation: 1, tunnels: [t], routes: [], counters: [t.name: CounterBlock(workers: 1, fields: TunnelCounter.fieldCount)],
                                  tunFDs: [t.name: [100]], workers: 1, bulk: bulk)
    let entries = E.entries(of: snap, frameLimit: 3762)
    #expect(entries.filter { E.parts($0).length == 24 && E.parts($0).limit == 3762 }.count == 300)
    #expect(E.routeCount(snap) >= 300 && E.routeCount(snap) < 310)
}

/// RFC 1071 checksum written here, independent of Packet's InternetChecksum.
private func referenceChecksum(_ b: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var i = 0
    while i + 1 < b.count { sum += UInt32(b[i]) << 8 | UInt32(b[i + 1]); i += 2 }
    if i < b.count { sum += UInt32(b[i]) << 8 }
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    return ~UInt16(sum)
}

@Test func steeredPacketsAreEncapsulatedWithTTLAndChecksumRewritten() {
    let rig = Rig()
    var ttls: [UInt8] = [2, 3, 64, 128, 255]
    // Checksums that wrap around in the incremental update: header words chosen by the identification.
    ttls += [64, 64, 64]
    for (k, ttl) in ttls.enumerated() {
        var pkt = Build.ipv4(src: "198.51.100.80", dst: "10.1.0.10", ttl: ttl)
        if k >= 5 {
            // Identification making the checksum 0x0000 / 0xFFFF-adjacent cases.
            pkt[4] = UInt8(truncatingIfNeeded: 0xFF - k); pkt[5] = UInt8(truncatingIfNeeded: k * 77)
            pkt[10] = 0; pkt[11] = 0
            let c = referenceChecksum(Array(pkt[0..<20]))
            pkt[10] = UInt8(c >> 8); pkt[11] = UInt8(c & 0xFF)
        }
        let p = rig.buffer + PacketProcessor.headroom
        pkt.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: pkt.count) }
        let before = rig.out.count
        #expect(rig.processor.fromSteered(p, pkt.count, view: rig.snapshot.view, out: &rig.out))
        #expect(rig.out.count == before + 1)
        let o = rig.output(rig.out.count - 1)
        // Outer IPv4 + GRE (protocol 0x0800), then the inner packet.
        #expect(o.count == 24 + pkt.count)
        #expect(o[9] == 47 && o[22] == 0x08 && o[23] == 0x00)
        let inner = Array(o[24...])
        #expect(inner[8] == ttl - 1)
        var expected = inner
        expected[10] = 0; expected[11] = 0
        let c = referenceChecksum(Array(expected[0..<20]))
        #expect(UInt16(inner[10]) << 8 | UInt16(inner[11]) == c, "ttl \(ttl) case \(k)")
        #expect(referenceChecksum(Array(inner[0..<20])) == 0)
        // Everything but TTL and checksum as it was.
        var a = inner, b = pkt
        a[8] = 0; a[10] = 0; a[11] = 0; b[8] = 0; b[10] = 0; b[11] = 0
        #expect(a == b)
        rig.out.removeAll()
    }
    // The TUN path's counters: kernel input and encapsulation, on the tunnels.
    #expect(rig.counter("tgw0", .encapFromKernel) + rig.counter("tgw1", .encapFromKernel) == UInt64(ttls.count))
    #expect(rig.engineCounters.total(EngineCounter.kernelReceived.rawValue) == 0)
}

@Test func steeredPacketsNotForATunnelAreLeftAlone() {
    let rig = Rig()
    let p = rig.buffer + PacketProcessor.headroom
    for (dst, ttl) in [("198.51.100.80", UInt8(64)), ("10.1.0.10", 1), ("10.9.0.1", 64), ("169.254.6.1", 64)] {
        let pkt = Build.ipv4(src: "10.0.2.5", dst: dst, ttl: ttl)
        pkt.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: pkt.count) }
        #expect(!rig.processor.fromSteered(p, pkt.count, view: rig.snapshot.view, out: &rig.out), "\(dst) ttl \(ttl)")
        #expect(Array(UnsafeRawBufferPointer(start: p, count: pkt.count)) == pkt)   // untouched
    }
    #expect(rig.out.count == 0)
    // A bad header is a counted drop (taken, not sent).
    var bad = Build.ipv4(src: "10.0.2.5", dst: "10.1.0.10")
    bad[10] ^= 0xFF
    bad.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bad.count) }
    #expect(rig.processor.fromSteered(p, bad.count, view: rig.snapshot.view, out: &rig.out))
    #expect(rig.engineDrops(.badInner) == 1 && rig.out.count == 0)
}

/// TCP/UDP checksum over the pseudo-header and the segment, written here.
private func referenceL4Checksum(_ pkt: [UInt8]) -> UInt16 {
    let hl = Int(pkt[0] & 0x0F) * 4
    let l4 = Array(pkt[hl...])
    var pseudo = Array(pkt[12..<20])
    pseudo += [0, pkt[9], UInt8(l4.count >> 8), UInt8(l4.count & 0xFF)]
    return referenceChecksum(pseudo + l4)
}

/// A TCP or UDP segment (33 or 21 bytes, checksum field 0) for the steered-path tests, and
/// where its checksum field is.
private func steeredSegment(_ proto: UInt8) -> (bytes: [UInt8], at: Int) {
    let l4Length = proto == IPProtocolNumber.tcp ? 20 + 13 : 8 + 13
    var bytes = [UInt8](repeating: 0, count: l4Length)
    for i in 0..<l4Length { bytes[i] = UInt8(truncatingIfNeeded: i &* 37 &+ 11) }
    let at = proto == IPProtocolNumber.tcp ? 16 : 6
    if proto == IPProtocolNumber.udp { bytes[4] = 0; bytes[5] = UInt8(l4Length) }
    if proto == IPProtocolNumber.tcp { bytes[12] = 0x50 }
    bytes[at] = 0; bytes[at + 1] = 0
    return (bytes, at)
}

/// The packet as a veth delivers it from another namespace's stack (CHECKSUM_PARTIAL): the
/// transport checksum field (at `at` after the 20-byte IPv4 header) holds the folded pseudo-header sum.
private func withPseudoHeaderSum(_ packet: [UInt8], at: Int) -> [UInt8] {
    var partial = packet
    var sum: UInt32 = 0
    for i in stride(from: 12, to: 20, by: 2) { sum += UInt32(partial[i]) << 8 | UInt32(partial[i + 1]) }
    sum += UInt32(partial[9]) + UInt32(partial.count - 20)
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    partial[20 + at] = UInt8(sum >> 8); partial[20 + at + 1] = UInt8(sum & 0xFF)
    return partial
}

@Test func steeredPartialChecksumsAreCompletedAndCompleteOnesKept() {
    let rig = Rig()
    let p = rig.buffer + PacketProcessor.headroom
    for proto in [IPProtocolNumber.udp, IPProtocolNumber.tcp] {
        let (payload, at) = steeredSegment(proto)
        var complete = Build.ipv4(src: "198.51.100.80", dst: "10.1.0.10", proto: proto, payload: payload)
        let c = referenceL4Checksum(complete)
        complete[20 + at] = UInt8(c >> 8); complete[20 + at + 1] = UInt8(c & 0xFF)
        #expect(referenceL4Checksum(complete) == 0)
        let partial = withPseudoHeaderSum(complete, at: at)
        #expect(referenceL4Checksum(partial) != 0)
        for (name, pkt) in [("complete", complete), ("partial", partial)] {
            pkt.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: pkt.count) }
            #expect(rig.processor.fromSteered(p, pkt.count, view: rig.snapshot.view, out: &rig.out))
            let inner = Array(rig.output(rig.out.count - 1)[24...])
            #expect(referenceL4Checksum(inner) == 0, "\(name) proto \(proto)")
            #expect(Array(inner[(20 + at)..<(20 + at + 2)]) == Array(complete[(20 + at)..<(20 + at + 2)]), "\(name) proto \(proto)")
            rig.out.removeAll()
        }
    }
}

/// A partial checksum that completes to 0: TCP writes 0x0000 (as a NIC; 0xFFFF is illegal
/// there for Wireshark), UDP 0xFFFF (0 means "no checksum").
@Test func steeredPartialChecksumOfZeroIsWrittenPerProtocol() {
    let rig = Rig()
    let p = rig.buffer + PacketProcessor.headroom
    for proto in [IPProtocolNumber.udp, IPProtocolNumber.tcp] {
        var (payload, at) = steeredSegment(proto)
        // A free word (TCP: the urgent pointer; UDP: the first data word) set to the checksum
        // the packet has while it is 0: the sum becomes -0, the checksum 0.
        let free = proto == IPProtocolNumber.tcp ? 18 : 8
        payload[free] = 0; payload[free + 1] = 0
        let c = referenceL4Checksum(Build.ipv4(src: "198.51.100.80", dst: "10.1.0.10", proto: proto, payload: payload))
        payload[free] = UInt8(c >> 8); payload[free + 1] = UInt8(c & 0xFF)
        let zero = Build.ipv4(src: "198.51.100.80", dst: "10.1.0.10", proto: proto, payload: payload)
        #expect(referenceL4Checksum(zero) == 0, "proto \(proto): with the field 0 the checksum computes to 0")
        let partial = withPseudoHeaderSum(zero, at: at)
        partial.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: partial.count) }
        #expect(rig.processor.fromSteered(p, partial.count, view: rig.snapshot.view, out: &rig.out))
        let inner = Array(rig.output(rig.out.count - 1)[24...])
        let field = UInt16(inner[20 + at]) << 8 | UInt16(inner[20 + at + 1])
        #expect(field == (proto == IPProtocolNumber.udp ? 0xFFFF : 0x0000), "proto \(proto)")
        #expect(referenceL4Checksum(inner) == 0, "proto \(proto)")
        rig.out.removeAll()
    }
}

@Test func aTableAboveTheCapTurnsSteeringOff() {
    let t = Rig.tgw0
    var routes: [BulkRoutes.IPv4Route] = []
    routes.reserveCapacity(E.cap + 1)
    for i in 0...E.cap { routes.append(.init(prefix: IPv4Prefix(IPv4Address(0x0B00_0000 | UInt32(i) << 8), length: 24)!, target: 0)) }
    let bulk = BulkRoutes(targets: [.init(target: .tunnels(["tgw0"]))], v4: routes)
    let snap = ForwardingSnapshot(generation: 1, tunnels: [t], routes: [], counters: [t.name: CounterBlock(workers: 1, fields: TunnelCounter.fieldCount)],
                                  tunFDs: [t.name: [100]], workers: 1, bulk: bulk)
    #expect(E.overCap(snap))
    #expect(E.routeCount(snap) > E.cap)
    // One fewer learned prefix and no other route entry than the tunnel's own: under it.
    let under = ForwardingSnapshot(generation: 2, tunnels: [t], routes: [], counters: [t.name: CounterBlock(workers: 1, fields: TunnelCounter.fieldCount)],
                                   tunFDs: [t.name: [100]], workers: 1,
                                   bulk: BulkRoutes(targets: bulk.targets, v4: Array(routes.prefix(E.cap - 10))))
    #expect(!E.overCap(under))
    #expect(E.entries(of: under, frameLimit: 3762).count >= E.cap - 10)
}
