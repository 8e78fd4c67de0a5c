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
struct AttributeStore: Sendable {
    private var sets: [RouteAttributes?] = []
    private var references: [UInt32] = []
    private var index: [RouteAttributes: UInt32] = [:]
    private var free: [UInt32] = []

    /// Number of distinct attribute sets in use.
    var count: Int { index.count }

    subscript(id: AttributeSetID) -> RouteAttributes { sets[Int(id.index)]! }

    /// Returns the id of `value`, adding it if new, and takes one reference.
    mutating func intern(_ value: RouteAttributes) -> AttributeSetID {
        if let i = index[value] {
            references[Int(i)] += 1
            return AttributeSetID(index: i)
        }
        let i: UInt32
        if let reused = free.popLast() {
            i = reused
            sets[Int(i)] = value
            references[Int(i)] = 1
        } else {
            i = UInt32(sets.count)
            sets.append(value)
            references.append(1)
        }
        index[value] = i
        return AttributeSetID(index: i)
    }

    /// Takes one more reference on an existing id.
    mutating func retain(_ id: AttributeSetID) { references[Int(id.index)] += 1 }

    /// Drops one reference; the set is freed at zero.
    mutating func release(_ id: AttributeSetID) {
        let i = Int(id.index)
        references[i] -= 1
        if references[i] == 0 {
            index[sets[i]!] = nil
            sets[i] = nil
            free.append(id.index)
        }
    }

    func referenceCount(_ id: AttributeSetID) -> UInt32 { references[Int(id.index)] }
}
