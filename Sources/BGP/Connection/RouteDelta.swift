// What the speaker hands to the forwarding side: the prefixes whose selected
// next hops changed since the last hand-over, in arrival order. Next-hop
// sets are interned (a table of a million prefixes has a handful of them),
// so a change costs one prefix and one small index, and a delta of a full
// table is two flat arrays.

import Packet

/// A batch of route changes; apply in order (a later change of a prefix wins).
public struct RouteDelta: Sendable, Equatable {
    /// The next-hop sets the changes refer to (ECMP order, no duplicates).
    public var groups: [[IPAddress]] = []
    /// IPv4 changes: prefix and index into `groups`, or `RouteDelta.removed`.
    public var v4: [IPv4Change] = []
    /// IPv6 changes, likewise.
    public var v6: [IPv6Change] = []

    public struct IPv4Change: Sendable, Equatable {
        public var prefix: IPv4Prefix
        public var group: Int32
        public init(prefix: IPv4Prefix, group: Int32) { self.prefix = prefix; self.group = group }
    }
    public struct IPv6Change: Sendable, Equatable {
        public var prefix: IPv6Prefix
        public var group: Int32
        public init(prefix: IPv6Prefix, group: Int32) { self.prefix = prefix; self.group = group }
    }

    /// The group index of a withdrawn prefix.
    public static let removed: Int32 = -1

    public init() {}

    public var isEmpty: Bool { v4.isEmpty && v6.isEmpty }
    public var count: Int { v4.count + v6.count }

    /// The next hops of a change's group, empty when the prefix was removed.
    public func nextHops(_ group: Int32) -> [IPAddress] { group < 0 ? [] : groups[Int(group)] }

    /// Applies the delta to a full table (tests and small users).
    public func apply(to table: inout [IPPrefix: [IPAddress]]) {
        for c in v4 { table[.v4(c.prefix)] = c.group < 0 ? nil : groups[Int(c.group)] }
        for c in v6 { table[.v6(c.prefix)] = c.group < 0 ? nil : groups[Int(c.group)] }
    }
}

/// Builds a `RouteDelta`, interning next-hop sets.
struct RouteDeltaBuilder {
    private(set) var delta = RouteDelta()
    private var index: [[IPAddress]: Int32] = [:]

    var isEmpty: Bool { delta.isEmpty }

    /// The group of the last single-path change (most changes of a table load share it).
    private var lastSingle: (hop: NextHop, group: Int32)?

    mutating func add(_ change: RouteChange) {
        var group = RouteDelta.removed
        if let best = change.best, change.others.isEmpty, let last = lastSingle, last.hop == best.nextHop {
            group = last.group
        } else if !change.isRemoval {
            let paths = change.paths
            var hops: [IPAddress] = []
            hops.reserveCapacity(paths.count)
            for p in paths {
                let hop: IPAddress = switch p.nextHop {
                case .v4(let a): .v4(a)
                case .v6(let global, _): .v6(global)
                }
                if !hops.contains(hop) { hops.append(hop) }
            }
            if let g = index[hops] {
                group = g
            } else {
                group = Int32(delta.groups.count)
                delta.groups.append(hops)
                index[hops] = group
            }
            if paths.count == 1 { lastSingle = (paths[0].nextHop, group) }
        }
        switch change.prefix {
        case .v4(let p): delta.v4.append(RouteDelta.IPv4Change(prefix: p, group: group))
        case .v6(let p): delta.v6.append(RouteDelta.IPv6Change(prefix: p, group: group))
        }
    }

    /// Returns the delta and starts a new one.
    mutating func take() -> RouteDelta {
        let d = delta
        delta = RouteDelta()
        index = [:]
        lastSingle = nil
        return d
    }
}
