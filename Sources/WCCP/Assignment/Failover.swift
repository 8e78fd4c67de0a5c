import Packet

/// Failover to the remaining caches (`ip wccp SERVICE failover remaining-caches`): while a
/// cache is out of the group (declared dead by fast failure detection, or removed) and the
/// designated cache has not yet sent an assignment without it, the dead cache's buckets (or
/// mask values) go to the group's healthy caches instead of failing open.
///
/// Deterministic and minimal: only entries that named a dead cache change; the k-th of them
/// (buckets in index order; mask values in set order, then value order) goes to the k-th
/// healthy cache, cyclically, healthy caches taken in the assignment's own order. With no
/// healthy cache left nothing is remapped (the entries fail open). Pure.
public enum AssignmentFailover {
    /// A hash assignment's 256 entries with the entries of caches in `dead` given to the
    /// other caches of `caches`. Remapped entries use the primary hash (no 0x80 bit); every
    /// other entry is returned as it was. Also returns how many entries moved.
    public static func remap(buckets: [UInt8], caches: [IPv4Address], dead: Set<IPv4Address>) -> (buckets: [UInt8], moved: Int) {
        func slotIsDead(_ e: UInt8) -> Bool {
            let i = Int(e & BucketEntry.indexMask)
            return i < caches.count && dead.contains(caches[i])
        }
        // Healthy: caches the assignment lists that are not dead (each listed once, first slot wins).
        var seen: Set<IPv4Address> = []
        let healthy = caches.indices.filter { !dead.contains(caches[$0]) && seen.insert(caches[$0]).inserted }
        guard !healthy.isEmpty, !dead.isEmpty else { return (buckets, 0) }
        var out = buckets
        var k = 0
        for i in out.indices where out[i] != BucketEntry.unassigned && slotIsDead(out[i]) {
            out[i] = UInt8(healthy[k % healthy.count])
            k += 1
        }
        return (out, k)
    }

    /// Mask/value sets with the values of caches in `dead` given to the healthy caches (those
    /// named by some value, in order of first appearance). Also returns how many values moved.
    public static func remap(maskSets: [MaskValueSet], dead: Set<IPv4Address>) -> (sets: [MaskValueSet], moved: Int) {
        var healthy: [IPv4Address] = []
        for set in maskSets {
            for v in set.values where !dead.contains(v.cacheIP) && !healthy.contains(v.cacheIP) { healthy.append(v.cacheIP) }
        }
        guard !healthy.isEmpty, !dead.isEmpty else { return (maskSets, 0) }
        var k = 0
        let sets = maskSets.map { set in
            MaskValueSet(mask: set.mask, values: set.values.map { v in
                guard dead.contains(v.cacheIP) else { return v }
                defer { k += 1 }
                return MaskValueElement(value: v.value, cacheIP: healthy[k % healthy.count])
            })
        }
        return (sets, k)
    }
}
