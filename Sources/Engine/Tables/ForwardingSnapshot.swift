// The engine's complete forwarding state as one immutable value: tunnels,
// routes (IPv4 and IPv6 longest-prefix tables), ECMP bucket tables, and each
// worker's TUN queue descriptors. The control plane builds a new snapshot on
// every change and publishes it with one atomic pointer swap; workers take a
// `ForwardingView` (plain pointers) once per batch.

import Packet

/// A tunnel as the engine needs it, resolved from the configuration.
public struct TunnelSpec: Equatable, Sendable {
    public var name: String
    public var localOuter: IPv4Address
    public var remoteOuter: IPv4Address
    public var key: UInt32?
    /// Largest GRE packet on the wire; the inner MTU is this less the headers.
    public var mtu: Int
    public var insideV4: IPv4InterfaceAddress?
    public var insideV6: IPv6InterfaceAddress?

    public init(name: String, localOuter: IPv4Address, remoteOuter: IPv4Address, key: UInt32? = nil, mtu: Int = 8500,
                insideV4: IPv4InterfaceAddress? = nil, insideV6: IPv6InterfaceAddress? = nil) {
        self.name = name
        self.localOuter = localOuter
        self.remoteOuter = remoteOuter
        self.key = key
        self.mtu = mtu
        self.insideV4 = insideV4
        self.insideV6 = insideV6
    }

    /// Outer IPv4 (20) + GRE (4, or 8 with a key).
    public var encapsulationOverhead: Int { 20 + GREHeader.length(key: key) }
    public var innerMTU: Int { mtu - encapsulationOverhead }
}

/// Where a route sends packets.
public enum RouteTarget: Equatable, Sendable {
    /// Into one of these tunnels (by name), chosen by resilient ECMP.
    case tunnels([String])
    /// To a next hop outside the tunnels, through the host's stack, with
    /// the MTU of the interface toward it.
    case nextHop(IPAddress, mtu: Int)
    /// Discard.
    case blackhole
    /// Hand to the host's kernel (through the ingress tunnel's TUN): for
    /// subnets the kernel reaches itself, e.g. its connected interfaces.
    case kernel
}

public struct RouteSpec: Equatable, Sendable {
    public var prefix: IPPrefix
    public var target: RouteTarget
    /// Who made the route ("static", "bgp", "kernel"), for show commands.
    public var origin: String
    /// For an IPv4 next hop: its resolved link-layer neighbour. With it the
    /// engine sends the packet straight to that MAC (AF_PACKET), without
    /// the kernel's routing and neighbour lookups; without it, through the
    /// kernel's IP output (which also resolves ARP).
    public var adjacency: Adjacency?
    public init(prefix: IPPrefix, target: RouteTarget, origin: String = "static", adjacency: Adjacency? = nil) {
        self.prefix = prefix
        self.target = target
        self.origin = origin
        self.adjacency = adjacency
    }
}

/// A next hop's interface and MAC address.
public struct Adjacency: Equatable, Sendable {
    public var interfaceIndex: Int32
    public var mac: [UInt8]
    public init(interfaceIndex: Int32, mac: [UInt8]) {
        self.interfaceIndex = interfaceIndex
        self.mac = mac
    }

    /// The MAC in the low 48 bits (first octet highest), as output entries carry it.
    var packedMAC: UInt64 { mac.count == 6 ? mac.reduce(0) { $0 << 8 | UInt64($1) } : 0 }
}

/// Routes a routing protocol learned, at table scale: a few distinct targets
/// and many prefixes that point at them. Static, connected and local routes
/// for the same prefix win. The snapshot keeps only the prefix tables, not
/// this list (`bulkRouteCount` tells how many went in).
public struct BulkRoutes: Sendable {
    public struct Target: Sendable, Equatable {
        public var target: RouteTarget
        public var adjacency: Adjacency?
        public init(target: RouteTarget, adjacency: Adjacency? = nil) { self.target = target; self.adjacency = adjacency }
    }
    public struct IPv4Route: Sendable { public var prefix: IPv4Prefix; public var target: UInt32
        public init(prefix: IPv4Prefix, target: UInt32) { self.prefix = prefix; self.target = target } }
    public struct IPv6Route: Sendable { public var prefix: IPv6Prefix; public var target: UInt32
        public init(prefix: IPv6Prefix, target: UInt32) { self.prefix = prefix; self.target = target } }

