// RFC 7606 / RFC 4271 §6 error handling, one test per case of the
// bgp-peers.md table (BIRD 2.0.12's outcome is the expected one), plus the
// header, OPEN and MP cases. Session resets are asserted on the exact bytes
// of the NOTIFICATION we would send.

import Testing
@testable import BGP
import Packet

/// A treat-as-withdraw must keep the session and turn 10.99.0.0/24 into a withdrawal.
func expectTreatAsWithdraw(_ bytes: [UInt8], _ context: UpdateDecodingContext = ebgpContext,
                           sourceLocation: SourceLocation = #_sourceLocation) {
    guard let r = receivedUpdate(bytes, context, sourceLocation: sourceLocation) else { return }
    guard case .treatAsWithdraw = r.verdict else {
        Issue.record("verdict \(r.verdict), expected treat-as-withdraw", sourceLocation: sourceLocation); return
    }
    #expect(r.routeChanges.announcedV4.isEmpty, sourceLocation: sourceLocation)
    #expect(r.routeChanges.withdrawnV4 == [prefix4("10.99.0.0/24")], sourceLocation: sourceLocation)
}

@Suite struct BIRDTableCases {
    @Test func originLength2() {
        expectTreatAsWithdraw(updateFrame(attributes: [0x40, 1, 2, 0, 0] + asPath64512 + nextHop169, nlri: nlri10_99))
    }

    @Test func localPrefLengthOverrunsAttributeBlock() {
        // LOCAL_PREF claims 4 octets, 2 remain in the block.
        expectTreatAsWithdraw(updateFrame(attributes: originIGP + asPath64512 + nextHop169 + [0x40, 5, 4, 0, 0], nlri: nlri10_99))
    }

    @Test func originFlagsOptionalTransitive() {
        expectTreatAsWithdraw(updateFrame(attributes: [0xC0, 1, 1, 0] + asPath64512 + nextHop169, nlri: nlri10_99))
    }

    @Test func nextHopMissing() {
        expectTreatAsWithdraw(updateFrame(attributes: originIGP + asPath64512, nlri: nlri10_99))
    }

    @Test func originValue7() {
        expectTreatAsWithdraw(updateFrame(attributes: [0x40, 1, 1, 7] + asPath64512 + nextHop169, nlri: nlri10_99))
    }

    @Test func asPathSegmentOverruns() {
        // Segment claims 2 ASes (8 octets), 4 present.
        expectTreatAsWithdraw(updateFrame(attributes: originIGP + [0x40, 2, 6, 2, 2, 0, 0, 0xFC, 0] + nextHop169, nlri: nlri10_99))
    }

    @Test func medLength2() {
        expectTreatAsWithdraw(updateFrame(attributes: originIGP + asPath64512 + nextHop169 + [0x80, 4, 2, 0, 1], nlri: nlri10_99))
    }

    @Test func originTwiceKeepsTheFirst() {
        guard let r = receivedUpdate(updateFrame(attributes: originIGP + [0x40, 1, 1, 2] + asPath64512 + nextHop169, nlri: nlri10_99))
        else { return }
        #expect(r.verdict == .accept)
        #expect(r.update.attributes.origin == .igp)
        #expect(r.routeChanges.announcedV4 == [prefix4("10.99.0.0/24")])
    }

    @Test func unknownTypeFlaggedWellKnown() {
        expectTreatAsWithdraw(updateFrame(attributes: originIGP + asPath64512 + nextHop169 + [0x40, 99, 1, 0], nlri: nlri10_99))
    }

    @Test func totalPathAttributeLengthExceedsMessage() {
        var bytes = updateFrame(attributes: originIGP + asPath64512 + nextHop169, nlri: nlri10_99)
        bytes[19 + 2 + 1] = 200   // attribute length low octet: 200 > what the message holds
        #expect(notificationBytes(for: bytes) == notificationHeader(21) + "0301")
    }

