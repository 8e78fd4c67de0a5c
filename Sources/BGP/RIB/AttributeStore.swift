// Interned route attributes. Many prefixes share one attribute set (a full
// table from one peer is ~1000 prefixes per UPDATE with one set), so routes
// store a 4-byte id and the set itself is held once, reference counted.

import Packet

/// The attributes of a route as the RIB holds them: path attributes without
/// the MP carriers, and the next hop of the route's family.
public struct RouteAttributes: Hashable, Sendable {
    public var attributes: PathAttributes
    public var nextHop: NextHop

    /// Canonical form: MP attributes stripped, the IPv4 NEXT_HOP kept only in `nextHop`.
    public init(attributes: PathAttributes, nextHop: NextHop) {
        var a = attributes.routeAttributes
        a.nextHop = nil
        self.attributes = a
        self.nextHop = nextHop
    }
}

/// Identifies an interned `RouteAttributes` in an `AttributeStore`.
public struct AttributeSetID: Hashable, Sendable {
    public let index: UInt32
}

/// Interning table with reference counts; ids of released sets are reused.
/// Each set is held once: the index maps a set's hash to the first id with that
/// hash, and ids with equal hashes are chained (a full table has ~100k sets of a
/// few hundred bytes each, so a second copy as a dictionary key would cost tens of MB).
struct AttributeStore: Sendable {
    private var sets: [RouteAttributes?] = []
    /// Each set's next hop apart (read per selected path: no copy of the set's arrays).
    private var nextHops: [NextHop] = []
    private var references: [UInt32] = []
    /// Next id with the same hash (`none`: end of the chain).
    private var chain: [UInt32] = []
    private var index: [Int: UInt32] = [:]
    private var free: [UInt32] = []
    private(set) var count = 0
    private static let none = UInt32.max

    subscript(id: AttributeSetID) -> RouteAttributes { sets[Int(id.index)]! }
    /// The next hop of a set, without copying (and retaining) the rest of it.
    func nextHop(_ id: AttributeSetID) -> NextHop { nextHops[Int(id.index)] }

    private func find(_ value: RouteAttributes, hash: Int) -> UInt32? {
        var i = index[hash] ?? Self.none
        while i != Self.none {
            if sets[Int(i)] == value { return i }
            i = chain[Int(i)]
        }
        return nil
    }

    /// Returns the id of `value`, adding it if new, and takes one reference.
    mutating func intern(_ value: RouteAttributes) -> AttributeSetID {
        let hash = value.hashValue
        if let i = find(value, hash: hash) {
            references[Int(i)] += 1
            return AttributeSetID(index: i)
        }
        let i: UInt32
        let head = index[hash] ?? Self.none
        if let reused = free.popLast() {
            i = reused
            sets[Int(i)] = value
            nextHops[Int(i)] = value.nextHop
            references[Int(i)] = 1
            chain[Int(i)] = head
        } else {
            i = UInt32(sets.count)
            sets.append(value)
            nextHops.append(value.nextHop)
            references.append(1)
            chain.append(head)
        }
        index[hash] = i
        count += 1
        return AttributeSetID(index: i)
    }

    /// Takes one more reference on an existing id.
    mutating func retain(_ id: AttributeSetID) { references[Int(id.index)] += 1 }

    /// Drops one reference; the set is freed at zero.
    mutating func release(_ id: AttributeSetID) {
        let i = Int(id.index)
        references[i] -= 1
        guard references[i] == 0 else { return }
        let hash = sets[i]!.hashValue
        // Unlink from its hash chain.
        if index[hash] == id.index {
            index[hash] = chain[i] == Self.none ? nil : chain[i]
        } else {
            var j = index[hash] ?? Self.none
            while j != Self.none, chain[Int(j)] != id.index { j = chain[Int(j)] }
            if j != Self.none { chain[Int(j)] = chain[i] }
        }
        chain[i] = Self.none
        sets[i] = nil
        free.append(id.index)
        count -= 1
    }

    func referenceCount(_ id: AttributeSetID) -> UInt32 { references[Int(id.index)] }
}
