// The path attribute table: one row per attribute type with its flags rule,
// its RFC 7606 error action, its decoder and its encoder (as BIRD's
// bgp_attr_table). Adding an attribute is adding a row. What to do with a
// failure is decided by `UpdateDecoder`, not here.

import Packet

/// Attribute flag bits (RFC 4271 §4.3).
public enum AttributeFlags {
    public static let optional: UInt8 = 0x80
    public static let transitive: UInt8 = 0x40
    public static let partial: UInt8 = 0x20
    public static let extendedLength: UInt8 = 0x10
}

/// Attribute type codes.
public enum AttributeType {
    public static let origin: UInt8 = 1
    public static let asPath: UInt8 = 2
    public static let nextHop: UInt8 = 3
    public static let multiExitDisc: UInt8 = 4
    public static let localPref: UInt8 = 5
    public static let atomicAggregate: UInt8 = 6
    public static let aggregator: UInt8 = 7
    public static let communities: UInt8 = 8
    public static let mpReachNLRI: UInt8 = 14
    public static let mpUnreachNLRI: UInt8 = 15
    public static let as4Path: UInt8 = 17
    public static let as4Aggregator: UInt8 = 18
}

/// RFC 7606's approaches to a malformed attribute.
public enum AttributeErrorAction: Sendable, Hashable {
    case treatAsWithdraw
    case attributeDiscard
    case sessionReset
}

/// What a row's decoder reports when the value is bad.
enum AttributeFailure: Error {
    /// Malformed: apply the row's RFC 7606 action.
    case malformed(String)
    /// Not an error but unusable here (e.g. a family not negotiated): drop the attribute.
    case ignored(String)
    /// The MP attribute is malformed: 3/9 with the attribute as data (RFC 7606 §7.11).
    case optionalAttributeError(String)
    /// A prefix inside MP_REACH/MP_UNREACH is bad.
    case nlri(NLRIError)
}

/// Everything an UPDATE's attributes are decoded against, from session negotiation.
public struct UpdateDecodingContext: Hashable, Sendable {
    /// Both sides announced the 4-octet AS capability.
    public var fourOctetAS: Bool
    public var localAS: UInt32
    public var peerAS: UInt32
    /// Families negotiated for this session (MP NLRI of other families is ignored).
    public var families: Set<AddressFamily>
    /// Check that an eBGP peer's AS_PATH starts with its AS (BIRD's `enforce first as`).
    public var enforceFirstAS: Bool

    public init(fourOctetAS: Bool = true, localAS: UInt32, peerAS: UInt32,
                families: Set<AddressFamily> = [.ipv4Unicast, .ipv6Unicast], enforceFirstAS: Bool = true) {
        self.fourOctetAS = fourOctetAS; self.localAS = localAS; self.peerAS = peerAS
        self.families = families; self.enforceFirstAS = enforceFirstAS
    }

    public var isEBGP: Bool { localAS != peerAS }
}

/// The attributes decoded so far plus the wire-only AS4 attributes awaiting the merge.
struct AttributeDecodeState {
    var attributes = PathAttributes()
    var as4Path: ASPath?
    var as4Aggregator: Aggregator?
}

/// One attribute type's complete behaviour.
struct AttributeRow: Sendable {
    let type: UInt8
    let name: String
    /// The required Optional and Transitive bits.
    let flags: UInt8
    let onError: AttributeErrorAction
    let decode: @Sendable (inout AttributeDecodeState, ArraySlice<UInt8>, UpdateDecodingContext) throws(AttributeFailure) -> Void
    /// The attribute value to send, or nil when absent. `fourOctet` is the session's AS size.
    let encode: @Sendable (PathAttributes, _ fourOctet: Bool) -> [UInt8]?
}

private func u32Value(_ v: ArraySlice<UInt8>) -> UInt32 {
    var r = ByteReader(v)
    return try! r.u32()
}

private func fixedLength(_ v: ArraySlice<UInt8>, _ n: Int, _ name: String) throws(AttributeFailure) {
    guard v.count == n else { throw .malformed("\(name) length \(v.count), expected \(n)") }
}

