import Testing
import Packet
@testable import Engine

/// The per-worker flow cache: packets of one flow add up in one slot with
/// the egress decision the processor took; idle and long flows expire into
/// the ring; a full probe run evicts the least recently seen flow.
@Suite struct FlowCacheTests {
    @Test func redirectedForwardedAndReturnFlows() {
        let rig = Rig(redirect: [RedirectStageTests.webCache()])
        let cache = FlowCache()
        defer { cache.deallocate() }
        let ring = FlowRing(capacity: 64)
        let lost = CounterBlock(workers: 1, fields: EngineCounter.fieldCount)
        var t: UInt64 = 1_000
        func run(_ inner: [UInt8], kernel: Bool = false) {
            rig.out.removeAll()
            if kernel { rig.fromKernel(inner) } else { rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", proto: inner[0] >> 4 == 6 ? EtherType.ipv6 : EtherType.ipv4, inner: inner)) }
            for i in 0..<rig.out.count { cache.record(rig.out[i], view: rig.snapshot.view, now: t, ring: ring, lost: lost.row(0)) }
            t += 1_000
        }
        let web = TraceTests.tcp(src: "10.1.0.10", dst: "198.51.100.81")         // bucket 192 -> proxy1
        let dns = TraceTests.tcp(src: "10.1.0.10", dst: "198.51.100.81", dport: 53)
        let back = TraceTests.tcp(src: "198.51.100.81", dst: "10.1.0.10", sport: 53, dport: 40000)
        let v6 = Build.ipv6(src: "fd01::10", dst: "2001:db8::80")
        run(v6)
        run(v6)
        for _ in 0..<3 { run(web) }
        for _ in 0..<2 { run(dns) }
        run(back, kernel: true)
        var cursor = 0
        for _ in 0..<(FlowCache.capacity / FlowCache.scanPerRound) {
            cache.expire(now: t + 10_000, active: 1_000_000, inactive: 5_000, ring: ring, lost: lost.row(0), cursor: &cursor)
        }
        let flows = ring.drain()
        #expect(flows.count == 4)
        let six = flows.first { $0.isIPv6 }
        #expect(six?.source6 == IPv6Address("fd01::10")! && six?.destination6 == IPv6Address("2001:db8::80")!)
        #expect(six?.packets == 2 && six?.decision == 1 && six?.proto == 17 && six?.sourcePort == 40000 && six?.destinationPort == 7)
        let w = flows.first { $0.destinationPort == 80 }
        #expect(w?.packets == 3 && w?.bytes == 3 * 40 && w?.decision == 2 && w?.service == 0)
        #expect(w?.nextHop == RedirectStageTests.proxy1.value && w?.endReason == 1 && w?.tunnel == 0)
        let d = flows.first { $0.destinationPort == 53 }
        #expect(d?.packets == 2 && d?.decision == 1 && d?.nextHop == 0)
        let r = flows.first { $0.sourcePort == 53 }
        #expect(r?.decision == 4 && r?.packets == 1)
        #expect(r?.nextHop == Rig.tgw0.remoteOuter.value || r?.nextHop == Rig.tgw1.remoteOuter.value)
        #expect(ring.drain().isEmpty)
    }

    @Test func activeTimeoutExportsAndRestarts() {
        let cache = FlowCache()
        defer { cache.deallocate() }
        let ring = FlowRing(capacity: 4)
        let lost = CounterBlock(workers: 1, fields: EngineCounter.fieldCount)
        var evicted = FlowSlot()
        _ = cache.update(source: 1, destination: 2, sourcePort: 3, destinationPort: 4, proto: 17, tunnel: 0, bytes: 100,
                         decision: 1, service: 0, nextHop: 0, now: 0, evicted: &evicted)
        _ = cache.update(source: 1, destination: 2, sourcePort: 3, destinationPort: 4, proto: 17, tunnel: 0, bytes: 100,
                         decision: 1, service: 0, nextHop: 0, now: 90, evicted: &evicted)
        var cursor = 0
        for _ in 0..<(FlowCache.capacity / FlowCache.scanPerRound) {
            cache.expire(now: 100, active: 50, inactive: 1_000, ring: ring, lost: lost.row(0), cursor: &cursor)
        }
        let out = ring.drain()
        #expect(out.count == 1 && out[0].endReason == 2 && out[0].packets == 2 && out[0].bytes == 200)
        // The flow stays, counting from zero.
        _ = cache.update(source: 1, destination: 2, sourcePort: 3, destinationPort: 4, proto: 17, tunnel: 0, bytes: 100,
                         decision: 1, service: 0, nextHop: 0, now: 120, evicted: &evicted)
        for _ in 0..<(FlowCache.capacity / FlowCache.scanPerRound) {
            cache.expire(now: 2_000, active: 50_000, inactive: 1_000, ring: ring, lost: lost.row(0), cursor: &cursor)
        }
        let again = ring.drain()
        #expect(again.count == 1 && again[0].packets == 1 && again[0].endReason == 1)
    }

    @Test func fullRingCountsLostRecords() {
        let ring = FlowRing(capacity: 2)
        #expect(ring.push(FlowSlot()) && ring.push(FlowSlot()))
        #expect(!ring.push(FlowSlot()))
        #expect(ring.drain().count == 2)
        #expect(ring.push(FlowSlot()))
    }
}