    @Test func nlriTruncated() {
        #expect(notificationBytes(for: updateFrame(attributes: originIGP + asPath64512 + nextHop169, nlri: [24, 10, 99]))
                == notificationHeader(21) + "0301")
    }

    @Test func nlriPrefixLength33() {
        #expect(notificationBytes(for: updateFrame(attributes: originIGP + asPath64512 + nextHop169, nlri: [33, 10, 99, 0, 0, 0]))
                == notificationHeader(21) + "030a")
    }
}

@Suite struct MoreUpdateErrorCases {
    @Test func validProbeRouteIsAccepted() {
        let r = receivedUpdate(updateFrame(attributes: originIGP + asPath64512 + nextHop169, nlri: nlri10_99))
        #expect(r?.verdict == .accept)
        #expect(r?.routeChanges.announcedV4 == [prefix4("10.99.0.0/24")])
    }

    @Test func withdrawnRoutesOverrunAndBadPrefix() {
        #expect(notificationBytes(for: frame(type: 2, body: [0, 9, 24, 10, 0, 0, 0, 0])) == notificationHeader(21) + "0301")
        #expect(notificationBytes(for: updateFrame(withdrawn: [40, 1, 2, 3, 4, 5], attributes: [])) == notificationHeader(21) + "030a")
    }

    @Test func framingErrorWithoutNLRIResets() {
        // Nothing to withdraw: BIRD (RFC 7606 §5.2) resets with 3/1.
        #expect(notificationBytes(for: updateFrame(withdrawn: nlri10_99, attributes: [0x40, 5, 4, 0])) == notificationHeader(21) + "0301")
    }

    @Test func communitiesLength3() {
        expectTreatAsWithdraw(updateFrame(attributes: originIGP + asPath64512 + nextHop169 + [0xC0, 8, 3, 1, 2, 3], nlri: nlri10_99))
    }

    @Test func nextHopZeroOrMulticast() {
        expectTreatAsWithdraw(updateFrame(attributes: originIGP + asPath64512 + [0x40, 3, 4, 0, 0, 0, 0], nlri: nlri10_99))
        expectTreatAsWithdraw(updateFrame(attributes: originIGP + asPath64512 + [0x40, 3, 4, 224, 0, 0, 5], nlri: nlri10_99))
        expectTreatAsWithdraw(updateFrame(attributes: originIGP + asPath64512 + [0x40, 3, 5, 1, 2, 3, 4, 5], nlri: nlri10_99))
    }

    @Test func firstASMustBeThePeer() {
        let path: [UInt8] = [0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xE9]   // 65001, not 64512
        expectTreatAsWithdraw(updateFrame(attributes: originIGP + path + nextHop169, nlri: nlri10_99))
    }

    @Test func ownASInPathIsALoopNotAnError() {
        // 64512 65000: the Transit Gateway reflecting our own default route back (specs.md §1.3).
        let path: [UInt8] = [0x40, 2, 10, 2, 2, 0, 0, 0xFC, 0x00, 0, 0, 0xFD, 0xE8]
        guard let r = receivedUpdate(updateFrame(attributes: originIGP + path + nextHop169, nlri: [0])) else { return }
        #expect(r.verdict == .asPathLoop)
        #expect(r.routeChanges.withdrawnV4 == [prefix4("0.0.0.0/0")])
        #expect(r.routeChanges.announcedV4.isEmpty)
    }

    @Test func attributeDiscardCasesKeepTheRoute() {
        let cases: [[UInt8]] = [
            [0x40, 6, 1, 0],                       // ATOMIC_AGGREGATE length 1
            [0xC0, 7, 5, 0, 1, 2, 3, 4],           // AGGREGATOR length 5 on a 4-octet session
            [0x40, 5, 4, 0, 0, 0, 200],            // LOCAL_PREF from an eBGP peer
            [0xC0, 17, 6, 2, 1, 0, 0, 0xFC, 0],    // AS4_PATH from a 4-octet speaker
        ]
        for extra in cases {
            guard let r = receivedUpdate(updateFrame(attributes: originIGP + asPath64512 + nextHop169 + extra, nlri: nlri10_99))
            else { continue }
            #expect(r.verdict == .accept, "\(hexString(extra))")
            #expect(r.discarded.count == 1, "\(hexString(extra))")
            #expect(r.update.attributes.aggregator == nil && r.update.attributes.localPref == nil && !r.update.attributes.atomicAggregate)
        }
    }

