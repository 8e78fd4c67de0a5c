// RIB: decision process, multipath, interning, import policy (RFC 8212
// default deny, prefix lists), max-prefix, treat-as-withdraw removal and
// graceful restart stale handling.

import Testing
@testable import BGP
import Packet

/// A RIB with peers described by (address, AS, identifier), all accepting everything.
func makeRIB(_ peers: [(String, UInt32, String)], maximumPaths: Int = 1, relax: Bool = false,
             policy: ImportPolicy = .acceptAll, maximumPrefix: MaximumPrefix? = nil) throws -> (RIB, [PeerID]) {
    var rib = RIB(multipath: MultipathConfiguration(maximumPaths: maximumPaths, asPathRelax: relax))
    var ids: [PeerID] = []
    for (address, asn, id) in peers {
        ids.append(try rib.addPeer(RIBPeerConfiguration(address: .v4(addr4(address)), peerAS: asn, localAS: 65000,
                                                       identifier: addr4(id), importPolicy: policy, maximumPrefix: maximumPrefix)))
    }
    return (rib, ids)
}

/// Route changes announcing `prefixes` with the given attributes and next hop.
func announce(_ prefixes: [String], path: [UInt32], nextHop: String, localPref: UInt32? = nil, med: UInt32? = nil,
              origin: Origin = .igp) -> RouteChanges {
    var c = RouteChanges(attributes: PathAttributes(origin: origin, asPath: ASPath(sequence: path), nextHop: addr4(nextHop),
                                                    multiExitDisc: med, localPref: localPref))
    c.announcedV4 = prefixes.map(prefix4)
    c.nextHopV4 = .v4(addr4(nextHop))
    return c
}

func withdraw(_ prefixes: [String]) -> RouteChanges {
    var c = RouteChanges(attributes: PathAttributes())
    c.withdrawnV4 = prefixes.map(prefix4)
    return c
}

/// The next hops of the selected paths of a prefix, best first.
func nextHops(_ rib: RIB, _ prefix: String) -> [String] {
    rib.paths(for: .v4(prefix4(prefix))).map(\.nextHop.description)
}

@Suite struct DecisionProcessTests {
    static let twoTGWPeers = [("169.254.6.2", UInt32(64512), "169.254.6.2"), ("169.254.6.3", UInt32(64512), "169.254.6.3")]

    @Test func lowestRouterIDWinsWhenAllElseIsEqual() throws {
        var (rib, p) = try makeRIB(Self.twoTGWPeers)
        _ = rib.apply(announce(["0.0.0.0/0"], path: [64512], nextHop: "169.254.6.3"), from: p[1])
        let r = rib.apply(announce(["0.0.0.0/0"], path: [64512], nextHop: "169.254.6.2"), from: p[0])
        #expect(nextHops(rib, "0.0.0.0/0") == ["169.254.6.2"])
        #expect(r.changes == [RouteChange(prefix: .v4(prefix4("0.0.0.0/0")), paths: rib.paths(for: .v4(prefix4("0.0.0.0/0"))))])
    }

