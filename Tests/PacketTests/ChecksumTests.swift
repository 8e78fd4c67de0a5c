import Testing
@testable import Packet

@Suite struct ChecksumTests {
    @Test func rfc1071Example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2; checksum is ~ddf2.
        let data: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        data.withUnsafeBytes { #expect(InternetChecksum.compute($0.baseAddress!, 8) == ~UInt16(0xDDF2)) }
    }

    @Test func oddLengthPadsWithZero() {
        let data: [UInt8] = [0x12, 0x34, 0x56]
        data.withUnsafeBytes { #expect(InternetChecksum.compute($0.baseAddress!, 3) == ~UInt16(0x1234 + 0x5600)) }
    }

    @Test func incrementalUpdateMatchesRecomputation() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var words = (0..<10).map { _ in UInt16.random(in: 0...UInt16.max, using: &g) }
            func sum(_ w: [UInt16]) -> UInt16 {
                let b = w.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
                return b.withUnsafeBytes { InternetChecksum.compute($0.baseAddress!, b.count) }
            }
            let before = sum(words)
            let i = Int.random(in: 0..<10, using: &g)
            let old = words[i]
            words[i] = UInt16.random(in: 0...UInt16.max, using: &g)
            let updated = InternetChecksum.update(before, old: old, new: words[i])
            // RFC 1624: both forms of zero (0x0000/0xFFFF) are the same sum.
            let fresh = sum(words)
            #expect(updated == fresh || (updated == 0xFFFF && fresh == 0) || (updated == 0 && fresh == 0xFFFF))
        }
    }
}

@Suite struct MSSClampTests {
    @Test func clampsAndKeepsTheTCPChecksumValid() throws {
        try withPacket(try fixture("ipv4-tcp-syn-mss")) { p, n throws in
            let ip = IPv4Header(p)
            let tcp = TCPHeader(ip.payload)
            let tcpLength = n - 20
            func valid() -> Bool {
                let pseudo = InternetChecksum.pseudoHeaderSum(source: ip.source, destination: ip.destination, protocol: 6, length: tcpLength)
                return InternetChecksum.finish(InternetChecksum.partialSum(ip.payload, tcpLength, initial: pseudo)) == 0
            }
            #expect(valid())
            #expect(tcp.clampMSS(to: 1460, available: tcpLength) == 8960)
            #expect(tcp.clampMSS(to: 1460, available: tcpLength) == 1460)
            #expect(valid())
            #expect(tcp.clampMSS(to: 9000, available: tcpLength) == 1460)
        }
    }
}

@Suite struct ICMPErrorTests {
    @Test func timeExceededQuotesTheOffendingPacket() throws {
        let offending = try fixture("ipv4-udp")
        var out = [UInt8](repeating: 0, count: 600)
        let n = offending.withUnsafeBytes { o in
            out.withUnsafeMutableBytes { b in
                ICMPErrors.writeV4(into: b.baseAddress!, capacity: b.count, offending: o.baseAddress!, offendingLength: o.count,
                                   type: ICMPv4Type.timeExceeded, code: 0, restOfHeader: 0, source: IPv4Address("169.254.6.1")!)
            }
        }
        #expect(n == 28 + offending.count)
        out.withUnsafeMutableBytes { b in
            let ip = IPv4Header(b.baseAddress!)
            #expect(IPv4Header.validate(b.baseAddress!, available: n) == .success(n))
            #expect(ip.source == IPv4Address("169.254.6.1"))
            #expect(ip.destination == IPv4Address("10.2.0.10"))
            #expect(ip.proto == IPProtocolNumber.icmp)
            #expect(InternetChecksum.compute(ip.payload, n - 20) == 0)
            #expect(ICMPHeader(ip.payload).type == 11)
        }
        #expect(Array(out[28..<n]) == offending)
    }

    @Test func fragmentationNeededCarriesTheMTUAndIsCapped() throws {
        var big = try fixture("ipv4-udp")
        big += [UInt8](repeating: 0xAB, count: 1500)
        var out = [UInt8](repeating: 0, count: 2000)
        let n = big.withUnsafeBytes { o in
            out.withUnsafeMutableBytes { b in
                ICMPErrors.writeV4(into: b.baseAddress!, capacity: b.count, offending: o.baseAddress!, offendingLength: o.count,
                                   type: 3, code: 4, restOfHeader: 1500, source: IPv4Address("169.254.6.1")!)
            }
        }
        #expect(n == 576)
        #expect(out[24...27] == [0, 0, 0x05, 0xDC])
    }

    @Test func noErrorAboutErrors() throws {
        var err = try fixture("ipv4-icmp-echo")
        withPacket(err) { p, _ in #expect(ICMPErrors.mayReport(IPv4Header(p))) }
        err[20] = 3 // make it a destination unreachable
        withPacket(err) { p, _ in #expect(!ICMPErrors.mayReport(IPv4Header(p))) }
    }

    @Test func packetTooBigV6() throws {
        let offending = try fixture("ipv6-icmpv6-echo")
        var out = [UInt8](repeating: 0, count: 1400)
        let src = IPv6Address("fd00::1")!
        let n = offending.withUnsafeBytes { o in
            out.withUnsafeMutableBytes { b in
                ICMPErrors.writeV6(into: b.baseAddress!, capacity: b.count, offending: o.baseAddress!, offendingLength: o.count,
                                   type: ICMPv6Type.packetTooBig, code: 0, restOfHeader: 1280, source: src)
            }
        }
        #expect(n == 48 + offending.count)
        out.withUnsafeMutableBytes { b in
            let ip = IPv6Header(b.baseAddress!)
            let pseudo = InternetChecksum.pseudoHeaderSum(source: ip.source, destination: ip.destination, nextHeader: 58, length: n - 40)
            #expect(InternetChecksum.finish(InternetChecksum.partialSum(ip.payload, n - 40, initial: pseudo)) == 0)
            #expect(ip.destination == IPv6Address("fd01::10"))
        }
    }
}
