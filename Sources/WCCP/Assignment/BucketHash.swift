/// The WCCPv2 bucket hash (draft-wilson §5.6.2): XOR the selected fields, fold 32 → 8 bits.
public enum BucketHash {
    /// Bucket 0...255 for a packet, using the primary (`alternate == false`) or alternate hash flags.
    @inlinable
    public static func bucket(flags: ServiceFlags, alternate: Bool,
                              srcIP: UInt32, dstIP: UInt32, srcPort: UInt16, dstPort: UInt16) -> UInt8 {
        let f = alternate ? flags.rawValue >> 8 : flags.rawValue
        var key: UInt32 = 0
        if f & 0x1 != 0 { key ^= srcIP }
        if f & 0x2 != 0 { key ^= dstIP }
        if f & 0x4 != 0 { key ^= UInt32(srcPort) }
        if f & 0x8 != 0 { key ^= UInt32(dstPort) }
        var hash = key
        hash ^= hash >> 16
        hash ^= hash >> 8
        return UInt8(truncatingIfNeeded: hash)
    }
}

/// Bucket table entry bits.
public enum BucketEntry {
    /// Unassigned bucket: forward normally.
    public static let unassigned: UInt8 = 0xFF
    /// "Use the alternate hash" flag.
    public static let useAlternate: UInt8 = 0x80
    /// Mask for the cache index.
    public static let indexMask: UInt8 = 0x7F
}
