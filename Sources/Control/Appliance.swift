// The appliance: turns a RunningConfig into running state (TUN interfaces,
// their addresses, kernel routes, the engine's forwarding snapshot) and
// applies later configs as differences, so that a change to one tunnel or
// route leaves the others, and their flows, alone. All methods run on the
// control thread (the shell server's event loop); the engine's workers only
// see the snapshots published here.

import BGP
import Commands
import Engine
import Logging
import Netlink
import Observability
import Packet
import CEgressSys

public final class Appliance: @unchecked Sendable {
    public private(set) var config: RunningConfig
    public let engine: Engine
    let netlink: RTNetlink
    let logger: Logger
    var tunnels: [String: TunnelState] = [:]
    var installedRoutes: [IPPrefix: KernelRoute] = [:]
    /// Routes learned by routing protocols (e.g. "bgp"), by prefix: the
    /// next hops of each prefix's best path set. Static routes for the same
    /// prefix win (administrative distance, as in IOS/FRR).
    var protocolRoutes: [String: [IPPrefix: [IPAddress]]] = [:]
    /// The routes of the last published snapshot.
    var lastRoutes: [RouteSpec] = []
    /// WCCP services the engine applies, and their counters.
    var redirectServices: [RedirectServiceSpec] = []
    var redirectCounters: [UInt8: CounterBlock] = [:]
    /// The BGP speaker while `router bgp` is configured (BGPService.swift).
    var bgpSpeaker: BGPSpeaker?
    /// Graceful shutdown and update-delay state (BGPLifecycle.swift).
    let bgpLifecycle = BGPLifecycle()
    /// BGP's learned routes, at table scale (LearnedRoutes.swift).
    var learned: LearnedRoutes?
    /// `ip sla` probes and `track` objects (Track/TrackService.swift).
    var trackService: TrackService?
    /// The kernel's connected routes, dumped again only when addresses or links change.
    let connectedRoutes = ConnectedRouteCache()
    /// The WCCP router's UDP endpoint while `ip wccp` is configured (WCCP/WCCPService.swift).
    var wccpEndpoint: WCCPEndpoint?
    /// The shell's server, for its bounds' counters on the metrics page (set by egressd's main).
    public weak var controlServer: ControlServer?
    var generation: UInt64 = 0
    /// The Prometheus endpoint (Observability/MetricsServer.swift) and its registry.
    var metricsServer: MetricsServer?
    /// IPFIX export (Observability/FlowExporter.swift).
    var flowExporter: FlowExporter?
    /// Packet captures by name (Observability/Capture.swift); one runs at a time.
    var captures: [String: CaptureSession] = [:]
    public let metricsRegistry = ScrapeRegistry()
    public let startedAt = ContinuousClock.now
    /// Recent state changes, for `show logging`.
    public private(set) var events: [String] = []

    public init(config: RunningConfig, logger: Logger) throws {
        self.config = RunningConfig()
        self.logger = logger
        let placement = try ThreadPlacement.plan(workerCPUs: config.dataplane.workerCPUs, allowed: ThreadPlacement.allowedAtStart)
        engine = Engine(settings: Engine.Settings(workers: config.dataplane.workers, batchSize: config.dataplane.batchSize,
                                                  cpus: placement?.workerCPUs ?? [],
                                                  ioBackend: Engine.IOBackend(rawValue: config.dataplane.ioBackend.rawValue) ?? .tpacket,
                                                  qdiscBypass: config.dataplane.qdiscBypass, realtime: config.dataplane.workerRealtime))
        netlink = try RTNetlink()
        try engine.start()
        placeThreads(placement)
        if let reason = engine.fallbackReason {
            record("dataplane io-backend \(engine.settings.ioBackend.rawValue) unavailable, running \(engine.runningBackend.rawValue): \(reason)")
        }
        flushStaleRoutes()
        do {
            try apply(config)
        } catch {
            // The workers hold the engine unowned: stop them before it goes (a failed
            // start, e.g. no /dev/net/tun, crashed here instead of exiting cleanly).
            for (_, r) in installedRoutes { try? netlink.deleteRoute(r) }
            engine.stop()
            throw error
        }
    }

    /// Removes what egressd left in the kernel: its routes, by protocol.
    func flushStaleRoutes() {
        guard let stale = try? netlink.routes(table: RouteTable.main, protocol: RouteProtocol.egressd) else { return }
        for r in stale {
            try? netlink.deleteRoute(r)
        }
        if !stale.isEmpty { record("removed \(stale.count) stale kernel routes from a previous run") }
    }

    func record(_ event: String, _ metadata: Logger.Metadata = [:]) {
        logger.info("\(event)", metadata: metadata)
        events.append(event)
        if events.count > 200 { events.removeFirst(events.count - 200) }
    }

