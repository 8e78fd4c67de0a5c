import Testing
import Packet
@testable import Control

@Suite struct KernelRouteGatewayTests {
    let inside = IPv6InterfaceAddress("fd00:6::1/125")!

    @Test func theProtocolsNextHopInTheTunnelIsTheGateway() {
        let hops: [IPAddress] = [.v6(IPv6Address("fd00:7::2")!), .v4(IPv4Address("169.254.6.2")!), .v6(IPv6Address("fd00:6::3")!)]
        #expect(Appliance.ipv6Gateway(inside: inside, protocolNextHops: hops) == IPv6Address("fd00:6::3"))
    }

    @Test func withoutOneTheSubnetsFirstOtherAddress() {
        #expect(Appliance.ipv6Gateway(inside: inside, protocolNextHops: []) == IPv6Address("fd00:6::2"))
        #expect(Appliance.ipv6Gateway(inside: IPv6InterfaceAddress("fd00:6::2/125")!, protocolNextHops: []) == IPv6Address("fd00:6::1"))
        // Our own address is never the gateway, even when a protocol names it.
        #expect(Appliance.ipv6Gateway(inside: inside, protocolNextHops: [.v6(IPv6Address("fd00:6::1")!)]) == IPv6Address("fd00:6::2"))
    }

    @Test func aSlash127sPeerMayBeItsFirstAddress() {
        #expect(Appliance.ipv6Gateway(inside: IPv6InterfaceAddress("fd00:6::1/127")!, protocolNextHops: []) == IPv6Address("fd00:6::"))
    }

    @Test func aHostRouteHasNoPeer() {
        #expect(Appliance.ipv6Gateway(inside: IPv6InterfaceAddress("fd00:6::1/128")!, protocolNextHops: []) == nil)
    }
}