    @Test func eachStepDecides() throws {
        let peers = [("192.0.2.1", UInt32(64512), "9.9.9.9"), ("192.0.2.2", UInt32(64513), "1.1.1.1")]
        func best(_ a: RouteChanges, _ b: RouteChanges) throws -> String? {
            var (rib, p) = try makeRIB(peers)
            _ = rib.apply(a, from: p[0]); _ = rib.apply(b, from: p[1])
            return nextHops(rib, "10.0.0.0/8").first
        }
        // Peer 1 (192.0.2.2) wins the tie-break on router ID, so each step must beat that to pick peer 0.
        // 2. shorter AS path
        #expect(try best(announce(["10.0.0.0/8"], path: [64512], nextHop: "192.0.2.1"),
                         announce(["10.0.0.0/8"], path: [64513, 1], nextHop: "192.0.2.2")) == "192.0.2.1")
        // 3. lower origin
        #expect(try best(announce(["10.0.0.0/8"], path: [64512], nextHop: "192.0.2.1", origin: .igp),
                         announce(["10.0.0.0/8"], path: [64513], nextHop: "192.0.2.2", origin: .incomplete)) == "192.0.2.1")
        // 4. MED compared only between the same neighbour AS: different ASes, so MED is ignored.
        #expect(try best(announce(["10.0.0.0/8"], path: [64512], nextHop: "192.0.2.1", med: 0),
                         announce(["10.0.0.0/8"], path: [64513], nextHop: "192.0.2.2", med: 500)) == "192.0.2.2")
        // 7. lowest router ID
        #expect(try best(announce(["10.0.0.0/8"], path: [64512], nextHop: "192.0.2.1"),
                         announce(["10.0.0.0/8"], path: [64513], nextHop: "192.0.2.2")) == "192.0.2.2")
    }

    @Test func medFromTheSameNeighbourAS() throws {
        var (rib, p) = try makeRIB(Self.twoTGWPeers)
        _ = rib.apply(announce(["10.0.0.0/16"], path: [64512], nextHop: "169.254.6.2", med: 200), from: p[0])
        _ = rib.apply(announce(["10.0.0.0/16"], path: [64512], nextHop: "169.254.6.3", med: 100), from: p[1])
        #expect(nextHops(rib, "10.0.0.0/16") == ["169.254.6.3"])
    }

    @Test func localPrefAndEBGPOverIBGP() throws {
        // Peer 0 iBGP (AS 65000), peer 1 eBGP.
        let peers = [("10.0.0.1", UInt32(65000), "1.1.1.1"), ("192.0.2.2", UInt32(64512), "9.9.9.9")]
        var (rib, p) = try makeRIB(peers)
        _ = rib.apply(announce(["0.0.0.0/0"], path: [64512], nextHop: "10.0.0.1"), from: p[0])
        _ = rib.apply(announce(["0.0.0.0/0"], path: [64512], nextHop: "192.0.2.2"), from: p[1])
        #expect(nextHops(rib, "0.0.0.0/0") == ["192.0.2.2"])      // 5. eBGP over iBGP
        _ = rib.apply(announce(["0.0.0.0/0"], path: [64512], nextHop: "10.0.0.1", localPref: 200), from: p[0])
        #expect(nextHops(rib, "0.0.0.0/0") == ["10.0.0.1"])       // 1. LOCAL_PREF beats everything
    }

    @Test func lowestPeerAddressIsTheLastTieBreak() throws {
        let peers = [("192.0.2.9", UInt32(64512), "7.7.7.7"), ("192.0.2.3", UInt32(64512), "7.7.7.7")]
        var (rib, p) = try makeRIB(peers)
        _ = rib.apply(announce(["10.0.0.0/8"], path: [64512], nextHop: "192.0.2.9"), from: p[0])
        _ = rib.apply(announce(["10.0.0.0/8"], path: [64512], nextHop: "192.0.2.3"), from: p[1])
        #expect(nextHops(rib, "10.0.0.0/8") == ["192.0.2.3"])
    }

    @Test func multipathAcrossBothTransitGatewayPeers() throws {
        var (rib, p) = try makeRIB(Self.twoTGWPeers, maximumPaths: 4)
        _ = rib.apply(announce(["10.0.0.0/16"], path: [64512], nextHop: "169.254.6.2"), from: p[0])
        let r = rib.apply(announce(["10.0.0.0/16"], path: [64512], nextHop: "169.254.6.3"), from: p[1])
        #expect(nextHops(rib, "10.0.0.0/16") == ["169.254.6.2", "169.254.6.3"])
        #expect(r.changes.first?.paths.count == 2)
        // A worse path (longer AS path) leaves the set.
        let worse = rib.apply(announce(["10.0.0.0/16"], path: [64512, 64512], nextHop: "169.254.6.3"), from: p[1])
        #expect(nextHops(rib, "10.0.0.0/16") == ["169.254.6.2"])
        #expect(worse.changes.first?.paths.map(\.nextHop.description) == ["169.254.6.2"])
        // Withdrawing the best leaves the other as the only path.
        _ = rib.apply(withdraw(["10.0.0.0/16"]), from: p[0])
        #expect(nextHops(rib, "10.0.0.0/16") == ["169.254.6.3"])
        let gone = rib.apply(withdraw(["10.0.0.0/16"]), from: p[1])
        #expect(gone.changes == [RouteChange(prefix: .v4(prefix4("10.0.0.0/16")), paths: [])])
        #expect(rib.routeCount == 0)
    }

    @Test func multipathNeedsTheSameASPathUnlessRelaxedAndRespectsTheLimit() throws {
        let peers = [("192.0.2.1", UInt32(64512), "1.1.1.1"), ("192.0.2.2", UInt32(64513), "2.2.2.2"),
                     ("192.0.2.3", UInt32(64512), "3.3.3.3")]
        for relax in [false, true] {
            var (rib, p) = try makeRIB(peers, maximumPaths: 2, relax: relax)
            _ = rib.apply(announce(["10.0.0.0/8"], path: [64512], nextHop: "192.0.2.1"), from: p[0])
            _ = rib.apply(announce(["10.0.0.0/8"], path: [64513], nextHop: "192.0.2.2"), from: p[1])
            _ = rib.apply(announce(["10.0.0.0/8"], path: [64512], nextHop: "192.0.2.3"), from: p[2])
            // Same length everywhere; identical paths: peers 0 and 2. Relaxed: the 2 lowest router IDs.
            #expect(nextHops(rib, "10.0.0.0/8") == (relax ? ["192.0.2.1", "192.0.2.2"] : ["192.0.2.1", "192.0.2.3"]))
        }
    }

    @Test func attributeSetsAreInternedAndFreed() throws {
        var (rib, p) = try makeRIB(Self.twoTGWPeers)
        let prefixes = (0..<1000).map { "10.\($0 / 256).\($0 % 256).0/24" }
        _ = rib.apply(announce(prefixes, path: [64512], nextHop: "169.254.6.2"), from: p[0])
        _ = rib.apply(announce(prefixes, path: [64512], nextHop: "169.254.6.3"), from: p[1])
        #expect(rib.attributeSetCount == 2)
        #expect(rib.prefixCount(p[0]) == 1000)
        _ = rib.apply(announce(Array(prefixes.prefix(10)), path: [64512, 1], nextHop: "169.254.6.2"), from: p[0])
        #expect(rib.attributeSetCount == 3)
        _ = rib.apply(withdraw(Array(prefixes.prefix(10))), from: p[0])
        #expect(rib.attributeSetCount == 2)
        _ = rib.removePeerRoutes(p[0]); _ = rib.removePeerRoutes(p[1])
        #expect(rib.attributeSetCount == 0)
        #expect(rib.routeCount == 0)
    }

    @Test func reannouncingTheSameRouteChangesNothing() throws {
        var (rib, p) = try makeRIB(Self.twoTGWPeers)
        _ = rib.apply(announce(["10.0.0.0/16"], path: [64512], nextHop: "169.254.6.2"), from: p[0])
        #expect(rib.apply(announce(["10.0.0.0/16"], path: [64512], nextHop: "169.254.6.2"), from: p[0]).changes.isEmpty)
        // A new next hop from the best peer is a change even though the best peer stays.
        let moved = rib.apply(announce(["10.0.0.0/16"], path: [64512], nextHop: "169.254.6.5"), from: p[0])
        #expect(moved.changes.first?.paths.map(\.nextHop.description) == ["169.254.6.5"])
        // A non-selected peer's route does not change the selection: no output.
        _ = rib.apply(announce(["10.0.0.0/16"], path: [64512, 64512], nextHop: "169.254.6.3"), from: p[1])
        #expect(rib.apply(announce(["10.0.0.0/16"], path: [64512, 64512, 7], nextHop: "169.254.6.3"), from: p[1]).changes.isEmpty)
    }

    @Test func ipv6RoutesWithLinkLocalNextHop() throws {
        var (rib, p) = try makeRIB(Self.twoTGWPeers)
        var c = RouteChanges(attributes: PathAttributes(origin: .igp, asPath: ASPath(sequence: [64512])))
        c.announcedV6 = [prefix6("::/0")]
        c.nextHopV6 = .v6(global: addr6("2001:db8::2"), linkLocal: addr6("fe80::2"))
        let r = rib.apply(c, from: p[0])
        #expect(r.changes.first?.prefix == .v6(prefix6("::/0")))
        #expect(r.changes.first?.paths.first?.nextHop == .v6(global: addr6("2001:db8::2"), linkLocal: addr6("fe80::2")))
    }
}

