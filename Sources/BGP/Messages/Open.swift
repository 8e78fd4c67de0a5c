// OPEN messages (RFC 4271 §4.2) and the capabilities carried in their
// optional parameters (RFC 5492): multiprotocol (RFC 4760), route refresh
// (RFC 2918, 7313), 4-octet AS (RFC 6793), graceful restart (RFC 4724).
// Capabilities we do not know are kept as raw bytes.

import Packet

/// An AFI/SAFI pair.
public struct AddressFamily: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var afi: UInt16
    public var safi: UInt8

    public init(afi: UInt16, safi: UInt8) { self.afi = afi; self.safi = safi }

    /// IPv4 unicast (1/1).
    public static let ipv4Unicast = AddressFamily(afi: 1, safi: 1)
    /// IPv6 unicast (2/1).
    public static let ipv6Unicast = AddressFamily(afi: 2, safi: 1)

    public static func < (a: AddressFamily, b: AddressFamily) -> Bool { (a.afi, a.safi) < (b.afi, b.safi) }

    public var description: String {
        switch self {
        case .ipv4Unicast: "IPv4 Unicast"
        case .ipv6Unicast: "IPv6 Unicast"
        default: "AFI \(afi) SAFI \(safi)"
        }
    }
}

/// The AS number a 4-octet speaker puts in 2-octet fields (RFC 6793).
public let asTrans: UInt32 = 23456

/// Graceful restart capability contents (RFC 4724 §3).
public struct GracefulRestartCapability: Hashable, Sendable {
    /// One AFI/SAFI the speaker preserves forwarding state for.
    public struct Family: Hashable, Sendable {
        public var family: AddressFamily
        /// F bit: forwarding state was preserved across the restart.
        public var forwardingPreserved: Bool
        public init(family: AddressFamily, forwardingPreserved: Bool) {
            self.family = family; self.forwardingPreserved = forwardingPreserved
        }
    }
    /// R bit: the speaker has restarted.
    public var restarting: Bool
    /// N bit: graceful notification supported (RFC 8538).
    public var notification: Bool
    /// Restart time in seconds (12 bits).
    public var restartTime: UInt16
    public var families: [Family]

    public init(restarting: Bool = false, notification: Bool = false, restartTime: UInt16, families: [Family]) {
        self.restarting = restarting; self.notification = notification
        self.restartTime = restartTime & 0x0FFF; self.families = families
    }
}

/// One capability of an OPEN.
public enum Capability: Hashable, Sendable {
    case multiprotocol(AddressFamily)
    case routeRefresh
    case enhancedRouteRefresh
    case fourOctetAS(UInt32)
    case gracefulRestart(GracefulRestartCapability)
    /// Anything else, kept as received.
    case unknown(code: UInt8, value: [UInt8])

    /// Capability codes (IANA).
    public enum Code {
        public static let multiprotocol: UInt8 = 1
        public static let routeRefresh: UInt8 = 2
        public static let gracefulRestart: UInt8 = 64
        public static let fourOctetAS: UInt8 = 65
        public static let enhancedRouteRefresh: UInt8 = 70
    }

    public var code: UInt8 {
        switch self {
        case .multiprotocol: Code.multiprotocol
        case .routeRefresh: Code.routeRefresh
        case .enhancedRouteRefresh: Code.enhancedRouteRefresh
        case .fourOctetAS: Code.fourOctetAS
        case .gracefulRestart: Code.gracefulRestart
        case .unknown(let code, _): code
        }
    }

    /// Code, length and value as they appear inside the capabilities parameter.
    public func encode(into out: inout [UInt8]) {
        out.append(code)
        let lengthIndex = out.count
        out.append(0)
        switch self {
        case .multiprotocol(let f):
            out.appendU16(f.afi); out.append(0); out.append(f.safi)
        case .routeRefresh, .enhancedRouteRefresh:
            break
        case .fourOctetAS(let asn):
            out.appendU32(asn)
        case .gracefulRestart(let gr):
            let flags: UInt16 = (gr.restarting ? 0x8000 : 0) | (gr.notification ? 0x4000 : 0)
            out.appendU16(flags | gr.restartTime & 0x0FFF)
            for f in gr.families {
                out.appendU16(f.family.afi); out.append(f.family.safi); out.append(f.forwardingPreserved ? 0x80 : 0)
            }
        case .unknown(_, let value):
            out.append(contentsOf: value)
        }
        out[lengthIndex] = UInt8(out.count - lengthIndex - 1)
    }

    /// Decodes one capability value; a known capability with a wrong length is
    /// a malformed OPEN.
    static func decode(code: UInt8, value: ArraySlice<UInt8>) throws(BGPNotification) -> Capability {
        var r = ByteReader(value)
        do {
            switch code {
            case Code.multiprotocol:
                guard value.count == 4 else { throw ShortRead() }
                let afi = try r.u16(); _ = try r.u8(); let safi = try r.u8()
                return .multiprotocol(AddressFamily(afi: afi, safi: safi))
            case Code.routeRefresh where value.isEmpty:
                return .routeRefresh
            case Code.enhancedRouteRefresh where value.isEmpty:
                return .enhancedRouteRefresh
            case Code.fourOctetAS:
                guard value.count == 4 else { throw ShortRead() }
                return .fourOctetAS(try r.u32())
            case Code.gracefulRestart:
                guard value.count >= 2, (value.count - 2) % 4 == 0 else { throw ShortRead() }
                let head = try r.u16()
                var families: [GracefulRestartCapability.Family] = []
                while !r.isEmpty {
                    let afi = try r.u16(); let safi = try r.u8(); let flags = try r.u8()
                    families.append(.init(family: AddressFamily(afi: afi, safi: safi), forwardingPreserved: flags & 0x80 != 0))
                }
                return .gracefulRestart(GracefulRestartCapability(
                    restarting: head & 0x8000 != 0, notification: head & 0x4000 != 0,
                    restartTime: head & 0x0FFF, families: families))
            default:
                return .unknown(code: code, value: Array(value))
            }
        } catch {
            throw BGPNotification.malformedOpen
        }
    }
}

