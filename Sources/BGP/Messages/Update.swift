// UPDATE messages (RFC 4271 §4.3) and the single place that decides what a
// malformed UPDATE costs (RFC 7606, RFC 6793 §6, modelled on BIRD 2.0):
// accept, treat-as-withdraw, attribute-discard, or session reset with the
// exact NOTIFICATION (thrown).

import Packet

/// An UPDATE as it travels on the wire.
public struct BGPUpdate: Hashable, Sendable {
    public var withdrawn: [IPv4Prefix]
    public var attributes: PathAttributes
    public var nlri: [IPv4Prefix]

    public init(withdrawn: [IPv4Prefix] = [], attributes: PathAttributes = PathAttributes(), nlri: [IPv4Prefix] = []) {
        self.withdrawn = withdrawn; self.attributes = attributes; self.nlri = nlri
    }

    /// The End-of-RIB marker for a family (RFC 4724 §2).
    public static func endOfRIB(_ family: AddressFamily) -> BGPUpdate {
        family == .ipv4Unicast ? BGPUpdate()
            : BGPUpdate(attributes: PathAttributes(mpUnreach: MPUnreachNLRI(family: family, prefixes: [])))
    }

    /// The family this UPDATE marks End-of-RIB for, if it is such a marker.
    public var endOfRIB: AddressFamily? {
        if withdrawn.isEmpty, nlri.isEmpty, attributes == PathAttributes() { return .ipv4Unicast }
        var bare = PathAttributes()
        bare.mpUnreach = attributes.mpUnreach
        if withdrawn.isEmpty, nlri.isEmpty, let u = attributes.mpUnreach, u.prefixes.isEmpty, attributes == bare { return u.family }
        return nil
    }

    func encodeBody(fourOctetAS: Bool, into out: inout [UInt8]) {
        let wStart = out.count
        out.appendU16(0)
        for p in withdrawn { NLRI.encode(p, into: &out) }
        out.setU16(UInt16(out.count - wStart - 2), at: wStart)
        let aStart = out.count
        out.appendU16(0)
        attributes.encode(fourOctetAS: fourOctetAS, into: &out)
        out.setU16(UInt16(out.count - aStart - 2), at: aStart)
        for p in nlri { NLRI.encode(p, into: &out) }
    }
}

/// What the receiver must do with a decoded UPDATE.
public enum UpdateVerdict: Hashable, Sendable {
    /// Use it as sent.
    case accept
    /// RFC 7606 treat-as-withdraw: every announced prefix becomes a withdrawal; the session stays.
    case treatAsWithdraw(reason: String)
    /// Our AS is in the AS_PATH: the announced routes are dropped silently (loop), as a withdrawal.
    case asPathLoop
}

/// An UPDATE after error handling: the parsed message (attributes already
/// cleaned by attribute-discard and the AS4 merge) and its verdict.
public struct ReceivedUpdate: Hashable, Sendable {
    public var update: BGPUpdate
    public var verdict: UpdateVerdict
    /// Attributes dropped by attribute-discard (or not applicable), with reasons, for logs.
    public var discarded: [String]

    /// The changes to apply to the Adj-RIB-In, with the verdict applied.
    public var routeChanges: RouteChanges {
        var c = RouteChanges(attributes: update.attributes.routeAttributes)
        c.withdrawnV4 = update.withdrawn
        c.nextHopV4 = update.attributes.nextHop.map(NextHop.v4)
        c.endOfRIB = update.endOfRIB
        if let u = update.attributes.mpUnreach {
            for p in u.prefixes { switch p { case .v4(let q): c.withdrawnV4.append(q); case .v6(let q): c.withdrawnV6.append(q) } }
        }
        var v4 = update.nlri
        var v6: [IPv6Prefix] = []
        if let r = update.attributes.mpReach {
            for p in r.prefixes { switch p { case .v4(let q): v4.append(q); case .v6(let q): v6.append(q) } }
            if r.family == .ipv6Unicast { c.nextHopV6 = r.nextHop } else if !r.prefixes.isEmpty, update.nlri.isEmpty { c.nextHopV4 = r.nextHop }
        }
        if verdict == .accept {
            c.announcedV4 = v4; c.announcedV6 = v6
        } else {
            c.withdrawnV4 += v4; c.withdrawnV6 += v6
        }
        return c
    }
}

/// Routes to add and remove, both families, sharing one attribute set.
public struct RouteChanges: Hashable, Sendable {
    public var attributes: PathAttributes
    public var announcedV4: [IPv4Prefix] = []
    public var nextHopV4: NextHop?
    public var announcedV6: [IPv6Prefix] = []
    public var nextHopV6: NextHop?
    public var withdrawnV4: [IPv4Prefix] = []
    public var withdrawnV6: [IPv6Prefix] = []
    public var endOfRIB: AddressFamily?
    public init(attributes: PathAttributes) { self.attributes = attributes }
}