    @Test func malformedAS4PathFromTwoOctetSpeakerIsDiscarded() {
        let ctx = UpdateDecodingContext(fourOctetAS: false, localAS: 65000, peerAS: 64512)
        let path2: [UInt8] = [0x40, 2, 4, 2, 1, 0xFC, 0x00]
        let badAS4: [UInt8] = [0xC0, 17, 5, 2, 2, 0, 0, 1]
        guard let r = receivedUpdate(updateFrame(attributes: originIGP + path2 + nextHop169 + badAS4, nlri: nlri10_99), ctx) else { return }
        #expect(r.verdict == .accept)
        #expect(r.update.attributes.asPath == ASPath(sequence: [64512]))
        #expect(r.discarded == ["AS4_PATH malformed"])
    }

    @Test func mpReachErrorsResetTheSession() {
        // Next hop length 5 for IPv6: 3/9 with the whole attribute as data.
        let badNH: [UInt8] = [0x80, 14, 10, 0, 2, 1, 5, 1, 2, 3, 4, 5, 0]
        #expect(notificationBytes(for: updateFrame(attributes: originIGP + asPath64512 + badNH))
                == notificationHeader(34) + "0309" + hexString(badNH))
        // IPv6 prefix length 129: 3/10.
        var mp: [UInt8] = [0, 2, 1, 16] + addr6("2001:db8::1").bytes + [0, 129] + [UInt8](repeating: 0, count: 17)
        mp = [0x80, 14, UInt8(mp.count)] + mp
        #expect(notificationBytes(for: updateFrame(attributes: originIGP + asPath64512 + mp)) == notificationHeader(21) + "030a")
        // MP_REACH flagged well-known transitive (0x40): 3/4 Attribute Flags Error with the attribute.
        var flagged: [UInt8] = [0x40, 14, 0, 0, 2, 1, 16] + addr6("2001:db8::1").bytes + [0]
        flagged[2] = UInt8(flagged.count - 3)
        #expect(notificationBytes(for: updateFrame(attributes: originIGP + asPath64512 + flagged))
                == notificationHeader(21 + flagged.count) + "0304" + hexString(flagged))
        // MP_UNREACH flagged optional transitive (0xC0): 3/4 as well.
        let unreachFlagged: [UInt8] = [0xC0, 15, 3, 0, 2, 1]
        #expect(notificationBytes(for: updateFrame(attributes: unreachFlagged))
                == notificationHeader(21 + unreachFlagged.count) + "0304" + hexString(unreachFlagged))
        // MP_UNREACH twice: 3/1.
        let unreach: [UInt8] = [0x80, 15, 3, 0, 2, 1]
        #expect(notificationBytes(for: updateFrame(attributes: unreach + unreach)) == notificationHeader(21) + "0301")
    }

    @Test func mpReachOfAFamilyNotNegotiatedIsIgnored() {
        let ctx = UpdateDecodingContext(localAS: 65000, peerAS: 64512, families: [.ipv4Unicast])
        var mp: [UInt8] = [0, 2, 1, 16] + addr6("2001:db8::1").bytes + [0, 32, 0x20, 0x01, 0x0d, 0xb8]
        mp = [0x80, 14, UInt8(mp.count)] + mp
        guard let r = receivedUpdate(updateFrame(attributes: originIGP + asPath64512 + nextHop169 + mp, nlri: nlri10_99), ctx) else { return }
        #expect(r.verdict == .accept)
        #expect(r.update.attributes.mpReach == nil)
        #expect(r.routeChanges.announcedV6.isEmpty)
    }

    @Test func ipv6TreatAsWithdrawWithdrawsMPReachPrefixes() {
        var mp: [UInt8] = [0, 2, 1, 16] + addr6("2001:db8::1").bytes + [0, 32, 0x20, 0x01, 0x0d, 0xb8]
        mp = [0x80, 14, UInt8(mp.count)] + mp
        guard let r = receivedUpdate(updateFrame(attributes: [0x40, 1, 1, 9] + asPath64512 + mp)) else { return }
        guard case .treatAsWithdraw = r.verdict else { Issue.record("verdict \(r.verdict)"); return }
        #expect(r.routeChanges.withdrawnV6 == [prefix6("2001:db8::/32")])
        #expect(r.routeChanges.announcedV6.isEmpty)
    }
}

