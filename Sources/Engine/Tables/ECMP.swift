// Resilient ECMP: a flow hash picks one of `bucketCount` buckets, each bucket
// names a member. Buckets are given out by rendezvous (highest random weight)
// hashing of (bucket, member identity), so the table depends only on the set
// of members: removing one moves only its own buckets, adding one takes about
// 1/(N+1) of the buckets, evenly from the others. Flows on the members that
// stay do not move, which keeps stateful devices behind the tunnels happy.

import Packet

public enum ResilientECMP {
    /// Buckets per group: enough that N ≤ 16 members share within a few %.
    public static let bucketCount = 512

    /// A stable identity for a member (e.g. a tunnel's name), independent of
    /// where the member sits in today's table.
    public static func identity(of name: String) -> UInt64 {
        // FNV-1a over the UTF-8 bytes, then mixed.
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return FlowHash.mix(h)
    }

    /// For each bucket, the index (into `members`) of its member.
    public static func buckets(members: [UInt64]) -> [UInt16] {
        precondition(!members.isEmpty && members.count <= Int(UInt16.max))
        var table = [UInt16](repeating: 0, count: bucketCount)
        for b in 0..<bucketCount {
            var best: UInt64 = 0
            var bestIndex = 0
            for (i, m) in members.enumerated() {
                let w = FlowHash.combine(m, UInt64(b))
                if i == 0 || w > best { best = w; bestIndex = i }
            }
            table[b] = UInt16(bestIndex)
        }
        return table
    }

    /// The bucket of a flow hash.
    @inlinable @inline(__always)
    public static func bucket(of hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 40) & (bucketCount - 1) }
}
