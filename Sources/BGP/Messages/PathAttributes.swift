// Path attribute values (RFC 4271 §5, RFC 4760, RFC 6793, RFC 1997). The
// wire rules for each attribute live in one row of `AttributeTable`; this
// file holds only the typed values.

import Packet

/// ORIGIN values.
public enum Origin: UInt8, Hashable, Comparable, Sendable, CustomStringConvertible {
    case igp = 0
    case egp = 1
    case incomplete = 2

    public static func < (a: Origin, b: Origin) -> Bool { a.rawValue < b.rawValue }
    /// The one-letter code of `show ip bgp` (i, e, ?).
    public var description: String {
        switch self {
        case .igp: "i"
        case .egp: "e"
        case .incomplete: "?"
        }
    }
}

/// An AS_PATH (or AS4_PATH): segments of AS numbers, always held as 4-octet values.
public struct ASPath: Hashable, Sendable, CustomStringConvertible {
    public enum SegmentType: UInt8, Sendable {
        case set = 1
        case sequence = 2
        case confedSequence = 3
        case confedSet = 4
    }

    public struct Segment: Hashable, Sendable {
        public var type: SegmentType
        public var asns: [UInt32]
        public init(_ type: SegmentType, _ asns: [UInt32]) { self.type = type; self.asns = asns }
    }

    public var segments: [Segment]

    public init(_ segments: [Segment] = []) { self.segments = segments }
    /// A path made of one AS_SEQUENCE.
    public init(sequence: [UInt32]) { segments = sequence.isEmpty ? [] : [Segment(.sequence, sequence)] }

    /// Path length for the decision process and RFC 6793 merging: each AS of a
    /// sequence counts, a set counts one, confederation segments count zero.
    public var length: Int {
        segments.reduce(0) { n, s in
            switch s.type {
            case .sequence: n + s.asns.count
            case .set: n + 1
            case .confedSequence, .confedSet: n
            }
        }
    }

    /// The neighbouring AS: first AS of a leading AS_SEQUENCE (RFC 4271 §9.1.2.2).
    public var firstAS: UInt32? {
        guard let s = segments.first(where: { $0.type != .confedSequence && $0.type != .confedSet }),
              s.type == .sequence else { return nil }
        return s.asns.first
    }

    public func contains(_ asn: UInt32) -> Bool { segments.contains { $0.asns.contains(asn) } }

    /// This path with `asn` prepended, as sent to an eBGP peer.
    public func prepending(_ asn: UInt32) -> ASPath {
        var copy = self
        if let first = copy.segments.first, first.type == .sequence, first.asns.count < 255 {
            copy.segments[0].asns.insert(asn, at: 0)
        } else {
            copy.segments.insert(Segment(.sequence, [asn]), at: 0)
        }
        return copy
    }

    /// Whether any AS needs four octets (then a 2-octet peer also gets AS4_PATH).
    var needsFourOctets: Bool { segments.contains { $0.asns.contains { $0 > 0xFFFF } } }

    /// FRR's rendering: "64512 65000 {1 2} (65001)".
    public var description: String {
        segments.map { s in
            let list = s.asns.map(String.init).joined(separator: " ")
            switch s.type {
            case .sequence: return list
            case .set: return "{\(list)}"
            case .confedSequence: return "(\(list))"
            case .confedSet: return "[\(list)]"
            }
        }.joined(separator: " ")
    }

    func encode(fourOctet: Bool, into out: inout [UInt8]) {
        for s in segments {
            // Segments longer than 255 ASes are split, as the length octet requires.
            var start = 0
            repeat {
                let chunk = s.asns[start..<min(start + 255, s.asns.count)]
                out.append(s.type.rawValue); out.append(UInt8(chunk.count))
                for asn in chunk {
                    if fourOctet { out.appendU32(asn) } else { out.appendU16(asn > 0xFFFF ? UInt16(asTrans) : UInt16(asn)) }
                }
                start += 255
            } while start < s.asns.count
        }
    }

    /// Decodes segments; nil if malformed (unknown segment type, zero-length
    /// segment, or a segment overrunning the attribute, RFC 7606 §7.2).
    static func decode(_ value: ArraySlice<UInt8>, fourOctet: Bool) -> ASPath? {
        var r = ByteReader(value)
        var segments: [Segment] = []
        let size = fourOctet ? 4 : 2
        while !r.isEmpty {
            guard let rawType = try? r.u8(), let type = SegmentType(rawValue: rawType),
                  let count = try? r.u8(), count > 0,
                  let body = try? r.take(Int(count) * size) else { return nil }
            var br = ByteReader(body)
            var asns: [UInt32] = []
            asns.reserveCapacity(Int(count))
            for _ in 0..<count {
                asns.append(fourOctet ? try! br.u32() : UInt32(try! br.u16()))
            }
            segments.append(Segment(type, asns))
        }
        return ASPath(segments)
    }