/// An OPEN message.
public struct BGPOpen: Hashable, Sendable {
    /// Always 4 on encode; decoding rejects anything else.
    public var version: UInt8 = 4
    /// The 2-octet My Autonomous System field (AS_TRANS for 4-octet ASes).
    public var myAS: UInt16
    public var holdTime: UInt16
    public var bgpIdentifier: IPv4Address
    public var capabilities: [Capability]
    /// Optional parameters other than capabilities, kept raw (type, value).
    public var otherParameters: [RawParameter] = []

    /// An optional parameter we do not understand.
    public struct RawParameter: Hashable, Sendable {
        public var type: UInt8
        public var value: [UInt8]
    }

    /// Builds an OPEN for `asNumber`, setting My AS to AS_TRANS and adding the
    /// 4-octet AS capability as RFC 6793 requires.
    public init(asNumber: UInt32, holdTime: UInt16, bgpIdentifier: IPv4Address, capabilities: [Capability]) {
        self.myAS = asNumber > 0xFFFF ? UInt16(asTrans) : UInt16(asNumber)
        self.holdTime = holdTime
        self.bgpIdentifier = bgpIdentifier
        var caps = capabilities.filter { if case .fourOctetAS = $0 { return false } else { return true } }
        caps.append(.fourOctetAS(asNumber))
        self.capabilities = caps
    }

    /// Builds an OPEN field by field (tests, 2-octet speakers).
    public init(myAS: UInt16, holdTime: UInt16, bgpIdentifier: IPv4Address, capabilities: [Capability]) {
        self.myAS = myAS; self.holdTime = holdTime; self.bgpIdentifier = bgpIdentifier; self.capabilities = capabilities
    }

    /// The sender's AS: the 4-octet capability if present, else My AS.
    public var asNumber: UInt32 {
        for c in capabilities { if case .fourOctetAS(let asn) = c { return asn } }
        return UInt32(myAS)
    }

    func encodeBody(into out: inout [UInt8]) {
        out.append(version); out.appendU16(myAS); out.appendU16(holdTime); out.appendU32(bgpIdentifier.value)
        var params: [UInt8] = []
        if !capabilities.isEmpty {
            // One capability per parameter is what FRR and BIRD send too; fine for every peer.
            for c in capabilities {
                var cap: [UInt8] = []
                c.encode(into: &cap)
                params.append(2); params.append(UInt8(cap.count)); params.append(contentsOf: cap)
            }
        }
        for p in otherParameters {
            params.append(p.type); params.append(UInt8(p.value.count)); params.append(contentsOf: p.value)
        }
        out.append(UInt8(params.count)); out.append(contentsOf: params)
    }

    /// Decodes an OPEN body, checking what can be checked without configuration
    /// (version, identifier, hold time, parameter structure).
    static func decodeBody(_ body: ArraySlice<UInt8>) throws(BGPNotification) -> BGPOpen {
        var r = ByteReader(body)
        do {
            let version = try r.u8()
            guard version == 4 else { throw BGPNotification.unsupportedVersion }
            let myAS = try r.u16()
            let hold = try r.u16()
            let id = try r.u32()
            let paramLength = Int(try r.u8())
            guard r.remaining == paramLength else { throw BGPNotification.malformedOpen }
            // Hold time 1 and 2 are unacceptable (RFC 4271 §6.2); 0 disables keepalives.
            guard hold == 0 || hold >= 3 else { throw BGPNotification.unacceptableHoldTime }
            guard id != 0 else { throw BGPNotification.badBGPIdentifier }
            var open = BGPOpen(myAS: myAS, holdTime: hold, bgpIdentifier: IPv4Address(id), capabilities: [])
            while !r.isEmpty {
                let type = try r.u8()
                let length = Int(try r.u8())
                let value = try r.take(length)
                guard type == 2 else {
                    throw BGPNotification.unsupportedOptionalParameter([type, UInt8(length)] + value)
                }
                var cr = ByteReader(value)
                while !cr.isEmpty {
                    let code = try cr.u8()
                    let len = Int(try cr.u8())
                    open.capabilities.append(try Capability.decode(code: code, value: try cr.take(len)))
                }
            }
            return open
        } catch let n as BGPNotification {
            throw n
        } catch {
            throw BGPNotification.malformedOpen
        }
    }
}

/// A ROUTE-REFRESH message (RFC 2918; subtypes from RFC 7313).
public struct BGPRouteRefresh: Hashable, Sendable {
    public enum Subtype: UInt8, Sendable {
        case request = 0
        case beginningOfRouteRefresh = 1
        case endOfRouteRefresh = 2
    }
    public var family: AddressFamily
    public var subtype: UInt8

    public init(family: AddressFamily, subtype: Subtype = .request) {
        self.family = family; self.subtype = subtype.rawValue
    }
}