@Suite struct HeaderAndOpenErrors {
    static let validOpenBody: [UInt8] = [4, 0xFD, 0xE8, 0, 30, 10, 0, 1, 10, 0]

    @Test func headerErrors() {
        var badMarker = MessageCodecTests.keepalive
        badMarker[3] = 0
        #expect(notificationBytes(for: badMarker) == notificationHeader(21) + "0101")
        #expect(notificationBytes(for: frame(type: 4, body: [0])) == notificationHeader(23) + "01020014")
        #expect(notificationBytes(for: frame(type: 2, body: [0, 0])) == notificationHeader(23) + "01020015")
        #expect(notificationBytes(for: frame(type: 9, body: [])) == notificationHeader(22) + "010309")
        #expect(notificationBytes(for: frame(type: 1, body: [4, 0])) == notificationHeader(23) + "01020015")
    }

    @Test func openErrors() {
        var v3 = Self.validOpenBody; v3[0] = 3
        #expect(notificationBytes(for: frame(type: 1, body: v3)) == notificationHeader(23) + "02010004")
        var zeroID = Self.validOpenBody; zeroID[5...8] = [0, 0, 0, 0]
        #expect(notificationBytes(for: frame(type: 1, body: zeroID)) == notificationHeader(21) + "0203")
        for hold: UInt8 in [1, 2] {
            var h = Self.validOpenBody; h[4] = hold
            #expect(notificationBytes(for: frame(type: 1, body: h)) == notificationHeader(21) + "0206")
        }
        var h0 = Self.validOpenBody; h0[4] = 0
        guard case .success(.open(let open)) = decode(frame(type: 1, body: h0)) else { Issue.record("hold 0 rejected"); return }
        #expect(open.holdTime == 0)
        // Optional parameter type 1 (authentication, deprecated): 2/4 with the parameter as data.
        var auth = Self.validOpenBody; auth[9] = 3; auth += [1, 1, 0xAA]
        #expect(notificationBytes(for: frame(type: 1, body: auth)) == notificationHeader(24) + "0204" + "0101aa")
        // Parameter length disagreeing with the message: 2/0.
        var bad = Self.validOpenBody; bad[9] = 5; bad += [2, 2, 2, 0]
        #expect(notificationBytes(for: frame(type: 1, body: bad)) == notificationHeader(21) + "0200")
        // Known capability with a wrong length (4-octet AS with 2 octets): 2/0.
        var cap = Self.validOpenBody; cap[9] = 6; cap += [2, 4, 65, 2, 0, 1]
        #expect(notificationBytes(for: frame(type: 1, body: cap)) == notificationHeader(21) + "0200")
    }

    @Test func routeRefreshWithWrongLength() {
        let rr = frame(type: 5, body: [0, 1, 0, 1, 0])
        #expect(notificationBytes(for: rr) == notificationHeader(21 + rr.count) + "0701" + hexString(rr))
    }

    @Test func ceaseAndShutdownCommunication() {
        #expect(hexString(BGPMessage.notification(.administrativeShutdown(message: "bye")).encoded())
                == notificationHeader(25) + "060203627965")
        #expect(hexString(BGPMessage.notification(.maximumPrefixesReached(.ipv4Unicast, limit: 1000)).encoded())
                == notificationHeader(28) + "0601" + "000101000003e8")
        #expect(hexString(BGPMessage.notification(.cease(.connectionCollisionResolution)).encoded()) == notificationHeader(21) + "0607")
        #expect(hexString(BGPMessage.notification(.cease(.administrativeReset)).encoded()) == notificationHeader(21) + "0604")
    }
}
