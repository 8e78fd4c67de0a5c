// BGP's learned routes inside the appliance, built for a full table (a
// million prefixes): prefixes map to an interned next-hop set (a handful
// exist), changes arrive as deltas, the engine's snapshot is rebuilt at most
// every `rebuildInterval` (longer when a rebuild is slow), and kernel routes
// are written by a background thread in pipelined netlink batches, so neither
// the BGP reader nor the shell ever waits for the kernel.

import BGP
import CEgressSys
import Glibc
import Engine
import Netlink
import NIOCore
import NIOPosix
import Packet

/// The learned routes and the state of their hand-over to the engine and the kernel.
final class LearnedRoutes: @unchecked Sendable {
    /// Interned next-hop sets; `groups[i]` for group id i.
    private(set) var groups: [[IPAddress]] = []
    private var groupIndex: [[IPAddress]: UInt32] = [:]
    /// Learned prefix -> group id, kept as the engine's master prefix tables: a snapshot
    /// copies them (no per-prefix work per publication; PrefixTableBuilder.swift).
    let v4 = PrefixTableBuilder<UInt32>()
    let v6 = PrefixTableBuilder<IPv6Address>()
    var count: Int { v4.count + v6.count }

    // Engine side: a snapshot is built when the changes pause for `quietInterval`, and during
    // a long stream at most every `maximumInterval` (or `rebuildSpacing` times the last build's time), so
    // a table load costs a few rebuilds and its last one follows the last change closely.
    var rebuildTask: Scheduled<Void>?
    var lastRebuild: Duration = .zero
    var lastChange = ContinuousClock.now
    var lastPublish = ContinuousClock.now
    /// The next rebuild runs at once (the changes an End-of-RIB completed are in).
    var publishPromptly = false
    static let quietInterval: Duration = .milliseconds(40)
    static let maximumInterval: Duration = .milliseconds(500)
    /// During a stream, a rebuild waits at least this many times the last one's duration, so
    /// rebuilds take at most about 1/(factor+1) of a table load's control thread.
    static let rebuildSpacing = 8
    /// Targets of each group as last given to the engine (for adjacency refresh).
    var publishedTargets: [BulkRoutes.Target] = []
    /// Counts the deltas applied; `engineSequence` is the count the engine's table was built
    /// from (`bgp update-delay` waits until they are equal).
    var changeSequence: UInt64 = 0
    var engineSequence: UInt64 = 0

    // Kernel side.
    let kernel: KernelRouteWriter?

    init(kernel: KernelRouteWriter?) { self.kernel = kernel }

    /// Applies a delta; returns what the kernel must change (group -1: delete).
    func apply(_ delta: RouteDelta) -> [KernelChange] {
        var local = [Int32](repeating: -1, count: delta.groups.count)
        for (i, hops) in delta.groups.enumerated() { local[i] = Int32(intern(hops)) }
        var out: [KernelChange] = []
        out.reserveCapacity(delta.count)
        // The master table's slots of the changes a few ahead are prefetched (PrefixTableBuilder).
        let ahead = 4
        for j in 0..<min(ahead, delta.v4.count) { v4.prefetch(delta.v4[j].prefix.address.value, length: delta.v4[j].prefix.length) }
        for (k, c) in delta.v4.enumerated() {
            if k + ahead < delta.v4.count {
                let next = delta.v4[k + ahead].prefix
                v4.prefetch(next.address.value, length: next.length)
            }
            let (key, length) = (c.prefix.address.value, c.prefix.length)
            if c.group < 0 {
                if v4.remove(key, length: length) != nil { out.append(KernelChange(prefix: .v4(c.prefix), group: -1, countDelta: -1)) }
            } else {
                let g = UInt32(local[Int(c.group)])
                let old = v4.update(key, length: length, value: g)
                if old != g { out.append(KernelChange(prefix: .v4(c.prefix), group: Int32(g), countDelta: old == nil ? 1 : 0)) }
            }
        }
        for c in delta.v6 {
            let (key, length) = (c.prefix.address, c.prefix.length)
            if c.group < 0 {
                if v6.remove(key, length: length) != nil { out.append(KernelChange(prefix: .v6(c.prefix), group: -1, countDelta: -1)) }
            } else {
                let g = UInt32(local[Int(c.group)])
                let old = v6.update(key, length: length, value: g)
                if old != g { out.append(KernelChange(prefix: .v6(c.prefix), group: Int32(g), countDelta: old == nil ? 1 : 0)) }
            }
        }
        return out
    }

