// `show ip wccp [SERVICE [detail | buckets]] [json]` in the IOS layout, and
// `clear ip wccp`. The appliance takes a snapshot (WCCPShowSnapshot) of the
// router's state and the engine's counters less the baseline of the last
// clear; the renderers are pure functions of that snapshot.

import Commands
import Engine
import Packet
import WCCP

/// One service group as `show ip wccp` sees it.
struct WCCPServiceView {
    var status: WCCPServiceStatus
    var settings: WCCPServiceSettings?
    /// Engine counters (RedirectCounter fields) since the last clear; empty when not installed.
    var counters: [UInt64]
    /// Dropped messages naming this service, since the last clear.
    var drops: [WCCPDropReason: UInt64]
    /// The caches in the engine's slot order (per-cache counters are by slot).
    var slots: [IPv4Address]

    func counter(_ field: Int) -> UInt64 { field < counters.count ? counters[field] : 0 }

    /// Packets redirected to `cache`.
    func redirected(to cache: IPv4Address) -> UInt64 {
        slots.firstIndex(of: cache).map { counter(RedirectCounter.cacheBase + $0) } ?? 0
    }
}

/// Everything the WCCP show commands print.
struct WCCPShowSnapshot {
    var routerID: IPv4Address
    var now: Duration
    var services: [WCCPServiceView]
    /// Datagrams dropped by the per-source rate limit (before decoding, so by no service).
    var rateLimited: UInt64 = 0
    /// Datagrams the kernel dropped because the shared socket's receive queue was full.
    var sharedQueueDrops: UInt64 = 0
    /// The same for the caches' own (connected) sockets.
    var cacheQueueDrops: UInt64 = 0
    /// Caches with a socket of their own.
    var cacheSockets: Int = 0
}

extension Appliance {
    /// `show ip wccp ...` and `clear ip wccp`.
    func showWCCP(_ what: WCCPShowCommand, json: Bool) -> (String, Bool) {
        guard let endpoint = wccpEndpoint else {
            let why = config.wccp.services.isEmpty ? "WCCP is not enabled" : "WCCP is not running (no 'ip wccp router-id')"
            return json ? (JSON.object([("error", .string(why))]).rendered() + "\n", false) : ("% \(why)\n", false)
        }
        if case .clearCounters = what {
            for id in endpoint.router.status().map(\.serviceID) {
                endpoint.baseline[id] = WCCPServiceCounters(engine: counters(ofService: id)?.totals() ?? [],
                                                            drops: endpoint.serviceDrops[id] ?? [:])
            }
            record("wccp counters cleared")
            return json ? (JSON.object([("cleared", .bool(true))]).rendered() + "\n", true) : ("", true)
        }
        let snapshot = wccpSnapshot(endpoint)
        return WCCPShow.render(what, snapshot, json: json)
    }

    func wccpSnapshot(_ endpoint: WCCPEndpoint) -> WCCPShowSnapshot {
        let services = endpoint.router.status().map { status -> WCCPServiceView in
            let id = status.serviceID
            let base = endpoint.baseline[id]
            let totals = counters(ofService: id)?.totals() ?? []
            // A counter below its baseline was recreated (service re-added): show it whole.
            func since(_ value: UInt64, _ baseline: UInt64) -> UInt64 { value >= baseline ? value - baseline : value }
            let engine = totals.enumerated().map { i, v in
                since(v, base.map { i < $0.engine.count ? $0.engine[i] : 0 } ?? 0)
            }
            let drops = (endpoint.serviceDrops[id] ?? [:]).reduce(into: [WCCPDropReason: UInt64]()) { out, entry in
                out[entry.key] = since(entry.value, base?.drops[entry.key] ?? 0)
            }
            let slots = endpoint.installed.first { $0.serviceID == id }?.caches.map(\.address) ?? []
            return WCCPServiceView(status: status, settings: endpoint.settings.services[id], counters: engine,
                                   drops: drops, slots: slots)
        }
        let queues = endpoint.socketDrops()
        return WCCPShowSnapshot(routerID: endpoint.routerID, now: endpoint.now, services: services,
                                rateLimited: endpoint.rateLimited, sharedQueueDrops: queues.shared,
                                cacheQueueDrops: queues.caches, cacheSockets: endpoint.cacheSocketCount)
    }
}