private func decodeAggregator(_ v: ArraySlice<UInt8>, fourOctet: Bool, name: String) throws(AttributeFailure) -> Aggregator {
    try fixedLength(v, fourOctet ? 8 : 6, name)
    var r = ByteReader(v)
    let asn = fourOctet ? try! r.u32() : UInt32(try! r.u16())
    return Aggregator(asNumber: asn, address: IPv4Address(try! r.u32()))
}

private func encodeMPPrefixes(_ prefixes: [IPPrefix], into out: inout [UInt8]) {
    for p in prefixes {
        switch p {
        case .v4(let q): NLRI.encode(q, into: &out)
        case .v6(let q): NLRI.encode(q, into: &out)
        }
    }
}

private func decodeMPPrefixes(_ field: ArraySlice<UInt8>, family: AddressFamily) throws(AttributeFailure) -> [IPPrefix] {
    do {
        return family == .ipv4Unicast ? try NLRI.decodeIPv4(field).map(IPPrefix.v4) : try NLRI.decodeIPv6(field).map(IPPrefix.v6)
    } catch {
        throw .nlri(error)
    }
}

/// Reads AFI/SAFI and reports families we cannot or did not agree to carry.
private func readFamily(_ r: inout ByteReader, _ context: UpdateDecodingContext, _ name: String) throws(AttributeFailure) -> AddressFamily {
    guard let afi = try? r.u16(), let safi = try? r.u8() else { throw .optionalAttributeError("\(name) too short") }
    let family = AddressFamily(afi: afi, safi: safi)
    guard family == .ipv4Unicast || family == .ipv6Unicast, context.families.contains(family) else {
        throw .ignored("\(name) for \(family), not negotiated")
    }
    return family
}

