// `show ip bgp summary`, `show ip bgp`, `show bgp ipv6 unicast` and
// `show ip bgp neighbors`, in FRR's layout (operators read them the same
// way) and as JSON with FRR's key names where FRR has them.

import BGP
import Commands
import Packet

extension Appliance {
    /// Runs a BGP show command.
    func showBGP(_ what: BGPShowCommand, json: Bool) -> (String, Bool) {
        if case .routeSummary = what { return (routeSummary(json: json), true) }
        if case .track(let n) = what { return showTrack(n, json: json) }
        guard let speaker = bgpSpeaker, let router = config.bgp else {
            return json ? ("{}\n", true) : ("% BGP instance not found\n", false)
        }
        let c = speaker.configuration
        switch what {
        case .routeSummary:
            return (routeSummary(json: json), true)
        case .track(let n):
            return showTrack(n, json: json)
        case .summary:
            return (BGPShowFormat.summary(speaker.peerStatus(), routerID: c.routerID, localAS: c.localAS,
                                          ribEntries: speaker.ribRouteCount, json: json, status: lifecycleStatus()), true)
        case .routes(let ipv6):
            let family: BGPFamily = ipv6 ? .ipv6 : .ipv4
            let learned = speaker.routeStatus().filter { r in if case .v6 = r.prefix { ipv6 } else { !ipv6 } }
            return (BGPShowFormat.routes(learned, local: router[family].networks.sorted { $0.description < $1.description },
                                         routerID: c.routerID, localAS: c.localAS, json: json), true)
        case .clear(let address, let soft):
            guard speaker.clear(address, soft: soft) else {
                return ("% No such neighbor \(address.map(\.description) ?? "")\n", false)
            }
            record("bgp: clear \(address.map(\.description) ?? "*")\(soft ? " soft" : "") from the shell")
            return ("", true)
        case .receivedRoutes(let address):
            let addresses = address.map { [$0] } ?? speaker.peerStatus().map(\.address)
            if let address, !speaker.peerStatus().contains(where: { $0.address == address }) {
                return json ? ("{}\n", true) : ("% No such neighbor \(address)\n", false)
            }
            var tables: [(IPAddress, [BGPReceivedRoute])] = []
            for a in addresses {
                guard let routes = speaker.receivedRoutes(a) else {
                    if address != nil {
                        return json ? ("{\"warning\":\"Inbound soft reconfiguration not enabled\"}\n", true)
                                    : ("% Inbound soft reconfiguration not enabled\n", false)
                    }
                    continue
                }
                tables.append((a, routes))
            }
            return (BGPShowFormat.received(tables, single: address != nil, routerID: c.routerID, localAS: c.localAS, json: json), true)
        case .neighbors(let address, let advertisedRoutes):
            var peers = speaker.peerStatus()
            if let address {
                peers = peers.filter { $0.address == address }
                if peers.isEmpty { return json ? ("{}\n", true) : ("% No such neighbor \(address)\n", false) }
            }
            if advertisedRoutes {
                return (BGPShowFormat.advertised(peers, routerID: c.routerID, localAS: c.localAS, json: json), true)
            }
            return (BGPShowFormat.neighbors(peers, routerID: c.routerID, json: json), true)
        }
    }
}