    // MARK: Applying a configuration

    /// Makes the running state match `new`. Tunnels and routes that did not
    /// change are not touched.
    public func apply(_ new: RunningConfig) throws {
        if new.dataplane.workerCPUs != config.dataplane.workerCPUs {
            // Refused before anything changes: a CPU this process may not run on.
            _ = try ThreadPlacement.plan(workerCPUs: new.dataplane.workerCPUs, allowed: ThreadPlacement.allowedAtStart)
        }
        if new.dataplane != config.dataplane && generation > 0 {
            record("dataplane settings change (workers, batch size, io-backend, qdisc-bypass, worker cpus, realtime) takes effect at the next restart")
        }
        let tunnelLinksBefore = tunnels.mapValues(\.interfaceIndex)
        // Tunnels to remove: gone, shut down, or with changed outer addresses or key.
        let wanted = new.tunnels.values.filter { !$0.shutdown && $0.source != nil && $0.destination != nil }
        let wantedNames = Set(wanted.map(\.name))
        for (name, state) in tunnels {
            let next = new.tunnels[name]
            let outerChanged = next.map { $0.source != state.spec.localOuter || $0.destination != state.spec.remoteOuter || $0.key != state.spec.key } ?? true
            if !wantedNames.contains(name) || outerChanged {
                tunnels[name] = nil
                record("interface \(name) removed", ["interface": "\(name)"])
            }
        }
        for t in wanted.sorted(by: { $0.name < $1.name }) {
            let spec = TunnelSpec(name: t.name, localOuter: t.source!, remoteOuter: t.destination!, key: t.key, mtu: t.mtu,
                                  insideV4: t.ipv4, insideV6: t.ipv6)
            if let state = tunnels[t.name] {
                try update(state, to: spec)
            } else {
                try create(spec)
            }
            tunnels[t.name]!.connectPeer = t.connectPeer
            tunnels[t.name]!.description = t.description
        }
        config = new
        applyTracks()
        applyBGP()
        applyWCCP()
        applyMetrics()
        applyFlowExport()
        republishRoutes()
        if tunnels.mapValues(\.interfaceIndex) != tunnelLinksBefore { resyncLearnedKernelRoutes() }
    }

    /// Rebuilds the engine's routes and the kernel's from the config and the
    /// protocol routes, and publishes them.
    func republishRoutes() {
        let routes = resolveRoutes(config)
        publish(routes: routes)
        syncKernelRoutes(routes)
    }

    /// Replaces the routes a routing protocol (`source`, e.g. "bgp") wants
    /// installed: for each prefix, its ECMP next hops (addresses inside a
    /// tunnel's subnet resolve to that tunnel). Call on the control thread.
    public func setProtocolRoutes(_ source: String, _ routes: [IPPrefix: [IPAddress]]) {
        protocolRoutes[source] = routes
        republishRoutes()
    }

    func create(_ spec: TunnelSpec) throws {
        let device = try TunDevice(name: spec.name, queues: engine.settings.workers)
        guard let link = try netlink.link(named: spec.name) else {
            throw ApplianceError("interface \(spec.name) vanished after it was created")
        }
        // No router solicitations or DAD on a tunnel without IPv6, and the
        // kernel must accept return traffic whatever tunnel it left by.
        _ = egressd_write_sysctl("/proc/sys/net/ipv6/conf/\(spec.name)/disable_ipv6", spec.insideV6 == nil ? "1" : "0")
        _ = egressd_write_sysctl("/proc/sys/net/ipv4/conf/\(spec.name)/rp_filter", "0")
        try netlink.setLink(index: link.index, up: nil, mtu: spec.innerMTU)
        if let a = spec.insideV4 { try netlink.addAddress(a, index: link.index) }
        if let a = spec.insideV6 { try netlink.addAddress(a, index: link.index) }
        try netlink.setLink(index: link.index, up: true, mtu: nil)
        tunnels[spec.name] = TunnelState(spec: spec, device: device,
                                         counters: CounterBlock(workers: engine.settings.workers, fields: TunnelCounter.fieldCount),
                                         interfaceIndex: link.index)
        record("interface \(spec.name) up: GRE \(spec.localOuter) -> \(spec.remoteOuter), inner MTU \(spec.innerMTU), TUN offloads \(device.offloadDescription)",
               ["interface": "\(spec.name)", "state": "up"])
    }