    public var targets: [Target]
    /// Prefixes with an index into `targets`.
    public var v4: [IPv4Route]
    public var v6: [IPv6Route]
    /// Or, at table scale, the prefixes as master tables the control plane keeps up to date
    /// (values: indexes into `targets`), which a snapshot copies instead of inserting each
    /// prefix. When set, `v4`/`v6` are not used for that family.
    public var v4Table: PrefixTableBuilder<UInt32>?
    public var v6Table: PrefixTableBuilder<IPv6Address>?

    public init(targets: [Target] = [], v4: [IPv4Route] = [], v6: [IPv6Route] = []) {
        self.targets = targets; self.v4 = v4; self.v6 = v6
    }

    public init(targets: [Target], v4Table: PrefixTableBuilder<UInt32>, v6Table: PrefixTableBuilder<IPv6Address>) {
        self.targets = targets; v4 = []; v6 = []
        self.v4Table = v4Table; self.v6Table = v6Table
    }

    /// The same routes with the master tables' prefixes listed in `v4`/`v6`.
    public func materialized() -> BulkRoutes {
        var out = BulkRoutes(targets: targets, v4: v4, v6: v6)
        if let t = v4Table {
            out.v4.reserveCapacity(out.v4.count + t.count)
            t.forEach { key, length, value in out.v4.append(IPv4Route(prefix: IPv4Prefix(IPv4Address(key), length: Int(length))!, target: value)) }
        }
        if let t = v6Table {
            out.v6.reserveCapacity(out.v6.count + t.count)
            t.forEach { key, length, value in out.v6.append(IPv6Route(prefix: IPv6Prefix(key, length: Int(length))!, target: value)) }
        }
        return out
    }
}

/// A route's entry in the flat route array.
public struct RouteEntry: Sendable {
    /// `local`: to the kernel (own addresses and kernel-reached subnets).
    public enum Kind: UInt8, Sendable { case local = 0, tunnels, nextHop, blackhole }
    public var kind: Kind
    /// ECMP group for `.tunnels`; owning tunnel for `.local`.
    public var index: UInt32
    /// Egress MTU (inner packet) for `.nextHop`.
    public var mtu: UInt32
    public var nextHopV4: UInt32
    public var nextHopV6: IPv6Address
    /// For `.nextHop` with a resolved adjacency: where to send the frame
    /// (mac 0: not resolved, use the kernel's IP output).
    public var interfaceIndex: Int32 = 0
    public var mac: UInt64 = 0
}

/// A tunnel's entry in the flat tunnel array.
public struct TunnelEntry: Sendable {
    public var localOuter: UInt32
    public var remoteOuter: UInt32
    public var key: UInt32
    public var hasKey: Bool
    public var innerMTU: Int
    public var insideV4: UInt32          // 0 when none
    public var insideV6: IPv6Address     // .any when none
    public var counters: CounterRowSet
}

/// Per-tunnel counter rows, one per worker (a raw pointer into a block the
/// control plane keeps alive as long as the tunnel exists).
public struct CounterRowSet: @unchecked Sendable {
    @usableFromInline let block: UnsafeMutablePointer<UInt64.AtomicRepresentation>
    @usableFromInline let stride: Int

    init(_ b: CounterBlock) {
        block = b.storage
        stride = CounterBlock.rowStride(b.fields)
    }

    @inlinable public func row(_ worker: Int) -> CounterRow { CounterRow(base: block + worker * stride) }
}

import Atomics

public final class ForwardingSnapshot: @unchecked Sendable {
    public let generation: UInt64
    public let tunnelSpecs: [TunnelSpec]
    public let routeSpecs: [RouteSpec]
    public let redirectSpecs: [RedirectServiceSpec]
    let compiledRedirect: CompiledRedirect
    /// Keeps the counter blocks and TUN devices alive while any worker may
    /// still use this snapshot.
    let retained: [AnyObject]

    let tunnels: UnsafeMutablePointer<TunnelEntry>
    let routes: UnsafeMutablePointer<RouteEntry>
    let buckets: UnsafeMutablePointer<UInt16>
    let tunFDs: UnsafeMutablePointer<Int32>
    let workers: Int
    let fib4: IPv4PrefixTable
    let fib6: IPv6PrefixTable

