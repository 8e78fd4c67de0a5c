import Testing
@testable import Packet

/// Packets built byte by byte, and an Internet checksum written here from
/// RFC 1071 (16-bit words, carries folded), independent of InternetChecksum.
enum OffloadFixture {
    static func naiveChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i < bytes.count {
            let hi = UInt32(bytes[i]) << 8
            let lo = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            sum += hi | lo
            while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
            i += 2
        }
        return ~UInt16(sum)
    }

    static func be16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    static let src4: [UInt8] = [10, 1, 0, 10]
    static let dst4: [UInt8] = [10, 0, 2, 1]
    static let src6: [UInt8] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]
    static let dst6: [UInt8] = [0xfd, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0x01]

    static func ipv4(proto: UInt8, payloadLength: Int, id: Int = 0x1234, flags: Int = 0x4000, ttl: UInt8 = 64) -> [UInt8] {
        var h: [UInt8] = [0x45, 0] + be16(20 + payloadLength) + be16(id) + be16(flags) + [ttl, proto, 0, 0] + src4 + dst4
        let c = naiveChecksum(h)
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xFF)
        return h
    }

    static func ipv6(next: UInt8, payloadLength: Int) -> [UInt8] {
        [0x60, 0, 0, 0] + be16(payloadLength) + [next, 64] + src6 + dst6
    }

    static func tcp(seq: UInt32, ack: UInt32 = 0x0102_0304, flags: UInt8 = 0x10, window: Int = 501, options: [UInt8] = [],
                    sport: Int = 40000, dport: Int = 5201) -> [UInt8] {
        let hl = 20 + options.count
        return be16(sport) + be16(dport) + be32(seq) + be32(ack) + [UInt8(hl / 4) << 4, flags] + be16(window) + [0, 0, 0, 0] + options
    }

    static func udp(payloadLength: Int) -> [UInt8] { be16(5353) + be16(9999) + be16(8 + payloadLength) + [0, 0] }

    static func payload(_ n: Int, seed: Int = 7) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) } }

    /// The pseudo-header bytes for a transport checksum.
    static func pseudo(v6: Bool, proto: UInt8, length: Int) -> [UInt8] {
        v6 ? src6 + dst6 + be32(UInt32(length)) + [0, 0, 0, proto] : src4 + dst4 + [0, proto] + be16(length)
    }

    /// A complete packet with a correct transport checksum (naive).
    static func packet(v6: Bool, proto: UInt8, transport: [UInt8], payload: [UInt8], id: Int = 0x1234) -> [UInt8] {
        var t = transport + payload
        let at = proto == 6 ? 16 : 6
        var c = naiveChecksum(pseudo(v6: v6, proto: proto, length: t.count) + t)
        if proto == 17 && c == 0 { c = 0xFFFF }
        t[at] = UInt8(c >> 8); t[at + 1] = UInt8(c & 0xFF)
        return (v6 ? ipv6(next: proto, payloadLength: t.count) : ipv4(proto: proto, payloadLength: t.count, id: id)) + t
    }

    /// Transport checksum verified over the segment with the naive sum.
    static func transportValid(_ p: [UInt8], v6: Bool, proto: UInt8) -> Bool {
        let ipHL = v6 ? 40 : 20
        let t = Array(p[ipHL...])
        return naiveChecksum(pseudo(v6: v6, proto: proto, length: t.count) + t) == 0
    }

    static func ipv4HeaderValid(_ p: [UInt8]) -> Bool { naiveChecksum(Array(p[0..<20])) == 0 }

    /// `full` as the kernel hands it over with NEEDS_CSUM (the transport checksum field holds
    /// the folded pseudo-header sum, not inverted), completed by Offload.completeChecksum;
    /// nil when it refuses.
    static func completedFromPartial(_ full: [UInt8], v6: Bool, proto: UInt8) -> [UInt8]? {
        let ipHL = v6 ? 40 : 20
        let offset = proto == 6 ? 16 : 6
        var partial = full
        let ph = ~naiveChecksum(pseudo(v6: v6, proto: proto, length: full.count - ipHL))
        partial[ipHL + offset] = UInt8(ph >> 8); partial[ipHL + offset + 1] = UInt8(ph & 0xFF)
        let h = VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, checksumStart: UInt16(ipHL), checksumOffset: UInt16(offset))
        let ok = partial.withUnsafeMutableBytes { Offload.completeChecksum($0.baseAddress!, $0.count, header: h) }
        return (try? ok.get()) != nil ? partial : nil
    }

    static func u16(_ p: [UInt8], _ o: Int) -> Int { Int(p[o]) << 8 | Int(p[o + 1]) }
    static func u32(_ p: [UInt8], _ o: Int) -> UInt32 { UInt32(p[o]) << 24 | UInt32(p[o + 1]) << 16 | UInt32(p[o + 2]) << 8 | UInt32(p[o + 3]) }

    /// Segments a super-packet with Offload; nil when refused.
    static func segments(_ superPacket: [UInt8], header: VirtioNetHeader) -> [[UInt8]]? {
        superPacket.withUnsafeBytes { src -> [[UInt8]]? in
            guard case .success(let plan) = Offload.plan(src.baseAddress!, superPacket.count, header: header) else { return nil }
            var out: [[UInt8]] = []
            let dst = UnsafeMutableRawPointer.allocate(byteCount: 70000, alignment: 8)
            defer { dst.deallocate() }
            for k in 0..<plan.count {
                let n = Offload.segment(k, of: src.baseAddress!, plan: plan, into: dst)
                out.append(Array(UnsafeRawBufferPointer(start: dst, count: n)))
            }
            return out
        }
    }

    static let timestamps: [UInt8] = [1, 1, 8, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0]
}