    /// Applies address and MTU changes to a tunnel that stays up.
    func update(_ state: TunnelState, to spec: TunnelSpec) throws {
        let old = state.spec
        guard old != spec else { return }
        let index = state.interfaceIndex
        if old.mtu != spec.mtu { try netlink.setLink(index: index, up: nil, mtu: spec.innerMTU) }
        if old.insideV4 != spec.insideV4 {
            if let a = old.insideV4 { try? netlink.deleteAddress(a, index: index) }
            if let a = spec.insideV4 { try netlink.addAddress(a, index: index) }
        }
        if old.insideV6 != spec.insideV6 {
            if let a = old.insideV6 { try? netlink.deleteAddress(a, index: index) }
            _ = egressd_write_sysctl("/proc/sys/net/ipv6/conf/\(spec.name)/disable_ipv6", spec.insideV6 == nil ? "1" : "0")
            if let a = spec.insideV6 { try netlink.addAddress(a, index: index) }
        }
        state.spec = spec
        record("interface \(spec.name) changed", ["interface": "\(spec.name)"])
    }

    /// Static routes → engine routes. A route whose next hop is unusable
    /// (tunnel down or missing) is left out, as a router does.
    func resolveRoutes(_ c: RunningConfig) -> [RouteSpec] {
        var out: [RouteSpec] = []
        for r in c.staticRoutes.sorted(by: { "\($0.prefix) \($0.nextHop)" < "\($1.prefix) \($1.nextHop)" }) {
            switch r.nextHop {
            case .interface(let name):
                if tunnels[name] != nil { out.append(RouteSpec(prefix: r.prefix, target: .tunnels([name]))) }
            case .address(let a):
                if let t = tunnel(owning: a) {
                    out.append(RouteSpec(prefix: r.prefix, target: .tunnels([t])))
                } else {
                    out.append(RouteSpec(prefix: r.prefix, target: .nextHop(a, mtu: egressMTU(toward: a)), adjacency: adjacency(of: a)))
                }
            case .blackhole:
                out.append(RouteSpec(prefix: r.prefix, target: .blackhole))
            }
        }
        // Protocol routes, for prefixes no static route covers.
        let staticPrefixes = Set(c.staticRoutes.map(\.prefix))
        for (source, table) in protocolRoutes.sorted(by: { $0.key < $1.key }) {
            for (prefix, hops) in table.sorted(by: { $0.key.description < $1.key.description }) where !staticPrefixes.contains(prefix) {
                // Several peers in one tunnel (a Connect peer's two BGP addresses) are one hop.
                var seen = Set<String>()
                let names = hops.compactMap { tunnel(owning: $0) }.filter { seen.insert($0).inserted }
                if !names.isEmpty {
                    out.append(RouteSpec(prefix: prefix, target: .tunnels(names), origin: source))
                } else if let first = hops.first {
                    out.append(RouteSpec(prefix: prefix, target: .nextHop(first, mtu: egressMTU(toward: first)), origin: source,
                                         adjacency: adjacency(of: first)))
                }
            }
        }
        // The kernel's connected subnets (other than the tunnels') stay the
        // kernel's: a decapsulated packet for a host on such a subnet goes to
        // the kernel, not to a less specific egressd route. Listed after the
        // static routes so that a configured route for the same prefix wins.
        let tunnelIndexes = Set(tunnels.values.map(\.interfaceIndex))
        if let connected = connectedRoutes.routes(netlink) {
            for k in connected where k.type == .unicast && !k.nextHops.contains(where: { $0.interfaceIndex.map(tunnelIndexes.contains) ?? false }) {
                out.append(RouteSpec(prefix: k.prefix, target: .kernel, origin: "kernel"))
            }
        }
        return out
    }

    /// The tunnel whose inside subnet holds `address`.
    func tunnel(owning address: IPAddress) -> String? {
        for (name, t) in tunnels {
            switch address {
            case .v4(let a): if t.spec.insideV4?.subnet.contains(a) == true { return name }
            case .v6(let a): if t.spec.insideV6?.subnet.contains(a) == true { return name }
            }
        }
        return nil
    }

    /// The MTU of the interface the kernel would use toward `address`.
    /// The neighbour entry (interface, MAC) of an IPv4 next hop, when the
    /// kernel has resolved it. nil: the engine sends through the kernel's IP
    /// output, which resolves ARP; `refreshAdjacencies` picks the MAC up later.
    func adjacency(of address: IPAddress) -> Adjacency? {
        guard case .v4 = address, let r = try? netlink.routeLookup(to: address), let oif = r.interfaceIndex,
              let neighbours = try? netlink.neighbours(index: oif) else { return nil }
        let target = r.gateway ?? address
        // Only confirmed entries: a STALE one may hold an old MAC, and packets
        // the engine sends itself never make the kernel re-check it; through
        // the kernel's output path they do, and the entry becomes REACHABLE.
        let valid: NeighbourState = [.reachable, .permanent]
        guard let n = neighbours.first(where: { $0.address == target && !$0.state.intersection(valid).isEmpty }),
              let mac = n.macAddress, mac.count == 6 else { return nil }
        return Adjacency(interfaceIndex: oif, mac: mac)
    }