extension Appliance {
    /// `show ip route summary`: FRR's table (source, RIB, FIB), with the kernel's side of
    /// learned routes added. Counts only, no walk of the table: safe to poll during a load.
    func routeSummary(json: Bool) -> String {
        let snapshot = engine.snapshot
        let staticCount = config.staticRoutes.count
        let rib = bgpSpeaker?.ribRouteCount ?? 0
        let fib = snapshot.bulkRouteCount
        let writer = learned?.kernel
        if json {
            let rows: [JSON] = [
                .object([("type", .string("static")), ("rib", .int(Int64(staticCount))), ("fib", .int(Int64(snapshot.routeSpecs.filter { $0.origin == "static" }.count)))]),
                .object([("type", .string("bgp")), ("rib", .int(Int64(rib))), ("fib", .int(Int64(fib))),
                         ("learned", .int(Int64(learned?.count ?? 0))),
                         ("kernel", .int(Int64(writer?.installed ?? 0))), ("kernelPending", .int(Int64(writer?.pending ?? 0))),
                         ("kernelFailures", .int(Int64(writer?.failures ?? 0))),
                         ("kernelLastRunMsec", writer?.lastRun.map { .int($0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000) } ?? .null),
                         ("kernelLastError", writer?.lastError.map { .string($0) } ?? .null)]),
            ]
            return JSON.object([("routes", .array(rows)), ("routesTotal", .int(Int64(staticCount + rib))),
                                ("routesTotalFib", .int(Int64(snapshot.routeSpecs.count + fib)))]).rendered() + "\n"
        }
        var out = "Route Source         Routes               FIB                  Kernel (vrf default)\n"
        func row(_ a: String, _ b: Int, _ c: Int, _ d: String) -> String {
            BGPShowFormat.pad(a, 21) + BGPShowFormat.pad(String(b), 21) + BGPShowFormat.pad(String(c), 21) + d + "\n"
        }
        out += row("static", staticCount, snapshot.routeSpecs.filter { $0.origin == "static" }.count, "")
        var kernel = String(writer?.installed ?? 0)
        if let w = writer, w.pending > 0 { kernel += " (\(w.pending) pending)" }
        out += row("ebgp", rib, fib, kernel)
        if let e = writer?.lastError { out += "% last kernel route error: \(e)\n" }
        return out
    }
}

/// Text and JSON forms of the BGP show commands (pure, for tests).
enum BGPShowFormat {
    /// FRR's "00:01:02", "1d02h03m" for longer, "never" without a time.
    static func uptime(_ d: Duration?) -> String {
        guard let d else { return "never" }
        let s = max(0, d.components.seconds)
        if s < 86_400 { return String(format2(s / 3600)) + ":" + format2(s % 3600 / 60) + ":" + format2(s % 60) }
        return "\(s / 86_400)d" + format2(s % 86_400 / 3600) + "h" + format2(s % 3600 / 60) + "m"
    }

    static func format2(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }

    static func milliseconds(_ d: Duration?) -> JSON {
        guard let d else { return .int(0) }
        return .int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }

