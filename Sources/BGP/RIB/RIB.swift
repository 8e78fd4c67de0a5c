// Adj-RIB-In per peer and the Loc-RIB for both families. Routes are stored
// as (prefix -> interned attribute id) per peer; the Loc-RIB keeps only the
// selection (best peer and multipath peer set, no allocation per prefix).
// Every change returns the prefixes whose selected paths changed, so the
// FIB and the kernel can be updated incrementally.

import Packet

/// Identifies a peer inside a `RIB`.
public struct PeerID: Hashable, Sendable {
    public let index: Int
}

/// What the RIB needs to know about a peer.
public struct RIBPeerConfiguration: Hashable, Sendable {
    public var address: IPAddress
    public var peerAS: UInt32
    public var localAS: UInt32
    /// The peer's BGP identifier (from its OPEN) for the tie-break.
    public var identifier: IPv4Address
    public var importPolicy: ImportPolicy
    public var maximumPrefix: MaximumPrefix?
    /// `soft-reconfiguration inbound`: also keep every route as received, before policy
    /// (for `show ip bgp neighbors A received-routes`).
    public var keepReceived: Bool

    public init(address: IPAddress, peerAS: UInt32, localAS: UInt32, identifier: IPv4Address,
                importPolicy: ImportPolicy = .none, maximumPrefix: MaximumPrefix? = nil, keepReceived: Bool = false) {
        self.address = address; self.peerAS = peerAS; self.localAS = localAS; self.identifier = identifier
        self.importPolicy = importPolicy; self.maximumPrefix = maximumPrefix; self.keepReceived = keepReceived
    }

    public var isEBGP: Bool { peerAS != localAS }
}

/// A selected path of a prefix.
public struct SelectedPath: Hashable, Sendable {
    public var peer: PeerID
    public var nextHop: NextHop
    public var attributes: AttributeSetID
}

/// A prefix whose selection changed: the new paths (best first, then
/// multipaths), or none when the prefix is gone.
public struct RouteChange: Hashable, Sendable {
    public var prefix: IPPrefix
    /// The best path (nil: the prefix is gone) and the other multipaths, apart, so that a
    /// single-path change (every prefix of a table load) allocates nothing.
    public var best: SelectedPath?
    public var others: [SelectedPath]

    public init(prefix: IPPrefix, paths: [SelectedPath]) {
        self.prefix = prefix
        best = paths.first
        others = paths.count > 1 ? Array(paths.dropFirst()) : []
    }

    init(prefix: IPPrefix, best: SelectedPath?, others: [SelectedPath]) {
        self.prefix = prefix; self.best = best; self.others = others
    }

    /// Best first, then the multipaths; empty when the prefix is gone.
    public var paths: [SelectedPath] { best.map { [$0] + others } ?? [] }
    public var isRemoval: Bool { best == nil }
}

/// Something the operator or the session must hear about.
public enum RIBEvent: Hashable, Sendable {
    /// Accepted prefixes crossed the warning threshold.
    case maximumPrefixWarning(PeerID, count: Int, limit: Int)
    /// Accepted prefixes exceed the limit; with `teardown`, reset the session with `notification`.
    case maximumPrefixExceeded(PeerID, count: Int, notification: BGPNotification, teardown: Bool)
}

/// The outcome of applying an UPDATE or a peer event.
public struct RIBResult: Hashable, Sendable {
    public var changes: [RouteChange] = []
    public var events: [RIBEvent] = []
    /// Announced prefixes refused by import policy.
    public var filtered = 0
}

/// Errors from RIB configuration calls.
public enum RIBError: Error, Hashable, Sendable, CustomStringConvertible {
    case tooManyPeers(limit: Int)
    public var description: String {
        switch self { case .tooManyPeers(let l): "the RIB supports at most \(l) peers" }
    }
}

/// One Adj-RIB-In route: the interned attributes and the GR stale mark, packed
/// in 32 bits (a full table is a million of these per peer).
struct AdjRoute {
    private var raw: UInt32
    private static let staleBit: UInt32 = 1 << 31

    init(attributes: AttributeSetID, stale: Bool) {
        raw = attributes.index | (stale ? Self.staleBit : 0)
    }

    var attributes: AttributeSetID { AttributeSetID(index: raw & ~Self.staleBit) }
    var stale: Bool {
        get { raw & Self.staleBit != 0 }
        set { raw = newValue ? raw | Self.staleBit : raw & ~Self.staleBit }
    }
}

