// Building the UPDATEs we send: our own routes (the default route and
// configured networks) toward an eBGP peer, and their withdrawals. Prefixes
// are packed into as few messages as fit in 4096 octets; IPv4 goes in the
// classic NLRI field with NEXT_HOP, IPv6 in MP_REACH_NLRI / MP_UNREACH_NLRI
// (RFC 4760).

import Packet

/// How our routes look to one peer: the path attributes we originate.
public struct OriginationPolicy: Hashable, Sendable {
    /// Our AS, prepended once (eBGP) plus `extraPrepends` times.
    public var localAS: UInt32
    public var extraPrepends: Int
    /// NEXT_HOP for IPv4 routes: our address on the session (the tunnel's inside .1).
    public var nextHopV4: IPv4Address?
    /// MP_REACH next hop for IPv6 routes (our /125 address); nil: IPv6 routes are not sent.
    public var nextHopV6: IPv6Address?
    /// ORIGIN of originated routes (FRR's `network` gives IGP).
    public var origin: Origin = .igp

    public init(localAS: UInt32, extraPrepends: Int = 0, nextHopV4: IPv4Address?, nextHopV6: IPv6Address? = nil) {
        self.localAS = localAS; self.extraPrepends = extraPrepends; self.nextHopV4 = nextHopV4; self.nextHopV6 = nextHopV6
    }

    /// The AS_PATH sent to an eBGP peer: our AS, 1 + extraPrepends times.
    public var asPath: ASPath { ASPath(sequence: Array(repeating: localAS, count: 1 + max(0, extraPrepends))) }
}

/// Builds the UPDATE messages that announce or withdraw our routes.
public enum OutboundUpdateBuilder {
    /// Room for NLRI in one message: 4096 less the header, the two length fields and the attributes.
    public static func room(attributes: PathAttributes, fourOctetAS: Bool) -> Int {
        var encoded: [UInt8] = []
        attributes.encode(fourOctetAS: fourOctetAS, into: &encoded)
        return BGPMessage.maximumLength - BGPMessage.headerLength - 4 - encoded.count
    }

    /// `prefixes` split by family, each in its order: the IPv4 ones (for the NLRI and withdrawn
    /// fields) and the IPv6 ones (for MP_REACH_NLRI and MP_UNREACH_NLRI).
    static func byFamily(_ prefixes: [IPPrefix]) -> (v4: [IPv4Prefix], v6: [IPPrefix]) {
        var v4: [IPv4Prefix] = [], v6: [IPPrefix] = []
        for p in prefixes {
            switch p {
            case .v4(let q): v4.append(q)
            case .v6: v6.append(p)
            }
        }
        return (v4, v6)
    }

    /// UPDATEs announcing `prefixes` with `policy`'s attributes. IPv4 prefixes are
    /// left out without an IPv4 next hop, IPv6 prefixes without an IPv6 next hop.
    public static func announce(_ prefixes: [IPPrefix], policy: OriginationPolicy, fourOctetAS: Bool = true) -> [BGPUpdate] {
        let (v4, v6) = byFamily(prefixes)
        var updates: [BGPUpdate] = []
        let base = PathAttributes(origin: policy.origin, asPath: policy.asPath)
        if let nh = policy.nextHopV4, !v4.isEmpty {
            var attributes = base
            attributes.nextHop = nh
            let room = room(attributes: attributes, fourOctetAS: fourOctetAS)
            for chunk in chunks(v4, room: room, size: nlriSize) {
                updates.append(BGPUpdate(attributes: attributes, nlri: chunk))
            }
        }
        if let nh = policy.nextHopV6, !v6.isEmpty {
            var attributes = base
            // MP_REACH header: AFI, SAFI, next hop length and value, reserved octet; plus the attribute header (4 with extended length).
            attributes.mpReach = MPReachNLRI(family: .ipv6Unicast, nextHop: .v6(global: nh, linkLocal: nil), prefixes: [])
            let room = room(attributes: attributes, fourOctetAS: fourOctetAS) - 1
            for chunk in chunks(v6, room: room, size: nlriSize) {
                attributes.mpReach!.prefixes = chunk
                updates.append(BGPUpdate(attributes: attributes))
            }
        }
        return updates
    }

    /// UPDATEs withdrawing `prefixes` (IPv4 in the withdrawn field, IPv6 in MP_UNREACH_NLRI).
    public static func withdraw(_ prefixes: [IPPrefix]) -> [BGPUpdate] {
        let (v4, v6) = byFamily(prefixes)
        var updates: [BGPUpdate] = []
        let room = BGPMessage.maximumLength - BGPMessage.headerLength - 4
        for chunk in chunks(v4, room: room, size: nlriSize) { updates.append(BGPUpdate(withdrawn: chunk)) }
        // MP_UNREACH: 4-octet attribute header (extended length) + AFI/SAFI.
        for chunk in chunks(v6, room: room - 7, size: nlriSize) {
            updates.append(BGPUpdate(attributes: PathAttributes(mpUnreach: MPUnreachNLRI(family: .ipv6Unicast, prefixes: chunk))))
        }
        return updates
    }

    public static func nlriSize(_ p: IPv4Prefix) -> Int { 1 + (Int(p.length) + 7) / 8 }
    static func nlriSize(_ p: IPPrefix) -> Int {
        switch p {
        case .v4(let q): nlriSize(q)
        case .v6(let q): 1 + (Int(q.length) + 7) / 8
        }
    }

    /// Splits `items` into runs whose encoded sizes fit `room` octets.
    public static func chunks<T>(_ items: [T], room: Int, size: (T) -> Int) -> [[T]] {
        var result: [[T]] = []
        var current: [T] = []
        var used = 0
        for item in items {
            let s = size(item)
            if used + s > room, !current.isEmpty {
                result.append(current)
                current = []
                used = 0
            }
            current.append(item)
            used += s
        }
        if !current.isEmpty { result.append(current) }
        return result
    }
}