    private func intern(_ hops: [IPAddress]) -> UInt32 {
        if let g = groupIndex[hops] { return g }
        let g = UInt32(groups.count)
        groups.append(hops)
        groupIndex[hops] = g
        return g
    }

    /// The engine's form, with each group resolved by `resolve`.
    func bulk(resolve: ([IPAddress]) -> BulkRoutes.Target?) -> BulkRoutes {
        var targets: [BulkRoutes.Target] = []
        var map = [UInt32](repeating: UInt32.max, count: groups.count)
        for (i, hops) in groups.enumerated() {
            guard let t = resolve(hops) else { continue }
            map[i] = UInt32(targets.count)
            targets.append(t)
        }
        var out = BulkRoutes(targets: targets)
        out.v4.reserveCapacity(v4.count)
        out.v6.reserveCapacity(v6.count)
        forEach(v4: { r in if map[Int(r.group)] != UInt32.max { out.v4.append(.init(prefix: r.prefix, target: map[Int(r.group)])) } },
                v6: { r in if map[Int(r.group)] != UInt32.max { out.v6.append(.init(prefix: r.prefix, target: map[Int(r.group)])) } })
        return out
    }

    /// Every learned prefix with its group (unordered).
    func forEach(v4 body4: (_ route: (prefix: IPv4Prefix, group: UInt32)) -> Void,
                 v6 body6: (_ route: (prefix: IPv6Prefix, group: UInt32)) -> Void) {
        v4.forEach { key, length, g in body4((IPv4Prefix(IPv4Address(key), length: Int(length))!, g)) }
        v6.forEach { key, length, g in body6((IPv6Prefix(key, length: Int(length))!, g)) }
    }
}

/// One kernel route to write (group >= 0) or delete (group -1), and how it changes the count.
struct KernelChange {
    var prefix: IPPrefix
    var group: Int32
    var countDelta: Int8
}

/// Writes learned routes into the kernel from a thread of its own, in
/// pipelined batches, in the order the changes came. Its counters are read
/// and its queue filled on the control thread only.
final class KernelRouteWriter: @unchecked Sendable {
    private let netlink: RTNetlink
    private let pool: NIOThreadPool
    private let loop: EventLoop
    /// Changes not yet written.
    private var queue: [KernelChange] = []
    /// The kernel next hops of a group (called on the control thread when a batch is built).
    var resolve: (Int32) -> [KernelNextHop] = { _ in [] }
    private var head = 0
    private var busy = false
    private var stopped = false
    static let batchSize = 8192

    /// Learned routes in the kernel, as far as the writes succeeded.
    private(set) var installed = 0
    private(set) var failures = 0
    private(set) var lastError: String?
    /// Length of the last run from a change arriving at an idle writer until its queue was empty.
    private(set) var lastRun: Duration?
    private var runStarted: ContinuousClock.Instant?

    var pending: Int { queue.count - head }
    /// Changes ever queued, and ever finished (written, failed or skipped): the writer has
    /// caught up with everything queued before when `behind` is 0.
    private(set) var enqueued: UInt64 = 0
    private(set) var completed: UInt64 = 0
    var behind: Int { Int(enqueued - completed) }
    /// Called on the loop when the writer has caught up (its queue is empty).
    var onCaughtUp: (() -> Void)?

    init(loop: EventLoop) throws {
        netlink = try RTNetlink()
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        self.loop = loop
    }

    /// Queues changes (empty hops: delete) and starts writing if idle.
    func enqueue(_ changes: [KernelChange]) {
        guard !changes.isEmpty, !stopped else { return }
        enqueued += UInt64(changes.count)
        if head > 0 && head == queue.count { queue.removeAll(keepingCapacity: true); head = 0 }
        if queue.isEmpty { queue = changes } else { queue += changes }  // no copy of a first batch
        if runStarted == nil { runStarted = .now }
        next()
    }

