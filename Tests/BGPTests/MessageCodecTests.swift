// Codec round trips against reference bytes. Fixtures were produced with
// scapy's BGP layer (Debian python3-scapy 2.5) by /usr/bin/python3 scripts
// of this form (one line per fixture; full script in each comment):
//   from scapy.contrib.bgp import *; from scapy.all import raw
//   print(raw(BGPHeader()/BGPOpen(...)).hex())

import Testing
@testable import BGP
import Packet

@Suite struct MessageCodecTests {
    // BGPHeader()/BGPOpen(my_as=65000, hold_time=30, bgp_id="10.0.1.10", opt_params=[
    //   BGPOptParam(param_value=BGPCapMultiprotocol(afi=1, safi=1)),
    //   BGPOptParam(param_value=BGPCapMultiprotocol(afi=2, safi=1)),
    //   BGPOptParam(param_value=BGPCapGeneric(code=2)), BGPOptParam(param_value=BGPCapGeneric(code=70)),
    //   BGPOptParam(param_value=BGPCapFourBytesASN(asn=65000)),
    //   BGPOptParam(param_value=BGPCapGracefulRestart(restart_flags=0x4, restart_time=120,
    //     entries=[BGPCapGracefulRestart.GRTuple(afi=1,safi=1,flags=0x80)]))])
    static let openFRRStyle = hex("""
        ffffffffffffffffffffffffffffffff00470104fde8001e0a00010a2a020601040001000102060104000200010202020002024600020641040000fde802084006407800010180
        """)

    // BGPHeader(type=2)/BGPUpdate(path_attr=[ORIGIN IGP, AS_PATH (4-octet) [64512], NEXT_HOP 169.254.6.2, MED 100],
    //   nlri=[10.0.0.0/16, 172.31.0.0/16])  -- what the Transit Gateway sends (specs.md §1.3)
    static let updateFromTGW = hex("""
        ffffffffffffffffffffffffffffffff0038020000001b4001010040020602010000fc00400304a9fe060280040400000064100a0010ac1f
        """)

    // BGPHeader(type=2)/BGPUpdate(path_attr=[ORIGIN IGP, AS_PATH (4-octet) [4200000000, 65001],
    //   BGPPathAttr(type_flags=0x80, type_code=14, attribute=BGPPAMPReachNLRI(afi=2, safi=1, nh_addr_len=32,
    //   nh_v6_global="2001:db8::1", nh_v6_link_local="fe80::1", nlri=[2001:db8:100::/40, ::/0]))])
    static let updateIPv6 = hex("""
        ffffffffffffffffffffffffffffffff005702000000404001010040020a0202fa56ea000000fde9800e2c0002012020010db8\
        000000000000000000000001fe800000000000000000000000000001002820010db80100
        """)

    // BGPHeader(type=2)/BGPUpdate(path_attr=[ORIGIN INCOMPLETE, AS_PATH (2-octet) [65010, 23456, 65001],
    //   NEXT_HOP 192.0.2.1, BGPPathAttr(type_flags=0xc0, type_code=17,
    //   attribute=BGPPAAS4Path(segment_type=2, segment_value=[4200000000, 65001]))], nlri=[198.51.100.0/24])
    static let updateFromTwoOctetSpeaker = hex("""
        ffffffffffffffffffffffffffffffff003e0200000023400101024002080203fdf25ba0fde9400304c0000201c0110a0202fa56ea000000fde918c63364
        """)

    // BGPHeader(type=2)/BGPUpdate(path_attr=[BGPPathAttr(type_flags=0x80, type_code=15,
    //   attribute=BGPPAMPUnreachNLRI(afi=2, safi=1, afi_safi_specific=BGPPAMPUnreachNLRI_IPv6(
    //   withdrawn_routes=[BGPNLRI_IPv6(prefix="2001:db8:100::/40")])))])
    static let withdrawIPv6 = hex("ffffffffffffffffffffffffffffffff0023020000000c800f090002012820010db801")

    // BGPHeader(type=3)/BGPNotification(error_code=6, error_subcode=2)
    static let ceaseShutdown = hex("ffffffffffffffffffffffffffffffff0015030602")
    // BGPHeader(type=4)
    static let keepalive = hex("ffffffffffffffffffffffffffffffff001304")
    // BGPHeader(type=5)/BGPRouteRefresh(afi=2, subtype=0, safi=1)
    static let routeRefreshIPv6 = hex("ffffffffffffffffffffffffffffffff00170500020001")

