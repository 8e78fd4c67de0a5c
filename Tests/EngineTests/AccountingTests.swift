import Testing
import Packet
@testable import Engine

/// Every packet the processor is handed ends in exactly one outcome counter
/// or one drop reason: per tunnel, inputs (GRE received + kernel packets
/// assigned to it) equal outcomes plus drops; engine-wide, GRE packets read
/// equal the tunnels' rx plus the drops before a tunnel is known.
@Suite struct AccountingTests {
    @Test func aRandomMixAddsUp() {
        let rig = Rig(redirect: [RedirectStageTests.webCache()])
        var rng = SplitMix64(seed: 0xACC0)
        var sentGRE: UInt64 = 0
        var sentKernel: UInt64 = 0
        for i in 0..<3000 {
            let dsts = ["198.51.100.80", "10.1.0.10", "10.2.3.4", "10.9.1.1", "169.254.6.1", "169.254.7.3", "203.0.113.7"]
            let dst = dsts[Int(rng.next() % UInt64(dsts.count))]
            let ttl = UInt8(rng.next() % 4 == 0 ? 1 : 64)
            let dport = UInt16([80, 443, 53, 9][Int(rng.next() % 4)])
            let proto: UInt8 = rng.next() % 2 == 0 ? 6 : 17
            var inner = TraceTests.tcp(src: "10.1.0.\(i % 250)", dst: dst, dport: dport, ttl: ttl)
            inner[9] = proto
            if rng.next() % 10 == 0 { inner += [UInt8](repeating: 0, count: 1600) ; inner[2] = UInt8((inner.count >> 8) & 0xFF); inner[3] = UInt8(inner.count & 0xFF); inner[6] = 0x40 }
            // Fix the header checksum after edits.
            inner[10] = 0; inner[11] = 0
            var sum: UInt32 = 0
            for k in stride(from: 0, to: 20, by: 2) { sum += UInt32(inner[k]) << 8 | UInt32(inner[k + 1]) }
            while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
            inner[10] = UInt8(~UInt16(sum) >> 8); inner[11] = UInt8(~UInt16(sum) & 0xFF)
            switch rng.next() % 8 {
            case 0: rig.fromKernel(inner, tunnel: Int(rng.next() % 2)); sentKernel += 1
            case 1: rig.fromTunnel(Build.gre(src: "10.0.0.9", dst: "10.0.1.10", inner: inner)); sentGRE += 1   // unknown peer
            case 2: rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", flags: 0x0001, inner: inner)); sentGRE += 1  // version 1
            case 3:
                var bad = inner; bad[0] = 0x55
                rig.fromTunnel(Build.gre(src: "10.0.0.2", dst: "10.0.1.10", inner: bad)); sentGRE += 1
            default:
                rig.fromTunnel(Build.gre(src: rng.next() % 2 == 0 ? "10.0.0.1" : "10.0.0.2", dst: "10.0.1.10", inner: inner)); sentGRE += 1
            }
            if rig.out.count > 100 { rig.out.removeAll(); rig.processor.resetScratch() }
        }
        var rx: UInt64 = 0, kernelIn: UInt64 = 0
        for name in ["tgw0", "tgw1"] {
            let c = rig.counters[name]!
            func v(_ f: TunnelCounter) -> UInt64 { c.total(f.rawValue) }
            let drops = DropReason.allCases.reduce(UInt64(0)) { $0 + c.total(TunnelCounter.dropBase + $1.rawValue) }
            let inputs = v(.rxPackets) + v(.kernelInput)
            let outcomes = v(.decapForwarded) + v(.decapToKernel) + v(.decapRedirected) + v(.encapFromKernel) + drops
            #expect(inputs == outcomes, "\(name): \(inputs) in, \(outcomes) out")
            #expect(inputs > 0)
            rx += v(.rxPackets)
            kernelIn += v(.kernelInput)
        }
        let e = rig.engineCounters
        func d(_ r: DropReason) -> UInt64 { e.total(EngineCounter.dropBase + r.rawValue) }
        #expect(e.total(EngineCounter.greReceived.rawValue) == sentGRE)
        #expect(sentGRE == rx + d(.unknownPeer) + d(.badOuter))
        #expect(e.total(EngineCounter.kernelReceived.rawValue) == sentKernel)
        #expect(sentKernel == kernelIn + d(.badInner) + d(.blackhole))
        #expect(d(.unknownPeer) > 0)
    }
}