@Suite struct ImportPolicyTests {
    @Test func rfc8212DeniesEBGPWithoutPolicyButNotIBGP() throws {
        var (rib, p) = try makeRIB([("169.254.6.2", 64512, "169.254.6.2"), ("10.0.0.2", 65000, "10.0.0.2")], policy: .none)
        let r = rib.apply(announce(["10.0.0.0/16"], path: [64512], nextHop: "169.254.6.2"), from: p[0])
        #expect(r.filtered == 1 && r.changes.isEmpty && rib.prefixCount(p[0]) == 0)
        let i = rib.apply(announce(["10.1.0.0/16"], path: [], nextHop: "10.0.0.2"), from: p[1])
        #expect(i.filtered == 0 && rib.prefixCount(p[1]) == 1)
    }

    @Test func prefixListGeLe() {
        let list = PrefixList(name: "SPOKES", entries: [
            PrefixListEntry(.deny, IPPrefix("10.66.0.0/16")!, le: 32),
            PrefixListEntry(.permit, IPPrefix("10.0.0.0/8")!, ge: 16, le: 24),
            PrefixListEntry(.permit, IPPrefix("0.0.0.0/0")!),
            PrefixListEntry(.permit, IPPrefix("2001:db8::/32")!, ge: 48),
        ])
        #expect(list.permits(IPPrefix("10.1.0.0/16")!))
        #expect(list.permits(IPPrefix("10.1.2.0/24")!))
        #expect(!list.permits(IPPrefix("10.1.2.0/25")!))     // longer than le
        #expect(!list.permits(IPPrefix("10.0.0.0/8")!))      // shorter than ge
        #expect(!list.permits(IPPrefix("10.66.1.0/24")!))    // first match: deny
        #expect(list.permits(IPPrefix("0.0.0.0/0")!))        // exact only
        #expect(!list.permits(IPPrefix("192.0.2.0/24")!))    // implicit deny
        #expect(list.permits(IPPrefix("2001:db8:1::/48")!))
        #expect(list.permits(IPPrefix("2001:db8:1::/128")!)) // ge without le: up to /128
        #expect(!list.permits(IPPrefix("2001:db8::/32")!))
    }