@Suite struct OffloadTests {
    typealias F = OffloadFixture

    @Test func virtioHeaderIsLittleEndianAndRoundTrips() {
        let h = VirtioNetHeader(flags: 1, gsoType: 4, headerLength: 72, gsoSize: 1448, checksumStart: 40, checksumOffset: 16)
        var bytes = [UInt8](repeating: 0xEE, count: 10)
        bytes.withUnsafeMutableBytes { h.write(to: $0.baseAddress!) }
        #expect(bytes == [1, 4, 72, 0, 0xA8, 0x05, 40, 0, 16, 0])
        let back = bytes.withUnsafeBytes { VirtioNetHeader(reading: $0.baseAddress!) }
        #expect(back == h)
    }

    @Test func tcp4SuperPacketSegmentsWithShortLastSegment() throws {
        let mss = 1000
        let data = F.payload(3 * mss + 500)
        let seq: UInt32 = 0xFFFF_FC00   // wraps inside the super-packet
        // ACK|PSH|FIN|CWR on the super-packet.
        let sp = F.packet(v6: false, proto: 6, transport: F.tcp(seq: seq, flags: 0x10 | 0x08 | 0x01 | 0x80, options: F.timestamps),
                          payload: data, id: 0xFFFE)
        let h = VirtioNetHeader(flags: 1, gsoType: VirtioNetHeader.gsoTCPv4, headerLength: 52, gsoSize: UInt16(mss),
                                checksumStart: 20, checksumOffset: 16)
        let segs = try #require(F.segments(sp, header: h))
        #expect(segs.count == 4)
        for (k, s) in segs.enumerated() {
            let len = k == 3 ? 500 : mss
            #expect(s.count == 20 + 32 + len)
            #expect(F.u16(s, 2) == s.count)
            #expect(F.u16(s, 4) == (0xFFFE + k) & 0xFFFF)
            #expect(F.u16(s, 6) == 0x4000)
            #expect(F.ipv4HeaderValid(s))
            #expect(F.transportValid(s, v6: false, proto: 6))
            #expect(F.u32(s, 24) == seq &+ UInt32(k * mss))
            let flags = s[33]
            #expect(flags & 0x10 != 0)
            #expect((flags & 0x09 != 0) == (k == 3), "FIN/PSH only on the last")
            #expect((flags & 0x80 != 0) == (k == 0), "CWR only on the first")
            #expect(Array(s[40..<52]) == F.timestamps)
            #expect(Array(s[52...]) == Array(data[(k * mss)..<(k * mss + len)]))
        }
    }

    @Test func tcp6SuperPacketSegmentsExactMultiple() throws {
        let mss = 1440
        let data = F.payload(4 * mss, seed: 3)
        let sp = F.packet(v6: true, proto: 6, transport: F.tcp(seq: 1000), payload: data)
        let h = VirtioNetHeader(flags: 1, gsoType: VirtioNetHeader.gsoTCPv6, headerLength: 60, gsoSize: UInt16(mss),
                                checksumStart: 40, checksumOffset: 16)
        let segs = try #require(F.segments(sp, header: h))
        #expect(segs.count == 4)
        for (k, s) in segs.enumerated() {
            #expect(s.count == 40 + 20 + mss)
            #expect(F.u16(s, 4) == 20 + mss)
            #expect(F.transportValid(s, v6: true, proto: 6))
            #expect(F.u32(s, 44) == 1000 + UInt32(k * mss))
            #expect(Array(s[60...]) == Array(data[(k * mss)..<((k + 1) * mss)]))
        }
    }