    static func stateColumn(_ p: BGPPeerStatus) -> String {
        if p.state == .established { return String(p.prefixesReceived) }
        if p.shutdown { return "Idle (Admin)" }
        if !p.enabled { return "Idle (PfxCt)" }
        return p.state.rawValue
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    static func right(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }

    static func summary(_ peers: [BGPPeerStatus], routerID: IPv4Address, localAS: UInt32, ribEntries: Int, json: Bool,
                        status: (lines: [String], json: [(String, JSON)]) = ([], [])) -> String {
        if json {
            let table: [(String, JSON)] = peers.map { p in
                (p.address.description, .object([
                    ("remoteAs", .uint(UInt64(p.remoteAS))), ("localAs", .uint(UInt64(p.localAS))), ("version", .int(4)),
                    ("msgRcvd", .int(Int64(p.messagesReceived))), ("msgSent", .int(Int64(p.messagesSent))),
                    ("peerUptime", .string(uptime(p.upFor))), ("peerUptimeMsec", milliseconds(p.upFor)),
                    ("pfxRcd", .int(Int64(p.prefixesReceived))), ("pfxSnt", .int(Int64(p.prefixesSent))),
                    ("state", .string(p.shutdown ? "Idle (Admin)" : p.state.rawValue)),
                    ("connectionsEstablished", .int(Int64(p.establishedTransitions))),
                    ("lastError", p.lastError.map { .string($0) } ?? .null),
                ]))
            }
            return JSON.object([("ipv4Unicast", .object([
                ("routerId", .string(routerID.description)), ("as", .uint(UInt64(localAS))), ("vrfId", .int(0)),
                ("ribCount", .int(Int64(ribEntries))), ("peerCount", .int(Int64(peers.count))),
                ("peers", .object(table)), ("totalPeers", .int(Int64(peers.count))),
            ] + status.json))]).rendered() + "\n"
        }
        var out = "IPv4 Unicast Summary (VRF default):\n"
        out += "BGP router identifier \(routerID), local AS number \(localAS) vrf-id 0\n"
        out += "RIB entries \(ribEntries)\n"
        out += "Peers \(peers.count)\n"
        for line in status.lines { out += line + "\n" }
        out += "\n"
        out += "Neighbor        V         AS   MsgRcvd   MsgSent   TblVer  InQ OutQ  Up/Down State/PfxRcd   PfxSnt Desc\n"
        for p in peers {
            let up = p.state == .established ? uptime(p.upFor) : (p.downFor == nil ? "never" : uptime(p.downFor))
            out += pad(p.address.description, 15) + " 4" + right(String(p.remoteAS), 11) + right(String(p.messagesReceived), 10)
                + right(String(p.messagesSent), 10) + right("0", 9) + right("0", 5) + right("0", 5) + " " + right(up, 8)
                + " " + right(stateColumn(p), 12) + right(String(p.prefixesSent), 9) + " N/A\n"
        }
        out += "\nTotal number of neighbors \(peers.count)\n"
        return out
    }

    static let routesHeader = """
        Status codes:  s suppressed, d damped, h history, * valid, > best, = multipath,
                       i internal, r RIB-failure, S Stale, R Removed
        Origin codes:  i - IGP, e - EGP, ? - incomplete

           Network          Next Hop            Metric LocPrf Weight Path

        """

    static func routes(_ learned: [BGPRouteStatus], local: [IPPrefix], routerID: IPv4Address, localAS: UInt32, json: Bool) -> String {
        struct Row { var prefix: IPPrefix; var path: BGPPathStatus?; var best: Bool; var multipath: Bool }
        var rows: [Row] = local.map { Row(prefix: $0, path: nil, best: true, multipath: false) }
        for r in learned {
            for (i, p) in r.paths.enumerated() { rows.append(Row(prefix: r.prefix, path: p, best: i == 0, multipath: r.paths.count > 1)) }
        }
        rows.sort { a, b in a.prefix.description == b.prefix.description ? a.best && !b.best : BGPShowFormat.prefixLess(a.prefix, b.prefix) }
        let prefixes = Set(rows.map(\.prefix)).count
        if json {
            var byPrefix: [(String, [JSON])] = []
            for row in rows {
                // FRR's keys: prefix/prefixLen/network, metric and locPrf when set, nexthops with afi/used.
                let (address, length): (String, Int) = switch row.prefix {
                case .v4(let p): (p.address.description, Int(p.length))
                case .v6(let p): (p.address.description, Int(p.length))
                }
                var fields: [(String, JSON)] = [
                    ("valid", .bool(true)), ("bestpath", .bool(row.best)), ("multipath", .bool(row.multipath)),
                    ("pathFrom", .string(row.path == nil ? "local" : "external")),
                    ("prefix", .string(address)), ("prefixLen", .int(Int64(length))), ("network", .string(row.prefix.description)),
                ]
                if let med = row.path.map({ $0.med }) ?? 0 { fields.append(("metric", .int(Int64(med)))) }
                if let pref = row.path?.localPref { fields.append(("locPrf", .int(Int64(pref)))) }
                if row.path?.stale == true { fields.append(("stale", .bool(true))) }
                fields += [
                    ("weight", .int(row.path == nil ? 32768 : 0)),
                    ("peerId", .string(row.path?.peer?.description ?? "(unspec)")),
                    ("path", .string(row.path?.asPath ?? "")),
                    ("origin", .string(originName(row.path?.origin ?? .igp))),
                    ("nexthops", .array([.object([("ip", .string(row.path?.nextHop ?? (isV6(row.prefix) ? "::" : "0.0.0.0"))),
                                                   ("afi", .string(isV6(row.prefix) ? "ipv6" : "ipv4")), ("used", .bool(true))])])),
                ]
                let entry: JSON = .object(fields)
                if let last = byPrefix.last, last.0 == row.prefix.description {
                    byPrefix[byPrefix.count - 1].1.append(entry)
                } else {
                    byPrefix.append((row.prefix.description, [entry]))
                }
            }
            return JSON.object([
                ("vrfId", .int(0)), ("vrfName", .string("default")), ("tableVersion", .int(0)),
                ("routerId", .string(routerID.description)), ("defaultLocPrf", .int(100)),
                ("localAS", .uint(UInt64(localAS))), ("routes", .object(byPrefix.map { ($0.0, .array($0.1)) })),
            ]).rendered() + "\n"
        }
        var out = "BGP table version is 0, local router ID is \(routerID), vrf id 0\n"
        out += "Default local pref 100, local AS \(localAS)\n" + routesHeader
        var previous: IPPrefix?
        for row in rows {
            // FRR's first status column: S for a stale path (graceful restart), else * (valid).
            let status = (row.path?.stale == true ? "S" : "*") + (row.best ? ">" : (row.multipath ? "=" : " "))
            let network = row.prefix == previous ? "" : row.prefix.description
            previous = row.prefix
            let nextHop = row.path?.nextHop ?? (isV6(row.prefix) ? "::" : "0.0.0.0")
            let metric = row.path == nil ? "0" : (row.path?.med.map(String.init) ?? "")
            let localPref = row.path?.localPref.map(String.init) ?? ""
            let weight = row.path == nil ? "32768" : "0"
            let path = [row.path?.asPath ?? "", originName(row.path?.origin ?? .igp, short: true)].filter { !$0.isEmpty }.joined(separator: " ")
            var line = status + " " + pad(network, 16)
            if network.count > 16 { line += "\n" + String(repeating: " ", count: 20) }
            line += " " + pad(nextHop, 19) + right(metric, 7) + right(localPref, 7) + right(weight, 7) + " " + path
            out += line + "\n"
        }
        out += "\nDisplayed  \(prefixes) routes and \(rows.count) total paths\n"
        return out
    }

    static func neighbors(_ peers: [BGPPeerStatus], routerID: IPv4Address, json: Bool) -> String {
        if json {
            return JSON.object(peers.map { ($0.address.description, neighborJSON($0, routerID: routerID)) }).rendered() + "\n"
        }
        var out = ""
        for p in peers {
            out += "BGP neighbor is \(p.address), remote AS \(p.remoteAS), local AS \(p.localAS), "
                + (p.remoteAS == p.localAS ? "internal link\n" : "external link\n")
            out += "  BGP version 4, remote router ID \(p.negotiated?.peerIdentifier.description ?? "0.0.0.0"), local router ID \(routerID)\n"
            out += "  BGP state = \(p.shutdown ? "Idle (Admin)" : p.state.rawValue)"
                + (p.state == .established ? ", up for \(uptime(p.upFor))" : "") + "\n"
            if let n = p.negotiated {
                out += "  Hold time is \(n.holdTime), keepalive interval is \(n.keepaliveTime) seconds\n"
                out += "  Neighbor capabilities:\n"
                out += "    4 Byte AS: \(n.fourOctetAS ? "advertised and received" : "advertised")\n"
                out += "    Route refresh: \(n.routeRefresh ? "advertised and received" : "advertised")\n"
                if let gr = n.peerGracefulRestart { out += "    Graceful Restart: received, restart time \(gr.restartTime) s\n" }
                for f in n.families.sorted() { out += "    Address Family \(f): advertised and received\n" }
                out += endOfRIBText(p.initialRoutes)
            } else {
                out += "  Configured hold time is \(p.holdTime), keepalive interval is \(p.keepaliveTime) seconds\n"
            }
            out += "  Message statistics:\n    Sent \(p.messagesSent), received \(p.messagesReceived)\n"
            out += "  \(p.prefixesReceived) accepted prefixes, \(p.prefixesSent) advertised\n"
            out += "  Connections established \(p.establishedTransitions)"
                + (p.lastError.map { "; last reset \(uptime(p.downFor)) ago, due to \($0)" } ?? "") + "\n"
            if p.remoteAS != p.localAS { out += "  External BGP neighbor may be up to \(p.ttl) hops away.\n" }
            if let local = p.localAddress { out += "Local host: \(local)\n" }
            out += "\n"
        }
        return out
    }

    /// One neighbour of `show ip bgp neighbors json` (FRR's key names).
    static func neighborJSON(_ p: BGPPeerStatus, routerID: IPv4Address) -> JSON {
        let n = p.negotiated
        var f: [(String, JSON)] = []
        f.append(("remoteAs", .uint(UInt64(p.remoteAS))))
        f.append(("localAs", .uint(UInt64(p.localAS))))
        f.append(("nbrExternalLink", .bool(p.remoteAS != p.localAS)))
        f.append(("remoteRouterId", .string(n?.peerIdentifier.description ?? "0.0.0.0")))
        f.append(("localRouterId", .string(routerID.description)))
        f.append(("bgpState", .string(p.state.rawValue)))
        f.append(("adminShutDown", .bool(p.shutdown)))
        f.append(("bgpTimerUpMsec", milliseconds(p.upFor)))
        f.append(("bgpTimerHoldTimeMsecs", .int(Int64(n?.holdTime ?? p.holdTime) * 1000)))
        f.append(("bgpTimerKeepAliveIntervalMsecs", .int(Int64(n?.keepaliveTime ?? p.keepaliveTime) * 1000)))
        let families: [JSON] = (n?.families.sorted() ?? []).map { .string($0.description) }
        f.append(("addressFamilies", .array(families)))
        f.append(("fourOctetAs", .bool(n?.fourOctetAS ?? false)))
        f.append(("routeRefresh", .bool(n?.routeRefresh ?? false)))
        let gr: JSON = n?.peerGracefulRestart.map { .int(Int64($0.restartTime)) } ?? .null
        f.append(("gracefulRestartPeerTime", gr))
        f.append(("gracefulRestartInfo", endOfRIBJSON(p.initialRoutes)))
        f.append(("messageStats", .object([("totalSent", .int(Int64(p.messagesSent))), ("totalRecv", .int(Int64(p.messagesReceived)))])))
        f.append(("acceptedPrefixCounter", .int(Int64(p.prefixesReceived))))
        f.append(("sentPrefixCounter", .int(Int64(p.prefixesSent))))
        f.append(("connectionsEstablished", .int(Int64(p.establishedTransitions))))
        f.append(("lastResetDueTo", p.lastError.map { .string($0) } ?? .null))
        f.append(("lastConnectError", p.lastConnectError.map { .string($0) } ?? .null))
        f.append(("hostLocal", p.localAddress.map { .string($0.description) } ?? .null))
        f.append(("ttl", .int(Int64(p.ttl))))
        return .object(f)
    }

    /// FRR's "End-of-RIB received" lines of `show ip bgp neighbors` (per negotiated family).
    static func endOfRIBText(_ r: InitialRoutes) -> String {
        guard r.established else { return "" }
        var out = "  End-of-RIB received: " + (r.endOfRIB.isEmpty ? "none" : r.endOfRIB.sorted().map(\.description).joined(separator: ", "))
        if r.implicitEndOfRIB { out += " (implicit: KEEPALIVE after UPDATEs, the peer has no graceful restart capability)" }
        out += "\n"
        if !r.complete { out += "  Initial routes: waiting for End-of-RIB of " + r.missing.map(\.description).joined(separator: ", ") + "\n" }
        return out
    }

    /// FRR's `gracefulRestartInfo` shape: `endOfRibRecv` by family key, plus whether the
    /// initial routes are complete and whether that was by an implicit End-of-RIB.
    static func endOfRIBJSON(_ r: InitialRoutes) -> JSON {
        func key(_ f: AddressFamily) -> String {
            switch f {
            case .ipv4Unicast: "ipv4Unicast"
            case .ipv6Unicast: "ipv6Unicast"
            default: "afi\(f.afi)Safi\(f.safi)"
            }
        }
        return .object([
            ("endOfRibRecv", .object(r.families.sorted().map { (key($0), .bool(r.endOfRIB.contains($0))) })),
            ("endOfRibImplicit", .bool(r.implicitEndOfRIB)),
            ("initialRoutesComplete", .bool(r.complete)),
        ])
    }

    static func advertised(_ peers: [BGPPeerStatus], routerID: IPv4Address, localAS: UInt32, json: Bool) -> String {
        if json {
            return JSON.object(peers.map { p in
                (p.address.description, .object([("advertisedRoutes", .array(p.advertised.map { .string($0.description) })),
                                                  ("totalPrefixCounter", .int(Int64(p.advertised.count)))]))
            }).rendered() + "\n"
        }
        var out = ""
        for p in peers {
            out += "BGP table version is 0, local router ID is \(routerID), vrf id 0\nDefault local pref 100, local AS \(localAS)\n" + routesHeader
            let hop = p.localAddress?.description ?? "0.0.0.0"
            for prefix in p.advertised {
                out += "*> " + pad(prefix.description, 16) + " " + pad(hop, 19) + right("0", 7) + right("", 7) + right("32768", 7) + " i\n"
            }
            out += "\nTotal number of prefixes \(p.advertised.count)\n"
        }
        return out
    }

    /// `received-routes`, in FRR's shape (JSON keyed by prefix; all neighbours: keyed by neighbour first).
    static func received(_ tables: [(IPAddress, [BGPReceivedRoute])], single: Bool, routerID: IPv4Address, localAS: UInt32, json: Bool) -> String {
        func sorted(_ r: [BGPReceivedRoute]) -> [BGPReceivedRoute] { r.sorted { prefixLess($0.prefix, $1.prefix) } }
        if json {
            func table(_ routes: [BGPReceivedRoute]) -> JSON {
                let entries: [(String, JSON)] = sorted(routes).map { r in
                    let (address, length): (String, Int) = switch r.prefix {
                    case .v4(let p): (p.address.description, Int(p.length))
                    case .v6(let p): (p.address.description, Int(p.length))
                    }
                    var f: [(String, JSON)] = [("addrPrefix", .string(address)), ("prefixLen", .int(Int64(length))),
                                               ("network", .string(r.prefix.description))]
                    if let m = r.med { f.append(("metric", .int(Int64(m)))) }
                    if let l = r.localPref { f.append(("locPrf", .int(Int64(l)))) }
                    f += [("weight", .int(0)), ("nextHopGlobal", .string(r.nextHop)), ("path", .string(r.asPath)),
                          ("origin", .string(originName(r.origin))), ("accepted", .bool(r.accepted))]
                    return (r.prefix.description, .object(f))
                }
                return .object([
                    ("bgpTableVersion", .int(0)), ("bgpLocalRouterId", .string(routerID.description)), ("defaultLocPrf", .int(100)),
                    ("localAS", .uint(UInt64(localAS))), ("receivedRoutes", .object(entries)),
                    ("totalPrefixCounter", .int(Int64(routes.count))),
                    ("filteredPrefixCounter", .int(Int64(routes.filter { !$0.accepted }.count))),
                ])
            }
            if single, let only = tables.first { return table(only.1).rendered() + "\n" }
            return JSON.object(tables.map { ($0.0.description, table($0.1)) }).rendered() + "\n"
        }
        var out = ""
        for (_, routes) in tables {
            out += "BGP table version is 0, local router ID is \(routerID), vrf id 0\nDefault local pref 100, local AS \(localAS)\n" + routesHeader
            for r in sorted(routes) {
                let path = [r.asPath, originName(r.origin, short: true)].filter { !$0.isEmpty }.joined(separator: " ")
                var line = (r.accepted ? "*> " : "   ") + pad(r.prefix.description, 16)
                if r.prefix.description.count > 16 { line += "\n" + String(repeating: " ", count: 19) }
                line += " " + pad(r.nextHop, 19) + right(r.med.map(String.init) ?? "", 7) + right(r.localPref.map(String.init) ?? "", 7)
                    + right("0", 7) + " " + path
                out += line + "\n"
            }
            out += "\nTotal number of prefixes \(routes.count) (\(routes.filter { !$0.accepted }.count) filtered)\n"
        }
        return out
    }

    static func originName(_ o: Origin, short: Bool = false) -> String {
        switch o {
        case .igp: short ? "i" : "IGP"
        case .egp: short ? "e" : "EGP"
        case .incomplete: short ? "?" : "incomplete"
        }
    }

    static func isV6(_ p: IPPrefix) -> Bool { if case .v6 = p { true } else { false } }

    static func prefixLess(_ a: IPPrefix, _ b: IPPrefix) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): x < y
        case (.v6(let x), .v6(let y)): x < y
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }
}
