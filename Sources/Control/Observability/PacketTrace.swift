// `trace packet [tunnel NAME] PROTO SRC[:PORT] DST[:PORT]`: synthesizes the
// packet, has the engine run it through the workers' own PacketProcessor
// against a replica of the current snapshot (Engine/Pipeline/Trace.swift),
// and explains, stage by stage, what the processor did: decapsulation, the
// route the FIB chose, the WCCP service match (redirect-list, bucket, cache,
// method) or the next hop; for return traffic the route and ECMP tunnel.

import Commands
import Engine
import Packet

extension Appliance {
    /// The inner packet of a trace: IPv4 + TCP (SYN) / UDP / ICMP echo, valid checksums.
    static func tracePacketBytes(_ r: TracePacketRequest) -> [UInt8] {
        let l4Length = r.proto == .tcp ? 20 : 8
        var bytes = [UInt8](repeating: 0, count: 20 + l4Length)
        bytes.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            IPv4Header.write(into: p, totalLength: 20 + l4Length, dontFragment: true, ttl: 64, proto: r.proto.number,
                             source: r.source, destination: r.destination)
            let l4 = p + 20
            switch r.proto {
            case .tcp:
                l4.setU16(r.sourcePort, 0); l4.setU16(r.destinationPort, 2)
                l4.setU32(1, 4)                 // sequence number
                l4.setU8(5 << 4, 12)            // data offset: 5 words
                l4.setU8(0x02, 13)              // SYN
                l4.setU16(65535, 14)            // window
            case .udp:
                l4.setU16(r.sourcePort, 0); l4.setU16(r.destinationPort, 2)
                l4.setU16(8, 4)
            case .icmp:
                l4.setU8(8, 0)                  // echo request
                l4.setU16(r.sourcePort, 4)      // identifier
                var sum: UInt32 = 0
                for i in stride(from: 0, to: 8, by: 2) { sum += UInt32(UnsafeRawPointer(l4).u16(i)) }
                while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
                l4.setU16(~UInt16(sum), 2)
            }
        }
        return bytes
    }

    func tracePacket(_ r: TracePacketRequest, json: Bool) -> (String, Bool) {
        let snapshot = engine.snapshot
        let names = snapshot.tunnelSpecs.map(\.name)
        guard !names.isEmpty else { return ("% No tunnel is up: nothing to trace through\n", false) }
        if let t = r.tunnel, !names.contains(t) { return ("% No such tunnel (up): \(t)\n", false) }
        let ingress: ForwardingSnapshot.TraceIngress = r.tunnel.map { .tunnel($0) } ?? .kernel(names[0])
        guard let result = snapshot.trace(Self.tracePacketBytes(r), ingress: ingress, bulk: learnedBulk(publish: false)) else {
            return ("% Trace failed: tunnel not in the engine's snapshot\n", false)
        }
        let stages = Self.explain(r, result, snapshot: snapshot)
        let decision = stages.last?.1 ?? ""
        if json {
            return (JSON.object([
                ("packet", .object([("protocol", .string(r.proto.rawValue)),
                                    ("source", .string(r.source.description)), ("sourcePort", .uint(UInt64(r.sourcePort))),
                                    ("destination", .string(r.destination.description)), ("destinationPort", .uint(UInt64(r.destinationPort))),
                                    ("ingress", .string(r.tunnel.map { "tunnel \($0)" } ?? "kernel"))])),
                ("snapshotGeneration", .uint(snapshot.generation)),
                ("stages", .array(stages.map { .object([("stage", .string($0.0)), ("result", .string($0.1))]) })),
                ("decision", .string(decision)),
                ("outcome", .string(Self.outcomeKey(result, ingressTunnel: r.tunnel ?? names[0]))),
            ]).rendered() + "\n", true)
        }
        var out = "Packet: \(r.proto.rawValue) \(r.source):\(r.sourcePort) -> \(r.destination):\(r.destinationPort)"
        out += r.tunnel.map { ", arriving on tunnel \($0)\n" } ?? ", from the kernel (return traffic toward the spokes)\n"
        out += "Snapshot generation \(snapshot.generation)\n"
        for (i, s) in stages.enumerated() { out += " \(i + 1). \(s.0.padding(10)) \(s.1)\n" }
        return (out, true)
    }

    /// A single word for the outcome (tests and scripts): forwarded, kernel,
    /// redirected, encapsulated, or drop:<reason>.
    static func outcomeKey(_ t: TraceResult, ingressTunnel: String) -> String {
        for (f, _) in t.engineCounters.sorted(by: { $0.key < $1.key }) where f >= EngineCounter.dropBase {
            return "drop:" + (DropReason(rawValue: f - EngineCounter.dropBase)?.name ?? "?")
        }
        for (_, fields) in t.tunnelCounters {
            for f in fields.keys.sorted() where f >= TunnelCounter.dropBase {
                return "drop:" + (DropReason(rawValue: f - TunnelCounter.dropBase)?.name ?? "?")
            }
        }
        for (_, fields) in t.tunnelCounters {
            if fields[TunnelCounter.decapRedirected.rawValue] != nil { return "redirected" }
            if fields[TunnelCounter.decapForwarded.rawValue] != nil { return "forwarded" }
            if fields[TunnelCounter.decapToKernel.rawValue] != nil { return "kernel" }
            if fields[TunnelCounter.encapFromKernel.rawValue] != nil { return "encapsulated" }
        }
        return "none"
    }

    static func explain(_ r: TracePacketRequest, _ t: TraceResult, snapshot: ForwardingSnapshot) -> [(String, String)] {
        var stages: [(String, String)] = []
        func reason(_ f: Int, base: Int) -> String { DropReason(rawValue: f - base)?.name ?? "?" }
        let engineDrop = t.engineCounters.keys.first { $0 >= EngineCounter.dropBase }
        let tunnelDrop: (String, Int)? = t.tunnelCounters.lazy.compactMap { name, fields in
            fields.keys.first { $0 >= TunnelCounter.dropBase }.map { (name, $0) }
        }.first
        if let tunnel = r.tunnel, let spec = snapshot.tunnelSpecs.first(where: { $0.name == tunnel }) {
            // From a spoke, through the Transit Gateway.
            let gre = "GRE \(spec.remoteOuter) -> \(spec.localOuter)" + (spec.key.map { " key \($0)" } ?? "")
            if let f = engineDrop {
                stages.append(("decap", "\(gre): dropped (\(reason(f, base: EngineCounter.dropBase)))"))
                return stages
            }
            let rx = t.tunnelCounters[tunnel] ?? [:]
            let preRoute: Set<DropReason> = [.badGRE, .greChecksum, .greKey, .unsupportedPayload, .badInner]
            if let (_, f) = tunnelDrop, let d = DropReason(rawValue: f - TunnelCounter.dropBase), preRoute.contains(d) {
                stages.append(("decap", "\(gre): dropped (\(d.name))"))
                return stages
            }
            stages.append(("decap", "\(gre) on \(tunnel): inner IPv4 accepted"))
            stages.append(("route", routeText(t)))
            if t.route?.kind == "nextHop" || !t.serviceCounters.isEmpty {
                stages.append(("wccp", wccpText(r, t)))
            }
            if let (_, f) = tunnelDrop {
                stages.append(("decision", "dropped (\(reason(f, base: TunnelCounter.dropBase)))"
                               + (rx[TunnelCounter.icmpSent.rawValue] != nil ? ", ICMP error sent back into \(tunnel)" : "")))
            } else if rx[TunnelCounter.decapRedirected.rawValue] != nil, let o = t.outputs.first {
                stages.append(("decision", "redirected to cache \(o.destination) by " + (o.kind == .l2 ? "L2 (\(macText(o.mac)), ifindex \(o.interfaceIndex))" : "GRE (0x883E + WCCP redirect header)")))
            } else if rx[TunnelCounter.decapForwarded.rawValue] != nil, let o = t.outputs.first {
                if let egress = o.tunnel {
                    stages.append(("decision", "forwarded spoke to spoke: encapsulated into \(egress) (ECMP choice of \(t.ecmpMembers.joined(separator: ", ")))"))
                } else if o.kind == .l2 {
                    stages.append(("decision", "forwarded to the next hop: \(macText(o.mac)) on ifindex \(o.interfaceIndex), TTL decremented"))
                } else {
                    stages.append(("decision", "forwarded to the next hop through the kernel's IP output (raw socket to \(o.destination)), TTL decremented"))
                }
            } else if rx[TunnelCounter.decapToKernel.rawValue] != nil {
                stages.append(("decision", "handed to the kernel through \(tunnel)'s TUN (local address, kernel route, or needs fragmenting)"))
            } else {
                stages.append(("decision", "no outcome counted (engine bug)"))
            }
            return stages
        }
        // Return traffic: read from a TUN, routed by the engine's table.
        if let f = engineDrop {
            stages.append(("route", routeText(t)))
            stages.append(("decision", "dropped (\(reason(f, base: EngineCounter.dropBase)))"))
            return stages
        }
        stages.append(("route", routeText(t)))
        if let (name, f) = tunnelDrop {
            stages.append(("decision", "dropped on \(name) (\(reason(f, base: TunnelCounter.dropBase)))"))
        } else if let o = t.outputs.first, let egress = o.tunnel,
                  let spec = snapshot.tunnelSpecs.first(where: { $0.name == egress }) {
            stages.append(("ecmp", t.ecmpMembers.isEmpty ? "no engine route: the kernel's TUN choice stands"
                           : "flow hash \(String(t.flowHash, radix: 16)) -> \(egress) of {\(t.ecmpMembers.joined(separator: ", "))}"))
            stages.append(("decision", "encapsulated into \(egress): GRE \(spec.localOuter) -> \(spec.remoteOuter)" + (spec.key.map { " key \($0)" } ?? "")))
        } else {
            stages.append(("decision", "no outcome counted (engine bug)"))
        }
        return stages
    }

    static func routeText(_ t: TraceResult) -> String {
        guard let (prefix, kind) = t.route else { return "no engine route: to the kernel" }
        switch kind {
        case "local": return "\(prefix): the kernel's (local address or connected subnet)"
        case "blackhole": return "\(prefix): blackhole"
        case "tunnels":
            return "\(prefix) via tunnels {\(t.ecmpMembers.joined(separator: ", "))}, ECMP flow hash \(String(t.flowHash, radix: 16)) picks \(t.ecmpChoice ?? "?")"
        default: return "\(prefix) via a next hop outside the tunnels (transit: WCCP may redirect)"
        }
    }

    static func wccpText(_ r: TracePacketRequest, _ t: TraceResult) -> String {
        if t.redirectSpecs.isEmpty { return "no WCCP service group installed" }
        for s in t.redirectSpecs.sorted(by: { $0.priority > $1.priority }) {
            guard let c = t.serviceCounters[s.serviceID] else { continue }
            let name = s.serviceID == 0 ? "web-cache (0)" : "service \(s.serviceID)"
            if c[RedirectCounter.denied] != nil { return "\(name) matched the ports; its redirect-list denies the flow: not redirected" }
            if c[RedirectCounter.failedOpen] != nil { return "\(name) matched; no usable cache for the flow's bucket/mask: fail open (forwarded)" }
            if c[RedirectCounter.redirected] != nil {
                let slot = c.keys.first { $0 >= RedirectCounter.cacheBase && $0 < RedirectCounter.bucketBase }.map { $0 - RedirectCounter.cacheBase }
                let bucket = c.keys.first { $0 >= RedirectCounter.bucketBase }.map { $0 - RedirectCounter.bucketBase }
                let cache = slot.flatMap { $0 < s.caches.count ? s.caches[$0] : nil }
                let how = bucket.map { "hash bucket \($0)" } ?? "mask assignment"
                return "\(name) matched; \(how) -> cache \(cache.map { "\($0.address)" } ?? "?")"
            }
        }
        return "no service group matches \(r.proto.rawValue) to port \(r.destinationPort) (or the flow is a cache's own)"
    }

    static func macText(_ m: [UInt8]) -> String {
        m.map { String($0, radix: 16).leftPadded(2) }.joined(separator: ":")
    }
}
