import Packet
import Testing
@testable import WCCP

// Failover to the remaining caches (AssignmentFailover, `failover remaining-caches`) and
// data-path evidence in the pure CacheHealthMonitor.

@Suite struct FailoverTests {
    let a = ip("10.77.0.2")
    let b = ip("10.77.0.3")
    let c = ip("10.77.0.4")

    /// Only the dead cache's buckets move, round-robin over the healthy caches in slot order;
    /// everything else (unassigned, alternate-flagged healthy entries) stays bit for bit.
    @Test func hashRemapMovesOnlyTheDeadCachesBuckets() {
        var buckets = (0..<256).map { UInt8($0 % 3) }      // a, b, c, a, b, c, ...
        buckets[0] = BucketEntry.unassigned
        buckets[3] = 0 | BucketEntry.useAlternate          // a, via the alternate hash
        buckets[4] = 1 | BucketEntry.useAlternate          // b (dead), via the alternate hash
        let (out, moved) = AssignmentFailover.remap(buckets: buckets, caches: [a, b, c], dead: [b])
        let deadIndexes = buckets.indices.filter { buckets[$0] != 0xFF && buckets[$0] & 0x7F == 1 }
        #expect(moved == deadIndexes.count && moved == 85)
        for i in buckets.indices where !deadIndexes.contains(i) { #expect(out[i] == buckets[i]) }
        // k-th dead bucket -> healthy[k % 2] = a, c, a, c, ... (primary hash, no alternate bit)
        #expect(deadIndexes.enumerated().allSatisfy { k, i in out[i] == (k % 2 == 0 ? 0 : 2) })
        // Deterministic: the same input gives the same table.
        #expect(AssignmentFailover.remap(buckets: buckets, caches: [a, b, c], dead: [b]).buckets == out)
        // Nobody left: nothing moves (the caller fails open).
        #expect(AssignmentFailover.remap(buckets: buckets, caches: [a, b, c], dead: [a, b, c]) == (buckets, 0))
        #expect(AssignmentFailover.remap(buckets: buckets, caches: [a, b, c], dead: []) == (buckets, 0))
    }

    @Test func maskRemapMovesOnlyTheDeadCachesValues() {
        let set = squidMaskSet(caches: [a, b])
        let (sets, moved) = AssignmentFailover.remap(maskSets: [set], dead: [b])
        #expect(moved == set.values.filter { $0.cacheIP == b }.count && moved > 0)
        #expect(zip(set.values, sets[0].values).allSatisfy { old, new in
            new.value == old.value && new.cacheIP == a })
        #expect(sets[0].mask == set.mask)
    }

    /// Two caches, failover configured: B is declared dead, its 128 buckets go to A (A keeps its
    /// own), then the designated A reassigns without B and nothing is failed over any more.
    @Test func routerFailsOverToTheRemainingCacheUntilReassigned() throws {
        var h = try RouterHarness(services: [WCCPServiceConfig(serviceID: 0, failover: true)])
        _ = h.hereIAm(a, at: 0, echo: 0)
        _ = h.hereIAm(b, at: 1, echo: 0)
        _ = h.hereIAm(a, at: 2, echo: 1)
        _ = h.hereIAm(b, at: 3, echo: 2)
        let ra = HashAssignment(key: AssignmentKey(keyIP: a, changeNumber: 1),
                                routers: [RouterAssignmentElement(routerIP: h.routerID, receiveID: 3, changeNumber: 2)],
                                caches: [a, b], buckets: squidHashBuckets(cacheCount: 2))
        let before = try #require(tables(h.redirectAssign(from: a, at: 4, .hash(ra))).first)
        #expect(before.buckets(forSlot: 0).count == 128 && before.failedOver == 0)

        let down = h.router.setCacheFailed(b, failed: true, now: .seconds(5))
        let during = try #require(tables(down).first)
        #expect(during.buckets(forSlot: 0).count == 256 && during.buckets(forSlot: 1).isEmpty)
        #expect(during.failedOver == 128 && h.router.status()[0].failedOver == 128)
        // A's own buckets did not move; B's all went to A (the only one left).
        #expect(Set(before.buckets(forSlot: 0)).isSubset(of: Set(during.buckets(forSlot: 0))))
        #expect(during.cacheSlot(srcIP: ip("10.9.9.9"), dstIP: ip("10.1.2.2"), srcPort: 1, dstPort: 80) == 0)

        // The designated cache reassigns for the new membership (change number 3) without B.
        let status = h.router.status()[0]
        let reassign = HashAssignment(key: AssignmentKey(keyIP: a, changeNumber: 2),
                                      routers: [RouterAssignmentElement(routerIP: h.routerID, receiveID: 3,
                                                                        changeNumber: status.memberChangeNumber)],
                                      caches: [a], buckets: [UInt8](repeating: 0, count: 256))
        let after = tables(h.redirectAssign(from: a, at: 6, .hash(reassign)))
        #expect(after.first?.failedOver == 0 && after.first?.buckets(forSlot: 0).count == 256)

        // Without failover the same death fails B's buckets open.
        var open = try RouterHarness()
        _ = open.hereIAm(a, at: 0, echo: 0)
        _ = open.hereIAm(b, at: 1, echo: 0)
        _ = open.hereIAm(a, at: 2, echo: 1)
        _ = open.hereIAm(b, at: 3, echo: 2)
        _ = open.redirectAssign(from: a, at: 4, .hash(ra))
        let failedOpen = try #require(tables(open.router.setCacheFailed(b, failed: true, now: .seconds(5))).first)
        #expect(failedOpen.buckets(forSlot: 0).count == 128 && failedOpen.failedOver == 0)
        #expect(failedOpen.cacheSlot(srcIP: ip("10.9.9.9"), dstIP: ip("10.1.2.2"), srcPort: 1, dstPort: 80) == nil)
    }

    /// Turning failover on or off keeps the group's caches and assignment (only the table changes).
    @Test func togglingFailoverKeepsTheGroup() throws {
        var h = try RouterHarness()
        _ = h.hereIAm(a, at: 0, echo: 0)
        _ = h.hereIAm(a, at: 1, echo: 1)
        let config = try WCCPRouterConfig(routerID: h.routerID, services: [WCCPServiceConfig(serviceID: 0, failover: true)])
        _ = h.router.reconfigure(config)
        #expect(h.router.status()[0].caches.map(\.state) == [.usable])
        #expect(h.router.config.services[0].failover)
    }

    // MARK: Data-path evidence

    let health = CacheHealthConfig(interval: .milliseconds(250), timeout: .milliseconds(1500), refusalsToFail: 2,
                                   successesToRecover: 2, dataPathHoldDown: .seconds(5))

    /// Refusals on the data path declare a cache down even while its probes answer; it stays
    /// down for the hold-down after the last refusal, then good probes bring it back.
    @Test func dataPathRefusalsDeclareDownAndHoldDown() {
        var m = CacheHealthMonitor(config: health)
        m.track([a], now: .zero)
        _ = m.tick(now: .zero)
        #expect(m.probeResult(a, .answered, now: .milliseconds(5)).isEmpty)
        #expect(m.dataPath(a, .refused, now: .milliseconds(100)).isEmpty)
        #expect(m.dataPath(a, .refused, now: .milliseconds(120)) == [.down(a, reason: .dataPathRefused)])
        #expect(m.isDown(a) && m.status(a)?.dataPathRefusals == 2)
        // Probes answer, but within the hold-down the cache stays down.
        var t = 250
        while t < 5000 {
            _ = m.tick(now: .milliseconds(t))
            #expect(m.probeResult(a, .answered, now: .milliseconds(t + 1)).isEmpty)
            t += 250
        }
        _ = m.tick(now: .milliseconds(5200))
        #expect(m.probeResult(a, .answered, now: .milliseconds(5201)) == [.up(a)])
    }

    /// Refusals spread wider than the timeout do not add up; unknown caches are ignored.
    @Test func dataPathRefusalsCountWithinTheTimeoutOnly() {
        var m = CacheHealthMonitor(config: health)
        m.track([a], now: .zero)
        #expect(m.dataPath(a, .refused, now: .milliseconds(100)).isEmpty)
        #expect(m.dataPath(a, .alive, now: .milliseconds(1000)).isEmpty)
        #expect(m.dataPath(a, .refused, now: .milliseconds(1700)).isEmpty)   // a new window
        #expect(!m.isDown(a))
        #expect(m.dataPath(b, .refused, now: .milliseconds(1701)).isEmpty)
        #expect(m.dataPath(b, .refused, now: .milliseconds(1702)).isEmpty)
    }

    /// ICMP destination unreachable from a cache about GRE to it is evidence; other ICMP is not.
    @Test func icmpUnreachableAboutRedirectedGREIsEvidence() {
        func icmp(from: IPv4Address, type: UInt8 = 3, code: UInt8 = 3, innerProtocol: UInt8 = 47,
                  innerDst: IPv4Address? = nil) -> [UInt8] {
            func bytes(_ a: IPv4Address) -> [UInt8] { [UInt8(a.value >> 24), UInt8(a.value >> 16 & 0xFF), UInt8(a.value >> 8 & 0xFF), UInt8(a.value & 0xFF)] }
            let router = ip("10.77.0.1")
            let outer: [UInt8] = [0x45, 0, 0, 56, 0, 0, 0, 0, 64, 1, 0, 0] + bytes(from) + bytes(router)
            let header: [UInt8] = [type, code, 0, 0, 0, 0, 0, 0]
            let inner: [UInt8] = [0x45, 0, 0, 60, 0, 0, 0, 0, 63, innerProtocol, 0, 0] + bytes(router) + bytes(innerDst ?? from)
            return outer + header + inner + [0, 0, 0x88, 0x3E, 0, 0, 0, 0]
        }
        let caches: Set<IPv4Address> = [a, b]
        #expect(CacheDataPathEvidence.refusingCache(icmp: icmp(from: a), caches: caches) == a)
        #expect(CacheDataPathEvidence.refusingCache(icmp: icmp(from: b, code: 2), caches: caches) == b)
        #expect(CacheDataPathEvidence.refusingCache(icmp: icmp(from: c), caches: caches) == nil)          // not a cache
        #expect(CacheDataPathEvidence.refusingCache(icmp: icmp(from: a, innerProtocol: 17), caches: caches) == nil)  // our UDP
        #expect(CacheDataPathEvidence.refusingCache(icmp: icmp(from: a, innerDst: b), caches: caches) == nil)
        #expect(CacheDataPathEvidence.refusingCache(icmp: icmp(from: a, type: 11, code: 0), caches: caches) == nil)
        #expect(CacheDataPathEvidence.refusingCache(icmp: icmp(from: a, code: 4), caches: caches) == nil)  // frag needed
        #expect(CacheDataPathEvidence.refusingCache(icmp: Array(icmp(from: a).prefix(40)), caches: caches) == nil)
        #expect(CacheDataPathEvidence.refusingCache(icmp: [], caches: caches) == nil)
    }
}

@Suite struct BoundedStateTests {
    /// A service group keeps at most 64 caches (pending included); the 65th new source is dropped and counted.
    @Test func groupStateIsBounded() throws {
        var h = try RouterHarness()
        for i in 0..<(WCCPRouter.maximumCachesPerGroup + 10) {
            _ = h.hereIAm(IPv4Address(10, 78, UInt8(i / 200), UInt8(1 + i % 200)), at: 0, echo: 0)
        }
        #expect(h.router.status()[0].caches.count == WCCPRouter.maximumCachesPerGroup)
        #expect(h.router.dropCount(.tooManyCaches) == 10)
    }
}
