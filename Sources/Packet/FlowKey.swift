// The 5-tuple of a packet and a fast, well-mixed hash of it. ECMP and
// worker selection use the hash; it must be the same for every packet of a
// flow, so fragments and unknown protocols hash on addresses only.

public enum FlowHash {
    /// The finaliser of MurmurHash3 (fmix64): full avalanche in a few
    /// multiplies, no table, no allocation.
    @inlinable @inline(__always)
    public static func mix(_ x: UInt64) -> UInt64 {
        var k = x
        k ^= k >> 33
        k &*= 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33
        k &*= 0xC4CE_B9FE_1A85_EC53
        k ^= k >> 33
        return k
    }

    @inlinable @inline(__always)
    public static func combine(_ a: UInt64, _ b: UInt64) -> UInt64 {
        mix(a &+ 0x9E37_79B9_7F4A_7C15 &* mix(b))
    }

    /// Hash of an IPv4 flow; `ports` is sport << 16 | dport (0 when none).
    @inlinable @inline(__always)
    public static func v4(source: UInt32, destination: UInt32, proto: UInt8, ports: UInt32) -> UInt64 {
        combine(UInt64(source) << 32 | UInt64(destination), UInt64(proto) << 32 | UInt64(ports))
    }

    @inlinable @inline(__always)
    public static func v6(source: IPv6Address, destination: IPv6Address, proto: UInt8, ports: UInt32) -> UInt64 {
        let a = combine(source.high, source.low)
        let b = combine(destination.high, destination.low)
        return combine(combine(a, b), UInt64(proto) << 32 | UInt64(ports))
    }

    /// The flow hash of the IP packet at `p` (already validated, `length`
    /// bytes): 5-tuple for TCP/UDP/SCTP first fragments, addresses and
    /// protocol otherwise.
    @inlinable
    public static func of(packet p: UnsafeRawPointer, length: Int) -> UInt64 {
        if p.u8(0) >> 4 == 4 {
            let hl = Int(p.u8(0) & 0x0F) * 4
            let proto = p.u8(9)
            var ports: UInt32 = 0
            if p.u16(6) & 0x1FFF == 0, hasPorts(proto), length >= hl + 4 { ports = p.u32(hl) }
            return v4(source: p.u32(12), destination: p.u32(16), proto: proto, ports: ports)
        }
        let proto = p.u8(6)
        var ports: UInt32 = 0
        if hasPorts(proto), length >= 44 { ports = p.u32(40) }
        return v6(source: IPv6Address(high: p.u64(8), low: p.u64(16)),
                  destination: IPv6Address(high: p.u64(24), low: p.u64(32)), proto: proto, ports: ports)
    }

    @inlinable @inline(__always)
    static func hasPorts(_ proto: UInt8) -> Bool { proto == 6 || proto == 17 || proto == 132 }
}
