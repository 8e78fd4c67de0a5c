import BGP
import Commands
import Packet
import Testing
@testable import Control

// What the speaker is told to advertise while the appliance holds its routes back
// (update-delay after start, graceful-shutdown drain), and the summary lines that say so.

@Suite struct BGPLifecycleTests {
    private let config = """
        router bgp 65000
         bgp router-id 10.0.0.2
         bgp update-delay 20
         bgp graceful-shutdown drain-time 10
         neighbor 10.0.0.1 remote-as 64512
         neighbor 10.0.0.3 remote-as 64513
         address-family ipv4 unicast
          network 192.0.2.0/24
          neighbor 10.0.0.1 default-originate
          neighbor 10.0.0.3 default-originate
         exit-address-family
        """

    private func settings(advertise: Bool) throws -> BGPSpeakerConfiguration {
        let c = try ConfigParser.parse(text: config)
        let router = try #require(c.bgp)
        return Appliance.speakerConfiguration(router, routerID: router.routerID!, config: c, advertise: advertise) { _ in nil }
    }

    @Test func heldBackMeansNothingAdvertisedToAnyNeighborAndSessionsUnchanged() throws {
        let normal = try settings(advertise: true)
        let held = try settings(advertise: false)
        #expect(normal.neighbors.map(\.advertised) == [[IPPrefix("0.0.0.0/0")!, IPPrefix("192.0.2.0/24")!],
                                                        [IPPrefix("0.0.0.0/0")!, IPPrefix("192.0.2.0/24")!]])
        #expect(held.neighbors.allSatisfy { $0.advertised.isEmpty })
        // Only the advertisements differ: the speaker applies the change without a session reset.
        for (a, b) in zip(normal.neighbors, held.neighbors) {
            var x = a
            x.advertised = []
            #expect(x == b && !b.needsReset(from: a))
        }
    }

    @Test func holdsWhileDrainingOrHolding() {
        let l = BGPLifecycle()
        #expect(!l.holdsAdvertisements)
        l.updateDelay = UpdateDelay(delay: .seconds(5), startedAt: .zero)
        #expect(l.holdsAdvertisements)
        _ = l.updateDelay!.evaluate(at: .seconds(1), waitingFor: [])
        #expect(!l.holdsAdvertisements)
        l.shutdown.drainTime = .seconds(3)
        _ = l.shutdown.stopRequested(at: .seconds(2))
        #expect(l.holdsAdvertisements)
    }

    @Test func summaryShowsTheDrainAndTheHold() {
        let status: (lines: [String], json: [(String, JSON)]) = (
            ["Graceful shutdown: draining, routes withdrawn from all peers, Cease in 7 s"],
            [("gracefulShutdown", .object([("state", .string("draining")), ("remainingMsec", .int(7000))]))])
        let text = BGPShowFormat.summary([], routerID: IPv4Address(10, 0, 0, 2), localAS: 65000, ribEntries: 0, json: false, status: status)
        #expect(text.contains("Peers 0\nGraceful shutdown: draining, routes withdrawn from all peers, Cease in 7 s\n\nNeighbor"))
        let json = BGPShowFormat.summary([], routerID: IPv4Address(10, 0, 0, 2), localAS: 65000, ribEntries: 0, json: true, status: status)
        let compact = json.filter { !$0.isWhitespace }
        #expect(compact.contains("\"gracefulShutdown\":{\"state\":\"draining\",\"remainingMsec\":7000}"))
    }

    @Test func neighborsShowEndOfRIBReceivedPerFamily() {
        var r = InitialRoutes()
        r.established(families: [.ipv4Unicast, .ipv6Unicast], peerHasGracefulRestart: true)
        r.endOfRIBReceived(.ipv4Unicast)
        #expect(BGPShowFormat.endOfRIBText(r) == "  End-of-RIB received: IPv4 Unicast\n  Initial routes: waiting for End-of-RIB of IPv6 Unicast\n")
        let json = BGPShowFormat.endOfRIBJSON(r).rendered().filter { !$0.isWhitespace }
        #expect(json == "{\"endOfRibRecv\":{\"ipv4Unicast\":true,\"ipv6Unicast\":false},\"endOfRibImplicit\":false,\"initialRoutesComplete\":false}")
        var implicit = InitialRoutes()
        implicit.established(families: [.ipv4Unicast], peerHasGracefulRestart: false)
        implicit.updateArrived()
        implicit.keepaliveReceived()
        #expect(BGPShowFormat.endOfRIBText(implicit)
                == "  End-of-RIB received: none (implicit: KEEPALIVE after UPDATEs, the peer has no graceful restart capability)\n")
        #expect(BGPShowFormat.endOfRIBText(InitialRoutes()).isEmpty)
    }
}
