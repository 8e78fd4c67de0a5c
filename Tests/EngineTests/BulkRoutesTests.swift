import Testing
import Packet
@testable import Engine

/// Learned routes handed to the snapshot in bulk: few targets, many prefixes.
@Suite struct BulkRoutesTests {
    private func snapshot(routes: [RouteSpec], bulk: BulkRoutes) -> ForwardingSnapshot {
        let t = Rig.tgw0
        return ForwardingSnapshot(generation: 1, tunnels: [t], routes: routes,
                                  counters: [t.name: CounterBlock(workers: 1, fields: TunnelCounter.fieldCount)],
                                  tunFDs: [t.name: [100]], workers: 1, bulk: bulk)
    }

    @Test func prefixesShareTheirTargetsEntryAndConfiguredRoutesWin() {
        var bulk = BulkRoutes(targets: [
            .init(target: .nextHop(.v4(IPv4Address("10.77.0.1")!), mtu: 1500)),
            .init(target: .tunnels(["tgw0"])),
            .init(target: .tunnels(["gone"])),  // no such tunnel: its prefixes are left out
        ])
        for i in 0..<10_000 {
            bulk.v4.append(.init(prefix: IPv4Prefix(IPv4Address(UInt32(32 << 24) + UInt32(i) << 8), length: 24)!, target: UInt32(i % 2)))
        }
        bulk.v4.append(.init(prefix: IPv4Prefix("10.50.0.0/16")!, target: 2))
        bulk.v4.append(.init(prefix: IPv4Prefix("10.1.0.0/16")!, target: 0))
        bulk.v6.append(.init(prefix: IPv6Prefix("2001:db8::/32")!, target: 1))
        let s = snapshot(routes: [RouteSpec(prefix: IPPrefix("10.1.0.0/16")!, target: .blackhole)], bulk: bulk)
        // 10,000 + 10.1/16 (shadowed by the static route) + the IPv6 one; not the unusable one.
        #expect(s.bulkRouteCount == 10_001)
        let view = s.view
        let a = view.fib4.lookup(IPv4Address("32.0.0.9")!.value)
        let b = view.fib4.lookup(IPv4Address("32.0.1.9")!.value)
        #expect(view.routes[Int(a)].kind == .nextHop)
        #expect(view.routes[Int(a)].nextHopV4 == IPv4Address("10.77.0.1")!.value)
        #expect(view.routes[Int(b)].kind == .tunnels)
        // Even prefixes share one entry, odd ones another.
        #expect(view.fib4.lookup(IPv4Address("32.0.2.1")!.value) == a)
        #expect(view.fib4.lookup(IPv4Address("32.0.3.1")!.value) == b)
        #expect(view.fib4.lookup(IPv4Address("10.50.0.1")!.value) == noRouteIndex)
        #expect(view.routes[Int(view.fib4.lookup(IPv4Address("10.1.2.3")!.value))].kind == .blackhole)
        #expect(view.fib4.lookup(IPv4Address("33.0.0.1")!.value) == noRouteIndex)
        let v6 = view.fib6.lookup(IPv6Address("2001:db8::1")!)
        #expect(v6 != noRouteIndex && view.routes[Int(v6)].kind == .tunnels)
        // The tunnel's own inside subnet and address are not overridden by learned routes
        // (the subnet is the kernel's, as on a Linux GRE device).
        var inside = BulkRoutes(targets: [.init(target: .blackhole)])
        inside.v4.append(.init(prefix: IPv4Prefix("169.254.6.0/29")!, target: 0))
        let t = snapshot(routes: [], bulk: inside)
        #expect(t.bulkRouteCount == 0)
        #expect(t.view.routes[Int(t.view.fib4.lookup(IPv4Address("169.254.6.2")!.value))].kind == .local)
    }

    /// `trace packet` names the learned prefix a packet matched (the entry is
    /// shared by many prefixes), and the entries after the learned ones keep
    /// their own prefixes.
    @Test func traceNamesTheLearnedPrefixItMatched() throws {
        var bulk = BulkRoutes(targets: [.init(target: .tunnels(["tgw0"]))])
        bulk.v4.append(.init(prefix: IPv4Prefix("10.1.0.0/16")!, target: 0))
        bulk.v4.append(.init(prefix: IPv4Prefix("10.1.2.0/24")!, target: 0))
        bulk.v4.append(.init(prefix: IPv4Prefix("10.2.0.0/16")!, target: 0))
        let s = snapshot(routes: [], bulk: bulk)
        let toSpoke = TraceTests.tcp(src: "198.51.100.80", dst: "10.1.2.3", sport: 80, dport: 40000)
        let t = try #require(s.trace(toSpoke, ingress: .kernel("tgw0"), bulk: bulk))
        #expect(t.route?.prefix == IPPrefix("10.1.2.0/24")! && t.route?.kind == "tunnels")
        #expect(t.ecmpChoice == "tgw0" && t.outputs.first?.tunnel == "tgw0")
        // The appliance's own inside address, added after the learned entries.
        let own = try #require(s.trace(TraceTests.tcp(src: "169.254.6.2", dst: "169.254.6.1"), ingress: .tunnel("tgw0"), bulk: bulk))
        #expect(own.route?.prefix == IPPrefix("169.254.6.1/32")! && own.route?.kind == "local")
    }
}