    @Test func openDecodesAndReencodesByteForByte() throws {
        guard case .success(.open(let open)) = decode(Self.openFRRStyle) else { Issue.record("not an OPEN"); return }
        #expect(open.myAS == 65000)
        #expect(open.holdTime == 30)
        #expect(open.bgpIdentifier == addr4("10.0.1.10"))
        #expect(open.asNumber == 65000)
        #expect(open.capabilities == [
            .multiprotocol(.ipv4Unicast), .multiprotocol(.ipv6Unicast), .routeRefresh, .enhancedRouteRefresh,
            .fourOctetAS(65000),
            .gracefulRestart(GracefulRestartCapability(notification: true, restartTime: 120,
                families: [.init(family: .ipv4Unicast, forwardingPreserved: true)])),
        ])
        #expect(BGPMessage.open(open).encoded() == Self.openFRRStyle)
    }

    @Test func openForFourOctetASUsesASTrans() {
        let open = BGPOpen(asNumber: 4_200_000_001, holdTime: 30, bgpIdentifier: addr4("10.0.1.10"),
                           capabilities: [.multiprotocol(.ipv4Unicast)])
        #expect(open.myAS == 23456)
        #expect(open.asNumber == 4_200_000_001)
        guard case .success(.open(let back)) = decode(BGPMessage.open(open).encoded()) else { Issue.record("round trip"); return }
        #expect(back == open)
    }

    @Test func unknownCapabilityIsKeptRaw() {
        var open = BGPOpen(myAS: 65000, holdTime: 90, bgpIdentifier: addr4("192.0.2.1"),
                           capabilities: [.unknown(code: 73, value: Array("host".utf8)), .routeRefresh])
        open.capabilities.append(.unknown(code: 128, value: []))
        guard case .success(.open(let back)) = decode(BGPMessage.open(open).encoded()) else { Issue.record("round trip"); return }
        #expect(back.capabilities == open.capabilities)
    }

    @Test func updateFromTransitGatewayDecodesAndReencodes() {
        guard let r = receivedUpdate(Self.updateFromTGW) else { return }
        #expect(r.verdict == .accept)
        #expect(r.update.nlri == [prefix4("10.0.0.0/16"), prefix4("172.31.0.0/16")])
        let a = r.update.attributes
        #expect(a.origin == .igp)
        #expect(a.asPath == ASPath(sequence: [64512]))
        #expect(a.nextHop == addr4("169.254.6.2"))
        #expect(a.multiExitDisc == 100)
        #expect(BGPMessage.update(r.update).encoded() == Self.updateFromTGW)
        let changes = r.routeChanges
        #expect(changes.announcedV4.count == 2)
        #expect(changes.nextHopV4 == .v4(addr4("169.254.6.2")))
    }

    @Test func ipv6UpdateWithLinkLocalNextHop() {
        let ctx = UpdateDecodingContext(localAS: 65000, peerAS: 4_200_000_000)
        guard let r = receivedUpdate(Self.updateIPv6, ctx) else { return }
        #expect(r.verdict == .accept)
        #expect(r.update.attributes.asPath == ASPath(sequence: [4_200_000_000, 65001]))
        let reach = r.update.attributes.mpReach
        #expect(reach?.nextHop == .v6(global: addr6("2001:db8::1"), linkLocal: addr6("fe80::1")))
        #expect(reach?.prefixes == [.v6(prefix6("2001:db8:100::/40")), .v6(prefix6("::/0"))])
        #expect(r.routeChanges.announcedV6 == [prefix6("2001:db8:100::/40"), prefix6("::/0")])
        #expect(BGPMessage.update(r.update).encoded() == Self.updateIPv6)
    }

    @Test func twoOctetSpeakerPathIsMergedWithAS4Path() {
        let ctx = UpdateDecodingContext(fourOctetAS: false, localAS: 65000, peerAS: 65010)
        guard let r = receivedUpdate(Self.updateFromTwoOctetSpeaker, ctx) else { return }
        #expect(r.verdict == .accept)
        // AS_PATH 65010 23456 65001 (3) + AS4_PATH 4200000000 65001 (2): keep 1 leading AS.
        #expect(r.update.attributes.asPath == ASPath(sequence: [65010, 4_200_000_000, 65001]))
        #expect(r.update.attributes.origin == .incomplete)
        // Sent back to a 2-octet speaker it becomes AS_TRANS in AS_PATH plus an AS4_PATH, and decodes the same.
        let again = BGPMessage.update(r.update).encoded(fourOctetAS: false)
        #expect(hexString(again).contains("4002080203fdf25ba0fde9")) // AS_PATH 2-octet: 65010 23456 65001
        #expect(receivedUpdate(again, ctx)?.update == r.update)
    }

    @Test func as4PathLongerThanASPathIsIgnored() {
        let path = ASPath.merge(asPath: ASPath(sequence: [65010]), as4Path: ASPath(sequence: [4_200_000_000, 65001]))
        #expect(path == ASPath(sequence: [65010]))
        let withSet = ASPath.merge(asPath: ASPath([.init(.sequence, [1, 23456]), .init(.set, [3, 4])]),
                                   as4Path: ASPath([.init(.sequence, [4_200_000_000]), .init(.set, [3, 4])]))
        #expect(withSet == ASPath([.init(.sequence, [1, 4_200_000_000]), .init(.set, [3, 4])]))
    }

    @Test func ipv6WithdrawalAndEndOfRIB() {
        guard let r = receivedUpdate(Self.withdrawIPv6) else { return }
        #expect(r.routeChanges.withdrawnV6 == [prefix6("2001:db8:100::/40")])
        #expect(r.routeChanges.endOfRIB == nil)
        for family in [AddressFamily.ipv4Unicast, .ipv6Unicast] {
            let eor = BGPMessage.update(.endOfRIB(family)).encoded()
            #expect(receivedUpdate(eor)?.routeChanges.endOfRIB == family)
        }
        #expect(hexString(BGPMessage.update(.endOfRIB(.ipv4Unicast)).encoded()) == String(repeating: "ff", count: 16) + "00170200000000")
    }

    @Test func notificationKeepaliveRouteRefresh() {
        #expect(decode(Self.ceaseShutdown) == .success(.notification(.cease(.administrativeShutdown))))
        #expect(BGPMessage.notification(.cease(.administrativeShutdown)).encoded() == Self.ceaseShutdown)
        #expect(decode(Self.keepalive) == .success(.keepalive))
        #expect(BGPMessage.keepalive.encoded() == Self.keepalive)
        #expect(decode(Self.routeRefreshIPv6) == .success(.routeRefresh(BGPRouteRefresh(family: .ipv6Unicast))))
        #expect(BGPMessage.routeRefresh(BGPRouteRefresh(family: .ipv6Unicast)).encoded() == Self.routeRefreshIPv6)
    }

    @Test func notificationNamesForLogs() {
        #expect(BGPNotification.malformedAttributeList.description == "3/1 UPDATE Message Error: Malformed Attribute List")
        #expect(BGPNotification.administrativeShutdown(message: "maintenance").description
                == "6/2 Cease: Administrative Shutdown \"maintenance\"")
        #expect(BGPNotification.badLength(18).description == "1/2 Message Header Error: Bad Message Length data 0012")
        #expect(BGPNotification.holdTimerExpired.description == "4/0 Hold Timer Expired: Unspecific")
    }

    @Test func everyAttributeRoundTrips() {
        var attrs = PathAttributes(origin: .egp,
            asPath: ASPath([.init(.confedSequence, [65100]), .init(.sequence, [65000, 4_200_000_000]), .init(.set, [1, 2])]),
            nextHop: addr4("192.0.2.9"), multiExitDisc: 7, localPref: 200, atomicAggregate: true,
            aggregator: Aggregator(asNumber: 4_200_000_000, address: addr4("192.0.2.7")),
            communities: Array(0..<100).map { 0xFDE8_0000 | UInt32($0) },   // 400 octets: extended length
            unknown: [RawAttribute(flags: 0xC0, type: 99, value: [1, 2, 3])])
        let update = BGPUpdate(withdrawn: [prefix4("10.1.0.0/16")], attributes: attrs, nlri: [prefix4("0.0.0.0/0"), prefix4("192.0.2.128/25")])
        for four in [true, false] {
            let ctx = UpdateDecodingContext(fourOctetAS: four, localAS: 65001, peerAS: 65001)
            let bytes = BGPMessage.update(update).encoded(fourOctetAS: four)
            guard let r = receivedUpdate(bytes, ctx) else { return }
            attrs.unknown = [RawAttribute(flags: 0xE0, type: 99, value: [1, 2, 3])]  // partial set when passed on
            #expect(r.update.attributes == attrs)
            #expect(r.update.nlri == update.nlri)
            #expect(r.update.withdrawn == update.withdrawn)
            #expect(r.verdict == .accept)
        }
    }

    @Test func longASPathIsSplitIntoSegments() {
        let asns = (1...300).map { UInt32($0) + 64000 }
        let attrs = PathAttributes(origin: .igp, asPath: ASPath(sequence: [64512] + asns), nextHop: addr4("192.0.2.1"))
        let bytes = BGPMessage.update(BGPUpdate(attributes: attrs, nlri: [prefix4("10.0.0.0/8")])).encoded()
        guard let r = receivedUpdate(bytes) else { return }
        #expect(r.update.attributes.asPath?.segments.map(\.asns.count) == [255, 46])
        #expect(r.update.attributes.asPath?.length == 301)
    }

    @Test func unknownNonTransitiveIsDroppedAndPartialBitSetOnTransitive() {
        let attrs = originIGP + asPath64512 + nextHop169 + [0x80, 120, 2, 9, 9] + [0xC0, 121, 1, 7]
        guard let r = receivedUpdate(updateFrame(attributes: attrs, nlri: nlri10_99)) else { return }
        #expect(r.verdict == .accept)
        #expect(r.update.attributes.unknown == [RawAttribute(flags: 0xC0, type: 121, value: [7])])
        #expect(r.discarded.count == 1)
        #expect(hexString(BGPMessage.update(r.update).encoded()).hasSuffix("e07901071" + "80a6300"))
    }

    @Test func nlriEncodingUsesMinimalOctetsAndMasksHostBits() throws {
        var out: [UInt8] = []
        NLRI.encode(prefix4("10.99.0.0/24"), into: &out)
        NLRI.encode(prefix4("0.0.0.0/0"), into: &out)
        NLRI.encode(prefix6("2001:db8::/33"), into: &out)
        #expect(out == [24, 10, 99, 0, 0, 33, 0x20, 0x01, 0x0d, 0xb8, 0x00])
        #expect(try NLRI.decodeIPv4([25, 10, 0, 0, 0xFF][...]) == [prefix4("10.0.0.128/25")])
        #expect(try NLRI.decodeIPv6([33, 0x20, 0x01, 0x0d, 0xb8, 0x80][...]) == [prefix6("2001:db8:8000::/33")])
    }
}

