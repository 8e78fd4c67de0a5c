import Packet

/// The WCCPv2 bucket hash (draft-wilson §5.6.2): XOR the selected fields, fold 32 → 8 bits.
public enum BucketHash {
    /// Bucket 0...255 for a packet, using the primary (`alternate == false`) or alternate hash flags.
    @inlinable
    public static func bucket(flags: ServiceFlags, alternate: Bool,
                              srcIP: UInt32, dstIP: UInt32, srcPort: UInt16, dstPort: UInt16) -> UInt8 {
        // The data path computes the same function (Packet's WCCPBucketHash).
        WCCPBucketHash.bucket(selector: alternate ? flags.rawValue >> 8 : flags.rawValue,
                              srcIP: srcIP, dstIP: dstIP, srcPort: srcPort, dstPort: dstPort)
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