/// The table, ordered by type code (the order attributes are encoded in).
let attributeTable: [AttributeRow] = [
    AttributeRow(type: AttributeType.origin, name: "ORIGIN", flags: AttributeFlags.transitive, onError: .treatAsWithdraw,
        decode: { state, v, _ throws(AttributeFailure) in
            try fixedLength(v, 1, "ORIGIN")
            guard let o = Origin(rawValue: v[v.startIndex]) else { throw .malformed("ORIGIN value \(v[v.startIndex])") }
            state.attributes.origin = o
        },
        encode: { a, _ in a.origin.map { [$0.rawValue] } }),

    AttributeRow(type: AttributeType.asPath, name: "AS_PATH", flags: AttributeFlags.transitive, onError: .treatAsWithdraw,
        decode: { state, v, ctx throws(AttributeFailure) in
            guard let path = ASPath.decode(v, fourOctet: ctx.fourOctetAS) else { throw .malformed("AS_PATH malformed segment") }
            state.attributes.asPath = path
        },
        encode: { a, four in
            guard let p = a.asPath else { return nil }
            var out: [UInt8] = []
            p.encode(fourOctet: four, into: &out)
            return out
        }),

    AttributeRow(type: AttributeType.nextHop, name: "NEXT_HOP", flags: AttributeFlags.transitive, onError: .treatAsWithdraw,
        decode: { state, v, _ throws(AttributeFailure) in
            try fixedLength(v, 4, "NEXT_HOP")
            let a = IPv4Address(u32Value(v))
            // Semantically invalid next hops (RFC 4271 §6.3): unspecified, loopback, multicast, class E.
            let top = a.value >> 24
            guard a.value != 0, top != 127, top < 224 else { throw .malformed("NEXT_HOP \(a) is not a unicast address") }
            state.attributes.nextHop = a
        },
        encode: { a, _ in a.nextHop.map(\.bytes) }),

    AttributeRow(type: AttributeType.multiExitDisc, name: "MULTI_EXIT_DISC", flags: AttributeFlags.optional, onError: .treatAsWithdraw,
        decode: { state, v, _ throws(AttributeFailure) in
            try fixedLength(v, 4, "MULTI_EXIT_DISC")
            state.attributes.multiExitDisc = u32Value(v)
        },
        encode: { a, _ in a.multiExitDisc.map { var o: [UInt8] = []; o.appendU32($0); return o } }),

    AttributeRow(type: AttributeType.localPref, name: "LOCAL_PREF", flags: AttributeFlags.transitive, onError: .treatAsWithdraw,
        decode: { state, v, ctx throws(AttributeFailure) in
            try fixedLength(v, 4, "LOCAL_PREF")
            // RFC 7606 §7.5: from an external peer it is discarded, whatever its value.
            guard !ctx.isEBGP else { throw .ignored("LOCAL_PREF from an eBGP peer") }
            state.attributes.localPref = u32Value(v)
        },
        encode: { a, _ in a.localPref.map { var o: [UInt8] = []; o.appendU32($0); return o } }),

    AttributeRow(type: AttributeType.atomicAggregate, name: "ATOMIC_AGGREGATE", flags: AttributeFlags.transitive, onError: .attributeDiscard,
        decode: { state, v, _ throws(AttributeFailure) in
            try fixedLength(v, 0, "ATOMIC_AGGREGATE")
            state.attributes.atomicAggregate = true
        },
        encode: { a, _ in a.atomicAggregate ? [] : nil }),

    AttributeRow(type: AttributeType.aggregator, name: "AGGREGATOR", flags: AttributeFlags.optional | AttributeFlags.transitive,
        onError: .attributeDiscard,
        decode: { state, v, ctx throws(AttributeFailure) in
            state.attributes.aggregator = try decodeAggregator(v, fourOctet: ctx.fourOctetAS, name: "AGGREGATOR")
        },
        encode: { a, four in
            guard let g = a.aggregator else { return nil }
            var o: [UInt8] = []
            if four { o.appendU32(g.asNumber) } else { o.appendU16(g.asNumber > 0xFFFF ? UInt16(asTrans) : UInt16(g.asNumber)) }
            o.appendU32(g.address.value)
            return o
        }),

    AttributeRow(type: AttributeType.communities, name: "COMMUNITIES", flags: AttributeFlags.optional | AttributeFlags.transitive,
        onError: .treatAsWithdraw,
        decode: { state, v, _ throws(AttributeFailure) in
            guard !v.isEmpty, v.count % 4 == 0 else { throw .malformed("COMMUNITIES length \(v.count) is not a non-zero multiple of 4") }
            var r = ByteReader(v)
            var list: [UInt32] = []
            while !r.isEmpty { list.append(try! r.u32()) }
            state.attributes.communities = list
        },
        encode: { a, _ in
            guard let c = a.communities, !c.isEmpty else { return nil }
            var o: [UInt8] = []
            for x in c { o.appendU32(x) }
            return o
        }),

    AttributeRow(type: AttributeType.mpReachNLRI, name: "MP_REACH_NLRI", flags: AttributeFlags.optional, onError: .sessionReset,
        decode: { state, v, ctx throws(AttributeFailure) in
            var r = ByteReader(v)
            let family = try readFamily(&r, ctx, "MP_REACH_NLRI")
            guard let nhLength = try? r.u8(), let nh = try? r.take(Int(nhLength)), (try? r.u8()) != nil else {
                throw .optionalAttributeError("MP_REACH_NLRI too short")
            }
            let nextHop: NextHop
            switch (family, nh.count) {
            case (.ipv4Unicast, 4):
                nextHop = .v4(IPv4Address(u32Value(nh)))
            case (.ipv6Unicast, 16):
                nextHop = .v6(global: IPv6Address(bytes: nh), linkLocal: nil)
            case (.ipv6Unicast, 32):
                nextHop = .v6(global: IPv6Address(bytes: nh.prefix(16)), linkLocal: IPv6Address(bytes: nh.suffix(16)))
            default:
                throw .optionalAttributeError("MP_REACH_NLRI next hop length \(nh.count) for \(family)")
            }
            state.attributes.mpReach = MPReachNLRI(family: family, nextHop: nextHop,
                                                   prefixes: try decodeMPPrefixes(r.rest(), family: family))
        },
        encode: { a, _ in
            guard let m = a.mpReach else { return nil }
            var o: [UInt8] = []
            o.appendU16(m.family.afi); o.append(m.family.safi)
            switch m.nextHop {
            case .v4(let x): o.append(4); o.append(contentsOf: x.bytes)
            case .v6(let g, let ll):
                o.append(ll == nil ? 16 : 32); o.append(contentsOf: g.bytes)
                if let ll { o.append(contentsOf: ll.bytes) }
            }
            o.append(0)
            encodeMPPrefixes(m.prefixes, into: &o)
            return o
        }),

    AttributeRow(type: AttributeType.mpUnreachNLRI, name: "MP_UNREACH_NLRI", flags: AttributeFlags.optional, onError: .sessionReset,
        decode: { state, v, ctx throws(AttributeFailure) in
            var r = ByteReader(v)
            let family = try readFamily(&r, ctx, "MP_UNREACH_NLRI")
            state.attributes.mpUnreach = MPUnreachNLRI(family: family, prefixes: try decodeMPPrefixes(r.rest(), family: family))
        },
        encode: { a, _ in
            guard let m = a.mpUnreach else { return nil }
            var o: [UInt8] = []
            o.appendU16(m.family.afi); o.append(m.family.safi)
            encodeMPPrefixes(m.prefixes, into: &o)
            return o
        }),

    AttributeRow(type: AttributeType.as4Path, name: "AS4_PATH", flags: AttributeFlags.optional | AttributeFlags.transitive,
        onError: .attributeDiscard,
        decode: { state, v, ctx throws(AttributeFailure) in
            // RFC 6793 §6: between two 4-octet speakers it must not appear; discard it.
            guard !ctx.fourOctetAS else { throw .ignored("AS4_PATH from a 4-octet AS speaker") }
            guard let path = ASPath.decode(v, fourOctet: true),
                  !path.segments.contains(where: { $0.type == .confedSequence || $0.type == .confedSet })
            else { throw .malformed("AS4_PATH malformed") }
            state.as4Path = path
        },
        encode: { a, four in
            guard !four, let p = a.asPath, p.needsFourOctets else { return nil }
            var o: [UInt8] = []
            ASPath(p.segments.filter { $0.type == .sequence || $0.type == .set }).encode(fourOctet: true, into: &o)
            return o
        }),

    AttributeRow(type: AttributeType.as4Aggregator, name: "AS4_AGGREGATOR", flags: AttributeFlags.optional | AttributeFlags.transitive,
        onError: .attributeDiscard,
        decode: { state, v, ctx throws(AttributeFailure) in
            guard !ctx.fourOctetAS else { throw .ignored("AS4_AGGREGATOR from a 4-octet AS speaker") }
            state.as4Aggregator = try decodeAggregator(v, fourOctet: true, name: "AS4_AGGREGATOR")
        },
        encode: { a, four in
            guard !four, let g = a.aggregator, g.asNumber > 0xFFFF else { return nil }
            var o: [UInt8] = []
            o.appendU32(g.asNumber); o.appendU32(g.address.value)
            return o
        }),
]

