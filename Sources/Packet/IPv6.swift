// IPv6 fixed header (RFC 8200) as a zero-copy view over packet memory.

public struct IPv6Header {
    public static let length = 40
    /// The minimum MTU every IPv6 link has; ICMPv6 errors must fit in it.
    public static let minimumMTU = 1280

    public let base: UnsafeMutableRawPointer

    @inlinable public init(_ base: UnsafeMutableRawPointer) { self.base = base }

    @inlinable var raw: UnsafeRawPointer { UnsafeRawPointer(base) }

    @inlinable public var version: UInt8 { raw.u8(0) >> 4 }
    @inlinable public var trafficClass: UInt8 { UInt8(truncatingIfNeeded: raw.u16(0) >> 4) }
    @inlinable public var flowLabel: UInt32 { raw.u32(0) & 0x000F_FFFF }
    @inlinable public var payloadLength: Int { Int(raw.u16(4)) }
    @inlinable public var nextHeader: UInt8 { raw.u8(6) }
    @inlinable public var hopLimit: UInt8 {
        get { raw.u8(7) }
        nonmutating set { base.setU8(newValue, 7) }
    }
    @inlinable public var source: IPv6Address { IPv6Address(high: raw.u64(8), low: raw.u64(16)) }
    @inlinable public var destination: IPv6Address { IPv6Address(high: raw.u64(24), low: raw.u64(32)) }
    @inlinable public var payload: UnsafeMutableRawPointer { base + Self.length }

    /// Checks an IPv6 header in `available` bytes; returns the total packet
    /// length it claims (40 + payload length ≤ available). Jumbograms
    /// (payload length 0 with a hop-by-hop jumbo option) are not accepted.
    @inlinable
    public static func validate(_ base: UnsafeRawPointer, available: Int) -> Result<Int, HeaderError> {
        guard available >= length else { return .failure(.truncated) }
        guard base.u8(0) >> 4 == 6 else { return .failure(.badVersion) }
        let total = length + Int(base.u16(4))
        guard total <= available else { return .failure(.badTotalLength) }
        return .success(total)
    }

    /// Writes a fixed header.
    @inlinable
    public static func write(into p: UnsafeMutableRawPointer, payloadLength: Int, nextHeader: UInt8, hopLimit: UInt8,
                             source: IPv6Address, destination: IPv6Address, trafficClass: UInt8 = 0) {
        p.setU32(0x6000_0000 | UInt32(trafficClass) << 20, 0)
        p.setU16(UInt16(truncatingIfNeeded: payloadLength), 4)
        p.setU8(nextHeader, 6)
        p.setU8(hopLimit, 7)
        p.setU64(source.high, 8)
        p.setU64(source.low, 16)
        p.setU64(destination.high, 24)
        p.setU64(destination.low, 32)
    }
}
