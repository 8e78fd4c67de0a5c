import Foundation
import Glibc
import Netlink
import Packet
import Synchronization
import Testing

// Tests against the real kernel, each inside a network namespace of its own; every effect is
// checked with `ip -n NS -j ...`. Skipped unless root with iproute2.

private func address(_ text: String) -> IPAddress { IPAddress(text)! }
private func prefix(_ text: String) -> IPPrefix { IPPrefix(text)! }
private func macText(_ mac: [UInt8]?) -> String? {
    mac.map { $0.map { String(format: "%02x", $0) }.joined(separator: ":") }
}

@Suite(.enabled(if: TestNamespace.isUsable, "needs root and iproute2"))
struct KernelTests {
    @Test func linksAndAddresses() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.mustIP("link", "add", "eg0", "type", "veth", "peer", "name", "eg1")
        let nl = try RTNetlink(namespace: ns.name)

        let link = try #require(try nl.link(named: "eg0"))
        #expect(link.kind == "veth")
        #expect(!link.isUp)
        #expect(try nl.link(named: "nosuch0") == nil)
        #expect(try nl.link(index: 999_999) == nil)
        #expect(try Set(nl.links().map(\.name)) == ["lo", "eg0", "eg1"])

        try nl.setLink(index: link.index, up: true, mtu: 1400)
        let shown = try #require(try ns.json("link", "show", "dev", "eg0").first)
        #expect(shown["mtu"] as? Int == 1400)
        #expect((shown["flags"] as? [String])?.contains("UP") == true)
        #expect(shown["address"] as? String == macText(link.macAddress))
        let after = try #require(try nl.link(index: link.index))
        #expect(after.isUp && after.mtu == 1400 && after.name == "eg0")
        try nl.setLink(index: link.index, up: false)
        #expect(try nl.link(index: link.index)?.isUp == false)
        try nl.setLink(index: link.index, up: true)

        let v4 = IPv4InterfaceAddress("169.254.6.1/29")!
        let v6 = IPv6InterfaceAddress("fd00:6::1/64")!
        try nl.addAddress(v4, index: link.index)
        try nl.addAddress(v4, index: link.index)  // idempotent
        try nl.addAddress(v6, index: link.index)
        let info = try #require(try ns.json("addr", "show", "dev", "eg0").first?["addr_info"] as? [[String: Any]])
        let ipv4 = info.filter { $0["family"] as? String == "inet" }
        #expect(ipv4.count == 1)
        #expect(ipv4.first?["local"] as? String == "169.254.6.1" && ipv4.first?["prefixlen"] as? Int == 29)
        let ours6 = try #require(info.first { $0["local"] as? String == "fd00:6::1" })
        #expect(ours6["prefixlen"] as? Int == 64)
        #expect(ours6["tentative"] == nil)  // NODAD: usable at once

        let listed = try nl.addresses(index: link.index)
        #expect(listed.compactMap(\.v4) == [v4])
        #expect(listed.compactMap(\.v6).contains(v6))
        #expect(try nl.addresses().contains { $0.v4 == v4 && $0.interfaceIndex == link.index })

