// GRE header (RFC 2784, with the key and sequence extensions of RFC 2890).
//
//   0                   1                   2                   3
//   |C|R|K|S|s|Recur|  Flags  | Ver |         Protocol Type         |
//   |      Checksum (optional)      |       Reserved1 (optional)    |
//   |                         Key (optional)                        |
//   |                 Sequence Number (optional)                    |
//
// R, s and Recur are RFC 1701 fields that RFC 2784 retired: a packet with any
// of them set is not accepted, nor is a version other than 0 (1 is PPTP's
// enhanced GRE).

public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let ipv6: UInt16 = 0x86DD
    /// WCCPv2 GRE redirection (followed by a 4-byte redirect header).
    public static let wccp: UInt16 = 0x883E
}

public enum GREError: Error, Equatable, Sendable {
    case truncated
    case unsupportedVersion(UInt8)
    case unsupportedFlags(UInt16)
    case badChecksum
}

/// A parsed GRE header. `headerLength` is where the payload starts.
public struct GREHeader: Equatable, Sendable {
    public static let checksumBit: UInt16 = 0x8000
    public static let routingBit: UInt16 = 0x4000
    public static let keyBit: UInt16 = 0x2000
    public static let sequenceBit: UInt16 = 0x1000
    /// Everything RFC 2784/2890 does not define: s, Recur, reserved flags.
    @usableFromInline static let retiredBits: UInt16 = 0x4FF8

    public var protocolType: UInt16
    public var headerLength: Int
    public var checksumPresent: Bool
    public var key: UInt32?
    public var sequence: UInt32?

    @inlinable
    public init(protocolType: UInt16, headerLength: Int, checksumPresent: Bool, key: UInt32?, sequence: UInt32?) {
        self.protocolType = protocolType
        self.headerLength = headerLength
        self.checksumPresent = checksumPresent
        self.key = key
        self.sequence = sequence
    }

    /// Parses and checks a GRE header over a packet of `length` bytes
    /// (header and payload). The checksum, when present, is verified over
    /// the whole GRE packet as RFC 2784 §2.5 says.
    @inlinable
    public static func parse(_ p: UnsafeRawPointer, length: Int) -> Result<GREHeader, GREError> {
        guard length >= 4 else { return .failure(.truncated) }
        let flags = p.u16(0)
        let version = UInt8(flags & 0x7)
        guard version == 0 else { return .failure(.unsupportedVersion(version)) }
        guard flags & retiredBits == 0 else { return .failure(.unsupportedFlags(flags & retiredBits)) }
        let c = flags & checksumBit != 0
        let k = flags & keyBit != 0
        let s = flags & sequenceBit != 0
        let hl = 4 + (c ? 4 : 0) + (k ? 4 : 0) + (s ? 4 : 0)
        guard length >= hl else { return .failure(.truncated) }
        var offset = 4
        if c {
            guard InternetChecksum.compute(p, length) == 0 else { return .failure(.badChecksum) }
            offset += 4
        }
        var key: UInt32? = nil
        if k { key = p.u32(offset); offset += 4 }
        var seq: UInt32? = nil
        if s { seq = p.u32(offset) }
        return .success(GREHeader(protocolType: p.u16(2), headerLength: hl, checksumPresent: c, key: key, sequence: seq))
    }

    /// Header length for what `write` emits.
    @inlinable
    public static func length(key: UInt32?) -> Int { key == nil ? 4 : 8 }

    /// Writes a GRE header with no checksum or sequence number; returns its length.
    @inlinable @discardableResult
    public static func write(into p: UnsafeMutableRawPointer, protocolType: UInt16, key: UInt32?) -> Int {
        if let key {
            p.setU16(keyBit, 0)
            p.setU16(protocolType, 2)
            p.setU32(key, 4)
            return 8
        }
        p.setU16(0, 0)
        p.setU16(protocolType, 2)
        return 4
    }
}