/// Decodes UPDATE bodies and applies RFC 7606 in one place.
public enum UpdateDecoder {
    /// Decodes the body (after the 19-octet header). Throws the NOTIFICATION when the session must reset.
    public static func decode(body: ArraySlice<UInt8>, context: UpdateDecodingContext) throws(BGPNotification) -> ReceivedUpdate {
        var r = ByteReader(body)
        // Withdrawn routes and the attribute block must fit the message: else 3/1 (RFC 7606 §4 leaves these to reset).
        guard let wLength = try? r.u16(), let wField = try? r.take(Int(wLength)),
              let aLength = try? r.u16(), let aField = try? r.take(Int(aLength)) else {
            throw .malformedAttributeList
        }
        let nlriField = r.rest()
        let withdrawn: [IPv4Prefix], nlri: [IPv4Prefix]
        do {
            withdrawn = try NLRI.decodeIPv4(wField)
            nlri = try NLRI.decodeIPv4(nlriField)
        } catch {
            throw error.notification
        }

        var state = AttributeDecodeState()
        var withdrawReasons: [String] = []
        var discarded: [String] = []
        // Attribute types seen so far, one bit per type.
        var seen: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var a = ByteReader(aField)
        attributeLoop: while !a.isEmpty {
            let start = a.bytes.startIndex
            // Framing (RFC 7606 §4): header or value overrunning the block is treat-as-withdraw.
            guard let flags = try? a.u8(), let type = try? a.u8(),
                  let length = flags & AttributeFlags.extendedLength != 0 ? (try? a.u16()).map(Int.init) : (try? a.u8()).map(Int.init),
                  let value = try? a.take(length) else {
                withdrawReasons.append("attribute list framing error at offset \(start - aField.startIndex)")
                break attributeLoop
            }
            // The whole attribute, header included: the data of a NOTIFICATION about it.
            let end = a.bytes.startIndex
            var whole: [UInt8] { Array(aField[start..<end]) }
            // RFC 7606 §3 g: repeated MP attributes reset; any other repeat keeps the first.
            let bit = UInt64(1) << UInt64(type & 63)
            let firstTime: Bool
            switch type >> 6 {
            case 0: firstTime = seen.0 & bit == 0; seen.0 |= bit
            case 1: firstTime = seen.1 & bit == 0; seen.1 |= bit
            case 2: firstTime = seen.2 & bit == 0; seen.2 |= bit
            default: firstTime = seen.3 & bit == 0; seen.3 |= bit
            }
            guard firstTime else {
                if type == AttributeType.mpReachNLRI || type == AttributeType.mpUnreachNLRI { throw .malformedAttributeList }
                discarded.append("repeated attribute type \(type)")
                continue
            }
            guard let row = attributeRowsByType[Int(type)] else {
                if flags & AttributeFlags.optional == 0 {
                    withdrawReasons.append("unrecognized well-known attribute type \(type)")
                } else if flags & AttributeFlags.transitive != 0 {
                    state.attributes.unknown.append(RawAttribute(flags: flags & ~AttributeFlags.extendedLength, type: type, value: Array(value)))
                } else {
                    discarded.append("unknown optional non-transitive attribute type \(type)")
                }
                continue
            }
            let failure: AttributeFailure?
            if flags & (AttributeFlags.optional | AttributeFlags.transitive) != row.flags {
                // RFC 7606 §3 c: treat-as-withdraw unless the attribute's own rules differ;
                // where they reset the session, RFC 4271 §6.3 names the subcode (3/4).
                if row.onError == .sessionReset { throw .attributeFlagsError(whole) }
                failure = .malformed("\(row.name) flags 0x\(String(flags, radix: 16))")
            } else {
                do { try row.decode(&state, value, context); failure = nil } catch { failure = error }
            }
            switch failure {
            case nil: break
            case .ignored(let reason)?: discarded.append(reason)
            case .optionalAttributeError?: throw .optionalAttributeError(whole)
            case .nlri(let e)?: throw e.notification
            case .malformed(let reason)?:
                switch row.onError {
                case .treatAsWithdraw: withdrawReasons.append(reason)
                case .attributeDiscard: discarded.append(reason)
                case .sessionReset: throw .optionalAttributeError(whole)
                }
            }
        }

        var attrs = state.attributes
        // RFC 6793 §4.2.3: rebuild the real path and aggregator of a 2-octet speaker.
        if !context.fourOctetAS {
            if let agg = attrs.aggregator, agg.asNumber != asTrans {
                // A real 2-octet aggregator means AS4 information is stale: ignore both.
                if state.as4Aggregator != nil || state.as4Path != nil { discarded.append("AS4 attributes ignored (AGGREGATOR not AS_TRANS)") }
            } else {
                if let a4 = state.as4Aggregator { attrs.aggregator = a4 }
                if let a4 = state.as4Path, let path = attrs.asPath { attrs.asPath = ASPath.merge(asPath: path, as4Path: a4) }
            }
        }

        let announces = !nlri.isEmpty || !(attrs.mpReach?.prefixes.isEmpty ?? true)
        if announces {
            // RFC 7606 §3 d: a missing mandatory attribute is treat-as-withdraw.
            if attrs.origin == nil { withdrawReasons.append("ORIGIN missing") }
            if attrs.asPath == nil { withdrawReasons.append("AS_PATH missing") }
            if !nlri.isEmpty, attrs.nextHop == nil { withdrawReasons.append("NEXT_HOP missing") }
            if context.isEBGP, context.enforceFirstAS, let path = attrs.asPath, path.firstAS != context.peerAS {
                withdrawReasons.append("AS_PATH does not start with the peer's AS \(context.peerAS)")
            }
        }
        // RFC 7606 §5.2 as BIRD applies it: treat-as-withdraw needs NLRI to withdraw.
        if !withdrawReasons.isEmpty, nlri.isEmpty, attrs.mpReach == nil { throw .malformedAttributeList }

        let verdict: UpdateVerdict
        if let reason = withdrawReasons.first {
            verdict = .treatAsWithdraw(reason: withdrawReasons.count == 1 ? reason : withdrawReasons.joined(separator: "; "))
        } else if announces, attrs.asPath?.contains(context.localAS) == true {
            verdict = .asPathLoop
        } else {
            verdict = .accept
        }
        return ReceivedUpdate(update: BGPUpdate(withdrawn: withdrawn, attributes: attrs, nlri: nlri),
                              verdict: verdict, discarded: discarded)
    }
}
