// The read side of the appliance: `show interfaces`, `show dataplane`,
// `show ip route`, `show version`, each as a table for people and as JSON
// for scripts (same data, same order).

import Engine
import Packet

extension Appliance {
    public static let version = "0.1.0"

    func tunnelCounters(_ t: TunnelState) -> JSON {
        let c = t.counters
        func v(_ f: TunnelCounter) -> JSON { .uint(c.total(f.rawValue)) }
        var drops: [(String, JSON)] = []
        for r in DropReason.allCases where r != .unknownPeer && r != .badOuter {
            drops.append((r.name, .uint(c.total(TunnelCounter.dropBase + r.rawValue))))
        }
        return .object([
            ("rxPackets", v(.rxPackets)), ("rxBytes", v(.rxBytes)), ("txPackets", v(.txPackets)), ("txBytes", v(.txBytes)),
            ("decapForwarded", v(.decapForwarded)), ("decapToKernel", v(.decapToKernel)), ("decapRedirected", v(.decapRedirected)),
            ("encapFromKernel", v(.encapFromKernel)), ("kernelInput", v(.kernelInput)), ("icmpSent", v(.icmpSent)), ("drops", .object(drops)),
        ])
    }

    /// Tunnels as configured, live or not.
    func interfaceJSON(_ name: String) -> JSON? {
        guard let cfg = config.tunnels[name] else { return nil }
        let live = tunnels[name]
        let state = cfg.shutdown ? "administratively down" : (live != nil ? "up" : "down")
        let key: JSON = cfg.key.map { .uint(UInt64($0)) } ?? .null
        let overhead = 20 + GREHeader.length(key: cfg.key)
        var fields: [(String, JSON)] = [("name", .string(name))]
        fields.append(("connectPeer", cfg.connectPeer.map { .string($0) } ?? .null))
        fields.append(("description", cfg.description.map { .string($0) } ?? .null))
        fields.append(("state", .string(state)))
        fields.append(("source", cfg.source.map { .string($0.description) } ?? .null))
        fields.append(("destination", cfg.destination.map { .string($0.description) } ?? .null))
        fields.append(("key", key))
        fields.append(("mtu", .int(Int64(cfg.mtu))))
        fields.append(("innerMtu", .int(Int64(cfg.mtu - overhead))))
        fields.append(("ipv4", cfg.ipv4.map { .string($0.description) } ?? .null))
        fields.append(("ipv6", cfg.ipv6.map { .string($0.description) } ?? .null))
        fields.append(("ifindex", live.map { .int(Int64($0.interfaceIndex)) } ?? .null))
        fields.append(("counters", live.map(tunnelCounters) ?? .null))
        return .object(fields)
    }

    public func showInterfaces(name: String?, json: Bool) -> (String, Bool) {
        let names = name.map { [$0] } ?? config.tunnels.keys.sorted()
        if let name, config.tunnels[name] == nil { return ("% No such interface: \(name)\n", false) }
        if json {
            return (JSON.object([("interfaces", .array(names.compactMap(interfaceJSON)))]).rendered() + "\n", true)
        }
        var out = ""
        for n in names {
            guard let cfg = config.tunnels[n] else { continue }
            let live = tunnels[n]
            let state = cfg.shutdown ? "administratively down" : (live != nil ? "up" : "down")
            out += "\(n) is \(state)\n"
            if let d = cfg.description { out += "  Description: \(d)\n" }
            out += "  Tunnel: GRE, connect-peer \(cfg.connectPeer ?? "-"), source \(cfg.source?.description ?? "-"), destination \(cfg.destination?.description ?? "-")"
            out += cfg.key.map { ", key \($0)" } ?? ""
            out += "\n"
            let overhead = 20 + GREHeader.length(key: cfg.key)
            out += "  MTU \(cfg.mtu) on the wire, inner MTU \(cfg.mtu - overhead)\n"
            if let a = cfg.ipv4 { out += "  Internet address is \(a)\n" }
            if let a = cfg.ipv6 { out += "  IPv6 address is \(a)\n" }
            if let t = live {
                let c = t.counters
                func v(_ f: TunnelCounter) -> UInt64 { c.total(f.rawValue) }
                out += "  \(v(.rxPackets)) packets input, \(v(.rxBytes)) bytes\n"
                out += "  \(v(.txPackets)) packets output, \(v(.txBytes)) bytes\n"
                out += "  decapsulated: \(v(.decapForwarded)) forwarded, \(v(.decapRedirected)) redirected, \(v(.decapToKernel)) to kernel; encapsulated from kernel: \(v(.encapFromKernel))\n"
                out += "  ICMP errors sent: \(v(.icmpSent))\n"
                let drops = DropReason.allCases.compactMap { r -> String? in
                    let n = c.total(TunnelCounter.dropBase + r.rawValue)
                    return n == 0 ? nil : "\(r.name) \(n)"
                }
                out += "  drops: " + (drops.isEmpty ? "none" : drops.joined(separator: ", ")) + "\n"
            }
        }
        if out.isEmpty { out = "No interfaces configured.\n" }
        return (out, true)
    }

