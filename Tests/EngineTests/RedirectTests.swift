import Testing
import Packet
@testable import Engine

/// The WCCP redirect stage: matching, the bucket hash, GRE and L2 output,
/// fail open, redirect-lists, never redirecting a cache's own traffic.
@Suite struct RedirectStageTests {
    static let proxy1 = IPv4Address("10.0.3.11")!
    static let proxy2 = IPv4Address("10.0.3.12")!
    static let routerAddress = IPv4Address("10.0.3.10")!

    /// Squid's default hash assignment for two caches: bucket i → i % 2.
    static func webCache(redirectList: [AccessRule]? = nil, usable2: Bool = true, method: (IPv4Address) -> RedirectMethod = { _ in .gre(source: routerAddress) }) -> RedirectServiceSpec {
        .webCache(assignment: .hash(flags: 0x2, buckets: (0..<256).map { UInt8($0 % 2) }),
                  caches: [RedirectCacheSpec(address: proxy1, method: method(proxy1)),
                           RedirectCacheSpec(address: proxy2, method: method(proxy2), usable: usable2)],
                  redirectList: redirectList)
    }

    static func http(src: String = "10.1.0.10", dst: String, dport: UInt16 = 80, proto: UInt8 = 6) -> [UInt8] {
        let sport: UInt16 = 40000
        // A TCP SYN header (data offset 5); the checksum is not checked on this path.
        let l4: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
                           0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xFF, 0xFF, 0, 0, 0, 0]
        return Build.ipv4(src: src, dst: dst, proto: proto, ttl: 63, payload: l4)
    }

    @Test func webTrafficGoesToTheBucketsCacheOverGRE() {
        let rig = Rig(redirect: [Self.webCache()])
        // dst 198.51.100.81 hashes to bucket 198^51^100^81 = 192 → cache 0 (i % 2).
        let inner = Self.http(dst: "198.51.100.81")
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: inner))
        #expect(rig.counter("tgw0", .decapRedirected) == 1)
        #expect(rig.out.count == 1)
        let sent = rig.output(0)
        #expect(rig.out[0].destination4 == Self.proxy1.value)
        #expect(Array(sent[12..<16]) == Self.routerAddress.bytes)
        #expect(Array(sent[16..<20]) == Self.proxy1.bytes)
        #expect(sent[9] == 47)
        #expect(Array(sent[20..<24]) == [0, 0, 0x88, 0x3E])
        #expect(Array(sent[24..<28]) == [0x00, 0, 0, 192])  // standard service 0, primary bucket 192
        #expect(Array(sent[28...]) == inner)                  // the packet itself, TTL unchanged
        #expect(rig.redirectCounter(0, RedirectCounter.redirected) == 1)
        #expect(rig.redirectCounter(0, RedirectCounter.cacheBase + 0) == 1)
        #expect(rig.redirectCounter(0, RedirectCounter.bucketBase + 192) == 1)
        // 203.0.113.7 hashes to bucket 189 → cache 1.
        rig.out.removeAll()
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(dst: "203.0.113.7")))
        #expect(rig.out[0].destination4 == Self.proxy2.value)
        #expect(rig.output(0)[27] == 189)
    }

    /// GRE return (draft §4.13): a cache hands a packet back in GRE 0x883E (or 0x0800); it is
    /// forwarded to the next hop, TTL - 1, never redirected again, counted as returned. GRE from
    /// an address that is no cache stays an unknown peer.
    @Test func greReturnedPacketsAreForwardedNotRedirected() {
        let rig = Rig(redirect: [Self.webCache()])
        let inner = Self.http(dst: "198.51.100.81")   // bucket 192: would go to proxy1
        rig.fromTunnel(Build.gre(src: "10.0.3.11", dst: "10.0.3.10", proto: EtherType.wccp, extra: [0, 0, 0, 192], inner: inner))
        // (The rig reuses one receive buffer: look at the output before the next packet.)
        let sent = rig.output(0)
        #expect(sent[8] == 62)                                  // TTL 63 - 1
        #expect(Array(sent[20...]) == Array(inner[20...]))
        rig.fromTunnel(Build.gre(src: "10.0.3.12", dst: "10.0.3.10", proto: EtherType.ipv4, inner: inner))
        #expect(rig.out.count == 2)
        #expect(rig.out[0].destination4 == IPv4Address("198.51.100.81")!.value && rig.out[1].destination4 == IPv4Address("198.51.100.81")!.value)
        #expect(rig.output(1)[8] == 62)
        #expect(rig.redirectCounter(0, RedirectCounter.returned) == 2)
        #expect(rig.redirectCounter(0, RedirectCounter.redirected) == 0)
        #expect(rig.engineDrops(.unknownPeer) == 0)
        rig.fromTunnel(Build.gre(src: "10.0.3.99", dst: "10.0.3.10", proto: EtherType.wccp, extra: [0, 0, 0, 192], inner: inner))
        #expect(rig.engineDrops(.unknownPeer) == 1 && rig.out.count == 2)
    }

    @Test func otherTrafficIsForwardedNormally() {
        let rig = Rig(redirect: [Self.webCache()])
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(dst: "198.51.100.81", dport: 443)))
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(dst: "198.51.100.81", proto: 17)))
        #expect(rig.counter("tgw0", .decapForwarded) == 2)
        #expect(rig.counter("tgw0", .decapRedirected) == 0)
        #expect(rig.out[0].kind == .raw4 && rig.out[0].destination4 == IPv4Address("198.51.100.81")!.value)
    }

    @Test func deadCacheFailsOpenOnlyForItsBuckets() {
        let rig = Rig(redirect: [Self.webCache(usable2: false)])
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(dst: "203.0.113.7"))) // bucket 189 → cache 1
        #expect(rig.redirectCounter(0, RedirectCounter.failedOpen) == 1)
        #expect(rig.counter("tgw0", .decapForwarded) == 1)
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(dst: "198.51.100.81")))    // bucket 192 → cache 0
        #expect(rig.counter("tgw0", .decapRedirected) == 1)
    }

    @Test func unassignedBucketsAndNoAssignmentFailOpen() {
        var spec = Self.webCache()
        spec.assignment = .hash(flags: 0x2, buckets: [UInt8](repeating: 0xFF, count: 256))
        let rig = Rig(redirect: [spec])
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(dst: "198.51.100.81")))
        #expect(rig.redirectCounter(0, RedirectCounter.failedOpen) == 1)
        #expect(rig.counter("tgw0", .decapForwarded) == 1)
    }

    @Test func redirectListDeniesAndPermits() {
        let list = [AccessRule(permit: false, protocolNumber: 6, destination: IPv4Prefix("203.0.113.0/24")!),
                    AccessRule(permit: true, protocolNumber: 6)]
        let rig = Rig(redirect: [Self.webCache(redirectList: list)])
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(dst: "203.0.113.7")))
        #expect(rig.redirectCounter(0, RedirectCounter.denied) == 1)
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(dst: "198.51.100.81")))
        #expect(rig.redirectCounter(0, RedirectCounter.redirected) == 1)
        #expect(rig.counter("tgw0", .decapForwarded) == 1)
    }

    @Test func aCachesOwnTrafficIsNotRedirected() {
        let rig = Rig(redirect: [Self.webCache()])
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(src: "10.0.3.12", dst: "198.51.100.81")))
        #expect(rig.counter("tgw0", .decapForwarded) == 1)
        #expect(rig.redirectCounter(0, RedirectCounter.redirected) == 0)
    }

    @Test func l2RedirectKeepsThePacketAndNamesTheMAC() {
        let mac: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x03, 0x0B]
        let rig = Rig(redirect: [Self.webCache(method: { _ in .l2(interfaceIndex: 7, mac: mac) })])
        let inner = Self.http(dst: "198.51.100.81")
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: inner))
        #expect(rig.out[0].kind == .l2)
        #expect(rig.out[0].interfaceIndex == 7)
        #expect(rig.out[0].mac == 0x0200_0000_030B)
        #expect(rig.output(0) == inner)
    }

    @Test func maskAssignmentFirstMatch() {
        // Squid's mask: 0x1741 on the source address; value 0 → cache 0, 0x1 → cache 1.
        let set = RedirectMaskSet(sourceIPMask: 0x1741, destinationIPMask: 0, sourcePortMask: 0, destinationPortMask: 0, values: [
            .init(sourceIP: 0, destinationIP: 0, sourcePort: 0, destinationPort: 0, cacheIndex: 0),
            .init(sourceIP: 0x1, destinationIP: 0, sourcePort: 0, destinationPort: 0, cacheIndex: 1),
        ])
        var spec = Self.webCache()
        spec.assignment = .mask([set])
        let rig = Rig(redirect: [spec])
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(src: "10.1.0.10", dst: "198.51.100.80"))) // & 0x1741 = 0
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(src: "10.1.0.11", dst: "198.51.100.80"))) // = 1
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(src: "10.1.0.64", dst: "198.51.100.80"))) // = 0x40: no value
        #expect(rig.out[0].destination4 == Self.proxy1.value)
        #expect(rig.out[1].destination4 == Self.proxy2.value)
        #expect(rig.redirectCounter(0, RedirectCounter.failedOpen) == 1)
        #expect(rig.output(0)[24] == 0x00 && rig.output(0)[27] == 0) // mask mode: no buckets in the header
    }

    @Test func higherPriorityServiceDecidesAndDynamicSetsD() {
        let dynamic = RedirectServiceSpec(serviceID: 80, dynamic: true, priority: 250, protocolNumber: 6, ports: [80, 443],
                                          assignment: .hash(flags: 0x1 | 0x200, buckets: (0..<256).map { _ in UInt8(0x80) }),
                                          caches: [RedirectCacheSpec(address: Self.proxy1, method: .gre(source: Self.routerAddress))])
        let rig = Rig(redirect: [Self.webCache(), dynamic])
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Self.http(dst: "198.51.100.81")))
        let h = rig.output(0)
        #expect(h[24] == 0x80 | 0x40)   // dynamic, alternate used
        #expect(h[25] == 80)
        // Alternate hash on the destination address: bucket 192; primary on the source: 10.1.0.10 → 10^1^0^10 = 1.
        #expect(h[26] == 192 && h[27] == 1)
        #expect(rig.redirectCounter(80, RedirectCounter.redirected) == 1)
        #expect(rig.redirectCounter(0, RedirectCounter.redirected) == 0)
    }

    @Test func bucketHashMatchesTheDraftsVectors() {
        func b(_ flags: UInt32, _ s: String, _ d: String, _ sp: UInt16 = 0, _ dp: UInt16 = 0) -> UInt8 {
            WCCPBucketHash.bucket(selector: flags, srcIP: IPv4Address(s)!.value, dstIP: IPv4Address(d)!.value, srcPort: sp, dstPort: dp)
        }
        #expect(b(0x2, "0.0.0.0", "10.1.2.3") == 10)
        #expect(b(0x2, "0.0.0.0", "203.0.113.7") == 189)
        #expect(b(0x3, "10.0.0.5", "93.184.216.34") == 16)
        #expect(b(0xF, "10.0.0.5", "93.184.216.34", 51000, 443) == 85)
    }
}