    @Test(arguments: [false, true])
    func udpSuperPacketSegments(v6: Bool) throws {
        let size = 1200
        let data = F.payload(2 * size + 77, seed: 11)
        let sp = F.packet(v6: v6, proto: 17, transport: F.udp(payloadLength: data.count), payload: data)
        let ipHL = v6 ? 40 : 20
        let h = VirtioNetHeader(flags: 1, gsoType: VirtioNetHeader.gsoUDPL4, headerLength: UInt16(ipHL + 8), gsoSize: UInt16(size),
                                checksumStart: UInt16(ipHL), checksumOffset: 6)
        let segs = try #require(F.segments(sp, header: h))
        #expect(segs.count == 3)
        for (k, s) in segs.enumerated() {
            let len = k == 2 ? 77 : size
            #expect(s.count == ipHL + 8 + len)
            #expect(F.u16(s, ipHL + 4) == 8 + len)
            #expect(F.transportValid(s, v6: v6, proto: 17))
            if !v6 { #expect(F.ipv4HeaderValid(s)) }
            #expect(Array(s[(ipHL + 8)...]) == Array(data[(k * size)..<(k * size + len)]))
        }
    }

    @Test func oneSegmentGSOPacketIsValid() throws {
        let sp = F.packet(v6: false, proto: 6, transport: F.tcp(seq: 5), payload: F.payload(300))
        let h = VirtioNetHeader(flags: 1, gsoType: VirtioNetHeader.gsoTCPv4, headerLength: 40, gsoSize: 1460, checksumStart: 20, checksumOffset: 16)
        let segs = try #require(F.segments(sp, header: h))
        #expect(segs == [sp])
    }

    @Test func badSuperPacketsAreRefused() {
        let good = F.packet(v6: false, proto: 6, transport: F.tcp(seq: 1), payload: F.payload(3000))
        let h4 = VirtioNetHeader(flags: 1, gsoType: VirtioNetHeader.gsoTCPv4, headerLength: 40, gsoSize: 1000, checksumStart: 20, checksumOffset: 16)
        func plan(_ p: [UInt8], _ h: VirtioNetHeader) -> Result<GSOPlan, Offload.Failure> {
            p.withUnsafeBytes { Offload.plan($0.baseAddress!, p.count, header: h) }
        }
        #expect((try? plan(good, h4).get())?.count == 3)
        var zero = h4; zero.gsoSize = 0
        #expect(plan(good, zero) == .failure(.unsupportedGSO))
        var ufo = h4; ufo.gsoType = VirtioNetHeader.gsoUDP
        #expect(plan(good, ufo) == .failure(.unsupportedGSO))
        var v6type = h4; v6type.gsoType = VirtioNetHeader.gsoTCPv6
        #expect(plan(good, v6type) == .failure(.badIPHeader))
        #expect(plan(Array(good[0..<2000]), h4) == .failure(.badIPHeader), "IP total length beyond what was read")
        #expect(plan(Array(good[0..<10]), h4) == .failure(.badIPHeader))
        var frag = good; frag[6] = 0x20   // MF
        #expect(plan(frag, h4) == .failure(.badIPHeader))
        var udpProto = good; udpProto[9] = 17
        #expect(plan(udpProto, h4) == .failure(.badTransportHeader))
        var shortOffset = good; shortOffset[32] = 0x40   // data offset 4 words
        #expect(plan(shortOffset, h4) == .failure(.badTransportHeader))
        let noPayload = F.packet(v6: false, proto: 6, transport: F.tcp(seq: 1), payload: [])
        #expect(plan(noPayload, h4) == .failure(.badTransportHeader))
        // IPv6 with a hop-by-hop header before TCP is not segmented here.
        var ext = F.packet(v6: true, proto: 6, transport: F.tcp(seq: 1), payload: F.payload(3000))
        ext[6] = 0
        var h6 = h4; h6.gsoType = VirtioNetHeader.gsoTCPv6
        #expect(plan(ext, h6) == .failure(.badTransportHeader))
        var notIP = good; notIP[0] = 0x55
        #expect(plan(notIP, h4) == .failure(.badIPHeader))
    }

    @Test(arguments: [(false, UInt8(6)), (true, UInt8(6)), (false, UInt8(17)), (true, UInt8(17))])
    func partialChecksumIsCompleted(_ c: (Bool, UInt8)) {
        let (v6, proto) = c
        let data = F.payload(777)
        let transport = proto == 6 ? F.tcp(seq: 9) : F.udp(payloadLength: data.count)
        let full = F.packet(v6: v6, proto: proto, transport: transport, payload: data)
        let completed = F.completedFromPartial(full, v6: v6, proto: proto)
        #expect(completed == full)
        #expect(completed.map { F.transportValid($0, v6: v6, proto: proto) } == true)
    }

    /// A segment whose checksum computes to 0 (TCP: 0x0000 on the wire, as a NIC writes it;
    /// Wireshark calls 0xFFFF illegal there) or to 0 in UDP (0xFFFF: 0 means "none").
    @Test(arguments: [(false, UInt8(6)), (true, UInt8(6)), (false, UInt8(17)), (true, UInt8(17))])
    func completedChecksumOfZeroIsWrittenPerProtocol(_ c: (Bool, UInt8)) {
        let (v6, proto) = c
        let ipHL = v6 ? 40 : 20
        let at = ipHL + (proto == 6 ? 16 : 6)
        // Choose the first payload word so that the checksum computes to 0: it adds the
        // checksum the packet has with that word 0 (one's complement: S + ~S = -0).
        var data = F.payload(101); data[0] = 0; data[1] = 0
        let transport = proto == 6 ? F.tcp(seq: 9) : F.udp(payloadLength: data.count)
        let before = F.packet(v6: v6, proto: proto, transport: transport, payload: data)
        let word = F.u16(before, at)
        data[0] = UInt8(word >> 8); data[1] = UInt8(word & 0xFF)
        let full = F.packet(v6: v6, proto: proto, transport: transport, payload: data)
        #expect(F.u16(full, at) == (proto == 6 ? 0x0000 : 0xFFFF))
        let completed = F.completedFromPartial(full, v6: v6, proto: proto)
        #expect(completed.map { F.u16($0, at) } == F.u16(full, at))
        #expect(completed.map { F.transportValid($0, v6: v6, proto: proto) } == true)
    }

    @Test func checksumRangeOutsideThePacketIsRefused() {
        var p = F.packet(v6: false, proto: 6, transport: F.tcp(seq: 9), payload: F.payload(10))
        let h = VirtioNetHeader(flags: 1, checksumStart: 20, checksumOffset: UInt16(p.count))
        let r = p.withUnsafeMutableBytes { Offload.completeChecksum($0.baseAddress!, $0.count, header: h) }
        guard case .failure(.badChecksumRange) = r else { Issue.record("range accepted"); return }
    }

    // MARK: Coalescing

    /// Runs segments through a coalescer; returns (accepted flags, written bytes or nil when < 2 segments).
    static func coalesce(_ segs: [[UInt8]]) -> ([Bool], [UInt8]?) {
        let cap = 10 + 65535
        let buf = UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 8)
        defer { buf.deallocate() }
        var c = TCPCoalescer(buffer: buf, capacity: cap)
        var accepted: [Bool] = []
        for (i, s) in segs.enumerated() {
            let ok = s.withUnsafeBytes { i == 0 ? c.start($0.baseAddress!, s.count) : c.append($0.baseAddress!, s.count) }
            accepted.append(ok)
        }
        guard c.segments >= 2 else { return (accepted, nil) }
        let n = c.finish()
        return (accepted, Array(UnsafeRawBufferPointer(start: buf, count: n)))
    }