    @Test func prefixListPolicyFiltersAnnouncementsAndRemovesAFilteredReplacement() throws {
        let list = PrefixList(name: "DEFAULT-ONLY", entries: [PrefixListEntry(.permit, IPPrefix("0.0.0.0/0")!)])
        var (rib, p) = try makeRIB([("169.254.6.2", 64512, "169.254.6.2")], policy: .prefixList(list))
        let r = rib.apply(announce(["0.0.0.0/0", "10.0.0.0/16"], path: [64512], nextHop: "169.254.6.2"), from: p[0])
        #expect(r.filtered == 1)
        #expect(r.changes.map(\.prefix) == [.v4(prefix4("0.0.0.0/0"))])
        // Policy tightened (route refresh re-sends): the now-denied announcement implicitly withdraws the old route.
        rib.updatePeer(p[0], RIBPeerConfiguration(address: .v4(addr4("169.254.6.2")), peerAS: 64512, localAS: 65000,
                                                 identifier: addr4("169.254.6.2"), importPolicy: .prefixList(PrefixList(name: "NONE", entries: []))))
        let again = rib.apply(announce(["0.0.0.0/0"], path: [64512], nextHop: "169.254.6.2"), from: p[0])
        #expect(again.changes == [RouteChange(prefix: .v4(prefix4("0.0.0.0/0")), paths: [])])
    }