/// Feeds the same stream whole, byte by byte and in random chunks, as NIO's
/// ByteToMessageDecoderVerifier does, and expects the same frames each time.
@Suite struct FrameDecoderTests {
    static let stream: [[UInt8]] = [MessageCodecTests.openFRRStyle, MessageCodecTests.keepalive,
                                    MessageCodecTests.updateFromTGW, MessageCodecTests.updateIPv6,
                                    MessageCodecTests.ceaseShutdown, MessageCodecTests.routeRefreshIPv6]

    static func frames(feeding chunks: [[UInt8]]) throws -> [[UInt8]] {
        var decoder = BGPFrameDecoder()
        var out: [[UInt8]] = []
        for chunk in chunks {
            decoder.append(chunk)
            while let f = try decoder.nextFrame() { out.append(Array(f)) }
        }
        #expect(decoder.bufferedByteCount == 0)
        return out
    }

    @Test func wholeByteByByteAndRandomChunks() throws {
        let all = Self.stream.flatMap { $0 }
        #expect(try Self.frames(feeding: [all]) == Self.stream)
        #expect(try Self.frames(feeding: all.map { [$0] }) == Self.stream)
        var rng = SplitMix64(seed: 42)
        for _ in 0..<50 {
            var chunks: [[UInt8]] = []
            var i = 0
            while i < all.count {
                let n = Int.random(in: 1...80, using: &rng)
                chunks.append(Array(all[i..<min(i + n, all.count)])); i += n
            }
            #expect(try Self.frames(feeding: chunks) == Self.stream)
        }
    }

    @Test func headerErrorsAreReportedBeforeTheBody() throws {
        var d = BGPFrameDecoder()
        d.append([UInt8](repeating: 0xFF, count: 15) + [0xFE, 0, 19, 4])
        #expect(throws: BGPNotification.badMarker) { _ = try d.nextFrame() }
        var short = BGPFrameDecoder()
        short.append(marker + [0, 18, 4])
        #expect(throws: BGPNotification(code: 1, subcode: 2, data: [0, 18])) { _ = try short.nextFrame() }
        var long = BGPFrameDecoder()
        long.append(marker + [0x10, 0x01, 2])
        #expect(throws: BGPNotification(code: 1, subcode: 2, data: [0x10, 0x01])) { _ = try long.nextFrame() }
        var partial = BGPFrameDecoder()
        partial.append(marker + [0, 40])
        #expect((try? partial.nextFrame()) == .some(nil))
        #expect(partial.bufferedByteCount == 18)
    }
}