    /// Takes the next run of same-kind changes (all writes or all deletes) and hands it to the thread.
    private func next() {
        guard !busy, !stopped else { return }
        guard head < queue.count else {
            queue.removeAll(keepingCapacity: false)
            head = 0
            if let start = runStarted { lastRun = .now - start; runStarted = nil }
            completed = enqueued
            onCaughtUp?()
            return
        }
        let deleting = queue[head].group < 0
        let firstHead = head
        var routes: [KernelRoute] = []
        var deltas: [Int8] = []
        routes.reserveCapacity(min(Self.batchSize, queue.count - head))
        var hopsOf: [Int32: [KernelNextHop]] = [:]
        // Most consecutive changes share a group (a table load is runs of one next hop).
        var last: (group: Int32, hops: [KernelNextHop])?
        while head < queue.count, routes.count < Self.batchSize, (queue[head].group < 0) == deleting {
            let c = queue[head]
            head += 1
            var hops: [KernelNextHop] = []
            if !deleting {
                if let l = last, l.group == c.group {
                    hops = l.hops
                } else {
                    if let h = hopsOf[c.group] { hops = h } else { hops = resolve(c.group); hopsOf[c.group] = hops }
                    last = (c.group, hops)
                }
                // No usable next hop (its tunnel went away): nothing to install.
                if hops.isEmpty { continue }
            }
            routes.append(KernelRoute(prefix: c.prefix, nextHops: hops))
            deltas.append(c.countDelta)
        }
        let batch = routes
        let taken = UInt64(head - firstHead)
        busy = true
        let netlink = self.netlink
        pool.runIfActive(eventLoop: loop) { () throws -> [NetlinkError?] in
            // The kernel's copy may lag; BGP and the engine must not: this thread yields the CPU.
            KernelRouteWriter.lowerPriority()
            return deleting ? try netlink.deleteRoutes(batch) : try netlink.replaceRoutes(batch)
        }.whenComplete { [self, deltas] result in
            busy = false
            completed += taken
            switch result {
            case .success(let results):
                for (i, r) in results.enumerated() {
                    if let r {
                        // A delete of a route that is already gone is fine.
                        if deleting && (r.errno == ESRCH || r.errno == ENOENT) { installed += Int(deltas[i]); continue }
                        failures += 1
                        lastError = "\(batch[i].prefix): \(r)"
                    } else {
                        installed += Int(deltas[i])
                    }
                }
                installed = max(0, installed)
            case .failure(let error):
                failures += batch.count
                lastError = "\(error)"
            }
            next()
        }
    }

    /// Nice 10 for the calling thread (on Linux the nice value is per thread; who 0 is the caller).
    static func lowerPriority() {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
    }

    /// Stops writing (pending changes are dropped) and waits for the thread.
    func stop() {
        stopped = true
        queue = []
        head = 0
        onCaughtUp = nil
        try? pool.syncShutdownGracefully()
    }
}

extension Appliance {
    /// The speaker's route changes: into the learned table, the kernel writer's queue, and
    /// (when the changes pause, during a stream at most every `maximumInterval` or `rebuildSpacing` times the last rebuild's time) the engine.
    func learnedRoutesChanged(_ delta: RouteDelta) {
        guard !delta.isEmpty else { return }
        let table: LearnedRoutes
        if let existing = learned {
            table = existing
        } else {
            var writer: KernelRouteWriter?
            if let loop = MultiThreadedEventLoopGroup.currentEventLoop {
                do { writer = try KernelRouteWriter(loop: loop) } catch { record("bgp: no kernel route writer: \(error)") }
            }
            table = LearnedRoutes(kernel: writer)
            // A table load allocates and frees arrays of tens of MB (deltas, the writer's queue,
            // snapshot builds). glibc raises its mmap threshold after such a free, and later big
            // arrays then come from the heap and stay in RSS; a fixed threshold keeps them mmapped,
            // so they go back to the kernel when freed.
            _ = egressd_fix_mmap_threshold(256 * 1024)
            writer?.onCaughtUp = { [weak self] in self?.updateDelayInputChanged() }
            writer?.resolve = { [weak self, weak table] group in
                guard let self, let table, group >= 0, Int(group) < table.groups.count else { return [] }
                return self.kernelNextHops(table.groups[Int(group)])
            }
            learned = table
        }
        table.changeSequence &+= 1
        var changes = table.apply(delta)
        // A static route for the prefix owns the kernel's route.
        if !config.staticRoutes.isEmpty {
            let statics = Set(config.staticRoutes.map(\.prefix))
            changes.removeAll { statics.contains($0.prefix) }
        }
        table.kernel?.enqueue(changes)
        scheduleLearnedRebuild(table)
    }

