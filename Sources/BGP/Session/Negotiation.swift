// Checking the peer's OPEN against our configuration and deriving what the
// session uses: hold and keepalive times, AS size, families, refresh, GR.

import Packet

/// The result of OPEN exchange: what both sides agreed on.
public struct NegotiatedSession: Hashable, Sendable {
    public var peerAS: UInt32
    public var peerIdentifier: IPv4Address
    /// Negotiated hold time in seconds; 0: no hold timer and no keepalives.
    public var holdTime: UInt16
    /// Keepalive interval in seconds (0 when hold time is 0).
    public var keepaliveTime: UInt16
    /// Both sides support 4-octet AS numbers.
    public var fourOctetAS: Bool
    /// Families both sides announced (IPv4 unicast when the peer sent no multiprotocol capability).
    public var families: Set<AddressFamily>
    public var routeRefresh: Bool
    public var enhancedRouteRefresh: Bool
    /// The peer's graceful restart capability, if it sent one.
    public var peerGracefulRestart: GracefulRestartCapability?
    /// The context to decode this peer's UPDATEs with.
    public var decodingContext: UpdateDecodingContext
}

enum OpenNegotiation {
    /// Validates `open` (RFC 4271 §6.2, RFC 6793, RFC 5492) and negotiates.
    static func negotiate(_ open: BGPOpen, configuration c: BGPSessionConfiguration) throws(BGPNotification) -> NegotiatedSession {
        let peerFourOctet = open.capabilities.contains { if case .fourOctetAS = $0 { true } else { false } }
        // Without the capability, AS_TRANS or any mismatch is a bad peer AS.
        guard open.asNumber == c.peerAS, peerFourOctet || open.myAS != UInt16(asTrans) else { throw .badPeerAS }
        // RFC 6286 §2.2: an internal peer must not share our identifier.
        if !c.isEBGP, open.bgpIdentifier == c.routerID { throw .badBGPIdentifier }

        let offered = Set(open.capabilities.compactMap { if case .multiprotocol(let f) = $0 { f } else { nil } })
        let theirs = offered.isEmpty ? [AddressFamily.ipv4Unicast] : offered
        let common = Set(c.families).intersection(theirs)
        if common.isEmpty, c.requireCommonFamily {
            var data: [UInt8] = []
            for f in c.families { Capability.multiprotocol(f).encode(into: &data) }
            throw .unsupportedCapability(data)
        }

        let hold = c.holdTime == 0 || open.holdTime == 0 ? 0 : min(c.holdTime, open.holdTime)
        let keepalive = hold == 0 ? 0 : max(1, min(c.keepaliveTime, hold / 3))
        let refresh = c.routeRefresh && open.capabilities.contains(.routeRefresh)
        let enhanced = refresh && open.capabilities.contains(.enhancedRouteRefresh)
        let gr = open.capabilities.lazy.compactMap { if case .gracefulRestart(let g) = $0 { g } else { nil } }.first
        let context = UpdateDecodingContext(fourOctetAS: peerFourOctet, localAS: c.localAS, peerAS: c.peerAS, families: common)
        return NegotiatedSession(peerAS: open.asNumber, peerIdentifier: open.bgpIdentifier, holdTime: hold,
                                 keepaliveTime: keepalive, fourOctetAS: peerFourOctet, families: common,
                                 routeRefresh: refresh, enhancedRouteRefresh: enhanced,
                                 peerGracefulRestart: gr, decodingContext: context)
    }
}