    /// The running I/O backend in one word chain (`show dataplane json` "backend").
    var backendSummary: String {
        switch engine.runningBackend {
        case .tpacket: (engine.settings.receiveRing == .blocks ? "tpacket-v3-rx" : "tpacket-v2-rx") + "+tpacket-v2-tx+tun"
        case .raw: engine.settings.workers == 1 ? "raw+tun" : "af_packet-fanout+raw+tun"
        case .afxdp: "xdp-" + (engine.xdpInterfaces.allSatisfy(\.native) ? "native" : "generic") + "+af_xdp+tpacket-v3-rx+tun"
        }
    }

    /// What each direction of the underlay uses, for `show dataplane`.
    var backendDescription: String {
        switch engine.runningBackend {
        case .tpacket:
            "GRE in: " + (engine.receiveRingDescription ?? "ring") + (engine.settings.workers > 1 ? " (fanout hash)" : "")
                + ", out: TPACKET_V2 ring to next-hop MACs" + (engine.settings.qdiscBypass ? " (qdisc bypass)" : "") + ", else raw sockets"
        case .raw:
            "GRE in: " + (engine.settings.workers == 1 ? "raw GRE socket" : "AF_PACKET fanout")
                + ", out: AF_PACKET sendmmsg to next-hop MACs" + (engine.settings.qdiscBypass ? " (qdisc bypass)" : "") + ", else raw sockets"
        case .afxdp:
            "GRE in: AF_XDP sockets steered by XDP on "
                + engine.xdpInterfaces.map { "\($0.name) (\($0.native ? "native" : "generic") mode, \($0.rxQueues) queue(s))" }.joined(separator: ", ")
                + ", else TPACKET_V3 ring; out: AF_XDP TX to next-hop MACs, else TPACKET_V2 ring, else raw sockets"
                + (engine.xdpSkipped.isEmpty ? "" : "; XDP not on " + engine.xdpSkipped.joined(separator: "; "))
        }
    }

    public func showDataplane(json: Bool) -> (String, Bool) {
        let e = engine.engineCounters
        func total(_ f: TunnelCounter) -> UInt64 { tunnels.values.reduce(0) { $0 + $1.counters.total(f.rawValue) } }
        var drops: [(String, UInt64)] = []
        for r in DropReason.allCases {
            let n = e.total(EngineCounter.dropBase + r.rawValue)
                + tunnels.values.reduce(0) { $0 + $1.counters.total(TunnelCounter.dropBase + r.rawValue) }
            drops.append((r.name, n))
        }
        let busy = e.total(EngineCounter.busyNanoseconds.rawValue)
        let uptime = ContinuousClock.now - startedAt
        let uptimeNs = UInt64(uptime.components.seconds) * 1_000_000_000 + UInt64(uptime.components.attoseconds / 1_000_000_000)
        let utilisation = uptimeNs == 0 ? 0 : Double(busy) / Double(uptimeNs) / Double(engine.settings.workers)
        if json {
            return (JSON.object([
                ("workers", .int(Int64(engine.settings.workers))),
                ("batchSize", .int(Int64(engine.settings.batchSize))),
                ("backend", .string(backendSummary)),
                ("ioBackend", .string(engine.runningBackend.rawValue)),
                ("ioBackendConfigured", .string(engine.settings.ioBackend.rawValue)),
                ("ioBackendFallback", engine.fallbackReason.map { .string($0) } ?? .null),
                ("qdiscBypass", .bool(engine.settings.qdiscBypass)),
                ("workerCPUs", .array((threadPlan?.workerCPUs ?? []).map { .int(Int64($0)) })),
                ("otherThreadCPUs", .array((threadPlan?.controlCPUs ?? []).map { .int(Int64($0)) })),
                ("workerScheduling", .string(workerScheduling)),
                ("xdp", .array(engine.xdpInterfaces.map {
                    .object([("interface", .string($0.name)), ("mode", .string($0.native ? "native" : "generic")),
                             ("queues", .int(Int64($0.rxQueues)))])
                })),
                ("xdpEncapSteering", engine.xdpEncapSteering.map { .string($0) } ?? .null),
                // The kernel's trie (its first 256 prefixes): what the XDP program steers.
                ("xdpSpokeTrie", .array(engine.xdpSpokeTrie(limit: 256).map {
                    .object([("prefix", .string($0.prefix.description)), ("limit", .uint(UInt64($0.limit)))])
                })),
                ("underlayNeighbours", .int(Int64(engine.underlayNeighbours.entries.count))),
                ("workerBatches", .array(e.perWorker(EngineCounter.batches.rawValue).map { .uint($0) })),
                ("io", .object(IOCounter.allCases.map { ($0.name, .uint(engine.ioCounters.total($0.rawValue))) })),
                ("counters", .object([
                    ("greReceived", .uint(e.total(EngineCounter.greReceived.rawValue))),
                    ("kernelReceived", .uint(e.total(EngineCounter.kernelReceived.rawValue))),
                    ("batches", .uint(e.total(EngineCounter.batches.rawValue))),
                    ("busyNanoseconds", .uint(busy)),
                    ("rxPackets", .uint(total(.rxPackets))), ("txPackets", .uint(total(.txPackets))),
                    ("decapForwarded", .uint(total(.decapForwarded))), ("decapToKernel", .uint(total(.decapToKernel))),
                    ("encapFromKernel", .uint(total(.encapFromKernel))), ("icmpSent", .uint(total(.icmpSent))),
                    ("drops", .object(drops.map { ($0.0, .uint($0.1)) })),
                ])),
            ]).rendered() + "\n", true)
        }
        var out = "Dataplane: \(engine.settings.workers) worker(s), batch size \(engine.settings.batchSize), I/O backend \(engine.runningBackend.rawValue)"
        if let reason = engine.fallbackReason {
            out += " (\(engine.settings.ioBackend.rawValue) unavailable: \(reason))"
        }
        out += "\n  \(backendDescription), kernel side: TUN\n"
        if let steering = engine.xdpEncapSteering { out += "  encapsulation steering (XDP spoke prefixes): \(steering)\n" }
        out += threadPlacementLine
        out += "  underlay next hops with a known MAC: \(engine.underlayNeighbours.entries.count)\n"
        out += "  I/O: " + IOCounter.allCases.map { "\($0.name) \(engine.ioCounters.total($0.rawValue))" }.joined(separator: ", ") + "\n"
        out += "  GRE packets received \(e.total(EngineCounter.greReceived.rawValue)), from kernel \(e.total(EngineCounter.kernelReceived.rawValue)), batches \(e.total(EngineCounter.batches.rawValue))\n"
        out += "  worker utilisation \(Int(utilisation * 1000) / 10)%, batches per worker: \(e.perWorker(EngineCounter.batches.rawValue).map(String.init).joined(separator: " "))\n"
        out += "  Drops:\n"
        for (name, n) in drops where n > 0 { out += "    \(name.padding(20)) \(n)\n" }
        return (out, true)
    }

