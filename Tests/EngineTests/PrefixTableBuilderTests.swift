import Testing
import Packet
@testable import Engine

/// The master prefix tables of learned routes: changed in place, copied into each snapshot.
@Suite struct PrefixTableBuilderTests {
    static func longest(_ reference: [IPv4Prefix: UInt32], _ a: IPv4Address) -> UInt32 {
        reference.filter { $0.key.contains(a) }.max { $0.key.length < $1.key.length }?.value ?? noRouteIndex
    }

    /// Inserts, updates and removals (many colliding in small tables, whole lengths emptied and
    /// shrunk) agree with a dictionary, and the copies look up as a linear scan says, with the
    /// extras winning and the offset added.
    @Test func agreesWithADictionaryThroughInsertsUpdatesAndRemovals() {
        var g = SplitMix64(seed: 42)  // a fixed sequence, so a failure repeats
        let builder = PrefixTableBuilder<UInt32>()
        var reference: [IPv4Prefix: UInt32] = [:]
        // Few lengths and a narrow address space: long probe runs, many repeats.
        let lengths = [8, 16, 20, 24, 32]
        func randomPrefix() -> IPv4Prefix {
            let address = UInt32.random(in: 0...UInt32.max, using: &g) & 0x0A0F_FF0F | 0x0A00_0000
            return IPv4Prefix(IPv4Address(address), length: lengths.randomElement(using: &g)!)!
        }
        for round in 0..<12 {
            // Grow in even rounds, mostly withdraw in odd ones (down to nothing at the end).
            let removing = round % 2 == 1
            var victims = Array(reference.keys).shuffled(using: &g)
            for _ in 0..<(removing ? 3000 : 2500) {
                let p = randomPrefix()
                if removing || Int.random(in: 0..<10, using: &g) == 0 {
                    // Mostly a present prefix, sometimes one that is not there.
                    let victim = Int.random(in: 0..<8, using: &g) == 0 ? p : (victims.popLast() ?? p)
                    #expect(builder.remove(victim.address.value, length: victim.length) == reference.removeValue(forKey: victim))
                } else {
                    let v = UInt32.random(in: 0..<1000, using: &g)
                    #expect(builder.update(p.address.value, length: p.length, value: v) == reference.updateValue(v, forKey: p))
                }
            }
            if round == 11 { for p in Array(reference.keys) { builder.remove(p.address.value, length: p.length); reference[p] = nil } }
            #expect(builder.count == reference.count)
            for (p, v) in reference { #expect(builder.value(p.address.value, length: p.length) == v) }
            var seen = 0
            builder.forEach { key, length, value in
                seen += 1
                #expect(reference[IPv4Prefix(IPv4Address(key), length: Int(length))!] == value)
            }
            #expect(seen == reference.count)

            // A copy with extras (some repeating learned prefixes, some at new lengths) and an offset.
            var extras: [IPv4Prefix: UInt32] = [IPv4Prefix("10.0.0.0/7")!: 5000, IPv4Prefix("10.1.2.0/25")!: 5001]
            for p in reference.keys.prefix(5) { extras[p] = 5002 }
            let (table, replaced) = builder.table(offsetBy: 100, adding: extras.map { (key: $0.key.address.value, length: $0.key.length, value: $0.value) })
            #expect(replaced == extras.keys.filter { reference[$0] != nil }.count)
            var merged = reference.mapValues { $0 + 100 }
            for (p, v) in extras { merged[p] = v }
            for _ in 0..<1500 {
                let a = IPv4Address(UInt32.random(in: 0...UInt32.max, using: &g) & 0x0A0F_FFFF | 0x0A00_0000)
                #expect(table.lookup(a) == Self.longest(merged, a))
            }
            for p in reference.keys.prefix(200) { #expect(table.lookup(p.address) == Self.longest(merged, p.address)) }
        }
        #expect(builder.count == 0)
        #expect(builder.table(offsetBy: 0, adding: []).table.lookup(IPv4Address("10.1.2.3")!) == noRouteIndex)
    }

    @Test func ipv6() {
        let builder = PrefixTableBuilder<IPv6Address>()
        builder.update(IPv6Address("2001:db8::")!, length: 32, value: 1)
        builder.update(IPv6Address("2001:db8:1::ffff")!, length: 48, value: 2)  // host bits are masked
        builder.update(IPv6Address("2001:db8:2::")!, length: 48, value: 3)
        #expect(builder.remove(IPv6Address("2001:db8:2::")!, length: 48) == 3)
        let (t, replaced) = builder.table(offsetBy: 10, adding: [(key: IPv6Address("2001:db8::")!, length: 32, value: 0)])
        #expect(replaced == 1)
        #expect(t.lookup(IPv6Address("2001:db8:1::5")!) == 12)
        #expect(t.lookup(IPv6Address("2001:db8:2::5")!) == 0)
        #expect(t.lookup(IPv6Address("2001:db9::1")!) == noRouteIndex)
    }
}

/// A snapshot made from master tables is the one made from the same routes listed.
@Suite struct BulkRouteTablesTests {
    private func snapshot(routes: [RouteSpec], bulk: BulkRoutes) -> ForwardingSnapshot {
        let t = Rig.tgw0
        return ForwardingSnapshot(generation: 1, tunnels: [t], routes: routes,
                                  counters: [t.name: CounterBlock(workers: 1, fields: TunnelCounter.fieldCount)],
                                  tunFDs: [t.name: [100]], workers: 1, bulk: bulk)
    }

    private func sameForwarding(_ a: ForwardingSnapshot, _ b: ForwardingSnapshot, probes: [IPv4Address], probes6: [IPv6Address]) {
        #expect(a.bulkRouteCount == b.bulkRouteCount)
        #expect(a.routeCount == b.routeCount)
        for p in probes { #expect(a.view.fib4.lookup(p.value) == b.view.fib4.lookup(p.value), "\(p)") }
        for p in probes6 { #expect(a.view.fib6.lookup(p) == b.view.fib6.lookup(p), "\(p)") }
    }

    @Test(arguments: [false, true])
    func tablesForwardAsTheListedRoutes(withUnusableTarget: Bool) {
        var targets: [BulkRoutes.Target] = [
            .init(target: .nextHop(.v4(IPv4Address("10.77.0.1")!), mtu: 1500)),
            .init(target: .tunnels(["tgw0"])),
        ]
        // A target whose tunnel is gone: its prefixes are left out (the tables are then listed).
        if withUnusableTarget { targets.append(.init(target: .tunnels(["gone"]))) }
        var listed = BulkRoutes(targets: targets)
        let v4 = PrefixTableBuilder<UInt32>(), v6 = PrefixTableBuilder<IPv6Address>()
        var probes: [IPv4Address] = []
        for i in 0..<5000 {
            let p = IPv4Prefix(IPv4Address(UInt32(32 << 24) + UInt32(i) << 8), length: 24)!
            let t = UInt32(i % targets.count)
            listed.v4.append(.init(prefix: p, target: t))
            v4.update(p.address.value, length: p.length, value: t)
            probes.append(IPv4Address(p.address.value | 9))
        }
        // Shadowed by a static route, by the tunnel's inside subnet; a less specific learned one.
        for (text, t) in [("10.1.0.0/16", 0), ("169.254.6.0/29", 1), ("32.0.0.0/8", 1)] {
            let p = IPv4Prefix(text)!
            listed.v4.append(.init(prefix: p, target: UInt32(t)))
            v4.update(p.address.value, length: p.length, value: UInt32(t))
        }
        let p6 = IPv6Prefix("2001:db8::/32")!
        listed.v6.append(.init(prefix: p6, target: 1))
        v6.update(p6.address, length: p6.length, value: 1)
        probes += ["10.1.2.3", "169.254.6.1", "169.254.6.2", "32.255.0.1", "33.0.0.1"].map { IPv4Address($0)! }
        let statics = [RouteSpec(prefix: IPPrefix("10.1.0.0/16")!, target: .blackhole)]
        let a = snapshot(routes: statics, bulk: listed)
        let b = snapshot(routes: statics, bulk: BulkRoutes(targets: targets, v4Table: v4, v6Table: v6))
        sameForwarding(a, b, probes: probes, probes6: [IPv6Address("2001:db8::1")!, IPv6Address("2001:db9::1")!])
        #expect(b.bulkRouteCount == (withUnusableTarget ? 5000 - 5000 / 3 + 2 : 5000 + 2))
        #expect(b.view.routes[Int(b.view.fib4.lookup(IPv4Address("10.1.2.3")!.value))].kind == .blackhole)
        #expect(b.view.routes[Int(b.view.fib4.lookup(IPv4Address("169.254.6.2")!.value))].kind == .local)
        #expect(b.view.routes[Int(b.view.fib4.lookup(IPv4Address("32.0.0.9")!.value))].kind == .nextHop)
        // The master tables go on changing; the snapshot made from them does not.
        v4.remove(IPv4Address("32.0.0.0")!.value, length: 24)
        #expect(b.view.routes[Int(b.view.fib4.lookup(IPv4Address("32.0.0.9")!.value))].kind == .nextHop)
    }
}