    @Test func maximumPrefixWarnsThenTearsDown() throws {
        var (rib, p) = try makeRIB([("169.254.6.2", 64512, "169.254.6.2")],
                                   maximumPrefix: MaximumPrefix(limit: 100, warningThresholdPercent: 75))
        let first = rib.apply(announce((0..<74).map { "10.0.\($0).0/24" }, path: [64512], nextHop: "169.254.6.2"), from: p[0])
        #expect(first.events.isEmpty)
        let warn = rib.apply(announce(["10.1.0.0/24"], path: [64512], nextHop: "169.254.6.2"), from: p[0])
        #expect(warn.events == [.maximumPrefixWarning(p[0], count: 75, limit: 100)])
        let more = rib.apply(announce((0..<25).map { "10.2.\($0).0/24" }, path: [64512], nextHop: "169.254.6.2"), from: p[0])
        #expect(more.events.isEmpty)    // 100 is still within the limit, warning already given
        let over = rib.apply(announce(["10.3.0.0/24"], path: [64512], nextHop: "169.254.6.2"), from: p[0])
        #expect(over.events == [.maximumPrefixExceeded(p[0], count: 101,
                                notification: .maximumPrefixesReached(.ipv4Unicast, limit: 100), teardown: true)])
        #expect(hexString(BGPMessage.notification(.maximumPrefixesReached(.ipv4Unicast, limit: 100)).encoded())
                == notificationHeader(28) + "0601" + "00010100000064")
        // The session is torn down (the FSM sends the NOTIFICATION); its routes go.
        let down = rib.removePeerRoutes(p[0])
        #expect(down.changes.count == 101 && down.changes.allSatisfy(\.isRemoval))
    }
}

@Suite struct RIBFromUpdatesTests {
    @Test func treatAsWithdrawRemovesThePreviouslyAnnouncedRoute() throws {
        var (rib, p) = try makeRIB([("169.254.6.2", 64512, "169.254.6.2")])
        let good = receivedUpdate(updateFrame(attributes: originIGP + asPath64512 + nextHop169, nlri: nlri10_99))!
        _ = rib.apply(good.routeChanges, from: p[0])
        #expect(nextHops(rib, "10.99.0.0/24") == ["169.254.6.2"])
        // ORIGIN value 7: treat-as-withdraw (bgp-peers.md), the route must disappear.
        let bad = receivedUpdate(updateFrame(attributes: [0x40, 1, 1, 7] + asPath64512 + nextHop169, nlri: nlri10_99))!
        let r = rib.apply(bad.routeChanges, from: p[0])
        #expect(r.changes == [RouteChange(prefix: .v4(prefix4("10.99.0.0/24")), paths: [])])
        #expect(rib.routeCount == 0)
    }

    @Test func loopedDefaultRouteIsDroppedAndReplacesAnEarlierOne() throws {
        var (rib, p) = try makeRIB([("169.254.6.2", 64512, "169.254.6.2")])
        _ = rib.apply(announce(["0.0.0.0/0"], path: [64512], nextHop: "169.254.6.2"), from: p[0])
        let looped: [UInt8] = [0x40, 2, 10, 2, 2, 0, 0, 0xFC, 0x00, 0, 0, 0xFD, 0xE8]
        let u = receivedUpdate(updateFrame(attributes: originIGP + looped + nextHop169, nlri: [0]))!
        _ = rib.apply(u.routeChanges, from: p[0])
        #expect(rib.paths(for: .v4(prefix4("0.0.0.0/0"))).isEmpty)
    }

