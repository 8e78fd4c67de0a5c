import Testing
@testable import Packet

@Suite struct IPv4HeaderTests {
    @Test func readsTheFieldsScapyWrote() throws {
        try withPacket(try fixture("ipv4-tcp-syn-mss")) { p, n throws in
            #expect(try IPv4Header.validate(p, available: n).get() == n)
            let ip = IPv4Header(p)
            #expect(ip.version == 4)
            #expect(ip.headerLength == 20)
            #expect(ip.ttl == 63)
            #expect(ip.identification == 0x1234)
            #expect(ip.dontFragment)
            #expect(!ip.isFragment)
            #expect(ip.proto == IPProtocolNumber.tcp)
            #expect(ip.source == IPv4Address("10.1.0.10"))
            #expect(ip.destination == IPv4Address("198.51.100.80"))
            let tcp = TCPHeader(ip.payload)
            #expect(tcp.sourcePort == 40000)
            #expect(tcp.destinationPort == 80)
            #expect(tcp.flags == TCPHeader.syn)
            #expect(tcp.sequence == 1000)
        }
    }

    @Test func rejectsBadHeaders() throws {
        let good = try fixture("ipv4-udp")
        try withPacket(good) { p, n throws in
            #expect(IPv4Header.validate(p, available: 19) == .failure(.truncated))
            #expect(IPv4Header.validate(p, available: n - 1) == .failure(.badTotalLength))
        }
        var badVersion = good; badVersion[0] = 0x65
        withPacket(badVersion) { p, n in #expect(IPv4Header.validate(p, available: n) == .failure(.badVersion)) }
        var badIHL = good; badIHL[0] = 0x44
        withPacket(badIHL) { p, n in #expect(IPv4Header.validate(p, available: n) == .failure(.badHeaderLength)) }
        var badSum = good; badSum[10] ^= 0xFF
        withPacket(badSum) { p, n in #expect(IPv4Header.validate(p, available: n) == .failure(.badChecksum)) }
    }

    @Test func decrementTTLKeepsTheChecksumRight() throws {
        try withPacket(try fixture("ipv4-udp")) { p, n throws in
            let ip = IPv4Header(p)
            for expected in stride(from: 63, through: 0, by: -1) {
                ip.decrementTTL()
                #expect(ip.ttl == UInt8(expected))
                #expect(InternetChecksum.compute(p, 20) == 0)
            }
        }
    }

    @Test func writtenHeaderIsValid() {
        var buf = [UInt8](repeating: 0, count: 20)
        buf.withUnsafeMutableBytes { b in
            IPv4Header.write(into: b.baseAddress!, totalLength: 20, dontFragment: true, ttl: 255, proto: 47,
                             source: IPv4Address("10.0.1.10")!, destination: IPv4Address("10.0.0.1")!)
            #expect(IPv4Header.validate(b.baseAddress!, available: 20) == .success(20))
        }
        // Same bytes as scapy's raw(IP(src="10.0.1.10", dst="10.0.0.1", ttl=255, proto=47, flags="DF", id=0).
        #expect(buf == [0x45, 0, 0, 20, 0, 0, 0x40, 0, 0xFF, 0x2F, 0x66, 0xB0, 10, 0, 1, 10, 10, 0, 0, 1])
    }
}

@Suite struct IPv6HeaderTests {
    @Test func readsTheFieldsScapyWrote() throws {
        try withPacket(try fixture("ipv6-icmpv6-echo")) { p, n throws in
            #expect(try IPv6Header.validate(p, available: n).get() == n)
            let ip = IPv6Header(p)
            #expect(ip.version == 6)
            #expect(ip.nextHeader == IPProtocolNumber.icmpv6)
            #expect(ip.hopLimit == 64)
            #expect(ip.source == IPv6Address("fd01::10"))
            #expect(ip.destination == IPv6Address("2001:db8::80"))
            #expect(ICMPHeader(ip.payload).type == ICMPv6Type.echoRequest)
            #expect(IPv6Header.validate(p, available: n - 1) == .failure(.badTotalLength))
        }
    }
}

@Suite struct GREHeaderTests {
    @Test func plainKeylessGRE() throws {
        try withPacket(try fixture("gre-plain-ipv4")) { p, n throws in
            let outer = IPv4Header(p)
            #expect(outer.proto == IPProtocolNumber.gre)
            let gre = try GREHeader.parse(outer.payload, length: n - 20).get()
            #expect(gre == GREHeader(protocolType: EtherType.ipv4, headerLength: 4, checksumPresent: false, key: nil, sequence: nil))
            let inner = outer.payload + gre.headerLength
            #expect(IPv4Header(inner).destination == IPv4Address("198.51.100.80"))
        }
    }

    @Test func checksumKeyAndSequence() throws {
        let bytes = try fixture("gre-csum-key-seq-ipv6")
        try withPacket(bytes) { p, n throws in
            let gre = try GREHeader.parse(p + 20, length: n - 20).get()
            #expect(gre.protocolType == EtherType.ipv6)
            #expect(gre.headerLength == 16)
            #expect(gre.checksumPresent)
            #expect(gre.key == 0x2A)
            #expect(gre.sequence == 7)
        }
        var corrupted = bytes
        corrupted[bytes.count - 1] ^= 0x01
        try withPacket(corrupted) { p, n throws in
            #expect(GREHeader.parse(p + 20, length: n - 20) == .failure(.badChecksum))
        }
    }

    @Test func refusesVersion1AndRetiredFlags() throws {
        try withPacket(try fixture("gre-version1")) { p, n throws in
            #expect(GREHeader.parse(p + 20, length: n - 20) == .failure(.unsupportedVersion(1)))
        }
        try withPacket(try fixture("gre-routing-bit")) { p, n throws in
            #expect(GREHeader.parse(p + 20, length: n - 20) == .failure(.unsupportedFlags(GREHeader.routingBit)))
        }
        withPacket([0x00, 0x00, 0x08]) { p, n in #expect(GREHeader.parse(p, length: n) == .failure(.truncated)) }
        withPacket([0x80, 0x00, 0x08, 0x00]) { p, n in #expect(GREHeader.parse(p, length: n) == .failure(.truncated)) }
    }

    @Test func writeThenParse() {
        var buf = [UInt8](repeating: 0, count: 8)
        buf.withUnsafeMutableBytes { b in
            #expect(GREHeader.write(into: b.baseAddress!, protocolType: EtherType.ipv4, key: nil) == 4)
            #expect(try! GREHeader.parse(b.baseAddress!, length: 4).get().key == nil)
            #expect(GREHeader.write(into: b.baseAddress!, protocolType: EtherType.ipv6, key: 99) == 8)
            let gre = try! GREHeader.parse(b.baseAddress!, length: 8).get()
            #expect(gre.key == 99)
            #expect(gre.protocolType == EtherType.ipv6)
        }
    }
}
