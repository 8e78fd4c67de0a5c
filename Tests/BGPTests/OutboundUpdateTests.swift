import Testing
@testable import BGP
import Packet

// The UPDATEs we originate: attributes, packing into 4096-octet messages,
// IPv6 in MP_REACH/MP_UNREACH, and that our own decoder reads them back.

private func decodeAll(_ updates: [BGPUpdate], fourOctetAS: Bool = true, localAS: UInt32 = 64512) throws -> [ReceivedUpdate] {
    let context = UpdateDecodingContext(fourOctetAS: fourOctetAS, localAS: localAS, peerAS: 65000,
                                        families: [.ipv4Unicast, .ipv6Unicast])
    return try updates.map { u in
        let bytes = BGPMessage.update(u).encoded(fourOctetAS: fourOctetAS)
        #expect(bytes.count <= BGPMessage.maximumLength)
        guard case .update(let r) = try InboundMessage.decode(frame: bytes[...], context: context) else {
            Issue.record("not an UPDATE")
            throw BGPNotification.badType(0)
        }
        return r
    }
}

@Test func defaultRouteWithPrependAndNextHop() throws {
    let policy = OriginationPolicy(localAS: 65000, extraPrepends: 2, nextHopV4: addr4("169.254.6.1"))
    let updates = OutboundUpdateBuilder.announce([IPPrefix("0.0.0.0/0")!, IPPrefix("192.0.2.0/24")!], policy: policy)
    #expect(updates.count == 1)
    let r = try #require(try decodeAll(updates).first)
    #expect(r.verdict == .accept)
    #expect(r.update.nlri == [prefix4("0.0.0.0/0"), prefix4("192.0.2.0/24")])
    #expect(r.update.attributes.origin == .igp)
    #expect(r.update.attributes.asPath == ASPath(sequence: [65000, 65000, 65000]))
    #expect(r.update.attributes.nextHop == addr4("169.254.6.1"))
    // Exact bytes of the attribute block: ORIGIN IGP, AS_PATH (one sequence of 3 four-octet ASes), NEXT_HOP.
    let bytes = BGPMessage.update(updates[0]).encoded()
    #expect(hexString(bytes[23..<(23 + 4 + 17 + 7)]) == "40010100" + "40020e0203" + "0000fde8" + "0000fde8" + "0000fde8" + "400304a9fe0601")
}

@Test func twoOctetPeerGetsASTransAndAS4Path() throws {
    let policy = OriginationPolicy(localAS: 4_200_000_000, nextHopV4: addr4("169.254.6.1"))
    let updates = OutboundUpdateBuilder.announce([IPPrefix("0.0.0.0/0")!], policy: policy, fourOctetAS: false)
    let r = try #require(try decodeAll(updates, fourOctetAS: false).first)
    // The receiver rebuilds the real path from AS_PATH (AS_TRANS) and AS4_PATH.
    #expect(r.update.attributes.asPath == ASPath(sequence: [4_200_000_000]))
}

@Test func manyPrefixesAreSplitIntoFullMessages() throws {
    let prefixes = (0..<3000).map { i in IPPrefix.v4(IPv4Prefix(IPv4Address(UInt32(0x0A00_0000 + i << 8)), length: 24)!) }
    let policy = OriginationPolicy(localAS: 65000, nextHopV4: addr4("169.254.6.1"))
    let updates = OutboundUpdateBuilder.announce(prefixes, policy: policy)
    #expect(updates.count == 3)  // 4 octets per /24: about 1000 per message
    let decoded = try decodeAll(updates)
    #expect(decoded.flatMap(\.update.nlri).map(IPPrefix.v4) == prefixes)
    let withdrawals = OutboundUpdateBuilder.withdraw(prefixes)
    #expect(try decodeAll(withdrawals).flatMap(\.update.withdrawn).map(IPPrefix.v4) == prefixes)
}

@Test func ipv6GoesInMPReachAndMPUnreach() throws {
    let v6 = (0..<600).map { i in IPPrefix.v6(IPv6Prefix(IPv6Address(high: 0x2001_0db8_0000_0000 | UInt64(i) << 16, low: 0), length: 48)!) }
    let all = [IPPrefix("::/0")!] + v6 + [IPPrefix("0.0.0.0/0")!]
    let policy = OriginationPolicy(localAS: 65000, nextHopV4: addr4("169.254.6.1"), nextHopV6: addr6("fd00::1"))
    let updates = OutboundUpdateBuilder.announce(all, policy: policy)
    let decoded = try decodeAll(updates)
    #expect(decoded.count == updates.count && updates.count >= 3)
    #expect(decoded.flatMap(\.update.nlri) == [prefix4("0.0.0.0/0")])
    let reach = decoded.compactMap(\.update.attributes.mpReach)
    #expect(reach.allSatisfy { $0.nextHop == .v6(global: addr6("fd00::1"), linkLocal: nil) && $0.family == .ipv6Unicast })
    #expect(reach.flatMap(\.prefixes) == [IPPrefix("::/0")!] + v6)
    #expect(decoded.allSatisfy { $0.verdict == .accept })
    let gone = try decodeAll(OutboundUpdateBuilder.withdraw(v6))
    #expect(gone.compactMap(\.update.attributes.mpUnreach).flatMap(\.prefixes) == v6)
    // The receiver's route changes see them as withdrawals.
    #expect(gone.flatMap(\.routeChanges.withdrawnV6).map(IPPrefix.v6) == v6)
}

@Test func prefixesWithoutANextHopOfTheirFamilyAreNotAnnounced() {
    let policy = OriginationPolicy(localAS: 65000, nextHopV4: nil, nextHopV6: addr6("fd00::1"))
    let updates = OutboundUpdateBuilder.announce([IPPrefix("0.0.0.0/0")!, IPPrefix("::/0")!], policy: policy)
    #expect(updates.count == 1)
    #expect(updates[0].nlri.isEmpty && updates[0].attributes.mpReach?.prefixes == [IPPrefix("::/0")!])
    #expect(OutboundUpdateBuilder.announce([], policy: policy).isEmpty)
    #expect(OutboundUpdateBuilder.withdraw([]).isEmpty)
}
