// IPv4 header (RFC 791) as a zero-copy view over packet memory.

public enum IPProtocolNumber {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let gre: UInt8 = 47
    public static let ipv6: UInt8 = 41
    public static let icmpv6: UInt8 = 58
    public static let noNextHeader: UInt8 = 59
}

/// Why a header failed validation. Each maps to a drop reason upstream.
public enum HeaderError: Error, Equatable, Sendable {
    case truncated
    case badVersion
    case badHeaderLength
    case badTotalLength
    case badChecksum
}

public struct IPv4Header {
    public static let minimumLength = 20

    public let base: UnsafeMutableRawPointer

    @inlinable public init(_ base: UnsafeMutableRawPointer) { self.base = base }

    @inlinable var raw: UnsafeRawPointer { UnsafeRawPointer(base) }

    @inlinable public var version: UInt8 { raw.u8(0) >> 4 }
    /// Header length in bytes (IHL × 4).
    @inlinable public var headerLength: Int { Int(raw.u8(0) & 0x0F) * 4 }
    @inlinable public var tos: UInt8 { raw.u8(1) }
    @inlinable public var totalLength: Int { Int(raw.u16(2)) }
    @inlinable public var identification: UInt16 { raw.u16(4) }
    @inlinable public var dontFragment: Bool { raw.u8(6) & 0x40 != 0 }
    @inlinable public var moreFragments: Bool { raw.u8(6) & 0x20 != 0 }
    /// Fragment offset in 8-byte units.
    @inlinable public var fragmentOffset: UInt16 { raw.u16(6) & 0x1FFF }
    /// True for the second and later fragments (no transport header here).
    @inlinable public var isNonFirstFragment: Bool { fragmentOffset != 0 }
    @inlinable public var isFragment: Bool { raw.u16(6) & 0x3FFF != 0 }
    @inlinable public var ttl: UInt8 {
        get { raw.u8(8) }
        nonmutating set { base.setU8(newValue, 8) }
    }
    @inlinable public var proto: UInt8 { raw.u8(9) }
    @inlinable public var checksum: UInt16 {
        get { raw.u16(10) }
        nonmutating set { base.setU16(newValue, 10) }
    }
    @inlinable public var source: IPv4Address { IPv4Address(raw.u32(12)) }
    @inlinable public var destination: IPv4Address { IPv4Address(raw.u32(16)) }
    /// The transport header (after options).
    @inlinable public var payload: UnsafeMutableRawPointer { base + headerLength }

    /// Checks an IPv4 header that starts at `base` in a buffer of `available`
    /// bytes. Returns the total length the header claims (≤ available).
    @inlinable
    public static func validate(_ base: UnsafeRawPointer, available: Int) -> Result<Int, HeaderError> {
        guard available >= minimumLength else { return .failure(.truncated) }
        let vihl = base.u8(0)
        guard vihl >> 4 == 4 else { return .failure(.badVersion) }
        let hl = Int(vihl & 0x0F) * 4
        guard hl >= minimumLength, hl <= available else { return .failure(.badHeaderLength) }
        let total = Int(base.u16(2))
        guard total >= hl, total <= available else { return .failure(.badTotalLength) }
        guard InternetChecksum.compute(base, hl) == 0 else { return .failure(.badChecksum) }
        return .success(total)
    }

    /// Decrements the TTL and patches the checksum incrementally (RFC 1624):
    /// the TTL shares a 16-bit word with the protocol field.
    @inlinable
    public func decrementTTL() {
        let oldWord = raw.u16(8)
        base.setU8(raw.u8(8) &- 1, 8)
        checksum = InternetChecksum.update(checksum, old: oldWord, new: raw.u16(8))
    }

    /// Writes a 20-byte header with no options and a correct checksum.
    @inlinable
    public static func write(into p: UnsafeMutableRawPointer, totalLength: Int, identification: UInt16 = 0,
                             dontFragment: Bool, ttl: UInt8, proto: UInt8, tos: UInt8 = 0,
                             source: IPv4Address, destination: IPv4Address) {
        p.setU8(0x45, 0)
        p.setU8(tos, 1)
        p.setU16(UInt16(truncatingIfNeeded: totalLength), 2)
        p.setU16(identification, 4)
        p.setU16(dontFragment ? 0x4000 : 0, 6)
        p.setU8(ttl, 8)
        p.setU8(proto, 9)
        p.setU16(0, 10)
        p.setU32(source.value, 12)
        p.setU32(destination.value, 16)
        p.setU16(InternetChecksum.compute(UnsafeRawPointer(p), 20), 10)
    }
}
