@testable import BGP
import Packet
import Testing
@testable import Control

/// `show ip bgp` marks a path kept for graceful restart with FRR's `S` (text) and `stale` (json).
@Suite struct BGPShowStaleTests {
    private func route(_ prefix: String, stale: [Bool]) -> BGPRouteStatus {
        BGPRouteStatus(prefix: IPPrefix(prefix)!, paths: stale.enumerated().map { i, s in
            BGPPathStatus(peer: .v4(IPv4Address("169.254.6.\(2 + i)")!), nextHop: "169.254.6.\(2 + i)", best: i == 0,
                          asPath: "64512", origin: .igp, med: nil, localPref: nil, stale: s)
        })
    }

    @Test func staleStatusColumn() {
        let text = BGPShowFormat.routes([route("10.1.0.0/16", stale: [true, true]), route("10.2.0.0/16", stale: [false])],
                                        local: [], routerID: IPv4Address("10.0.0.1")!, localAS: 65000, json: false)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("S> 10.1.0.0/16") })
        #expect(lines.contains { $0.hasPrefix("S=  ") && $0.contains("169.254.6.3") })
        #expect(lines.contains { $0.hasPrefix("*> 10.2.0.0/16") })
    }

    @Test func staleJSON() {
        let json = BGPShowFormat.routes([route("10.1.0.0/16", stale: [true]), route("10.2.0.0/16", stale: [false])],
                                        local: [], routerID: IPv4Address("10.0.0.1")!, localAS: 65000, json: true)
        let compact = json.filter { !$0.isWhitespace }
        #expect(compact.contains("\"network\":\"10.1.0.0/16\""))
        // Only the stale path carries the key.
        #expect(compact.components(separatedBy: "\"stale\":true").count == 2)
        let second = compact.range(of: "\"10.2.0.0/16\":")!
        #expect(!compact[second.upperBound...].contains("stale"))
    }
}
