// What the XDP program's LPM trie holds (`afxdp`, encapsulation steering):
// every IPv4 prefix of the snapshot's table with a length limit, the
// largest total length the route's tunnels carry without fragmenting (the
// smallest inner MTU of its ECMP group, and no more than a UMEM frame holds)
// for a tunnel route, 0 (not steered: the kernel and the TUN path) for any
// other route. Holding the other routes too keeps the trie's longest match
// the table's: a next-hop /24 inside a tunnel /16 is not steered.
//
// On each publication the engine diffs the previous contents against the new
// ones and changes only what differs: removals and lowered limits before the
// snapshot is published, additions and raised limits after it, so whatever
// the trie steers, the snapshot a worker holds routes into a tunnel (but for
// a worker still on the previous snapshot for one round: counted as a miss).
// Above `cap` routes the trie is emptied and steering is off: the count is
// read in O(1) (learned prefixes + route entries), so a full table costs
// nothing per publication. IPv6 stays on the TUN path.

import Packet

public enum XDPSpokePrefixes {
    /// Most routes the trie follows. A Transit Gateway Connect peer sends at
    /// most a few thousand prefixes (AWS quota: 1,000 routes advertised per
    /// Connect peer), so 65,536 is far above any Connect deployment; each
    /// publication diffs in O(n log n) over at most this many and a change
    /// costs one bpf() call per prefix (~1 µs), and the kernel's trie holds
    /// them in a few MB. A feed beyond it (a full Internet table) turns
    /// steering off instead of costing seconds of syscalls per publication.
    public static let cap = 65_536

    /// One trie entry packed for sorting and diffing: address (32 bits),
    /// prefix length (8), limit (16).
    public typealias Entry = UInt64

    @inlinable
    public static func entry(address: UInt32, length: UInt8, limit: UInt16) -> Entry {
        (UInt64(address) << 24) | (UInt64(length) << 16) | UInt64(limit)
    }

    @inlinable
    public static func parts(_ e: Entry) -> (address: UInt32, length: UInt8, limit: UInt16) {
        (UInt32(truncatingIfNeeded: e >> 24), UInt8(truncatingIfNeeded: e >> 16), UInt16(truncatingIfNeeded: e))
    }

    /// What changes between two sorted entry lists. `before`: entries to
    /// remove and limits to lower (applied before publishing the snapshot);
    /// `after`: entries to add and limits to raise (applied after).
    public struct Changes: Equatable, Sendable {
        public var remove: [Entry] = []
        public var lower: [Entry] = []
        public var raise: [Entry] = []
        public init(remove: [Entry] = [], lower: [Entry] = [], raise: [Entry] = []) {
            self.remove = remove; self.lower = lower; self.raise = raise
        }
        public var isEmpty: Bool { remove.isEmpty && lower.isEmpty && raise.isEmpty }
        public var count: Int { remove.count + lower.count + raise.count }
    }

    /// The changes from `old` to `new` (both sorted, one entry per prefix): one merge pass.
    public static func diff(from old: [Entry], to new: [Entry]) -> Changes {
        var c = Changes()
        var i = 0, j = 0
        while i < old.count || j < new.count {
            if j == new.count || (i < old.count && old[i] >> 16 < new[j] >> 16) {
                c.remove.append(old[i]); i += 1
            } else if i == old.count || new[j] >> 16 < old[i] >> 16 {
                c.raise.append(new[j]); j += 1
            } else {
                let a = old[i] & 0xFFFF, b = new[j] & 0xFFFF
                if b < a { c.lower.append(new[j]) } else if b > a { c.raise.append(new[j]) }
                i += 1; j += 1
            }
        }
        return c
    }

    /// Whether a snapshot's routes are more than the trie follows (O(1)).
    public static func overCap(_ snapshot: ForwardingSnapshot) -> Bool { routeCount(snapshot) > cap }

    /// The snapshot's route count as the cap sees it: learned prefixes plus route entries.
    public static func routeCount(_ snapshot: ForwardingSnapshot) -> Int { snapshot.bulkRouteCount + snapshot.routeCount }

    /// The trie's contents for a snapshot, sorted; `frameLimit` is the
    /// longest IPv4 packet a receive frame holds.
    public static func entries(of snapshot: ForwardingSnapshot, frameLimit: Int) -> [Entry] {
        let view = snapshot.view
        // The limit of each route entry (tunnel routes: their group's smallest inner MTU).
        var limits = [UInt16](repeating: 0, count: snapshot.routeCount)
        var groupLimit: [UInt32: UInt16] = [:]
        for r in 0..<snapshot.routeCount where view.routes[r].kind == .tunnels {
            let g = view.routes[r].index
            if let l = groupLimit[g] { limits[r] = l; continue }
            var mtu = frameLimit
            let base = Int(g) * ResilientECMP.bucketCount
            for b in 0..<ResilientECMP.bucketCount { mtu = min(mtu, view.tunnels[Int(view.buckets[base + b])].innerMTU) }
            let l = UInt16(clamping: max(0, mtu))
            groupLimit[g] = l
            limits[r] = l
        }
        // No tunnel route: nothing is steered, and a table of next-hop routes is not walked.
        if groupLimit.isEmpty { return [] }
        var out: [Entry] = []
        let t = view.fib4
        for i in 0..<t.lengthCount {
            let length = t.lengths[i]
            let base = t.offsets[i]
            for s in 0...t.masks[i] {
                let v = t.values[base + s]
                if v == noRouteIndex { continue }
                let limit = Int(v) < limits.count ? limits[Int(v)] : 0
                out.append(entry(address: t.keys[base + s], length: length, limit: limit))
            }
        }
        out.sort()
        return out
    }

    /// The trie key for an entry: prefix length (host order), then the address bytes as on the wire.
    static func key(_ e: Entry) -> (UInt32, UInt32) {
        let p = parts(e)
        return (UInt32(p.length), p.address.bigEndian)
    }
}