    public func showRoutes(ipv6: Bool, json: Bool) -> (String, Bool) {
        let snap = engine.snapshot
        var rows: [(prefix: String, kind: String, via: [String])] = []
        for t in snap.tunnelSpecs.sorted(by: { $0.name < $1.name }) {
            if !ipv6, let a = t.insideV4 { rows.append((a.subnet.description, "connected", [t.name])) }
            if ipv6, let a = t.insideV6 { rows.append((a.subnet.description, "connected", [t.name])) }
        }
        for r in snap.routeSpecs {
            let isV6: Bool = { if case .v6 = r.prefix { return true } else { return false } }()
            guard isV6 == ipv6 else { continue }
            switch r.target {
            case .tunnels(let names): rows.append((r.prefix.description, r.origin, names))
            case .nextHop(let a, let mtu):
                let mac = r.adjacency.map { ", " + $0.mac.map { String($0, radix: 16).leftPadded(2) }.joined(separator: ":") } ?? ""
                rows.append((r.prefix.description, r.origin, ["\(a) (mtu \(mtu)\(mac))"]))
            case .blackhole: rows.append((r.prefix.description, r.origin, ["blackhole"]))
            case .kernel: rows.append((r.prefix.description, "kernel", ["kernel"]))
            }
        }
        rows += learnedRouteRows(ipv6: ipv6)
        if json {
            return (JSON.object([("routes", .array(rows.map {
                .object([("prefix", .string($0.prefix)), ("protocol", .string($0.kind)), ("nexthops", .array($0.via.map { .string($0) }))])
            }))]).rendered() + "\n", true)
        }
        var out = "Codes: C - connected tunnel, K - kernel (handed to the kernel), S - static, B - BGP, > - selected, * - in the engine's table\n\n"
        for r in rows {
            let code = ["connected": "C", "kernel": "K", "bgp": "B"][r.kind] ?? "S"
            out += "\(code)>* \(r.prefix)" + r.via.enumerated().map { i, v in
                (i == 0 ? " " : "\n  *" + String(repeating: " ", count: r.prefix.count + 2)) + (r.kind == "kernel" ? "via the kernel" : (r.kind == "connected" || !v.contains(".") && !v.contains(":") ? "is directly connected, \(v)" : "via \(v)"))
            }.joined() + "\n"
        }
        return (out, true)
    }

    public func showVersion() -> String {
        let uptime = ContinuousClock.now - startedAt
        let s = uptime.components.seconds
        return "egressd \(Self.version) (Swift, user-space GRE/BGP/WCCP egress appliance)\nhostname \(config.hostname), uptime \(s / 86400)d \((s % 86400) / 3600)h \((s % 3600) / 60)m \(s % 60)s\n\(engine.settings.workers) dataplane worker(s)\n"
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