    /// Writes every learned route into the kernel again (replace), after a tunnel came or
    /// went: the kernel drops the routes through a TUN that is deleted, and a route's next
    /// hops change with the tunnels that exist, while BGP itself may have seen no change
    /// (a session that survives a short tunnel flap).
    func resyncLearnedKernelRoutes() {
        guard let table = learned, let writer = table.kernel else { return }
        let statics = Set(config.staticRoutes.map(\.prefix))
        var changes: [KernelChange] = []
        changes.reserveCapacity(table.v4.count + table.v6.count)
        table.forEach(v4: { r in
            if !statics.contains(.v4(r.prefix)) { changes.append(KernelChange(prefix: .v4(r.prefix), group: Int32(r.group), countDelta: 0)) }
        }, v6: { r in
            if !statics.contains(.v6(r.prefix)) { changes.append(KernelChange(prefix: .v6(r.prefix), group: Int32(r.group), countDelta: 0)) }
        })
        writer.enqueue(changes)
    }

    private func scheduleLearnedRebuild(_ table: LearnedRoutes) {
        table.lastChange = .now
        if bgpSpeaker?.handingOverEndOfRIB == true {
            // The batch an End-of-RIB completed: the end of a table load, published on the next
            // loop turn rather than after the quiet interval.
            table.publishPromptly = true
            table.rebuildTask?.cancel()
            table.rebuildTask = nil
        }
        guard table.rebuildTask == nil else { return }
        if table.count == 0 || table.lastPublish < table.lastChange - .seconds(5) { table.lastPublish = .now }
        armLearnedRebuild(table, in: table.publishPromptly ? .zero : LearnedRoutes.quietInterval)
    }

    private func armLearnedRebuild(_ table: LearnedRoutes, in wait: Duration) {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return }
        let (seconds, attoseconds) = wait.components
        table.rebuildTask = loop.scheduleTask(in: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)) { [weak self, weak table] in
            guard let self, let table else { return }
            let now = ContinuousClock.now
            let longest = max(LearnedRoutes.maximumInterval, table.lastRebuild * LearnedRoutes.rebuildSpacing)
            // Still streaming and not overdue: wait for a pause. The speaker hands changes over
            // in batches (every `publishInterval`, 50 ms, longer than the quiet interval): while
            // it holds one, the stream goes on, though the last batch may be quiet-old.
            let sinceChange = now - table.lastChange
            let speakerHolds = self.bgpSpeaker?.holdsUnpublishedRoutes ?? false
            if !table.publishPromptly, sinceChange < LearnedRoutes.quietInterval || speakerHolds, now - table.lastPublish < longest {
                // Exactly when the last change becomes quiet-old (not a whole interval later).
                let wait = speakerHolds ? LearnedRoutes.quietInterval : LearnedRoutes.quietInterval - sinceChange
                return self.armLearnedRebuild(table, in: max(.milliseconds(1), wait))
            }
            table.rebuildTask = nil
            table.publishPromptly = false
            let sequence = table.changeSequence
            self.publish(routes: self.lastRoutes)
            table.engineSequence = sequence
            table.lastPublish = .now
            table.lastRebuild = table.lastPublish - now
            self.updateDelayInputChanged()
        }
    }

    /// The learned routes as the snapshot takes them when publishing: every group's target and
    /// the master prefix tables (a copy per snapshot, no per-prefix work). A group without a
    /// target (no next hop) leaves its prefixes out of the engine: then they are listed.
    func learnedTables() -> BulkRoutes {
        guard let table = learned else { return BulkRoutes() }
        var targets: [BulkRoutes.Target] = []
        targets.reserveCapacity(table.groups.count)
        for hops in table.groups {
            guard let t = learnedTarget(hops) else { return learnedBulk() }
            targets.append(t)
        }
        table.publishedTargets = targets
        return BulkRoutes(targets: targets, v4Table: table.v4, v6Table: table.v6)
    }

    /// The learned routes in the engine's form (empty without BGP). `publish`
    /// records their targets as the ones the engine now has; a read-only
    /// caller (trace) passes false.
    func learnedBulk(publish: Bool = true) -> BulkRoutes {
        guard let table = learned else { return BulkRoutes() }
        var targets: [BulkRoutes.Target] = []
        let bulk = table.bulk { hops in
            let t = learnedTarget(hops)
            if let t { targets.append(t) }
            return t
        }
        if publish { table.publishedTargets = targets }
        return bulk
    }

    /// Whether a learned next hop's resolution (tunnel, MTU, MAC) changed since the last snapshot.
    func learnedTargetsChanged() -> Bool {
        guard let table = learned else { return false }
        return table.groups.compactMap { learnedTarget($0) } != table.publishedTargets
    }

    /// Where the engine sends a learned route: its next hops' tunnels (ECMP), else the first next hop.
    func learnedTarget(_ hops: [IPAddress]) -> BulkRoutes.Target? {
        let names = learnedTunnels(hops)
        if !names.isEmpty { return BulkRoutes.Target(target: .tunnels(names)) }
        guard let first = hops.first else { return nil }
        return BulkRoutes.Target(target: .nextHop(first, mtu: egressMTU(toward: first)), adjacency: adjacency(of: first))
    }

    /// The tunnels of a learned route's next hops, each once: a Connect peer's two BGP
    /// addresses are in one tunnel, and that tunnel is one ECMP member, not two.
    func learnedTunnels(_ hops: [IPAddress]) -> [String] {
        var seen = Set<String>()
        return hops.compactMap { tunnel(owning: $0) }.filter { seen.insert($0).inserted }
    }

    /// The kernel's next hops of a learned route: the tunnels' TUNs (IPv6 multipath names a
    /// gateway in each tunnel, KernelRouteGateways.swift), else the first next hop as gateway.
    func kernelNextHops(_ hops: [IPAddress]) -> [KernelNextHop] {
        let names = learnedTunnels(hops)
        let ipv6 = hops.contains { if case .v6 = $0 { true } else { false } }
        if ipv6, names.count > 1 {
            return names.compactMap { ipv6MultipathHop(tunnel: $0, protocolNextHops: hops) }
        }
        var out = names.compactMap { tunnels[$0].map { KernelNextHop(interfaceIndex: $0.interfaceIndex) } }
        if out.isEmpty, let first = hops.first { out.append(KernelNextHop(gateway: first)) }
        return out
    }
}