/// The renderers (pure).
enum WCCPShow {
    static func render(_ what: WCCPShowCommand, _ s: WCCPShowSnapshot, json: Bool) -> (String, Bool) {
        func one(_ id: UInt8) -> WCCPServiceView? { s.services.first { $0.status.serviceID == id } }
        switch what {
        case .summary, .clearCounters:
            return (json ? summaryJSON(s, s.services) : summary(s, s.services), true)
        case .service(let id), .detail(let id), .buckets(let id):
            guard let v = one(id) else {
                let why = "WCCP service \(name(id)) is not configured"
                return json ? (JSON.object([("error", .string(why))]).rendered() + "\n", false) : ("% \(why)\n", false)
            }
            switch what {
            case .detail: return (json ? detailJSON(s, v) : detail(s, v), true)
            case .buckets: return (json ? bucketsJSON(v) : buckets(v), true)
            default: return (json ? summaryJSON(s, [v]) : summary(s, [v]), true)
            }
        }
    }

    static func name(_ id: UInt8) -> String { id == 0 ? "web-cache" : String(id) }

    static func field(_ label: String, _ value: String, width: Int = 37) -> String {
        "        " + label + String(repeating: " ", count: max(1, width - label.count)) + value + "\n"
    }

    static func usableClients(_ v: WCCPServiceView) -> Int { v.status.caches.filter { $0.state == .usable }.count }

    static func authenticationFailures(_ v: WCCPServiceView) -> UInt64 {
        v.drops[.authentication, default: 0] + v.drops[.securityOption, default: 0]
    }

    // MARK: show ip wccp [SERVICE]

    static func summary(_ s: WCCPShowSnapshot, _ services: [WCCPServiceView]) -> String {
        var out = "Global WCCP information:\n    Router information:\n"
        out += field("Router Identifier:", s.routerID.description)
        out += field("Protocol Version:", "2.0")
        out += field("Messages Over Source Rate Limit:", String(s.rateLimited))
        out += field("Messages Dropped, Shared Queue Full:", String(s.sharedQueueDrops))
        out += field("Messages Dropped, Cache Queue Full:", String(s.cacheQueueDrops))
        out += field("Caches With Own Socket:", String(s.cacheSockets))
        for v in services {
            let id = v.status.serviceID
            out += "\n    Service Identifier: \(name(id))\n"
            out += field("Number of Service Group Clients:", String(usableClients(v)))
            out += field("Number of Service Group Routers:", "1")
            out += field("Total Packets Redirected:", String(v.counter(RedirectCounter.redirected)))
            out += field("Redirect access-list:", v.settings?.redirectList ?? "-none-")
            out += field("Total Packets Denied Redirect:", String(v.counter(RedirectCounter.denied)))
            out += field("Total Packets Unassigned:", String(v.counter(RedirectCounter.failedOpen)))
            out += field("Total Packets Returned:", String(v.counter(RedirectCounter.returned)))
            out += field("Group access-list:", v.settings?.groupList ?? "-none-")
            out += field("Total Messages Denied to Group:", String(v.drops[.groupListDenied, default: 0]))
            out += field("Total Authentication failures:", String(authenticationFailures(v)))
            let other = v.drops.filter { $0.key != .groupListDenied && $0.key != .authentication && $0.key != .securityOption }
            out += field("Total Messages Dropped (other):", String(other.values.reduce(0, +)))
        }
        return out
    }

