import Testing
import Packet
@testable import Engine

/// `trace packet` runs the workers' PacketProcessor on a replica of the
/// snapshot: the decision matches what the live path does, and the live
/// snapshot's counters do not move.
@Suite struct TraceTests {
    static func tcp(src: String, dst: String, sport: UInt16 = 40000, dport: UInt16 = 80, ttl: UInt8 = 64) -> [UInt8] {
        let l4: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
                           0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xFF, 0xFF, 0, 0, 0, 0]
        return Build.ipv4(src: src, dst: dst, proto: 6, ttl: ttl, payload: l4)
    }

    @Test func transitIsRedirectedLikeTheLivePath() throws {
        let rig = Rig(redirect: [RedirectStageTests.webCache()])
        let inner = Self.tcp(src: "10.1.0.10", dst: "198.51.100.81")
        let t = try #require(rig.snapshot.trace(inner, ingress: .tunnel("tgw0")))
        #expect(t.tunnelCounters["tgw0"]?[TunnelCounter.decapRedirected.rawValue] == 1)
        #expect(t.serviceCounters[0]?[RedirectCounter.bucketBase + 192] == 1)
        #expect(t.serviceCounters[0]?[RedirectCounter.cacheBase + 0] == 1)
        #expect(t.outputs.count == 1 && t.outputs[0].destination == RedirectStageTests.proxy1)
        #expect(t.route?.prefix == IPPrefix("0.0.0.0/0")! && t.route?.kind == "nextHop")
        // The same packet on the live path goes to the same cache.
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: inner))
        #expect(rig.out[0].destination4 == t.outputs[0].destination.value)
        #expect(Array(rig.output(0)) == t.outputs[0].bytes)
        // The trace itself moved no live counter: only the live packet counted.
        #expect(rig.counter("tgw0", .rxPackets) == 1)
        #expect(rig.redirectCounter(0, RedirectCounter.redirected) == 1)
    }

    @Test func returnTrafficPicksTheECMPTunnelOfTheLivePath() throws {
        let rig = Rig()
        for port in UInt16(1000)..<1040 {
            let inner = Self.tcp(src: "198.51.100.80", dst: "10.1.0.10", sport: 80, dport: port)
            let t = try #require(rig.snapshot.trace(inner, ingress: .kernel("tgw0")))
            #expect(t.ecmpMembers == ["tgw0", "tgw1"])
            rig.out.removeAll()
            rig.fromKernel(inner)
            let live = rig.snapshot.tunnelSpecs[Int(rig.out[0].txTunnel)].name
            #expect(t.ecmpChoice == live)
            #expect(t.outputs.first?.tunnel == live)
            #expect(t.tunnelCounters[live]?[TunnelCounter.encapFromKernel.rawValue] == 1)
        }
    }

    @Test func dropsAreReportedWithTheirReason() throws {
        let rig = Rig()
        let blackholed = try #require(rig.snapshot.trace(Self.tcp(src: "10.1.0.10", dst: "10.9.1.1"), ingress: .tunnel("tgw1")))
        #expect(blackholed.tunnelCounters["tgw1"]?[TunnelCounter.dropBase + DropReason.blackhole.rawValue] == 1)
        let expiring = try #require(rig.snapshot.trace(Self.tcp(src: "10.1.0.10", dst: "198.51.100.9", ttl: 1), ingress: .tunnel("tgw0")))
        #expect(expiring.tunnelCounters["tgw0"]?[TunnelCounter.dropBase + DropReason.ttlExpired.rawValue] == 1)
        #expect(rig.snapshot.trace(Self.tcp(src: "1.1.1.1", dst: "2.2.2.2"), ingress: .tunnel("nope")) == nil)
    }
}
