import Testing
import Packet
@testable import Engine

@Suite struct DecapsulationTests {
    @Test func transitPacketIsForwardedWithTTLDecremented() {
        let rig = Rig()
        let inner = Build.ipv4(src: "10.1.0.10", dst: "198.51.100.80", ttl: 63)
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: inner))
        #expect(rig.out.count == 1)
        #expect(rig.out[0].kind == .raw4)
        #expect(rig.out[0].destination4 == IPv4Address("198.51.100.80")!.value)
        let sent = rig.output(0)
        #expect(sent.count == inner.count)
        #expect(sent[8] == 62)
        sent.withUnsafeBytes { #expect(IPv4Header.validate($0.baseAddress!, available: sent.count) == .success(sent.count)) }
        #expect(rig.counter("tgw0", .rxPackets) == 1)
        #expect(rig.counter("tgw0", .rxBytes) == UInt64(inner.count + 24))
        #expect(rig.counter("tgw0", .decapForwarded) == 1)
    }

    @Test func aResolvedNextHopGetsTheFrameDirectly() {
        let adj = Adjacency(interfaceIndex: 4, mac: [0x02, 0, 0, 0, 0x02, 0x01])
        let rig = Rig(routes: [RouteSpec(prefix: IPPrefix("0.0.0.0/0")!, target: .nextHop(.v4(IPv4Address("10.0.2.1")!), mtu: 1500),
                                         adjacency: adj)])
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Build.ipv4(src: "10.1.0.10", dst: "198.51.100.80", ttl: 9)))
        #expect(rig.out[0].kind == .l2)
        #expect(rig.out[0].interfaceIndex == 4)
        #expect(rig.out[0].mac == 0x0200_0000_0201)
        #expect(rig.output(0)[8] == 8)
        #expect(rig.counter("tgw0", .decapForwarded) == 1)
    }

    @Test func packetsForTheApplianceGoToTheIngressTUN() {
        let rig = Rig()
        rig.fromTunnel(Build.gre(src: "10.0.0.2", dst: "10.0.1.10", inner: Build.ipv4(src: "169.254.7.2", dst: "169.254.7.1", proto: 6)))
        #expect(rig.out.count == 1)
        #expect(rig.out[0].kind == .tun)
        #expect(rig.out[0].fd == 101)
        #expect(rig.counter("tgw1", .decapToKernel) == 1)
    }

    @Test func anotherAddressOfTheIngressTunnelsSubnetGoesToTheKernel() {
        // The peer's second BGP address (.3 beside .2 on the /29, as a Transit
        // Gateway Connect peer has) is the kernel's to deliver or route, as on a
        // Linux GRE device; it must never go straight back into the tunnel
        // (where it would bounce between two engines until its TTL ran out).
        let rig = Rig()
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Build.ipv4(src: "169.254.6.2", dst: "169.254.6.3", proto: 6, ttl: 1)))
        #expect(rig.out.count == 1)
        #expect(rig.out[0].kind == .tun)
        #expect(rig.counter("tgw0", .decapToKernel) == 1)
        #expect(rig.drops("tgw0", .ttlExpired) == 0)
        rig.out.removeAll()
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", proto: EtherType.ipv6, inner: Build.ipv6(src: "fd00::2", dst: "fd00::3", hopLimit: 1)))
        #expect(rig.out.count == 1)
        #expect(rig.out[0].kind == .tun)
        #expect(rig.counter("tgw0", .decapToKernel) == 2)
    }

    @Test func noRouteMeansTheKernelDecides() {
        // Only a tunnel route: a packet for elsewhere goes to the kernel.
        let rig = Rig(routes: [RouteSpec(prefix: IPPrefix("10.1.0.0/16")!, target: .tunnels(["tgw0"]))])
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Build.ipv4(src: "10.1.0.10", dst: "10.2.0.10")))
        #expect(rig.out[0].kind == .tun)
        #expect(rig.counter("tgw0", .decapToKernel) == 1)
    }

    @Test func unknownPeerAndBadGREAreDroppedAndCounted() {
        let rig = Rig()
        let inner = Build.ipv4(src: "10.1.0.10", dst: "198.51.100.80")
        rig.fromTunnel(Build.gre(src: "10.0.9.9", dst: "10.0.1.10", inner: inner))
        #expect(rig.engineDrops(.unknownPeer) == 1)
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", flags: 0x0001, inner: inner))   // version 1
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", flags: 0x4000, inner: inner))   // routing bit
        #expect(rig.drops("tgw0", .badGRE) == 2)
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", flags: 0x8000, extra: [0x12, 0x34, 0, 0], inner: inner))
        #expect(rig.drops("tgw0", .greChecksum) == 1)
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", flags: 0x2000, extra: [0, 0, 0, 5], inner: inner))
        #expect(rig.drops("tgw0", .greKey) == 1)
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", proto: 0x6558, inner: inner))
        #expect(rig.drops("tgw0", .unsupportedPayload) == 1)
        var badInner = inner
        badInner[10] ^= 0xFF
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: badInner))
        #expect(rig.drops("tgw0", .badInner) == 1)
        #expect(rig.out.count == 0)
        // Every received GRE packet has exactly one outcome.
        #expect(rig.counter("tgw0", .rxPackets) == 6)
    }

    @Test func validChecksumIsAccepted() {
        let rig = Rig()
        let inner = Build.ipv4(src: "10.1.0.10", dst: "198.51.100.80")
        var gre: [UInt8] = [0x80, 0x00, 0x08, 0x00, 0, 0, 0, 0] + inner
        let sum = gre.withUnsafeBytes { InternetChecksum.compute($0.baseAddress!, gre.count) }
        gre[4] = UInt8(sum >> 8); gre[5] = UInt8(sum & 0xFF)
        rig.fromTunnel(Build.ipv4(src: "10.0.0.1", dst: "10.0.1.10", proto: 47, payload: gre))
        #expect(rig.counter("tgw0", .decapForwarded) == 1)
    }

    @Test func ttlExpiryAnswersWithTimeExceededIntoTheTunnel() {
        let rig = Rig()
        let inner = Build.ipv4(src: "10.1.0.10", dst: "198.51.100.80", ttl: 1)
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: inner))
        #expect(rig.drops("tgw0", .ttlExpired) == 1)
        #expect(rig.counter("tgw0", .icmpSent) == 1)
        #expect(rig.out.count == 1)
        let reply = rig.output(0)
        // Outer: appliance → TGW address of the ingress tunnel.
        #expect(Array(reply[12..<16]) == [10, 0, 1, 10])
        #expect(Array(reply[16..<20]) == [10, 0, 0, 1])
        #expect(reply[9] == 47)
        // Inner ICMP: from the tunnel's inside address to the sender, type 11.
        let icmp = Array(reply[24...])
        #expect(Array(icmp[12..<16]) == [169, 254, 6, 1])
        #expect(Array(icmp[16..<20]) == [10, 1, 0, 10])
        #expect(icmp[20] == 11)
        #expect(Array(icmp[28...]) == inner)
    }

    @Test func oversizeWithDFAnswersFragmentationNeeded() {
        let rig = Rig()
        let inner = Build.ipv4(src: "10.1.0.10", dst: "198.51.100.80", df: true, payload: [UInt8](repeating: 7, count: 1980))
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: inner))
        #expect(rig.drops("tgw0", .tooBig) == 1)
        let icmp = Array(rig.output(0)[24...])
        #expect(icmp[20] == 3)
        #expect(icmp[21] == 4)
        #expect(Array(icmp[26..<28]) == [0x05, 0xDC]) // next-hop MTU 1500
        // Without DF the kernel fragments it.
        let noDF = Build.ipv4(src: "10.1.0.10", dst: "198.51.100.80", df: false, payload: [UInt8](repeating: 7, count: 1980))
        rig.out.removeAll()
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: noDF))
        #expect(rig.out[0].kind == .tun)
    }

    @Test func blackholeDrops() {
        let rig = Rig()
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: Build.ipv4(src: "10.1.0.10", dst: "10.9.1.1")))
        #expect(rig.drops("tgw0", .blackhole) == 1)
        #expect(rig.out.count == 0)
    }

    @Test func ipv6TransitAndHopLimit() {
        let rig = Rig()
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", proto: EtherType.ipv6,
                                 inner: Build.ipv6(src: "fd01::10", dst: "2001:db8::80", hopLimit: 10)))
        #expect(rig.out[0].kind == .raw6)
        #expect(rig.output(0)[7] == 9)
        rig.out.removeAll()
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", proto: EtherType.ipv6,
                                 inner: Build.ipv6(src: "fd01::10", dst: "2001:db8::80", hopLimit: 1)))
        #expect(rig.drops("tgw0", .ttlExpired) == 1)
        let reply = rig.output(0)
        #expect(Array(reply[22..<24]) == [0x86, 0xDD])
        #expect(reply[24 + 40] == ICMPv6Type.timeExceeded)
    }
}

