import Testing
@testable import Packet

@Suite struct AddressTests {
    @Test(arguments: ["0.0.0.0", "10.1.0.10", "255.255.255.255", "198.51.100.80"])
    func ipv4RoundTrip(_ text: String) {
        #expect(IPv4Address(text)?.description == text)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..2.3", "a.b.c.d", "1.2.3.4 "])
    func ipv4Rejects(_ text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test(arguments: [("::", "::"), ("::1", "::1"), ("fd00::1", "fd00::1"), ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
                      ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"), ("::ffff:192.0.2.1", "::ffff:c000:201"),
                      ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1:0:0:4:0:0:0:8", "1:0:0:4::8")])
    func ipv6Canonical(_ pair: (String, String)) {
        #expect(IPv6Address(pair.0)?.description == pair.1)
    }

    @Test(arguments: ["", ":", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::1", "1:2:3:4:5:6:7"])
    func ipv6Rejects(_ text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test func prefixes() {
        #expect(IPv4Prefix("10.1.2.3/16")?.description == "10.1.0.0/16")
        #expect(IPv4Prefix("10.1.2.3/16", strict: true) == nil)
        #expect(IPv4Prefix("0.0.0.0/0")!.contains(IPv4Address("8.8.8.8")!))
        #expect(IPv4Prefix("10.1.0.0/16")!.contains(IPv4Address("10.1.255.1")!))
        #expect(!IPv4Prefix("10.1.0.0/16")!.contains(IPv4Address("10.2.0.1")!))
        #expect(IPv4Prefix("10.0.0.0/33") == nil)
        #expect(IPv6Prefix("fd00::7/125")?.description == "fd00::/125")
        #expect(IPv6Prefix("fd00::/125")!.contains(IPv6Address("fd00::7")!))
        #expect(!IPv6Prefix("fd00::/125")!.contains(IPv6Address("fd00::8")!))
        #expect(IPv6Prefix("::/0")!.contains(IPv6Address("2001:db8::1")!))
        #expect(IPPrefix("::/0") == .v6(IPv6Prefix("::/0")!))
        #expect(IPv4InterfaceAddress("169.254.6.1/29")?.subnet.description == "169.254.6.0/29")
    }
}

@Suite struct FlowHashTests {
    @Test func sameFlowSameHashAndSpread() throws {
        let a = FlowHash.v4(source: 1, destination: 2, proto: 6, ports: 0x1234_0050)
        #expect(a == FlowHash.v4(source: 1, destination: 2, proto: 6, ports: 0x1234_0050))
        // Source ports 40000..40999 over 8 bins: every bin within 25% of fair.
        var bins = [Int](repeating: 0, count: 8)
        for port in UInt32(40000)..<41000 {
            bins[Int(FlowHash.v4(source: 0x0A01_000A, destination: 0xC633_6450, proto: 17, ports: port << 16 | 7) % 8)] += 1
        }
        #expect(bins.allSatisfy { abs($0 - 125) < 32 })
    }

    @Test func hashOfPacketUsesPorts() throws {
        try withPacket(try fixture("ipv4-udp")) { p, n throws in
            #expect(FlowHash.of(packet: p, length: n) == FlowHash.v4(source: IPv4Address("10.2.0.10")!.value,
                                                                   destination: IPv4Address("198.51.100.80")!.value,
                                                                   proto: 17, ports: 40001 << 16 | 7))
        }
    }
}