/// Rows by type code for decoding.
let attributeRows: [UInt8: AttributeRow] = Dictionary(uniqueKeysWithValues: attributeTable.map { ($0.type, $0) })
/// The same rows indexed by type (the UPDATE decoder's per-attribute lookup, no hashing).
let attributeRowsByType: [AttributeRow?] = (0...255).map { attributeRows[UInt8($0)] }

/// Appends one attribute with its header, using the extended length form when needed.
func appendAttribute(flags: UInt8, type: UInt8, value: [UInt8], into out: inout [UInt8]) {
    if value.count > 255 {
        out.append(flags | AttributeFlags.extendedLength); out.append(type); out.appendU16(UInt16(value.count))
    } else {
        out.append(flags & ~AttributeFlags.extendedLength); out.append(type); out.append(UInt8(value.count))
    }
    out.append(contentsOf: value)
}

extension PathAttributes {
    /// Encodes the attributes in type order for a session of the given AS size.
    public func encode(fourOctetAS: Bool, into out: inout [UInt8]) {
        var pending = unknown.sorted { $0.type < $1.type }[...]
        for row in attributeTable {
            while let u = pending.first, u.type < row.type { emitUnknown(u, into: &out); pending = pending.dropFirst() }
            if let value = row.encode(self, fourOctetAS) { appendAttribute(flags: row.flags, type: row.type, value: value, into: &out) }
        }
        for u in pending { emitUnknown(u, into: &out) }
    }

    private func emitUnknown(_ u: RawAttribute, into out: inout [UInt8]) {
        // We did not originate it, so passing it on sets Partial (RFC 4271 §5).
        appendAttribute(flags: u.flags | AttributeFlags.partial, type: u.type, value: u.value, into: &out)
    }
}