/// A Loc-RIB entry: the best peer (top 8 bits) and the peers used for
/// multipath (one bit per peer index, low 56 bits), packed in 64 bits.
struct Selection: Equatable {
    private var raw: UInt64
    private static let peerMask: UInt64 = (1 << 56) - 1

    init(best: UInt16, multipath: UInt64) {
        raw = UInt64(best) << 56 | multipath & Self.peerMask
    }

    var best: UInt16 { UInt16(raw >> 56) }
    var multipath: UInt64 { raw & Self.peerMask }
}

/// Per-family tables, generic so IPv4 and IPv6 share one implementation.
struct FamilyTable<Prefix: PrefixMapKey & Sendable>: Sendable {
    var adjIn: [PrefixMap<Prefix, AdjRoute>] = []
    var loc = PrefixMap<Prefix, Selection>()
    /// Routes as received, before import policy, of peers with `keepReceived`.
    var received: [PrefixMap<Prefix, AttributeSetID>] = []
}

/// The routing information base of all peers.
public struct RIB: Sendable {
    /// Bits in `Selection.multipath`.
    public static let maximumPeers = 56

    public var multipath: MultipathConfiguration
    private var store = AttributeStore()
    private var peers: [PeerState] = []
    private var v4 = FamilyTable<IPv4Prefix>()
    private var v6 = FamilyTable<IPv6Prefix>()

    struct PeerState: Sendable {
        var configuration: RIBPeerConfiguration
        var warned = false
        var exceeded = false
        /// Routes of the family may be stale (marked by `markStale`, not swept yet): an
        /// End-of-RIB after a plain session start does not walk a full table for none.
        var staleV4 = false
        var staleV6 = false
    }

    public init(multipath: MultipathConfiguration = MultipathConfiguration()) { self.multipath = multipath }

    /// Registers a peer (once its session is Established, or ahead of it).
    public mutating func addPeer(_ configuration: RIBPeerConfiguration) throws(RIBError) -> PeerID {
        guard peers.count < Self.maximumPeers else { throw .tooManyPeers(limit: Self.maximumPeers) }
        peers.append(PeerState(configuration: configuration))
        v4.adjIn.append([:]); v6.adjIn.append([:])
        v4.received.append([:]); v6.received.append([:])
        return PeerID(index: peers.count - 1)
    }

    /// Updates a peer's identifier (learned from its OPEN) or policy; routes already
    /// accepted stay until a route refresh re-sends them.
    public mutating func updatePeer(_ peer: PeerID, _ configuration: RIBPeerConfiguration) {
        peers[peer.index].configuration = configuration
        if !configuration.keepReceived { clearReceived(peer) }
    }

    /// The peer's routes as received, before policy (empty unless it has `keepReceived`), by prefix.
    public func receivedRoutes(_ peer: PeerID) -> [(prefix: IPPrefix, attributes: RouteAttributes)] {
        v4.received[peer.index].map { (.v4($0.key), store[$0.value]) } + v6.received[peer.index].map { (.v6($0.key), store[$0.value]) }
    }

    /// Whether the peer's received routes are kept.
    public func keepsReceived(_ peer: PeerID) -> Bool { peers[peer.index].configuration.keepReceived }

    private mutating func clearReceived(_ peer: PeerID) {
        for id in v4.received[peer.index].values { store.release(id) }
        for id in v6.received[peer.index].values { store.release(id) }
        v4.received[peer.index] = [:]
        v6.received[peer.index] = [:]
    }

    private mutating func keepReceived(_ prefix: IPv4Prefix, _ id: AttributeSetID?, peer: PeerID) {
        if let id { store.retain(id) }
        let old = id.map { v4.received[peer.index].updateValue($0, forKey: prefix) } ?? v4.received[peer.index].removeValue(forKey: prefix)
        if let old { store.release(old) }
    }

    private mutating func keepReceived(_ prefix: IPv6Prefix, _ id: AttributeSetID?, peer: PeerID) {
        if let id { store.retain(id) }
        let old = id.map { v6.received[peer.index].updateValue($0, forKey: prefix) } ?? v6.received[peer.index].removeValue(forKey: prefix)
        if let old { store.release(old) }
    }

    // MARK: queries

    /// Prefixes accepted from a peer, both families (O(1)).
    public func prefixCount(_ peer: PeerID) -> Int { v4.adjIn[peer.index].count + v6.adjIn[peer.index].count }
    /// Prefixes in the Loc-RIB, both families.
    public var routeCount: Int { v4.loc.count + v6.loc.count }
    /// Distinct interned attribute sets.
    public var attributeSetCount: Int { store.count }
    public func attributes(_ id: AttributeSetID) -> RouteAttributes { store[id] }

