// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

public enum InternetChecksum {
    /// One's-complement sum of `length` bytes, not yet folded or inverted.
    /// Sums 32-bit words into a 64-bit accumulator; folding is deferred.
    @inlinable
    public static func partialSum(_ p: UnsafeRawPointer, _ length: Int, initial: UInt64 = 0) -> UInt64 {
        var sum = initial
        var i = 0
        while i + 4 <= length {
            sum &+= UInt64(p.u32(i))
            i += 4
        }
        if i + 2 <= length {
            sum &+= UInt64(p.u16(i))
            i += 2
        }
        if i < length {
            sum &+= UInt64(p.u8(i)) << 8
        }
        return sum
    }

    /// Folds a partial sum to 16 bits and inverts it: the value to store.
    @inlinable
    public static func finish(_ sum: UInt64) -> UInt16 {
        var s = sum
        while s >> 16 != 0 { s = (s & 0xFFFF) &+ (s >> 16) }
        return ~UInt16(truncatingIfNeeded: s)
    }

    /// A freshly computed TCP or UDP checksum as it goes on the wire. UDP writes a
    /// computed 0 as 0xFFFF (RFC 768: 0 means "no checksum"). TCP and the rest write 0:
    /// a normal computation never yields 0xFFFF, and receivers such as Wireshark call
    /// 0xFFFF in TCP illegal (RFC 1624 §3). The kernel's protocol-blind skb_checksum_help
    /// writes 0xFFFF for both, and NICs 0 for TCP: egressd does what the NIC would.
    @inlinable
    public static func transportField(_ computed: UInt16, isUDP: Bool) -> UInt16 {
        isUDP && computed == 0 ? 0xFFFF : computed
    }

    /// The checksum of `length` bytes (with the checksum field as it is).
    /// Over data that includes a correct checksum this returns 0.
    @inlinable
    public static func compute(_ p: UnsafeRawPointer, _ length: Int) -> UInt16 {
        finish(partialSum(p, length))
    }

    /// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') when one 16-bit word of the
    /// covered data changes from `old` to `new`.
    @inlinable
    public static func update(_ checksum: UInt16, old: UInt16, new: UInt16) -> UInt16 {
        var sum = UInt32(~checksum) &+ UInt32(~old) &+ UInt32(new)
        sum = (sum & 0xFFFF) &+ (sum >> 16)
        sum = (sum & 0xFFFF) &+ (sum >> 16)
        return ~UInt16(truncatingIfNeeded: sum)
    }

    /// Update for a 32-bit field change (e.g. an address rewrite).
    @inlinable
    public static func update(_ checksum: UInt16, old: UInt32, new: UInt32) -> UInt16 {
        let c = update(checksum, old: UInt16(truncatingIfNeeded: old >> 16), new: UInt16(truncatingIfNeeded: new >> 16))
        return update(c, old: UInt16(truncatingIfNeeded: old), new: UInt16(truncatingIfNeeded: new))
    }

    /// Partial sum of the IPv4 pseudo-header used by TCP, UDP.
    @inlinable
    public static func pseudoHeaderSum(source: IPv4Address, destination: IPv4Address, protocol proto: UInt8, length: Int) -> UInt64 {
        UInt64(source.value) &+ UInt64(destination.value) &+ UInt64(proto) &+ UInt64(length)
    }

    /// Partial sum of the IPv6 pseudo-header (RFC 8200 §8.1).
    @inlinable
    public static func pseudoHeaderSum(source: IPv6Address, destination: IPv6Address, nextHeader: UInt8, length: Int) -> UInt64 {
        func words(_ v: UInt64) -> UInt64 { (v >> 32) &+ (v & 0xFFFF_FFFF) }
        return words(source.high) &+ words(source.low) &+ words(destination.high) &+ words(destination.low)
            &+ UInt64(length) &+ UInt64(nextHeader)
    }
}