    /// RFC 6793 §4.2.3: rebuilds the true path from a 2-octet AS_PATH and an AS4_PATH.
    static func merge(asPath: ASPath, as4Path: ASPath) -> ASPath {
        let excess = asPath.length - as4Path.length
        // An AS4_PATH longer than the AS_PATH is ignored.
        guard excess >= 0 else { return asPath }
        // Keep the leading `excess` ASes of AS_PATH (ASes added by 2-octet speakers), then AS4_PATH.
        var kept: [Segment] = []
        var need = excess
        // Confederation segments count zero and never appear in AS4_PATH, so leading ones are always kept.
        for s in asPath.segments {
            switch s.type {
            case .confedSequence, .confedSet:
                kept.append(s)
            case .sequence where need > 0:
                let take = min(need, s.asns.count)
                kept.append(Segment(.sequence, Array(s.asns.prefix(take))))
                need -= take
            case .set where need > 0:
                kept.append(s); need -= 1
            case .sequence, .set:
                break
            }
            if need == 0, s.type == .sequence || s.type == .set { break }
        }
        var merged = kept
        for s in as4Path.segments {
            if s.type == .sequence, let last = merged.last, last.type == .sequence, last.asns.count + s.asns.count <= 255 {
                merged[merged.count - 1].asns += s.asns
            } else {
                merged.append(s)
            }
        }
        return ASPath(merged)
    }
}

/// AGGREGATOR: the AS and router that formed an aggregate.
public struct Aggregator: Hashable, Sendable {
    public var asNumber: UInt32
    public var address: IPv4Address
    public init(asNumber: UInt32, address: IPv4Address) { self.asNumber = asNumber; self.address = address }
}

/// A next hop as routes carry it: IPv4, or IPv6 global with an optional link-local (RFC 2545).
public enum NextHop: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(global: IPv6Address, linkLocal: IPv6Address?)

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let g, let ll): ll.map { "\(g) (\($0))" } ?? g.description
        }
    }
}

/// MP_REACH_NLRI (RFC 4760) for IPv4 or IPv6 unicast.
public struct MPReachNLRI: Hashable, Sendable {
    public var family: AddressFamily
    public var nextHop: NextHop
    public var prefixes: [IPPrefix]
    public init(family: AddressFamily, nextHop: NextHop, prefixes: [IPPrefix]) {
        self.family = family; self.nextHop = nextHop; self.prefixes = prefixes
    }
}

/// MP_UNREACH_NLRI (RFC 4760). No prefixes for IPv6 unicast is End-of-RIB.
public struct MPUnreachNLRI: Hashable, Sendable {
    public var family: AddressFamily
    public var prefixes: [IPPrefix]
    public init(family: AddressFamily, prefixes: [IPPrefix]) { self.family = family; self.prefixes = prefixes }
}

/// An attribute kept as received (unknown optional transitive).
public struct RawAttribute: Hashable, Sendable {
    public var flags: UInt8
    public var type: UInt8
    public var value: [UInt8]
    public init(flags: UInt8, type: UInt8, value: [UInt8]) { self.flags = flags; self.type = type; self.value = value }
}

/// The path attributes of an UPDATE. AS numbers are always 4-octet here:
/// AS4_PATH/AS4_AGGREGATOR exist only on the wire toward 2-octet speakers
/// and are merged on decode and produced on encode.
public struct PathAttributes: Hashable, Sendable {
    public var origin: Origin?
    public var asPath: ASPath?
    public var nextHop: IPv4Address?
    public var multiExitDisc: UInt32?
    public var localPref: UInt32?
    public var atomicAggregate: Bool = false
    public var aggregator: Aggregator?
    public var communities: [UInt32]?
    public var mpReach: MPReachNLRI?
    public var mpUnreach: MPUnreachNLRI?
    /// Unknown optional transitive attributes, passed on with the partial bit set.
    public var unknown: [RawAttribute] = []

    public init(origin: Origin? = nil, asPath: ASPath? = nil, nextHop: IPv4Address? = nil,
                multiExitDisc: UInt32? = nil, localPref: UInt32? = nil, atomicAggregate: Bool = false,
                aggregator: Aggregator? = nil, communities: [UInt32]? = nil,
                mpReach: MPReachNLRI? = nil, mpUnreach: MPUnreachNLRI? = nil, unknown: [RawAttribute] = []) {
        self.origin = origin; self.asPath = asPath; self.nextHop = nextHop; self.multiExitDisc = multiExitDisc
        self.localPref = localPref; self.atomicAggregate = atomicAggregate; self.aggregator = aggregator
        self.communities = communities; self.mpReach = mpReach; self.mpUnreach = mpUnreach; self.unknown = unknown
    }

    /// The attributes that describe a route, without the MP NLRI carriers.
    public var routeAttributes: PathAttributes {
        var copy = self
        copy.mpReach = nil
        copy.mpUnreach = nil
        return copy
    }
}