    /// Segments made from a super-packet with the segmenter (IDs, sequence numbers, PSH on the last).
    static func flowSegments(v6: Bool, count: Int, mss: Int, last: Int? = nil, options: [UInt8] = OffloadFixture.timestamps) -> [[UInt8]] {
        let data = F.payload((count - 1) * mss + (last ?? mss), seed: 5)
        let sp = F.packet(v6: v6, proto: 6, transport: F.tcp(seq: 0x7000_0000, flags: 0x18, options: options), payload: data, id: 0x100)
        let h = VirtioNetHeader(flags: 1, gsoType: v6 ? VirtioNetHeader.gsoTCPv6 : VirtioNetHeader.gsoTCPv4,
                                headerLength: 0, gsoSize: UInt16(mss), checksumStart: v6 ? 40 : 20, checksumOffset: 16)
        return F.segments(sp, header: h)!
    }

    @Test(arguments: [false, true])
    func coalescedSegmentsRoundTripThroughTheSegmenter(v6: Bool) throws {
        let segs = Self.flowSegments(v6: v6, count: 5, mss: 1448, last: 600)
        let (accepted, written) = Self.coalesce(segs)
        #expect(accepted == [true, true, true, true, true])
        let w = try #require(written)
        let h = w.withUnsafeBytes { VirtioNetHeader(reading: $0.baseAddress!) }
        let ipHL = v6 ? 40 : 20
        #expect(h == VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: v6 ? VirtioNetHeader.gsoTCPv6 : VirtioNetHeader.gsoTCPv4,
                                     headerLength: UInt16(ipHL + 32), gsoSize: 1448, checksumStart: UInt16(ipHL), checksumOffset: 16))
        let sp = Array(w[10...])
        let tcpLength = sp.count - ipHL
        #expect(sp.count == ipHL + 32 + 4 * 1448 + 600)
        if v6 { #expect(F.u16(sp, 4) == tcpLength) } else { #expect(F.u16(sp, 2) == sp.count); #expect(F.ipv4HeaderValid(sp)) }
        // NEEDS_CSUM: the field holds the pseudo-header sum, not inverted.
        #expect(F.u16(sp, ipHL + 16) == Int(~F.naiveChecksum(F.pseudo(v6: v6, proto: 6, length: tcpLength))))
        #expect(sp[ipHL + 13] & 0x08 != 0, "PSH of the last segment kept")
        // What the kernel would cut from it is what went in.
        #expect(F.segments(sp, header: h) == segs)
    }

    @Test func coalescingStopsAtEveryRuleBreak() {
        let segs = Self.flowSegments(v6: false, count: 4, mss: 1000)
        // Not contiguous: the third segment missing.
        #expect(Self.coalesce([segs[0], segs[1], segs[3]]).0 == [true, true, false])
        // A short segment ends it; so does PSH.
        func seg(_ seq: UInt32, _ len: Int, flags: UInt8 = 0x10, ack: UInt32 = 0x0102_0304, ts: [UInt8] = F.timestamps, dport: Int = 5201) -> [UInt8] {
            F.packet(v6: false, proto: 6, transport: F.tcp(seq: seq, ack: ack, flags: flags, options: ts, dport: dport), payload: F.payload(len))
        }
        #expect(Self.coalesce([seg(0, 1000), seg(1000, 400), seg(1400, 1000)]).0 == [true, true, false])
        #expect(Self.coalesce([seg(0, 1000), seg(1000, 1000, flags: 0x18), seg(2000, 1000)]).0 == [true, true, false])
        #expect(Self.coalesce([seg(0, 1000), seg(1000, 1001)]).0 == [true, false], "bigger than the first")
        // Other ports, another acknowledgment, other timestamps, other TTL, a bad checksum.
        var otherTS = F.timestamps; otherTS[7] ^= 1
        var otherTTL = seg(1000, 1000); otherTTL[8] = 3
        var badSum = seg(1000, 1000); badSum[60] ^= 0xFF
        for bad in [seg(1000, 1000, dport: 5202), seg(1000, 1000, ack: 7), seg(1000, 1000, ts: otherTS), otherTTL, badSum] {
            #expect(Self.coalesce([seg(0, 1000), bad]).0 == [true, false])
        }
        #expect(Self.coalesce([seg(0, 1000), seg(1000, 1000)]).0 == [true, true], "the control case merges")
        let syn = F.packet(v6: false, proto: 6, transport: F.tcp(seq: 1, flags: 0x12), payload: F.payload(100))
        let pureAck = F.packet(v6: false, proto: 6, transport: F.tcp(seq: 1), payload: [])
        let udp = F.packet(v6: false, proto: 17, transport: F.udp(payloadLength: 100), payload: F.payload(100))
        for p in [syn, pureAck, udp, Array(segs[0][0..<30])] {
            #expect(Self.coalesce([p]).0 == [false])
        }
        // Up to 65535 bytes: 1000-byte segments, 65 fit (20 + 32 + 65 000 ≤ 65 535), the 66th does not.
        let many = (0..<70).map { seg(UInt32($0 * 1000), 1000) }
        let (acc, written) = Self.coalesce(many)
        #expect(acc.prefix(65).allSatisfy { $0 })
        #expect(acc[65] == false)
        #expect(written.map { $0.count - 10 } == 20 + 32 + 65 * 1000)
    }
}