    @Test func gracefulRestartKeepsStaleRoutesUntilEndOfRIB() throws {
        var (rib, p) = try makeRIB([("169.254.6.2", 64512, "169.254.6.2"), ("169.254.6.3", 64512, "169.254.6.3")], maximumPaths: 2)
        _ = rib.apply(announce(["0.0.0.0/0", "10.1.0.0/16", "10.2.0.0/16"], path: [64512], nextHop: "169.254.6.2"), from: p[0])
        _ = rib.apply(announce(["10.9.0.0/16"], path: [64512], nextHop: "169.254.6.3"), from: p[1])
        // Session to peer 0 drops with GR: routes stay, marked stale, forwarding unchanged.
        rib.markStale(p[0])
        #expect(rib.adjRIBIn(p[0], .v4(prefix4("10.1.0.0/16")))?.stale == true)
        #expect(rib.isStale(p[0], .v4(prefix4("10.1.0.0/16"))))
        #expect(!rib.isStale(p[1], .v4(prefix4("10.9.0.0/16"))))
        #expect(nextHops(rib, "0.0.0.0/0") == ["169.254.6.2"])
        // The peer comes back and re-sends two of them; the stale mark clears without a FIB change.
        let refreshed = rib.apply(announce(["0.0.0.0/0", "10.1.0.0/16"], path: [64512], nextHop: "169.254.6.2"), from: p[0])
        #expect(refreshed.changes.isEmpty)
        #expect(rib.adjRIBIn(p[0], .v4(prefix4("10.1.0.0/16")))?.stale == false)
        #expect(!rib.isStale(p[0], .v4(prefix4("10.1.0.0/16"))))
        #expect(rib.isStale(p[0], .v4(prefix4("10.2.0.0/16"))))
        // End-of-RIB: what was not re-sent is withdrawn; other peers are untouched.
        let eor = BGPMessage.update(.endOfRIB(.ipv4Unicast)).encoded()
        guard let family = receivedUpdate(eor)?.routeChanges.endOfRIB else { Issue.record("no EoR"); return }
        let swept = rib.sweepStale(p[0], family: family)
        #expect(swept.changes == [RouteChange(prefix: .v4(prefix4("10.2.0.0/16")), paths: [])])
        #expect(nextHops(rib, "10.9.0.0/16") == ["169.254.6.3"])
        #expect(rib.routeCount == 3)
    }

    @Test func tooManyPeersIsATypedError() throws {
        var rib = RIB()
        for i in 0..<RIB.maximumPeers {
            _ = try rib.addPeer(RIBPeerConfiguration(address: .v4(IPv4Address(UInt32(i + 1))), peerAS: 1, localAS: 2, identifier: IPv4Address(UInt32(i + 1))))
        }
        #expect(throws: RIBError.tooManyPeers(limit: RIB.maximumPeers)) {
            _ = try rib.addPeer(RIBPeerConfiguration(address: .v4(IPv4Address(999)), peerAS: 1, localAS: 2, identifier: IPv4Address(999)))
        }
    }
}

/// `soft-reconfiguration inbound`: routes as received, before policy, kept beside the Adj-RIB-In.
@Test func receivedRoutesAreKeptBeforePolicyOnlyWhenAsked() throws {
    var rib = RIB()
    let policy = ImportPolicy.prefixList(PrefixList(name: "L", entries: [PrefixListEntry(.permit, IPPrefix("10.1.0.0/16")!)]))
    var config = RIBPeerConfiguration(address: .v4(IPv4Address(169, 254, 6, 2)), peerAS: 64512, localAS: 65000,
                                      identifier: IPv4Address(10, 0, 0, 1), importPolicy: policy, keepReceived: true)
    let peer = try rib.addPeer(config)
    var u = RouteChanges(attributes: PathAttributes(origin: .igp, asPath: ASPath(sequence: [64512])))
    u.nextHopV4 = .v4(IPv4Address(169, 254, 6, 2))
    u.announcedV4 = [IPv4Prefix("10.1.0.0/16")!, IPv4Prefix("10.2.0.0/16")!]
    let result = rib.apply(u, from: peer)
    #expect(result.filtered == 1 && rib.prefixCount(peer) == 1)
    #expect(Set(rib.receivedRoutes(peer).map(\.prefix)) == [IPPrefix("10.1.0.0/16")!, IPPrefix("10.2.0.0/16")!])
    #expect(rib.receivedRoutes(peer).allSatisfy { $0.attributes.attributes.asPath == ASPath(sequence: [64512]) })
    // A withdrawal removes it from both.
    var w = RouteChanges(attributes: PathAttributes())
    w.withdrawnV4 = [IPv4Prefix("10.2.0.0/16")!]
    _ = rib.apply(w, from: peer)
    #expect(rib.receivedRoutes(peer).map(\.prefix) == [IPPrefix("10.1.0.0/16")!])
    // Turned off: the copy goes, and the attribute set is released with the last route.
    config.keepReceived = false
    rib.updatePeer(peer, config)
    #expect(rib.receivedRoutes(peer).isEmpty && !rib.keepsReceived(peer))
    #expect(rib.attributeSetCount == 1)
    _ = rib.removePeerRoutes(peer)
    #expect(rib.attributeSetCount == 0)
}