    /// Every prefix in the Loc-RIB (both families, unordered).
    public func prefixes() -> [IPPrefix] {
        var out: [IPPrefix] = []
        out.reserveCapacity(routeCount)
        for p in v4.loc.keys { out.append(.v4(p)) }
        for p in v6.loc.keys { out.append(.v6(p)) }
        return out
    }

    /// The selected paths for a prefix (best first), empty if none.
    public func paths(for prefix: IPPrefix) -> [SelectedPath] {
        switch prefix {
        case .v4(let p): v4.loc[p].map { selectedPaths($0, in: v4, p) } ?? []
        case .v6(let p): v6.loc[p].map { selectedPaths($0, in: v6, p) } ?? []
        }
    }

    /// Whether a peer's route for a prefix is stale (kept for graceful restart, not refreshed yet).
    public func isStale(_ peer: PeerID, _ prefix: IPPrefix) -> Bool {
        switch prefix {
        case .v4(let p): v4.adjIn[peer.index][p]?.stale ?? false
        case .v6(let p): v6.adjIn[peer.index][p]?.stale ?? false
        }
    }

    /// A peer's route for a prefix in its Adj-RIB-In, with its stale mark.
    public func adjRIBIn(_ peer: PeerID, _ prefix: IPPrefix) -> (attributes: RouteAttributes, stale: Bool)? {
        let route: AdjRoute? = switch prefix {
        case .v4(let p): v4.adjIn[peer.index][p]
        case .v6(let p): v6.adjIn[peer.index][p]
        }
        return route.map { (store[$0.attributes], $0.stale) }
    }

    // MARK: updates

    /// Applies one UPDATE's route changes from a peer.
    public mutating func apply(_ update: RouteChanges, from peer: PeerID) -> RIBResult {
        var result = RIBResult()
        let config = peers[peer.index].configuration
        let keep = config.keepReceived
        let withdrawnV4 = update.withdrawnV4
        for k in withdrawnV4.indices {
            prefetch(withdrawnV4, k)
            let p = withdrawnV4[k]
            if keep { keepReceived(p, nil, peer: peer) }
            set(p, route: nil, peer: peer, into: &result)
        }
        for p in update.withdrawnV6 {
            if keep { keepReceived(p, nil, peer: peer) }
            set(p, route: nil, peer: peer, into: &result)
        }
        if !update.announcedV4.isEmpty, let nh = update.nextHopV4 {
            let id = store.intern(RouteAttributes(attributes: update.attributes, nextHop: nh))
            let announcedV4 = update.announcedV4
            for k in announcedV4.indices {
                prefetch(announcedV4, k)
                let p = announcedV4[k]
                if keep { keepReceived(p, id, peer: peer) }
                let permitted = config.importPolicy.permits(.v4(p), fromEBGP: config.isEBGP)
                if !permitted { result.filtered += 1 }
                set(p, route: permitted ? id : nil, peer: peer, into: &result)
            }
            store.release(id)
        }
        if !update.announcedV6.isEmpty, let nh = update.nextHopV6 {
            let id = store.intern(RouteAttributes(attributes: update.attributes, nextHop: nh))
            for p in update.announcedV6 {
                if keep { keepReceived(p, id, peer: peer) }
                let permitted = config.importPolicy.permits(.v6(p), fromEBGP: config.isEBGP)
                if !permitted { result.filtered += 1 }
                set(p, route: permitted ? id : nil, peer: peer, into: &result)
            }
            store.release(id)
        }
        checkMaximumPrefix(peer, into: &result)
        return result
    }

    /// The session went down without graceful restart: all its routes go.
    public mutating func removePeerRoutes(_ peer: PeerID) -> RIBResult {
        var result = RIBResult()
        for p in Array(v4.adjIn[peer.index].keys) { set(p, route: nil, peer: peer, into: &result) }
        for p in Array(v6.adjIn[peer.index].keys) { set(p, route: nil, peer: peer, into: &result) }
        clearReceived(peer)
        peers[peer.index].warned = false
        peers[peer.index].exceeded = false
        peers[peer.index].staleV4 = false
        peers[peer.index].staleV6 = false
        return result
    }