extension Appliance {
    /// `show ip route` rows of the learned routes the engine has (static routes win), by prefix.
    func learnedRouteRows(ipv6: Bool) -> [(prefix: String, kind: String, via: [String])] {
        guard let table = learned else { return [] }
        let statics = Set(config.staticRoutes.map(\.prefix))
        var via: [UInt32: [String]] = [:]
        func describe(_ g: UInt32) -> [String]? {
            if let v = via[g] { return v.isEmpty ? nil : v }
            var text: [String] = []
            switch learnedTarget(table.groups[Int(g)])?.target {
            case .tunnels(let names)?: text = names
            case .nextHop(let a, let mtu)?: text = ["\(a) (mtu \(mtu))"]
            default: break
            }
            via[g] = text
            return text.isEmpty ? nil : text
        }
        var rows: [(prefix: String, kind: String, via: [String])] = []
        var routes4: [(prefix: IPv4Prefix, group: UInt32)] = []
        var routes6: [(prefix: IPv6Prefix, group: UInt32)] = []
        table.forEach(v4: { if !ipv6 { routes4.append($0) } }, v6: { if ipv6 { routes6.append($0) } })
        if ipv6 {
            for (p, g) in routes6.sorted(by: { $0.prefix < $1.prefix }) where !statics.contains(.v6(p)) {
                if let v = describe(g) { rows.append((p.description, "bgp", v)) }
            }
        } else {
            for (p, g) in routes4.sorted(by: { $0.prefix < $1.prefix }) where !statics.contains(.v4(p)) {
                if let v = describe(g) { rows.append((p.description, "bgp", v)) }
            }
        }
        return rows
    }
}

/// The kernel's connected routes (protocol kernel, main table), dumped again only when an
/// address or a link's state changed. With a full table in the kernel a route dump reads a
/// million routes, and the adjacency refresh needs the connected ones every few seconds.
final class ConnectedRouteCache: @unchecked Sendable {
    private var key: [String] = []
    private var routes: [KernelRoute] = []

    func routes(_ netlink: RTNetlink) -> [KernelRoute]? {
        guard let addresses = try? netlink.addresses(), let links = try? netlink.links() else {
            return try? netlink.routes(table: RouteTable.main, protocol: RouteProtocol.kernel)
        }
        let now = addresses.map(\.description).sorted() + links.map { "\($0.index) \($0.isUp) \($0.hasCarrier) \($0.flags)" }.sorted()
        if now == key { return routes }
        guard let fresh = try? netlink.routes(table: RouteTable.main, protocol: RouteProtocol.kernel) else { return nil }
        key = now
        routes = fresh
        return fresh
    }
}
