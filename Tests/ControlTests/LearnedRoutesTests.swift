import BGP
import Engine
import Packet
import Testing
@testable import Control

@Suite struct LearnedRoutesTests {
    private let a: IPAddress = .v4(IPv4Address("169.254.6.2")!)
    private let b: IPAddress = .v4(IPv4Address("169.254.7.2")!)

    private func delta(_ groups: [[IPAddress]], _ changes: [(String, Int32)]) -> RouteDelta {
        var d = RouteDelta()
        d.groups = groups
        for (p, g) in changes {
            switch IPPrefix(p)! {
            case .v4(let q): d.v4.append(.init(prefix: q, group: g))
            case .v6(let q): d.v6.append(.init(prefix: q, group: g))
            }
        }
        return d
    }

    @Test func deltasBecomeKernelChangesOnlyWhereSomethingChanged() {
        let table = LearnedRoutes(kernel: nil)
        var k = table.apply(delta([[a], [a, b]], [("10.1.0.0/16", 0), ("10.2.0.0/16", 1), ("2001:db8::/32", 1)]))
        #expect(k.map(\.countDelta) == [1, 1, 1])
        #expect(table.count == 3 && table.groups == [[a], [a, b]])
        // The same next hops again (another delta, its own group numbering): nothing for the kernel.
        k = table.apply(delta([[a, b], [a]], [("10.2.0.0/16", 0), ("10.1.0.0/16", 1)]))
        #expect(k.isEmpty)
        // A next-hop change replaces (count unchanged); a withdrawal deletes; an unknown withdrawal is nothing.
        k = table.apply(delta([[b]], [("10.1.0.0/16", 0), ("10.2.0.0/16", RouteDelta.removed), ("10.3.0.0/16", RouteDelta.removed)]))
        #expect(k.map(\.countDelta) == [0, -1])
        #expect(k.map(\.prefix) == [IPPrefix("10.1.0.0/16")!, IPPrefix("10.2.0.0/16")!])
        #expect(k[0].group == 2 && k[1].group == -1)
        #expect(table.count == 2)
        // The engine's master tables follow: the same prefixes, the same group ids.
        #expect(table.v4.count == 1 && table.v6.count == 1)
        #expect(table.v4.value(IPv4Address("10.1.0.0")!.value, length: 16) == 2)
        #expect(table.v4.value(IPv4Address("10.2.0.0")!.value, length: 16) == nil)
        #expect(table.v6.value(IPv6Address("2001:db8::")!, length: 32) == 1)
        // The engine's form: groups resolved once, prefixes pointing at them.
        let bulk = table.bulk { hops in hops == [self.b] ? BulkRoutes.Target(target: .blackhole) : nil }
        #expect(bulk.targets.count == 1)
        #expect(bulk.v4.map(\.prefix) == [IPv4Prefix("10.1.0.0/16")!])
        #expect(bulk.v6.isEmpty)  // its group resolved to nothing
    }

    @Test func fullTableDeltaFromTheRIB() throws {
        // A RIB change list through the speaker's builder into a full table (what tests and small users see).
        var rib = RIB()
        let peer = try rib.addPeer(RIBPeerConfiguration(address: a, peerAS: 64512, localAS: 65000,
                                                        identifier: IPv4Address("10.0.0.1")!, importPolicy: .acceptAll))
        var changes = RouteChanges(attributes: PathAttributes(origin: .igp, asPath: ASPath(sequence: [64512])))
        changes.nextHopV4 = .v4(IPv4Address("169.254.6.2")!)
        changes.announcedV4 = (0..<1000).map { IPv4Prefix(IPv4Address(UInt32(32 << 24) + UInt32($0) << 8), length: 24)! }
        let result = rib.apply(changes, from: peer)
        #expect(result.changes.count == 1000)
        let removed = rib.removeAllRoutes()
        #expect(removed.changes.count == 1000 && removed.changes.allSatisfy(\.isRemoval))
        #expect(rib.routeCount == 0 && rib.prefixCount(peer) == 0)
    }
}