@Suite struct EncapsulationTests {
    @Test func kernelPacketsAreSpreadOverTheTunnelsAndEncapsulated() {
        let rig = Rig()
        var perTunnel: [UInt32: Int] = [:]
        for port in 40000..<40400 {
            rig.out.removeAll()
            let payload: [UInt8] = [0, 80, UInt8(port >> 8), UInt8(port & 0xFF), 0, 12, 0, 0, 1, 2, 3, 4]
            rig.fromKernel(Build.ipv4(src: "198.51.100.80", dst: "10.1.0.10", payload: payload))
            #expect(rig.out.count == 1)
            let e = rig.out[0]
            perTunnel[e.destination4, default: 0] += 1
            let sent = rig.output(0)
            #expect(sent[9] == 47)
            #expect(Array(sent[20..<24]) == [0, 0, 0x08, 0x00])
            sent.withUnsafeBytes { #expect(IPv4Header.validate($0.baseAddress!, available: sent.count) == .success(sent.count)) }
        }
        #expect(perTunnel.count == 2)
        #expect(perTunnel.values.allSatisfy { $0 > 120 })
        #expect(rig.counter("tgw0", .encapFromKernel) + rig.counter("tgw1", .encapFromKernel) == 400)
    }

    @Test func connectedInsideSubnetUsesItsOwnTunnel() {
        let rig = Rig()
        for _ in 0..<20 {
            rig.out.removeAll()
            rig.fromKernel(Build.ipv4(src: "169.254.7.1", dst: "169.254.7.2", proto: 6), tunnel: 1)
            #expect(rig.out[0].destination4 == IPv4Address("10.0.0.2")!.value)
        }
    }

    @Test func withoutAnEgressdRouteTheKernelsChoiceOfTUNStands() {
        // The kernel routed the packet into tgw1's TUN (e.g. a route FRR's
        // zebra installed via 169.254.7.2): it goes through tgw1.
        let rig = Rig(routes: [])
        rig.fromKernel(Build.ipv4(src: "198.51.100.80", dst: "10.1.0.10"), tunnel: 1)
        #expect(rig.out[0].destination4 == IPv4Address("10.0.0.2")!.value)
        #expect(rig.counter("tgw1", .encapFromKernel) == 1)
    }

    @Test func blackholeFromTheKernelIsDropped() {
        let rig = Rig()
        rig.fromKernel(Build.ipv4(src: "198.51.100.80", dst: "10.9.0.1"))
        #expect(rig.engineDrops(.blackhole) == 1)
        #expect(rig.out.count == 0)
    }

    @Test func tooBigForTheTunnelGoesBackToTheKernelAsICMP() {
        let small = TunnelSpec(name: "tgw0", localOuter: IPv4Address("10.0.1.10")!, remoteOuter: IPv4Address("10.0.0.1")!, mtu: 1024,
                               insideV4: IPv4InterfaceAddress("169.254.6.1/29"))
        let rig = Rig(tunnels: [small], routes: [RouteSpec(prefix: IPPrefix("10.1.0.0/16")!, target: .tunnels(["tgw0"]))])
        rig.fromKernel(Build.ipv4(src: "198.51.100.80", dst: "10.1.0.10", df: true, payload: [UInt8](repeating: 0, count: 1200)))
        #expect(rig.drops("tgw0", .tooBig) == 1)
        #expect(rig.out[0].kind == .tun)
        let icmp = rig.output(0)
        #expect(icmp[20] == 3 && icmp[21] == 4)
        #expect(Array(icmp[26..<28]) == [0x03, 0xE8]) // 1024 - 24
    }
}