    /// Every route of every peer goes (the speaker stops): one removal per Loc-RIB prefix.
    public mutating func removeAllRoutes() -> RIBResult {
        var result = RIBResult()
        result.changes.reserveCapacity(routeCount)
        for p in v4.loc.keys { result.changes.append(RouteChange(prefix: .v4(p), paths: [])) }
        for p in v6.loc.keys { result.changes.append(RouteChange(prefix: .v6(p), paths: [])) }
        let multipath = self.multipath
        let configurations = peers.map(\.configuration)
        self = RIB(multipath: multipath)
        for c in configurations { _ = try? addPeer(c) }
        return result
    }

    /// Graceful restart: keep forwarding on the peer's routes but mark them stale.
    public mutating func markStale(_ peer: PeerID) {
        v4.adjIn[peer.index].modifyValues { $0.stale = true }
        v6.adjIn[peer.index].modifyValues { $0.stale = true }
        peers[peer.index].staleV4 = !v4.adjIn[peer.index].isEmpty
        peers[peer.index].staleV6 = !v6.adjIn[peer.index].isEmpty
    }

    /// After End-of-RIB (per family) or the stale timer (all families): withdraw what was not refreshed.
    public mutating func sweepStale(_ peer: PeerID, family: AddressFamily? = nil) -> RIBResult {
        var result = RIBResult()
        // Keys are collected first: removing while iterating would copy the table on every removal.
        if family == nil || family == .ipv4Unicast, peers[peer.index].staleV4 {
            peers[peer.index].staleV4 = false
            let stale = v4.adjIn[peer.index].filter(\.value.stale).map(\.key)
            for p in stale { keepReceived(p, nil, peer: peer); set(p, route: nil, peer: peer, into: &result) }
        }
        if family == nil || family == .ipv6Unicast, peers[peer.index].staleV6 {
            peers[peer.index].staleV6 = false
            let stale = v6.adjIn[peer.index].filter(\.value.stale).map(\.key)
            for p in stale { keepReceived(p, nil, peer: peer); set(p, route: nil, peer: peer, into: &result) }
        }
        return result
    }

    // MARK: internals

    /// How many prefixes ahead of the one being applied a batch prefetches.
    static let prefetchDistance = 4

    /// Before applying `list[k]`: prefetches the Adj-RIB-In and Loc-RIB slots of the prefix
    /// `prefetchDistance` ahead (of the first ones too, at k = 0), so that each prefix's
    /// cache misses overlap with the work on the ones before it.
    @inline(__always)
    private func prefetch(_ list: [IPv4Prefix], _ k: Int) {
        if k == 0 {
            for j in 0..<min(Self.prefetchDistance, list.count) { prefetch(list[j]) }
        }
        if k + Self.prefetchDistance < list.count { prefetch(list[k + Self.prefetchDistance]) }
    }

    @inline(__always)
    private func prefetch(_ p: IPv4Prefix) {
        for i in v4.adjIn.indices { v4.adjIn[i].prefetch(p) }
        v4.loc.prefetch(p)
    }

    /// Replaces a peer's route for an IPv4 prefix (nil removes it) and reruns the decision for it.
    private mutating func set(_ prefix: IPv4Prefix, route: AttributeSetID?, peer: PeerID, into result: inout RIBResult) {
        if let paths = Self.replace(prefix, route: route, peer: peer.index, table: &v4, store: &store, peers: peers, multipath: multipath) {
            result.changes.append(RouteChange(prefix: .v4(prefix), best: paths.best, others: paths.others))
        }
    }

    /// Replaces a peer's route for an IPv6 prefix (nil removes it) and reruns the decision for it.
    private mutating func set(_ prefix: IPv6Prefix, route: AttributeSetID?, peer: PeerID, into result: inout RIBResult) {
        if let paths = Self.replace(prefix, route: route, peer: peer.index, table: &v6, store: &store, peers: peers, multipath: multipath) {
            result.changes.append(RouteChange(prefix: .v6(prefix), best: paths.best, others: paths.others))
        }
    }