        try nl.deleteAddress(v4, index: link.index)
        try nl.deleteAddress(v6, index: link.index)
        let remaining = try ns.json("addr", "show", "dev", "eg0").first?["addr_info"] as? [[String: Any]] ?? []
        #expect(!remaining.contains { ["169.254.6.1", "fd00:6::1"].contains($0["local"] as? String) })
        do {
            try nl.deleteAddress(v4, index: link.index)
            Issue.record("deleting a missing address succeeded")
        } catch {
            #expect(error.isNotFound, "\(error)")
        }
    }

    @Test func routes() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        // veth pairs (this kernel may lack the dummy driver); the peers up so the links have carrier.
        try ns.mustIP("link", "add", "d1", "type", "veth", "peer", "name", "d1p")
        try ns.mustIP("link", "add", "d2", "type", "veth", "peer", "name", "d2p")
        try ns.mustIP("link", "set", "d1p", "up")
        try ns.mustIP("link", "set", "d2p", "up")
        let nl = try RTNetlink(namespace: ns.name)
        let d1 = try #require(try nl.link(named: "d1")).index
        let d2 = try #require(try nl.link(named: "d2")).index
        for (index, v4, v6) in [(d1, "10.0.1.1/24", "fd00:1::1/64"), (d2, "10.0.2.1/24", "fd00:2::1/64")] {
            try nl.setLink(index: index, up: true)
            try nl.addAddress(IPv4InterfaceAddress(v4)!, index: index)
            try nl.addAddress(IPv6InterfaceAddress(v6)!, index: index)
        }

        // Multipath IPv4, weights as `ip` shows them.
        let multipath = KernelRoute(prefix: prefix("10.1.0.0/16"), nextHops: [
            KernelNextHop(gateway: address("10.0.1.2"), interfaceIndex: d1),
            KernelNextHop(gateway: address("10.0.2.2"), interfaceIndex: d2, weight: 3),
        ])
        try nl.replaceRoute(multipath)
        try nl.replaceRoute(multipath)  // replacing with itself is fine
        let shown = try #require(try ns.json("route", "show", "10.1.0.0/16").first)
        #expect(shown["protocol"] as? String == "218")
        let hops = try #require(shown["nexthops"] as? [[String: Any]])
        #expect(hops.map { $0["gateway"] as? String } == ["10.0.1.2", "10.0.2.2"])
        #expect(hops.map { $0["dev"] as? String } == ["d1", "d2"])
        #expect(hops.map { $0["weight"] as? Int ?? 1 } == [1, 3])

        // Replace with a single next hop: one route remains, the new one.
        let single = KernelRoute(prefix: prefix("10.1.0.0/16"),
                                 nextHops: [KernelNextHop(gateway: address("10.0.1.3"), interfaceIndex: d1)])
        try nl.replaceRoute(single)
        let replaced = try ns.json("route", "show", "10.1.0.0/16")
        #expect(replaced.count == 1)
        #expect(replaced.first?["gateway"] as? String == "10.0.1.3" && replaced.first?["nexthops"] == nil)

        let lookup = try #require(try nl.routeLookup(to: address("10.1.2.3")))
        #expect(lookup.interfaceIndex == d1)
        #expect(lookup.gateway == address("10.0.1.3"))
        #expect(lookup.preferredSource == address("10.0.1.1"))
        #expect(try nl.routeLookup(to: address("192.0.2.1")) == nil)  // no default route in here
        #expect(try nl.routeLookup(to: address("fd00:2::9"))?.interfaceIndex == d2)

        // Multipath IPv6 and a blackhole.
        let v6 = KernelRoute(prefix: prefix("fd01::/64"), nextHops: [
            KernelNextHop(gateway: address("fd00:1::2"), interfaceIndex: d1),
            KernelNextHop(gateway: address("fd00:2::2"), interfaceIndex: d2),
        ])
        try nl.replaceRoute(v6)
        let shown6 = try #require(try ns.json("-6", "route", "show", "fd01::/64").first)
        #expect((shown6["nexthops"] as? [[String: Any]])?.compactMap { $0["gateway"] as? String } == ["fd00:1::2", "fd00:2::2"])
        let blackhole = KernelRoute(prefix: prefix("10.9.0.0/16"), type: .blackhole)
        try nl.replaceRoute(blackhole)
        #expect(try ns.json("route", "show", "10.9.0.0/16").first?["type"] as? String == "blackhole")

        // The dump by protocol finds exactly ours, as installed.
        let ours = try nl.routes(protocol: RouteProtocol.egressd)
        #expect(Set(ours.map(\.prefix)) == [prefix("10.1.0.0/16"), prefix("fd01::/64"), prefix("10.9.0.0/16")])
        #expect(ours.first { $0.prefix == single.prefix } == single)
        #expect(ours.first { $0.prefix == blackhole.prefix } == blackhole)
        let dumped6 = try #require(ours.first { $0.prefix == v6.prefix })
        #expect(dumped6.nextHops == v6.nextHops)
        #expect(dumped6.metric == 1024)  // the kernel's default for IPv6
        #expect(try nl.routes().contains { $0.protocol == RouteProtocol.kernel && $0.prefix == prefix("10.0.1.0/24") })

        for route in [single, v6, blackhole] { try nl.deleteRoute(route) }
        #expect(try nl.routes(protocol: RouteProtocol.egressd).isEmpty)
        #expect(try ns.json("route", "show", "proto", "218").isEmpty)
        #expect(try ns.json("-6", "route", "show", "proto", "218").isEmpty)

        // Errors are typed and readable.
        do {
            try nl.deleteRoute(single)
            Issue.record("deleting a missing route succeeded")
        } catch {
            #expect(error.errno == ESRCH && error.isNotFound)
            #expect(error.description.hasPrefix("RTM_DELROUTE 10.1.0.0/16: No such process (ESRCH)"), "\(error)")
        }
        do {
            try nl.deleteRoute(v6)
            Issue.record("deleting a missing IPv6 route succeeded")
        } catch {
            // ip6_route_del answers ESRCH (older kernels ENOENT for some paths).
            #expect([ESRCH, ENOENT].contains(error.errno) && error.isNotFound, "\(error)")
        }
        do {
            try nl.replaceRoute(KernelRoute(prefix: prefix("10.2.0.0/16"), nextHops: [KernelNextHop(gateway: address("192.0.2.1"))]))
            Issue.record("a route via an unreachable gateway was accepted")
        } catch {
            print("error text example: \(error)")
            #expect(error.errno == ENETUNREACH)
            #expect(error.description.hasPrefix("RTM_NEWROUTE 10.2.0.0/16: Network is unreachable (ENETUNREACH)"))
        }
    }

    @Test func neighbours() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.mustIP("link", "add", "v0", "type", "veth", "peer", "name", "v1")
        try ns.mustIP("link", "set", "v0", "up")
        try ns.mustIP("neigh", "add", "10.0.1.5", "lladdr", "02:00:00:00:00:05", "dev", "v0", "nud", "permanent")
        try ns.mustIP("neigh", "add", "fd00:1::5", "lladdr", "02:00:00:00:00:06", "dev", "v0", "nud", "permanent")
        let nl = try RTNetlink(namespace: ns.name)
        let v0 = try #require(try nl.link(named: "v0")).index
        #expect(try nl.link(named: "v1")?.kind == "veth")

        let found = try nl.neighbours(index: v0)
        #expect(found.contains(Neighbour(interfaceIndex: v0, address: address("10.0.1.5"),
                                         macAddress: [2, 0, 0, 0, 0, 5], state: .permanent)))
        #expect(found.contains(Neighbour(interfaceIndex: v0, address: address("fd00:1::5"),
                                         macAddress: [2, 0, 0, 0, 0, 6], state: .permanent)))
        // Everything `ip neigh` lists for v0 is there with the same link-layer address.
        let shown = try ns.json("neigh", "show", "dev", "v0")
        #expect(shown.count == found.count)
        for entry in shown {
            let dst = try #require(entry["dst"] as? String)
            #expect(macText(found.first { $0.address == address(dst) }?.macAddress) == entry["lladdr"] as? String)
        }
        #expect(try nl.neighbours().count >= found.count)
    }

    @Test func batchOfTenThousandRoutes() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.mustIP("link", "add", "b0", "type", "veth", "peer", "name", "b1")
        try ns.mustIP("link", "set", "b1", "up")
        try ns.mustIP("link", "set", "b0", "up")
        try ns.mustIP("addr", "add", "10.0.1.1/24", "dev", "b0")
        let nl = try RTNetlink(namespace: ns.name)
        let b0 = try #require(try nl.link(named: "b0")).index

        // NETLINK_BATCH_ROUTES=200000 swift test ... measures a larger batch by hand.
        let count = ProcessInfo.processInfo.environment["NETLINK_BATCH_ROUTES"].flatMap { Int($0) }
            .map { max(1000, min($0, 1 << 20)) } ?? 10_000
        let bad = 5_000
        var routes = (0..<count).map { i in
            KernelRoute(prefix: .v4(IPv4Prefix(IPv4Address(0x0A80_0000 + UInt32(i)), length: 32)!),  // 10.128.0.0 + i
                        nextHops: [KernelNextHop(gateway: address("10.0.1.2"), interfaceIndex: b0)])
        }
        // One route the kernel refuses and one we refuse before sending, to show each result
        // lands on its own request.
        routes[bad].nextHops = [KernelNextHop(gateway: address("192.0.2.1"), interfaceIndex: b0)]
        let invalid = 10
        routes[invalid].nextHops = []

        let clock = ContinuousClock()
        let start = clock.now
        let results = try nl.replaceRoutes(routes)
        let installTime = clock.now - start
        print("replaceRoutes: \(count) routes in \(installTime)")

        #expect(results.count == count)
        #expect(results.indices.filter { results[$0] != nil } == [invalid, bad])
        #expect(results[bad]?.errno == ENETUNREACH)
        #expect(results[invalid]?.errno == EINVAL)
        #expect(results[bad]?.operation == "RTM_NEWROUTE \(routes[bad].prefix)")
        let listed = ns.ip("route", "show", "proto", "218").output.split(separator: "\n")
        #expect(listed.count == count - 2)
        let dumped = try nl.routes(protocol: RouteProtocol.egressd)
        #expect(dumped.count == count - 2)
        #expect(Set(dumped) == Set(routes.enumerated().filter { $0.offset != bad && $0.offset != invalid }.map(\.element)))

        // Replacing again is idempotent; then flush them the way start-up would.
        #expect(try nl.replaceRoutes(routes).compactMap { $0 }.count == 2)
        let flushStart = clock.now
        let deleted = try nl.deleteRoutes(dumped)
        print("deleteRoutes: \(dumped.count) routes in \(clock.now - flushStart)")
        #expect(deleted.allSatisfy { $0 == nil })
        #expect(ns.ip("route", "show", "proto", "218").output.isEmpty)
    }

    @Test func callsFromManyThreadsAreSerialised() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.mustIP("link", "add", "c0", "type", "veth", "peer", "name", "c1")
        try ns.mustIP("link", "set", "c0", "up")
        try ns.mustIP("addr", "add", "10.0.1.1/24", "dev", "c0")
        let nl = try RTNetlink(namespace: ns.name)
        let c0 = try #require(try nl.link(named: "c0")).index
        let failures = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in 0..<50 {
                let route = KernelRoute(prefix: IPPrefix("10.\(worker + 10).\(i).0/24")!,
                                        nextHops: [KernelNextHop(gateway: address("10.0.1.2"), interfaceIndex: c0)])
                do {
                    try nl.replaceRoute(route)
                    guard try nl.routeLookup(to: address("10.\(worker + 10).\(i).1"))?.gateway == address("10.0.1.2"),
                          try nl.links().count == 3 else { failures.add(1, ordering: .relaxed); continue }
                } catch {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(try nl.routes(protocol: RouteProtocol.egressd).count == 400)
    }

    @Test func currentNamespaceIsReadable() throws {
        // Read-only in the test process's own namespace: only the dump, nothing changed.
        let names = try RTNetlink().links().map(\.name)
        #expect(names.contains("lo"))
    }

    @Test func namespaceErrors() {
        #expect(throws: NetlinkError.self) { try RTNetlink(namespace: "nltest-missing-\(getpid())") }
        do {
            _ = try RTNetlink(namespace: "../etc")
            Issue.record("a path was accepted as a namespace name")
        } catch {
            #expect(error.errno == EINVAL)
            #expect(error.description == "enter netns ../etc: Invalid argument (EINVAL): not a namespace name")
        }
    }
}
