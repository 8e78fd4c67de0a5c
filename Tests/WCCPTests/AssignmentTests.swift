import Packet
import Testing
@testable import WCCP

@Suite struct AssignmentTests {
    func bucket(_ flags: ServiceFlags, src: String = "0.0.0.0", dst: String = "0.0.0.0", sport: UInt16 = 0, dport: UInt16 = 0,
                alternate: Bool = false) -> UInt8 {
        BucketHash.bucket(flags: flags, alternate: alternate, srcIP: ip(src).value, dstIP: ip(dst).value, srcPort: sport, dstPort: dport)
    }

    @Test func specTestVectors() {
        #expect(bucket(.dstIPHash, dst: "10.1.2.3") == 10)
        #expect(bucket(.dstIPHash, dst: "203.0.113.7") == 189)
        #expect(bucket([.srcIPHash, .dstIPHash], src: "10.0.0.5", dst: "93.184.216.34") == 16)
        #expect(bucket([.srcIPHash, .dstIPHash, .srcPortHash, .dstPortHash], src: "10.0.0.5", dst: "93.184.216.34",
                       sport: 51000, dport: 443) == 85)
    }

    @Test func hashIsXorOfSelectedOctets() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            let s = UInt32.random(in: .min ... .max, using: &rng), d = UInt32.random(in: .min ... .max, using: &rng)
            let sp = UInt16.random(in: .min ... .max, using: &rng), dp = UInt16.random(in: .min ... .max, using: &rng)
            let octets = [s >> 24, s >> 16, s >> 8, s, d >> 24, d >> 16, d >> 8, d, UInt32(sp >> 8), UInt32(sp), UInt32(dp >> 8), UInt32(dp)]
            let xor = octets.reduce(UInt8(0)) { $0 ^ UInt8(truncatingIfNeeded: $1) }
            let all: ServiceFlags = [.srcIPHash, .dstIPHash, .srcPortHash, .dstPortHash]
            #expect(BucketHash.bucket(flags: all, alternate: false, srcIP: s, dstIP: d, srcPort: sp, dstPort: dp) == xor)
            // Alternate flags are the primary ones shifted left by 8.
            #expect(BucketHash.bucket(flags: ServiceFlags(rawValue: all.rawValue << 8), alternate: true,
                                      srcIP: s, dstIP: d, srcPort: sp, dstPort: dp) == xor)
        }
    }

    @Test func squidDefaultHashAssignmentSpreadsRoundRobin() {
        let caches = [ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4")]
        let table = RedirectTable(hashBuckets: squidHashBuckets(cacheCount: 3), caches: caches, flags: .dstIPHash)
        #expect(table.buckets(forSlot: 0).count == 86 && table.buckets(forSlot: 1).count == 85 && table.buckets(forSlot: 2).count == 85)
        // dst 10.1.2.3 → bucket 10 → 10 % 3 = slot 1; 203.0.113.7 → 189 → slot 0.
        #expect(table.cacheSlot(srcIP: ip("192.0.2.1"), dstIP: ip("10.1.2.3"), srcPort: 1, dstPort: 80) == 1)
        #expect(table.cacheSlot(srcIP: ip("192.0.2.1"), dstIP: ip("203.0.113.7"), srcPort: 1, dstPort: 80) == 0)
        // Packets from a cache are never redirected.
        #expect(table.cacheSlot(srcIP: ip("10.0.0.3"), dstIP: ip("10.1.2.3"), srcPort: 1, dstPort: 80) == nil)
    }

    @Test func unassignedAndAlternateBuckets() {
        var buckets = [UInt8](repeating: 0xFF, count: 256)
        let flags: ServiceFlags = [.dstIPHash, .srcPortAltHash]
        buckets[10] = 0x80            // dst 10.1.2.3 → primary bucket 10 → use alternate
        buckets[0x34] = 1             // alternate key = src port 0x1234 → 0x12 ^ 0x34 = 0x26
        buckets[0x26] = 1
        let table = RedirectTable(hashBuckets: buckets, caches: [ip("10.0.0.2"), ip("10.0.0.3")], flags: flags)
        let d = table.lookup(srcIP: ip("192.0.2.1"), dstIP: ip("10.1.2.3"), srcPort: 0x1234, dstPort: 80)
        #expect(d == RedirectDecision(slot: 1, primaryBucket: 10, alternateBucket: 0x26))
        // Alternate bucket unassigned → forward normally.
        #expect(table.cacheSlot(srcIP: ip("192.0.2.1"), dstIP: ip("10.1.2.3"), srcPort: 0x1235, dstPort: 80) == nil)
        // Primary unassigned → forward normally.
        #expect(table.cacheSlot(srcIP: ip("192.0.2.1"), dstIP: ip("203.0.113.7"), srcPort: 0x1234, dstPort: 80) == nil)
        // Index beyond the cache list is treated as unassigned at compile time.
        var bad = buckets
        bad[189] = 5
        #expect(RedirectTable(hashBuckets: bad, caches: [ip("10.0.0.2")], flags: flags)
            .cacheSlot(srcIP: ip("192.0.2.1"), dstIP: ip("203.0.113.7"), srcPort: 1, dstPort: 80) == nil)
    }

    @Test func excludedCacheBucketsBecomeUnassigned() {
        let caches = [ip("10.0.0.2"), ip("10.0.0.3")]
        let table = RedirectTable(hashBuckets: squidHashBuckets(cacheCount: 2), caches: caches, flags: .dstIPHash,
                                  excluding: [ip("10.0.0.3")])
        #expect(table.buckets(forSlot: 1).isEmpty && table.buckets(forSlot: 0).count == 128)
        #expect(table.cacheSlot(srcIP: ip("192.0.2.1"), dstIP: ip("10.1.2.3"), srcPort: 1, dstPort: 80) == 0)  // bucket 10
        #expect(table.cacheSlot(srcIP: ip("192.0.2.1"), dstIP: ip("10.1.2.2"), srcPort: 1, dstPort: 80) == nil) // bucket 11
    }

    @Test func squidDefaultMaskAssignment() {
        let caches = [ip("10.0.0.2"), ip("10.0.0.3")]
        let set = squidMaskSet(caches: caches)
        #expect(set.values.count == 64)
        #expect(set.values.prefix(4).map(\.value.dstIP) == [0x0, 0x1, 0x40, 0x41])
        #expect(set.values.last?.value.dstIP == 0x1741)
        let table = RedirectTable(maskSets: [set])
        #expect(table.caches == caches)
        #expect(table.maskValueCount(forSlot: 0) == 32 && table.maskValueCount(forSlot: 1) == 32)
        var rng = SplitMix64(seed: 7)
        for _ in 0..<500 {
            let dst = UInt32.random(in: .min ... .max, using: &rng)
            let index = set.values.firstIndex { $0.value.dstIP == dst & 0x1741 }!
            #expect(table.cacheSlot(srcIP: ip("192.0.2.1"), dstIP: IPv4Address(dst), srcPort: 1, dstPort: 80) == index % 2)
        }
    }

    @Test func maskFirstMatchAcrossAndWithinSets() {
        let a = ip("10.0.0.2"), b = ip("10.0.0.3"), c = ip("10.0.0.4")
        let sets = [
            MaskValueSet(mask: MaskFields(dstPort: 0xFFFF), values: [
                MaskValueElement(value: MaskFields(dstPort: 443), cacheIP: a),
                MaskValueElement(value: MaskFields(dstPort: 443), cacheIP: b),     // shadowed: first match wins
                MaskValueElement(value: MaskFields(dstPort: 0xFFFF), cacheIP: b)]),
            MaskValueSet(mask: MaskFields(srcIP: 0x1), values: [
                MaskValueElement(value: MaskFields(srcIP: 1), cacheIP: c),
                MaskValueElement(value: MaskFields(srcIP: 2), cacheIP: b)]),       // outside its mask: never matches
        ]
        let t = RedirectTable(maskSets: sets)
        #expect(t.caches == [a, b, c])
        #expect(t.cacheSlot(srcIP: ip("192.0.2.1"), dstIP: ip("1.1.1.1"), srcPort: 1, dstPort: 443) == 0)
        #expect(t.cacheSlot(srcIP: ip("192.0.2.1"), dstIP: ip("1.1.1.1"), srcPort: 1, dstPort: 80) == 2)
        #expect(t.cacheSlot(srcIP: ip("192.0.2.2"), dstIP: ip("1.1.1.1"), srcPort: 1, dstPort: 80) == nil)
        let without = RedirectTable(maskSets: sets, excluding: [a])
        #expect(without.cacheSlot(srcIP: ip("192.0.2.2"), dstIP: ip("1.1.1.1"), srcPort: 1, dstPort: 443) == 0)  // now b
        #expect(without.caches[0] == b)
    }

    @Test func emptyTableRedirectsNothing() {
        #expect(RedirectTable.empty.cacheSlot(srcIP: ip("1.2.3.4"), dstIP: ip("5.6.7.8"), srcPort: 1, dstPort: 80) == nil)
        #expect(RedirectTable(hashBuckets: [UInt8](repeating: 0xFF, count: 256), caches: [ip("1.1.1.1")], flags: .dstIPHash).isEmpty)
    }
}