    /// Builds a snapshot. `counters[name]` and `tunFDs[name]` (one fd per
    /// worker) must exist for every tunnel. Routes naming tunnels that are
    /// not in `tunnels` lose those members; a route left with none is
    /// dropped (a route's next hop must be usable).
    public init(generation: UInt64, tunnels specs: [TunnelSpec], routes routeList: [RouteSpec],
                counters: [String: CounterBlock], tunFDs fdsByName: [String: [Int32]], workers: Int,
                redirect: [RedirectServiceSpec] = [], redirectCounters: [UInt8: CounterBlock] = [:],
                retain: [AnyObject] = [], bulk: BulkRoutes = BulkRoutes()) {
        self.generation = generation
        redirectSpecs = redirect
        compiledRedirect = CompiledRedirect(redirect, counters: redirectCounters)
        self.workers = workers
        let sorted = specs.sorted { $0.name < $1.name }
        tunnelSpecs = sorted
        var index: [String: Int] = [:]
        tunnels = .allocate(capacity: max(1, sorted.count))
        tunFDs = .allocate(capacity: max(1, sorted.count * workers))
        tunFDs.initialize(repeating: -1, count: max(1, sorted.count * workers))
        for (i, t) in sorted.enumerated() {
            index[t.name] = i
            (tunnels + i).initialize(to: TunnelEntry(
                localOuter: t.localOuter.value, remoteOuter: t.remoteOuter.value, key: t.key ?? 0, hasKey: t.key != nil,
                innerMTU: t.innerMTU, insideV4: t.insideV4?.address.value ?? 0, insideV6: t.insideV6?.address ?? .any,
                counters: CounterRowSet(counters[t.name]!)))
            let fds = fdsByName[t.name] ?? []
            for w in 0..<workers where w < fds.count { tunFDs[i * workers + w] = fds[w] }
        }

        // Routes: connected subnets and local addresses of the tunnels
        // first, then the configured ones (which may override connected).
        var entries: [RouteEntry] = []
        var v4: [IPv4Prefix: UInt32] = [:]
        var v6: [IPv6Prefix: UInt32] = [:]
        var groups: [[String]: UInt32] = [:]
        var bucketTable: [UInt16] = []
        func group(_ members: [String]) -> UInt32 {
            let key = Array(Set(members)).sorted()
            if let g = groups[key] { return g }
            let g = UInt32(groups.count)
            groups[key] = g
            let memberIndices = key.map { index[$0]! }
            let table = ResilientECMP.buckets(members: key.map(ResilientECMP.identity(of:)))
            bucketTable += table.map { UInt16(memberIndices[Int($0)]) }
            return g
        }
        var prefixes: [IPPrefix?] = []
        func add(_ prefix: IPPrefix, _ e: RouteEntry) {
            let i = UInt32(entries.count)
            entries.append(e)
            prefixes.append(prefix)
            switch prefix {
            case .v4(let p): v4[p] = i
            case .v6(let p): v6[p] = i
            }
        }
        var kept: [RouteSpec] = []
        // A tunnel's inside subnet is the kernel's, as on a Linux GRE device: a
        // packet from the tunnel for another address of that subnet (e.g. a second
        // BGP address the kernel holds) goes to the kernel, never straight back
        // into the tunnel it came from (a loop until the TTL runs out); what the
        // kernel sends to the subnet leaves through the TUN's own tunnel.
        for t in sorted {
            if let a = t.insideV4 {
                add(.v4(a.subnet), RouteEntry(kind: .local, index: UInt32(index[t.name]!), mtu: 0, nextHopV4: 0, nextHopV6: .any))
            }
            if let a = t.insideV6 {
                add(.v6(a.subnet), RouteEntry(kind: .local, index: UInt32(index[t.name]!), mtu: 0, nextHopV4: 0, nextHopV6: .any))
            }
        }
        // Configured routes for one prefix merge: several tunnel lines are one
        // ECMP group (as several `ip route` lines are in IOS/FRR).
        var merged: [IPPrefix: RouteTarget] = [:]
        var origins: [IPPrefix: String] = [:]
        var adjacencies: [IPPrefix: Adjacency] = [:]
        var order: [IPPrefix] = []
        for r in routeList {
            switch (merged[r.prefix], r.target) {
            case (nil, _):
                merged[r.prefix] = r.target
                origins[r.prefix] = r.origin
                adjacencies[r.prefix] = r.adjacency
                order.append(r.prefix)
            case (.tunnels(let a)?, .tunnels(let b)):
                merged[r.prefix] = .tunnels(a + b)
            default:
                break // first non-tunnel target wins; others are alternatives not used
            }
        }
        for prefix in order {
            let target = merged[prefix]!
            let origin = origins[prefix]!
            switch target {
            case .tunnels(let names):
                let live = names.filter { index[$0] != nil }
                guard !live.isEmpty else { continue }
                add(prefix, RouteEntry(kind: .tunnels, index: group(live), mtu: 0, nextHopV4: 0, nextHopV6: .any))
                kept.append(RouteSpec(prefix: prefix, target: .tunnels(Array(Set(live)).sorted()), origin: origin))
            case .nextHop(let nh, let mtu):
                var e = RouteEntry(kind: .nextHop, index: 0, mtu: UInt32(mtu), nextHopV4: 0, nextHopV6: .any)
                switch nh {
                case .v4(let a): e.nextHopV4 = a.value
                case .v6(let a): e.nextHopV6 = a
                }
                if case .v4 = nh, let adj = adjacencies[prefix], adj.packedMAC != 0 {
                    e.interfaceIndex = adj.interfaceIndex
                    e.mac = adj.packedMAC
                }
                add(prefix, e)
                kept.append(RouteSpec(prefix: prefix, target: target, origin: origin, adjacency: adjacencies[prefix]))
            case .blackhole:
                add(prefix, RouteEntry(kind: .blackhole, index: 0, mtu: 0, nextHopV4: 0, nextHopV6: .any))
                kept.append(RouteSpec(prefix: prefix, target: target, origin: origin))
            case .kernel:
                add(prefix, RouteEntry(kind: .local, index: 0, mtu: 0, nextHopV4: 0, nextHopV6: .any))
                kept.append(RouteSpec(prefix: prefix, target: target, origin: origin))
            }
        }
        // Learned routes: one entry per distinct target, shared by its prefixes.
        // Master tables are copied with their values shifted to the targets' entries, which
        // needs every target to have one (consecutive); else their prefixes are listed.
        var bulk = bulk
        if bulk.v4Table != nil || bulk.v6Table != nil, !bulk.targets.allSatisfy({ t in
            if case .tunnels(let names) = t.target { return names.contains { index[$0] != nil } }
            return true
        }) {
            bulk = bulk.materialized()
        }
        let bulkBase = UInt32(entries.count)
        var bulkEntry = [UInt32](repeating: noRouteIndex, count: bulk.targets.count)
        for (i, t) in bulk.targets.enumerated() {
            var e = RouteEntry(kind: .blackhole, index: 0, mtu: 0, nextHopV4: 0, nextHopV6: .any)
            switch t.target {
            case .tunnels(let names):
                let live = names.filter { index[$0] != nil }
                guard !live.isEmpty else { continue }
                e.kind = .tunnels
                e.index = group(live)
            case .nextHop(let nh, let mtu):
                e.kind = .nextHop
                e.mtu = UInt32(mtu)
                switch nh {
                case .v4(let a): e.nextHopV4 = a.value
                case .v6(let a): e.nextHopV6 = a
                }
                if case .v4 = nh, let adj = t.adjacency, adj.packedMAC != 0 {
                    e.interfaceIndex = adj.interfaceIndex
                    e.mac = adj.packedMAC
                }
            case .blackhole:
                break
            case .kernel:
                e.kind = .local
            }
            bulkEntry[i] = UInt32(entries.count)
            entries.append(e)
            prefixes.append(nil)  // shared by many learned prefixes
        }
        // The appliance's own inside addresses are delivered to the kernel.
        for (i, t) in sorted.enumerated() {
            if let a = t.insideV4 {
                add(.v4(IPv4Prefix(a.address, length: 32)!), RouteEntry(kind: .local, index: UInt32(i), mtu: 0, nextHopV4: 0, nextHopV6: .any))
            }
            if let a = t.insideV6 {
                add(.v6(IPv6Prefix(a.address, length: 128)!), RouteEntry(kind: .local, index: UInt32(i), mtu: 0, nextHopV4: 0, nextHopV6: .any))
            }
        }
        routeSpecs = kept
        routePrefixes = prefixes
        routes = .allocate(capacity: max(1, entries.count))
        routes.initialize(from: entries, count: entries.count)
        buckets = .allocate(capacity: max(1, bucketTable.count))
        buckets.initialize(from: bucketTable, count: bucketTable.count)
        // Learned prefixes first: the configured, connected and local ones, added after, win.
        var keys4: [(key: UInt32, length: UInt8, value: UInt32)] = []
        keys4.reserveCapacity(bulk.v4.count + v4.count)
        var bulkCount = 0
        // The configured routes are a handful: a learned prefix is looked up among them only
        // when one has its length, by binary search in their sorted keys (no hashing per
        // learned prefix; a connected /24 and a table of /24s would hash every one).
        var lengths4 = [Bool](repeating: false, count: 33), lengths6 = [Bool](repeating: false, count: 129)
        for p in v4.keys { lengths4[Int(p.length)] = true }
        for p in v6.keys { lengths6[Int(p.length)] = true }
        let configured4 = v4.keys.map { UInt64($0.address.value) << 8 | UInt64($0.length) }.sorted()
        func isConfigured(_ p: IPv4Prefix) -> Bool {
            let key = UInt64(p.address.value) << 8 | UInt64(p.length)
            var lo = 0, hi = configured4.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if configured4[mid] < key { lo = mid + 1 } else { hi = mid }
            }
            return lo < configured4.count && configured4[lo] == key
        }
        for r in bulk.v4 {
            let e = bulkEntry[Int(r.target)]
            guard e != noRouteIndex, !lengths4[Int(r.prefix.length)] || !isConfigured(r.prefix) else { continue }
            keys4.append((r.prefix.address.value, r.prefix.length, e))
        }
        bulkCount += keys4.count
        for (p, i) in v4 { keys4.append((p.address.value, p.length, i)) }
        if let master = bulk.v4Table {
            // keys4 holds the listed learned prefixes (none, normally) and the configured ones.
            let (table, replaced) = master.table(offsetBy: bulkBase, adding: keys4)
            fib4 = table
            bulkCount += master.count - replaced
        } else {
            fib4 = IPv4PrefixTable(keys4)
        }
        var keys6: [(key: IPv6Address, length: UInt8, value: UInt32)] = []
        keys6.reserveCapacity(bulk.v6.count + v6.count)
        for r in bulk.v6 {
            let e = bulkEntry[Int(r.target)]
            guard e != noRouteIndex, !lengths6[Int(r.prefix.length)] || v6[r.prefix] == nil else { continue }
            keys6.append((r.prefix.address, r.prefix.length, e))
        }
        bulkCount += keys6.count
        for (p, i) in v6 { keys6.append((p.address, p.length, i)) }
        if let master = bulk.v6Table {
            let (table, replaced) = master.table(offsetBy: bulkBase, adding: keys6)
            fib6 = table
            bulkCount += master.count - replaced
        } else {
            fib6 = IPv6PrefixTable(keys6)
        }
        bulkRouteCount = bulkCount
        retained = Array(counters.values) + Array(redirectCounters.values) + retain
        routeCount = entries.count
    }

    let routeCount: Int
    /// The prefix of each route entry (by index), for `trace packet`; nil for
    /// a learned-route entry, which many prefixes share.
    let routePrefixes: [IPPrefix?]
    /// Learned (bulk) prefixes in the prefix tables.
    public let bulkRouteCount: Int

    deinit {
        tunnels.deinitialize(count: tunnelSpecs.count)
        tunnels.deallocate()
        routes.deallocate()
        buckets.deallocate()
        tunFDs.deallocate()
    }

    /// The pointers a worker reads. Valid while the snapshot is alive.
    public var view: ForwardingView {
        ForwardingView(tunnelCount: tunnelSpecs.count, tunnels: tunnels, routes: routes, buckets: buckets,
                       tunFDs: tunFDs, workers: workers, fib4: fib4.view, fib6: fib6.view, redirect: compiledRedirect.view)
    }

    /// An empty snapshot (nothing configured yet).
    public static func empty(workers: Int) -> ForwardingSnapshot {
        ForwardingSnapshot(generation: 0, tunnels: [], routes: [], counters: [:], tunFDs: [:], workers: workers)
    }
}

/// What the packet path sees of a snapshot: plain pointers and counts.
public struct ForwardingView {
    public let tunnelCount: Int
    public let tunnels: UnsafeMutablePointer<TunnelEntry>
    public let routes: UnsafeMutablePointer<RouteEntry>
    public let buckets: UnsafeMutablePointer<UInt16>
    public let tunFDs: UnsafeMutablePointer<Int32>
    public let workers: Int
    public let fib4: IPv4PrefixTable.View
    public let fib6: IPv6PrefixTable.View
    let redirect: RedirectView

    /// The tunnel whose outer addresses these are, or -1.
    @inlinable @inline(__always)
    public func tunnel(localOuter: UInt32, remoteOuter: UInt32) -> Int {
        var i = 0
        while i < tunnelCount {
            let t = tunnels[i]
            if t.remoteOuter == remoteOuter && t.localOuter == localOuter { return i }
            i += 1
        }
        return -1
    }

    /// The tunnel a flow of ECMP group `group` uses.
    @inlinable @inline(__always)
    public func ecmpMember(group: UInt32, hash: UInt64) -> Int {
        Int(buckets[Int(group) * ResilientECMP.bucketCount + ResilientECMP.bucket(of: hash)])
    }
}