    static func summaryJSON(_ s: WCCPShowSnapshot, _ services: [WCCPServiceView]) -> String {
        JSON.object([
            ("routerIdentifier", .string(s.routerID.description)),
            ("protocolVersion", .string("2.0")),
            ("messagesRateLimited", .uint(s.rateLimited)),
            ("messagesDroppedSharedQueueFull", .uint(s.sharedQueueDrops)),
            ("messagesDroppedCacheQueueFull", .uint(s.cacheQueueDrops)),
            ("cacheSockets", .uint(UInt64(s.cacheSockets))),
            ("services", .array(services.map { v in
                .object([
                    ("serviceId", .uint(UInt64(v.status.serviceID))),
                    ("name", .string(name(v.status.serviceID))),
                    ("clients", .uint(UInt64(usableClients(v)))),
                    ("routers", .uint(1)),
                    ("packetsRedirected", .uint(v.counter(RedirectCounter.redirected))),
                    ("redirectAccessList", v.settings?.redirectList.map { .string($0) } ?? .null),
                    ("packetsDeniedRedirect", .uint(v.counter(RedirectCounter.denied))),
                    ("packetsUnassigned", .uint(v.counter(RedirectCounter.failedOpen))),
                    ("packetsReturned", .uint(v.counter(RedirectCounter.returned))),
                    ("groupAccessList", v.settings?.groupList.map { .string($0) } ?? .null),
                    ("messagesDeniedToGroup", .uint(v.drops[.groupListDenied, default: 0])),
                    ("authenticationFailures", .uint(authenticationFailures(v))),
                    ("messagesDropped", .object(WCCPDropReason.allCases.compactMap { r in
                        v.drops[r].map { (r.rawValue, .uint($0)) }
                    })),
                ])
            })),
        ]).rendered() + "\n"
    }

    // MARK: detail

    static func state(_ c: WCCPCacheStatus) -> String {
        if c.state == .usable { return c.failed ? "NOT Usable (failure detected)" : "Usable" }
        return c.state == .pending ? "NOT Usable (pending)" : "Removed"
    }

    static func method(_ m: PacketMethods) -> String { m == .l2 ? "L2" : m == .gre ? "GRE" : m.description }

    static func assignment(_ m: AssignmentMethods) -> String { m == .mask ? "MASK" : m == .hash ? "HASH" : m.description }

    /// 256 buckets as two lines of 32 hex digits (bucket 0 is the top bit of the first digit).
    static func bitmapHex(_ buckets: [Int]) -> (String, String) {
        var bytes = [UInt8](repeating: 0, count: 32)
        for b in buckets where (0..<256).contains(b) { bytes[b / 8] |= 0x80 >> UInt8(b % 8) }
        let hex = bytes.map { String($0, radix: 16, uppercase: true) }.map { $0.count == 1 ? "0" + $0 : $0 }
        return (hex[0..<16].joined(), hex[16..<32].joined())
    }