    /// Re-resolves next-hop MACs (a neighbour may appear, move or vanish)
    /// and republishes when one changed. Runs every few seconds.
    public func refreshAdjacencies() {
        let fresh = resolveRoutes(config)
        if fresh.map(\.adjacency) != lastRoutes.map(\.adjacency) || fresh.count != lastRoutes.count || learnedTargetsChanged() {
            publish(routes: fresh)
        } else {
            publishUnderlayNeighbours()
        }
    }

    func egressMTU(toward address: IPAddress) -> Int {
        if let r = try? netlink.routeLookup(to: address), let oif = r.interfaceIndex,
           let link = try? netlink.link(index: oif) {
            return link.mtu
        }
        return 1500
    }

    func publish(routes: [RouteSpec]) {
        generation += 1
        lastRoutes = routes
        publishUnderlayNeighbours()
        let specs = tunnels.values.map(\.spec)
        let snapshot = ForwardingSnapshot(
            generation: generation, tunnels: specs, routes: routes,
            counters: tunnels.mapValues(\.counters), tunFDs: tunnels.mapValues(\.device.queues),
            workers: engine.settings.workers, redirect: redirectServices, redirectCounters: redirectCounters,
            retain: tunnels.values.map(\.device), bulk: learnedTables())
        engine.publish(snapshot)
    }

    /// Replaces the WCCP services the engine applies (caches, assignments,
    /// redirect-lists). Counters of a service survive as long as the
    /// service exists. Call on the control thread.
    public func setRedirectServices(_ services: [RedirectServiceSpec]) {
        let ids = Set(services.map(\.serviceID))
        redirectCounters = redirectCounters.filter { ids.contains($0.key) }
        for s in services where redirectCounters[s.serviceID] == nil {
            redirectCounters[s.serviceID] = CounterBlock(workers: engine.settings.workers, fields: RedirectCounter.fieldCount)
        }
        redirectServices = services
        publish(routes: lastRoutes)
        updateDelayInputChanged()
    }

    /// The counters of a WCCP service (nil when it is not applied).
    public func counters(ofService service: UInt8) -> CounterBlock? { redirectCounters[service] }

    /// Installs the routes the kernel needs so that it hands traffic for
    /// these prefixes to the engine (tunnel routes point at the TUNs) or
    /// sends it to the configured next hop; removes what is no longer wanted.
    func syncKernelRoutes(_ routes: [RouteSpec]) {
        var wanted: [IPPrefix: KernelRoute] = [:]
        for r in routes {
            var k = wanted[r.prefix] ?? KernelRoute(prefix: r.prefix)
            switch r.target {
            case .tunnels(let names):
                for n in names { if let t = tunnels[n] { k.nextHops.append(KernelNextHop(interfaceIndex: t.interfaceIndex)) } }
                if case .v6 = r.prefix, k.nextHops.count > 1 {
                    // IPv6 multipath needs gateways (KernelRouteGateways.swift).
                    k.nextHops = names.compactMap { ipv6MultipathHop(prefix: r.prefix, tunnel: $0) }
                }
            case .nextHop(let a, _):
                guard k.nextHops.isEmpty else { continue }
                k.nextHops.append(KernelNextHop(gateway: a))
            case .blackhole:
                k.type = .blackhole
            case .kernel:
                continue
            }
            wanted[r.prefix] = k
        }
        for (prefix, old) in installedRoutes where wanted[prefix] == nil {
            do { try netlink.deleteRoute(old) } catch { logger.debug("route \(prefix) already gone: \(error)") }
        }
        for (prefix, route) in wanted where installedRoutes[prefix] != route {
            do {
                try netlink.replaceRoute(route)
            } catch {
                logger.warning("cannot install kernel route \(route): \(error)")
                continue
            }
        }
        installedRoutes = wanted
    }

    /// Stops the engine and removes the tunnels and kernel routes.
    public func shutdown() {
        trackService?.stop()
        trackService = nil
        stopBGP()
        stopWCCP()
        stopMetrics()
        stopFlowExport()
        for c in captures.values { c.finish() }
        for (_, r) in installedRoutes { try? netlink.deleteRoute(r) }
        installedRoutes = [:]
        engine.stop()
        engine.publish(ForwardingSnapshot.empty(workers: engine.settings.workers))
        tunnels = [:]
        record("stopped")
    }
}

public struct ApplianceError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