    /// Returns the new selected paths (best, other multipaths; no best: gone) when the
    /// prefix's selection changed, nil otherwise.
    private static func replace<P: PrefixMapKey & Sendable>(_ prefix: P, route: AttributeSetID?, peer: Int,
                                                        table: inout FamilyTable<P>, store: inout AttributeStore,
                                                        peers: [PeerState], multipath: MultipathConfiguration)
        -> (best: SelectedPath?, others: [SelectedPath])? {
        // One probe run per table: the Adj-RIB-In's slot is found (or made) once and changed
        // in place, and so is the Loc-RIB's below.
        let old: AdjRoute?
        if let route {
            let fresh = AdjRoute(attributes: route, stale: false)
            let (slot, inserted) = table.adjIn[peer].findOrInsert(prefix, fresh)
            if inserted {
                old = nil
            } else {
                let existing = table.adjIn[peer].value(at: slot)
                // Same route again: only a refresh of a stale mark.
                table.adjIn[peer].setValue(fresh, at: slot)
                if existing.attributes == route { return nil }
                old = existing
            }
            store.retain(route)
        } else {
            guard let slot = table.adjIn[peer].index(of: prefix) else { return nil }
            old = table.adjIn[peer].remove(at: slot)
        }
        if let old { store.release(old.attributes) }

        // Candidates: this peer's new route plus every other peer's route for the prefix.
        // A prefix with one candidate (every prefix of a single peer's table) needs no
        // decision and no arrays: it is selected as it is.
        var single: (peer: Int, id: AttributeSetID)?
        var ids: [(peer: Int, id: AttributeSetID)] = []
        for i in 0..<peers.count {
            let id = i == peer ? route : table.adjIn[i][prefix]?.attributes
            guard let id else { continue }
            if let first = single {
                if ids.isEmpty { ids.append(first) }
                ids.append((i, id))
            } else {
                single = (i, id)
            }
        }
        var chosen = ids
        if ids.count > 1 {
            let candidates = ids.map { c in
                let config = peers[c.peer].configuration
                return Candidate(peer: c.peer, id: c.id, attributes: store[c.id], isEBGP: config.isEBGP,
                                 peerIdentifier: config.identifier, peerAddress: config.address)
            }
            chosen = DecisionProcess.select(candidates, multipath: multipath).map { ($0.peer, $0.id) }
        }
        let after: Selection?
        if let first = chosen.first {
            after = Selection(best: UInt16(first.peer), multipath: chosen.reduce(0) { $0 | 1 << UInt64($1.peer) })
        } else {
            after = single.map { Selection(best: UInt16($0.peer), multipath: 1 << UInt64($0.peer)) }
        }
        let before: Selection?
        if let after {
            let (slot, inserted) = table.loc.findOrInsert(prefix, after)
            if inserted {
                before = nil
            } else {
                before = table.loc.value(at: slot)
                table.loc.setValue(after, at: slot)
            }
        } else {
            before = table.loc.removeValue(forKey: prefix)
        }
        let peerBit = UInt64(1) << UInt64(peer)
        let touchedSelected = (before?.multipath ?? 0) & peerBit != 0 || (after?.multipath ?? 0) & peerBit != 0
        guard before != after || touchedSelected else { return nil }
        if chosen.isEmpty {
            return (single.map { SelectedPath(peer: PeerID(index: $0.peer), nextHop: store.nextHop($0.id), attributes: $0.id) }, [])
        }
        let paths = chosen.map { SelectedPath(peer: PeerID(index: $0.peer), nextHop: store.nextHop($0.id), attributes: $0.id) }
        return (paths[0], Array(paths.dropFirst()))
    }

    private func selectedPaths<P: PrefixMapKey & Sendable>(_ s: Selection, in table: FamilyTable<P>, _ prefix: P) -> [SelectedPath] {
        var order = [Int(s.best)]
        for i in 0..<peers.count where i != Int(s.best) && s.multipath & (1 << UInt64(i)) != 0 { order.append(i) }
        return order.compactMap { i in
            table.adjIn[i][prefix].map { SelectedPath(peer: PeerID(index: i), nextHop: store.nextHop($0.attributes), attributes: $0.attributes) }
        }
    }

    private mutating func checkMaximumPrefix(_ peer: PeerID, into result: inout RIBResult) {
        guard let m = peers[peer.index].configuration.maximumPrefix else { return }
        let count = prefixCount(peer)
        if count > m.limit {
            if !peers[peer.index].exceeded {
                peers[peer.index].exceeded = true
                // RFC 4486 §4: data names the family and the limit; the IPv4 table dominates here.
                let family: AddressFamily = v4.adjIn[peer.index].count >= v6.adjIn[peer.index].count ? .ipv4Unicast : .ipv6Unicast
                result.events.append(.maximumPrefixExceeded(peer, count: count,
                    notification: .maximumPrefixesReached(family, limit: UInt32(clamping: m.limit)), teardown: m.teardown))
            }
        } else if count * 100 >= m.limit * m.warningThresholdPercent {
            if !peers[peer.index].warned {
                peers[peer.index].warned = true
                result.events.append(.maximumPrefixWarning(peer, count: count, limit: m.limit))
            }
        } else {
            peers[peer.index].warned = false
            peers[peer.index].exceeded = false
        }
    }
}
