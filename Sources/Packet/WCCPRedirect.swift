// What the data path needs of WCCPv2 (draft-wilson-wrec-wccp-v2 §4.12,
// §5.6.2): the bucket hash a router applies to each packet, and the 4-byte
// redirect header that follows a GRE header of protocol type 0x883E.
//
//   |D|A| Reserved  |  Service ID   |  Alt Bucket   |  Pri Bucket   |
//
// D: dynamic service; A: the alternate bucket was used.

public enum WCCPBucketHash {
    /// The bucket (0-255) of a packet. `flags` holds the hash selector
    /// bits in its low nibble: 1 source IP, 2 destination IP, 4 source port,
    /// 8 destination port (the service flags, shifted right by 8 for the
    /// alternate hash). The fields are XORed and folded to 8 bits, which is
    /// the XOR of all their octets.
    @inlinable @inline(__always)
    public static func bucket(selector flags: UInt32, srcIP: UInt32, dstIP: UInt32, srcPort: UInt16, dstPort: UInt16) -> UInt8 {
        var key: UInt32 = 0
        if flags & 0x1 != 0 { key ^= srcIP }
        if flags & 0x2 != 0 { key ^= dstIP }
        if flags & 0x4 != 0 { key ^= UInt32(srcPort) }
        if flags & 0x8 != 0 { key ^= UInt32(dstPort) }
        key ^= key >> 16
        key ^= key >> 8
        return UInt8(truncatingIfNeeded: key)
    }
}

public enum WCCPRedirectHeader {
    public static let length = 4
    public static let dynamicBit: UInt8 = 0x80
    public static let alternateBit: UInt8 = 0x40

    /// Writes the redirect header. Receivers tell a redirect header from a
    /// bare IPv4 header by the first nibble not being 4, so the A bit is left
    /// out when D is clear (0x40 would read as IPv4).
    @inlinable @inline(__always)
    public static func write(into p: UnsafeMutableRawPointer, dynamic: Bool, serviceID: UInt8,
                             alternateBucket: UInt8?, primaryBucket: UInt8) {
        var first: UInt8 = dynamic ? dynamicBit : 0
        if alternateBucket != nil && dynamic { first |= alternateBit }
        p.setU8(first, 0)
        p.setU8(serviceID, 1)
        p.setU8(alternateBucket ?? 0, 2)
        p.setU8(primaryBucket, 3)
    }
}