    static func connectTime(_ d: Duration) -> String {
        let t = max(0, d.components.seconds)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(t / 3600)):\(two(t / 60 % 60)):\(two(t % 60))"
    }

    static func detail(_ s: WCCPShowSnapshot, _ v: WCCPServiceView) -> String {
        var out = "WCCP Router information (service \(name(v.status.serviceID))):\n"
        out += field("Router Identifier:", s.routerID.description, width: 25)
        out += field("Designated Cache:", v.status.designatedCache?.description ?? "-none-", width: 25)
        out += field("Assignment Method:", v.status.assignmentMethod.map(assignment) ?? "-", width: 25)
        out += field("Member Change Number:", String(v.status.memberChangeNumber), width: 25)
        out += field("Packets Redirected:", String(v.counter(RedirectCounter.redirected)), width: 25)
        out += field("Packets Denied Redirect:", String(v.counter(RedirectCounter.denied)), width: 25)
        out += field("Packets Failed Open:", String(v.counter(RedirectCounter.failedOpen)), width: 25)
        out += field("Packets Returned:", String(v.counter(RedirectCounter.returned)), width: 25)
        out += field("Failover:", v.settings?.failover == true ? "remaining caches" : "fail open", width: 25)
        out += field("Entries Failed Over:", String(v.status.failedOver), width: 25)
        out += "\nWCCP Client information:\n"
        if v.status.caches.isEmpty { out += "        (no clients)\n" }
        for c in v.status.caches {
            out += field("WCCP Client ID:", c.address.description, width: 25)
            out += field("Protocol Version:", "2.0", width: 25)
            out += field("State:", state(c), width: 25)
            out += field("Redirection:", method(c.forwarding), width: 25)
            out += field("Packet Return:", method(c.packetReturn), width: 25)
            out += field("Assignment:", assignment(c.assignment), width: 25)
            if c.assignment == .mask {
                out += field("Mask Allotment:", "\(c.maskValues)", width: 25)
            } else {
                let (a, b) = bitmapHex(c.buckets)
                out += field("Assigned Hash Info:", a, width: 25) + field("", b, width: 25)
                let percent = Double(c.buckets.count) * 100 / 256
                out += field("Hash Allotment:", "\(c.buckets.count) (\(formatPercent(percent))%)", width: 25)
            }
            out += field("Packets Redirected:", String(v.redirected(to: c.address)), width: 25)
            out += field("Connect Time:", connectTime(s.now - c.firstSeen), width: 25)
            out += "\n"
        }
        return out
    }

    static func formatPercent(_ p: Double) -> String {
        let hundredths = Int((p * 100).rounded())
        let frac = hundredths % 100
        return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)"
    }

    static func detailJSON(_ s: WCCPShowSnapshot, _ v: WCCPServiceView) -> String {
        JSON.object([
            ("serviceId", .uint(UInt64(v.status.serviceID))),
            ("designatedCache", v.status.designatedCache.map { .string($0.description) } ?? .null),
            ("memberChangeNumber", .uint(UInt64(v.status.memberChangeNumber))),
            ("routers", .array([.string(s.routerID.description)])),
            ("assignmentMethod", v.status.assignmentMethod.map { .string(assignment($0).lowercased()) } ?? .null),
            ("packetsRedirected", .uint(v.counter(RedirectCounter.redirected))),
            ("packetsDeniedRedirect", .uint(v.counter(RedirectCounter.denied))),
            ("packetsFailedOpen", .uint(v.counter(RedirectCounter.failedOpen))),
            ("packetsReturned", .uint(v.counter(RedirectCounter.returned))),
            ("failover", .string(v.settings?.failover == true ? "remaining-caches" : "fail-open")),
            ("entriesFailedOver", .uint(UInt64(v.status.failedOver))),
            ("clients", .array(v.status.caches.map { c in
                .object([
                    ("id", .string(c.address.description)),
                    ("state", .string(c.state.rawValue)),
                    ("failed", .bool(c.failed)),
                    ("forwarding", .string(method(c.forwarding).lowercased())),
                    ("packetReturn", .string(method(c.packetReturn).lowercased())),
                    ("assignment", .string(assignment(c.assignment).lowercased())),
                    ("hashAllotment", .uint(UInt64(c.buckets.count))),
                    ("maskValues", .uint(UInt64(c.maskValues))),
                    ("packetsRedirected", .uint(v.redirected(to: c.address))),
                    ("connectSeconds", .int((s.now - c.firstSeen).components.seconds)),
                    ("lastHeardSeconds", .int((s.now - c.lastHeard).components.seconds)),
                ])
            })),
        ]).rendered() + "\n"
    }

    // MARK: buckets

    /// Bucket owners as ranges ("0-127  10.0.3.11"), unassigned buckets listed too.
    static func bucketOwners(_ v: WCCPServiceView) -> [(ClosedRange<Int>, IPv4Address?)] {
        var owner = [IPv4Address?](repeating: nil, count: 256)
        for c in v.status.caches { for b in c.buckets where (0..<256).contains(b) { owner[b] = c.address } }
        var ranges: [(ClosedRange<Int>, IPv4Address?)] = []
        var start = 0
        for b in 1...256 where b == 256 || owner[b] != owner[start] {
            ranges.append((start...(b - 1), owner[start]))
            start = b
        }
        return ranges
    }

    static func buckets(_ v: WCCPServiceView) -> String {
        var out = "WCCP Buckets (service \(name(v.status.serviceID))):\n    Buckets    Client           Packets Redirected\n"
        for (range, owner) in bucketOwners(v) {
            let label = range.count == 1 ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)"
            let packets = range.reduce(UInt64(0)) { $0 + v.counter(RedirectCounter.bucketBase + $1) }
            let who = owner?.description ?? "unassigned"
            out += "    " + label + String(repeating: " ", count: max(1, 11 - label.count))
                + who + String(repeating: " ", count: max(1, 17 - who.count)) + "\(packets)\n"
        }
        return out
    }

    static func bucketsJSON(_ v: WCCPServiceView) -> String {
        JSON.object([
            ("serviceId", .uint(UInt64(v.status.serviceID))),
            ("buckets", .array((0..<256).map { b in
                let owner = v.status.caches.first { $0.buckets.contains(b) }?.address
                return .object([("bucket", .int(Int64(b))), ("client", owner.map { .string($0.description) } ?? .null),
                                ("packetsRedirected", .uint(v.counter(RedirectCounter.bucketBase + b)))])
            })),
        ]).rendered() + "\n"
    }
}
