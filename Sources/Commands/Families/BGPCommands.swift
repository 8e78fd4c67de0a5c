import Packet

// `router bgp ASN` and what is typed under it (FRR syntax), and `ip prefix-list`.
// The BGP speaker in Control turns this model into sessions; the Commands
// module itself knows nothing about BGP's wire format.
//
// One deviation from FRR: AS_PATH prepending is `neighbor A as-path-prepend N`
// (our AS is prepended N extra times toward that neighbour) instead of a route-map.

// MARK: - The model

/// `router bgp ASN`: the BGP speaker's configuration.
public struct BGPRouterConfig: Equatable, Sendable {
    /// Local AS number.
    public var asNumber: UInt32
    /// `bgp router-id A.B.C.D`; nil: chosen from the interface addresses.
    public var routerID: IPv4Address?
    /// `[no] bgp ebgp-requires-policy`: RFC 8212, eBGP routes need an inbound prefix list (default on, as FRR).
    public var ebgpRequiresPolicy = true
    /// Allowed `bgp graceful-shutdown drain-time` and `bgp update-delay` values, in seconds.
    public static let delayRange = 1...3600
    /// `bgp graceful-shutdown drain-time SECONDS`: on a planned stop (SIGTERM), withdraw every
    /// route we advertise, keep forwarding this long, then Cease (Administrative Shutdown). nil: stop at once.
    public var gracefulShutdownDrainTime: Int?
    /// `bgp update-delay SECONDS`: after start, advertise nothing until every neighbour is
    /// Established and every WCCP service has its assignment, or this long has passed.
    public var updateDelay: Int?
    /// `neighbor A ...` by peer address.
    public var neighbors: [IPAddress: BGPNeighborConfig]
    /// `address-family ipv4 unicast` settings.
    public var ipv4: BGPAddressFamilyConfig
    /// `address-family ipv6 unicast` settings.
    public var ipv6: BGPAddressFamilyConfig

    public init(asNumber: UInt32, routerID: IPv4Address? = nil, neighbors: [IPAddress: BGPNeighborConfig] = [:],
                ipv4: BGPAddressFamilyConfig = BGPAddressFamilyConfig(), ipv6: BGPAddressFamilyConfig = BGPAddressFamilyConfig()) {
        self.asNumber = asNumber; self.routerID = routerID; self.neighbors = neighbors; self.ipv4 = ipv4; self.ipv6 = ipv6
    }

    /// The address-family block for `family`.
    public subscript(family: BGPFamily) -> BGPAddressFamilyConfig {
        get { family == .ipv4 ? ipv4 : ipv6 }
        set { if family == .ipv4 { ipv4 = newValue } else { ipv6 = newValue } }
    }
}

/// The two unicast families of `address-family`.
public enum BGPFamily: String, Hashable, Sendable, CaseIterable {
    case ipv4, ipv6
}

/// Per-family settings of the router (`network`, `maximum-paths`).
public struct BGPAddressFamilyConfig: Equatable, Sendable {
    /// Allowed `maximum-paths` values.
    public static let maximumPathsRange = 1...64
    /// `network PREFIX`: prefixes originated in this family.
    public var networks: Set<IPPrefix> = []
    /// `maximum-paths N`: ECMP width for routes learned over several sessions.
    public var maximumPaths: Int = 1
    /// `network PREFIX track N`: advertised only while track N is up.
    public var networkTracks: [IPPrefix: Int] = [:]
    public init(networks: Set<IPPrefix> = [], maximumPaths: Int = 1) { self.networks = networks; self.maximumPaths = maximumPaths }
}

/// One `neighbor A remote-as ASN` and its settings.
public struct BGPNeighborConfig: Equatable, Sendable {
    /// Allowed `ebgp-multihop` TTLs.
    public static let ttlRange = 1...255
    /// FRR's default keepalive and hold time.
    public static let defaultKeepalive: UInt16 = 10
    public static let defaultHoldTime: UInt16 = 30

    public var address: IPAddress
    public var remoteAS: UInt32
    /// `ebgp-multihop [N]`: the TTL of our packets (nil: 1, directly connected; FRR's bare form is 255).
    public var ebgpMultihop: Int?
    /// `timers KEEPALIVE HOLD`; nil: 10 and 30.
    public var timers: (keepalive: UInt16, hold: UInt16)? {
        get { keepalive.map { ($0, holdTime ?? Self.defaultHoldTime) } }
        set { keepalive = newValue?.keepalive; holdTime = newValue?.hold }
    }
    public var keepalive: UInt16?
    public var holdTime: UInt16?
    /// `update-source A.B.C.D`: local address of the TCP connection.
    public var updateSource: IPAddress?
    /// `as-path-prepend N`: extra copies of our AS toward this neighbour.
    public var asPathPrepend: Int = 0
    /// `shutdown`: the session stays down.
    public var shutdown: Bool = false
    /// `password LINE`: TCP MD5 signature key (RFC 2385), 1-80 characters.
    public var password: String?
    /// `ttl-security hops N`: GTSM (RFC 5082); excludes `ebgp-multihop`.
    public var ttlSecurityHops: Int?
    /// Per-family settings; IPv4 unicast is active by default (as FRR), IPv6 is not.
    public var ipv4: BGPNeighborFamilyConfig = BGPNeighborFamilyConfig(activate: true)
    public var ipv6: BGPNeighborFamilyConfig = BGPNeighborFamilyConfig(activate: false)

    public init(address: IPAddress, remoteAS: UInt32) { self.address = address; self.remoteAS = remoteAS }

    /// The neighbour's settings in `family`.
    public subscript(family: BGPFamily) -> BGPNeighborFamilyConfig {
        get { family == .ipv4 ? ipv4 : ipv6 }
        set { if family == .ipv4 { ipv4 = newValue } else { ipv6 = newValue } }
    }

    public static func == (a: BGPNeighborConfig, b: BGPNeighborConfig) -> Bool {
        a.address == b.address && a.remoteAS == b.remoteAS && a.ebgpMultihop == b.ebgpMultihop && a.keepalive == b.keepalive
            && a.holdTime == b.holdTime && a.updateSource == b.updateSource && a.asPathPrepend == b.asPathPrepend
            && a.shutdown == b.shutdown && a.ipv4 == b.ipv4 && a.ipv6 == b.ipv6
            && a.password == b.password && a.ttlSecurityHops == b.ttlSecurityHops
    }
}

/// A neighbour's settings inside one address family.
public struct BGPNeighborFamilyConfig: Equatable, Sendable {
    /// `neighbor A activate`: exchange this family with the neighbour.
    public var activate: Bool
    /// `neighbor A default-originate`: advertise 0.0.0.0/0 (::/0).
    public var defaultOriginate = false
    /// `neighbor A default-originate track N`: only while track N is up.
    public var defaultOriginateTrack: Int?
    /// `neighbor A prefix-list NAME in`.
    public var prefixListIn: String?
    /// `neighbor A prefix-list NAME out`.
    public var prefixListOut: String?
    /// `neighbor A maximum-prefix N [THRESHOLD] [warning-only]`.
    public var maximumPrefix: BGPMaximumPrefixConfig?
    /// `neighbor A soft-reconfiguration inbound`: keep routes as received (before policy).
    public var softReconfigurationInbound = false
    public init(activate: Bool) { self.activate = activate }
}

/// `maximum-prefix N [THRESHOLD] [warning-only]`.
public struct BGPMaximumPrefixConfig: Equatable, Sendable {
    public var limit: UInt32
    /// Warning threshold in percent of `limit`; nil: 75 (not printed).
    public var threshold: Int?
    public var warningOnly: Bool
    public init(limit: UInt32, threshold: Int? = nil, warningOnly: Bool = false) {
        self.limit = limit; self.threshold = threshold; self.warningOnly = warningOnly
    }
}

/// `ip prefix-list NAME` / `ipv6 prefix-list NAME`: ordered by sequence number.
public struct PrefixListConfig: Equatable, Sendable {
    public var name: String
    /// Entries by sequence number.
    public var entries: [UInt32: PrefixListLine]
    public init(name: String, entries: [UInt32: PrefixListLine] = [:]) { self.name = name; self.entries = entries }

    /// Entries in evaluation order.
    public var ordered: [(seq: UInt32, line: PrefixListLine)] { entries.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
}

/// `seq N permit|deny PREFIX [ge N] [le N]`.
public struct PrefixListLine: Hashable, Sendable {
    public var permit: Bool
    public var prefix: IPPrefix
    public var ge: UInt8?
    public var le: UInt8?
    public init(permit: Bool, prefix: IPPrefix, ge: UInt8? = nil, le: UInt8? = nil) {
        self.permit = permit; self.prefix = prefix; self.ge = ge; self.le = le
    }
}

/// The BGP `show` commands (one ShowCommand case, `.bgp`, carries them).
public enum BGPShowCommand: Equatable, Sendable {
    /// `show ip bgp summary` / `show bgp summary`.
    case summary
    /// `show ip bgp` / `show bgp ipv6 unicast`.
    case routes(ipv6: Bool)
    /// `show ip bgp neighbors [A] [advertised-routes]`.
    case neighbors(IPAddress?, advertisedRoutes: Bool)
    /// `show ip bgp neighbors [A] received-routes`: Adj-RIB-In before policy
    /// (needs `soft-reconfiguration inbound`, as in FRR).
    case receivedRoutes(IPAddress?)
    /// `clear ip bgp *|A [soft]`: reset sessions (all, or one), or with `soft`
    /// ask for the peer's routes again (route refresh) and re-send ours,
    /// keeping the session. Like `clear ip wccp`, it runs where the show
    /// commands run: on the appliance's live state.
    case clear(IPAddress?, soft: Bool)
    /// `show ip route summary`: routes per source, in the RIB, the engine and the kernel (O(1)).
    case routeSummary
    /// `show track [N]`: the health checks that BGP advertisements follow (TrackCommands.swift).
    case track(Int?)
}

extension CommandMode {
    /// `router bgp ASN`.
    public static let configRouter = CommandMode(
        name: "config-router", title: "router configuration", enteredBy: "router bgp ASN", parent: .config)
    /// `address-family ipv4|ipv6 unicast` under `router bgp`.
    public static let configRouterAF = CommandMode(
        name: "config-router-af", title: "router address-family configuration",
        enteredBy: "address-family ipv4|ipv6 unicast", parent: .configRouter)
}

// MARK: - Commands

/// `router bgp` (config-router, config-router-af) and prefix lists.
enum BGPCommands: CommandFamily {
    static func register(into registry: inout CommandRegistry) {
        registry.addMode(.configRouter)
        registry.addMode(.configRouterAF)
        registerRouter(&registry)
        registerNeighbor(&registry)
        registerAddressFamily(&registry)
        registerPrefixLists(&registry)
        registerShow(&registry)
    }

    private static func registerShow(_ registry: inout CommandRegistry) {
        let ip = CommandElement.keyword("ip", help: "IP information")
        let bgp = CommandElement.keyword("bgp", help: "BGP information")
        let summary = CommandElement.keyword("summary", help: "Summary of BGP neighbor status")
        let neighbors = CommandElement.keyword("neighbors", help: "Detailed information on TCP and BGP neighbor connections")
        let advertised = CommandElement.keyword("advertised-routes", help: "Display the routes advertised to a BGP neighbor")
        registry.show([ip, bgp]) { _ in .bgp(.routes(ipv6: false)) }
        registry.show([ip, bgp, summary]) { _ in .bgp(.summary) }
        registry.show([ip, .keyword("route", help: "Routing table"), .keyword("summary", help: "Summary of all routes")]) { _ in
            .bgp(.routeSummary)
        }
        registry.show([bgp, summary]) { _ in .bgp(.summary) }
        registry.show([bgp, .keyword("ipv6", help: "Address Family"), .keyword("unicast", help: "Address Family modifier")]) { _ in
            .bgp(.routes(ipv6: true))
        }
        registry.show([ip, bgp, neighbors, .optional([peer, .optional([advertised])])]) { a throws(CommandFailure) in
            .bgp(.neighbors(a.contains("peer") ? try a.ipAddress("peer") : nil, advertisedRoutes: a.has("advertised-routes")))
        }
        let received = CommandElement.keyword("received-routes", help: "Display the received routes from neighbor (before policy)")
        registry.show([ip, bgp, neighbors, .optional([peer]), received]) { a throws(CommandFailure) in
            .bgp(.receivedRoutes(a.contains("peer") ? try a.ipAddress("peer") : nil))
        }
        registry.exec([.keyword("clear", help: "Reset functions"), ip, .keyword("bgp", help: "BGP sessions"),
                       .choice([[.keyword("*", help: "Clear all peers")], [peer]]),
                       .optional([.keyword("soft", help: "Soft reconfiguration: route refresh in, re-advertise out")])]) { a throws(CommandFailure) in
            .show(.bgp(.clear(a.contains("peer") ? try a.ipAddress("peer") : nil, soft: a.has("soft"))), json: false)
        }
    }

    static let neighborKeyword = CommandElement.keyword("neighbor", help: "Specify neighbor router")
    static let peer = CommandElement.choice([
        [.argument("peer", .ipv4Address, help: "Neighbor address")],
        [.argument("peer", .ipv6Address, help: "Neighbor IPv6 address")],
    ])

    private static func registerRouter(_ registry: inout CommandRegistry) {
        let router = CommandElement.keyword("router", help: "Enable a routing process")
        let bgp = CommandElement.keyword("bgp", help: "BGP information")
        let asn = CommandElement.argument("asn", .asNumber, help: "Autonomous system number")
        registry.config(.config, [router, bgp, asn]) { s, a throws(CommandFailure) in
            let asn = UInt32(try a.number("asn"))
            if let existing = s.config.bgp, existing.asNumber != asn {
                throw CommandFailure("BGP is already running; AS is \(existing.asNumber)", argument: "asn")
            }
            if s.config.bgp == nil { s.config.bgp = BGPRouterConfig(asNumber: asn) }
            s.enter(.configRouter, target: String(asn))
        }
        registry.config(.config, [.no, router, bgp, .optional([asn])]) { s, a throws(CommandFailure) in
            guard let existing = s.config.bgp else { throw CommandFailure("BGP is not configured") }
            if a.contains("asn"), UInt32(try a.number("asn")) != existing.asNumber {
                throw CommandFailure("BGP instance is AS \(existing.asNumber)", argument: "asn")
            }
            s.config.bgp = nil
        }

        let routerID = [bgp, CommandElement.keyword("router-id", help: "Override configured router identifier")]
        registry.config(.configRouter, routerID + [.argument("id", .ipv4Address, help: "Manually configured router identifier")]) { s, a throws(CommandFailure) in
            let id = try a.ipv4Address("id")
            if id == .any { throw CommandFailure("0.0.0.0 is not a router identifier", argument: "id") }
            try s.editBGP { $0.routerID = id }
        }
        registry.config(.configRouter, [.no] + routerID + [.optional([.argument("id", .ipv4Address, help: "Router identifier")])]) { s, _ throws(CommandFailure) in
            try s.editBGP { $0.routerID = nil }
        }
        let requiresPolicy = [bgp, CommandElement.keyword("ebgp-requires-policy", help: "Require in and out policy for eBGP peers (RFC 8212)")]
        registry.config(.configRouter, requiresPolicy) { s, _ throws(CommandFailure) in try s.editBGP { $0.ebgpRequiresPolicy = true } }
        registry.config(.configRouter, [.no] + requiresPolicy) { s, _ throws(CommandFailure) in try s.editBGP { $0.ebgpRequiresPolicy = false } }

        let range = UInt64(BGPRouterConfig.delayRange.lowerBound)...UInt64(BGPRouterConfig.delayRange.upperBound)
        let gshut = [bgp, CommandElement.keyword("graceful-shutdown", help: "Graceful shutdown on a planned stop: withdraw, drain, then Cease"),
                     .keyword("drain-time", help: "Time to keep forwarding after the withdrawal")]
        let drain = CommandElement.argument("seconds", .range(range), help: "Drain time in seconds")
        registry.config(.configRouter, gshut + [drain]) { s, a throws(CommandFailure) in
            let seconds = Int(try a.number("seconds"))
            try s.editBGP { $0.gracefulShutdownDrainTime = seconds }
        }
        registry.config(.configRouter, [.no, bgp, .keyword("graceful-shutdown", help: "Graceful shutdown on a planned stop"),
                                        .optional([.keyword("drain-time", help: "Time to keep forwarding after the withdrawal"), .optional([drain])])]) { s, _ throws(CommandFailure) in
            try s.editBGP { $0.gracefulShutdownDrainTime = nil }
        }
        let updateDelay = [bgp, CommandElement.keyword("update-delay", help: "Hold our advertisements after start until converged")]
        let delay = CommandElement.argument("seconds", .range(range), help: "Longest hold in seconds")
        registry.config(.configRouter, updateDelay + [delay]) { s, a throws(CommandFailure) in
            let seconds = Int(try a.number("seconds"))
            try s.editBGP { $0.updateDelay = seconds }
        }
        registry.config(.configRouter, [.no] + updateDelay + [.optional([delay])]) { s, _ throws(CommandFailure) in
            try s.editBGP { $0.updateDelay = nil }
        }
    }

    private static func registerNeighbor(_ registry: inout CommandRegistry) {
        let n = [neighborKeyword, peer]
        let remoteAS = CommandElement.keyword("remote-as", help: "Specify a BGP neighbor")
        let asn = CommandElement.argument("asn", .asNumber, help: "AS number")
        registry.config(.configRouter, n + [remoteAS, asn]) { s, a throws(CommandFailure) in
            let address = try a.ipAddress("peer")
            let asn = UInt32(try a.number("asn"))
            try s.editBGP { b in
                if b.neighbors[address] == nil {
                    b.neighbors[address] = BGPNeighborConfig(address: address, remoteAS: asn)
                } else {
                    b.neighbors[address]!.remoteAS = asn
                }
            }
        }
        registry.config(.configRouter, [.no] + n + [.optional([remoteAS, .optional([asn])])]) { s, a throws(CommandFailure) in
            let address = try a.ipAddress("peer")
            try s.editBGP { b throws(CommandFailure) in
                guard b.neighbors.removeValue(forKey: address) != nil else {
                    throw CommandFailure("no neighbor \(address) is configured", argument: "peer")
                }
            }
        }

        let multihop = CommandElement.keyword("ebgp-multihop", help: "Allow EBGP neighbors not on directly connected networks")
        let ttl = CommandElement.argument("ttl", .range(UInt64(BGPNeighborConfig.ttlRange.lowerBound)...UInt64(BGPNeighborConfig.ttlRange.upperBound)),
                                          help: "maximum hop count")
        registry.config(.configRouter, n + [multihop, .optional([ttl])]) { s, a throws(CommandFailure) in
            let value = a.contains("ttl") ? Int(try a.number("ttl")) : 255
            try s.editNeighbor(a) { n throws(CommandFailure) in
                if n.ttlSecurityHops != nil { throw CommandFailure("ebgp-multihop and ttl-security cannot be configured together", argument: "peer") }
                n.ebgpMultihop = value
            }
        }
        registry.config(.configRouter, [.no] + n + [multihop, .optional([ttl])]) { s, a throws(CommandFailure) in
            try s.editNeighbor(a) { $0.ebgpMultihop = nil }
        }

        let timers = CommandElement.keyword("timers", help: "BGP per neighbor timers")
        let keepalive = CommandElement.argument("keepalive", .range(0...65535), help: "Keepalive interval")
        let hold = CommandElement.argument("hold", .range(0...65535), help: "Holdtime")
        registry.config(.configRouter, n + [timers, keepalive, hold]) { s, a throws(CommandFailure) in
            let k = UInt16(try a.number("keepalive")), h = UInt16(try a.number("hold"))
            // RFC 4271 §4.2: the hold time is 0 or at least 3 seconds.
            if h != 0 && h < 3 { throw CommandFailure("hold time must be 0 or 3-65535", argument: "hold") }
            try s.editNeighbor(a) { $0.timers = (k, h) }
        }
        registry.config(.configRouter, [.no] + n + [timers, .optional([keepalive, hold])]) { s, a throws(CommandFailure) in
            try s.editNeighbor(a) { $0.timers = nil }
        }

        let updateSource = CommandElement.keyword("update-source", help: "Source of routing updates")
        let source = CommandElement.choice([
            [.argument("source", .ipv4Address, help: "IPv4 address")], [.argument("source", .ipv6Address, help: "IPv6 address")],
        ])
        registry.config(.configRouter, n + [updateSource, source]) { s, a throws(CommandFailure) in
            let source = try a.ipAddress("source")
            try s.editNeighbor(a) { $0.updateSource = source }
        }
        registry.config(.configRouter, [.no] + n + [updateSource, .optional([source])]) { s, a throws(CommandFailure) in
            try s.editNeighbor(a) { $0.updateSource = nil }
        }

        let prepend = CommandElement.keyword("as-path-prepend", help: "Prepend our AS this many extra times toward the neighbor")
        let count = CommandElement.argument("count", .range(1...10), help: "Extra copies of the local AS")
        registry.config(.configRouter, n + [prepend, count]) { s, a throws(CommandFailure) in
            let c = Int(try a.number("count"))
            try s.editNeighbor(a) { $0.asPathPrepend = c }
        }
        registry.config(.configRouter, [.no] + n + [prepend, .optional([count])]) { s, a throws(CommandFailure) in
            try s.editNeighbor(a) { $0.asPathPrepend = 0 }
        }

        let passwordKeyword = CommandElement.keyword("password", help: "Set a password (TCP MD5 signature, RFC 2385)")
        let password = CommandElement.argument("password", .word, help: "The password, 1-80 characters")
        registry.config(.configRouter, n + [passwordKeyword, password]) { s, a throws(CommandFailure) in
            let p = try a.string("password")
            guard (1...80).contains(p.utf8.count) else { throw CommandFailure("a TCP MD5 password has 1 to 80 characters", argument: "password") }
            try s.editNeighbor(a) { $0.password = p }
        }
        registry.config(.configRouter, [.no] + n + [passwordKeyword, .optional([password])]) { s, a throws(CommandFailure) in
            try s.editNeighbor(a) { $0.password = nil }
        }
        let ttlSecurity = CommandElement.keyword("ttl-security", help: "BGP ttl-security parameters (GTSM, RFC 5082)")
        let hopsKeyword = CommandElement.keyword("hops", help: "Specify the maximum number of hops to the BGP peer")
        let hops = CommandElement.argument("hops", .range(1...254), help: "Number of hops to BGP peer")
        registry.config(.configRouter, n + [ttlSecurity, hopsKeyword, hops]) { s, a throws(CommandFailure) in
            let h = Int(try a.number("hops"))
            try s.editNeighbor(a) { n throws(CommandFailure) in
                if n.ebgpMultihop != nil { throw CommandFailure("ebgp-multihop and ttl-security cannot be configured together", argument: "peer") }
                n.ttlSecurityHops = h
            }
        }
        registry.config(.configRouter, [.no] + n + [ttlSecurity, .optional([hopsKeyword, hops])]) { s, a throws(CommandFailure) in
            try s.editNeighbor(a) { $0.ttlSecurityHops = nil }
        }

        let shutdown = CommandElement.keyword("shutdown", help: "Administratively shut down this neighbor")
        registry.config(.configRouter, n + [shutdown]) { s, a throws(CommandFailure) in try s.editNeighbor(a) { $0.shutdown = true } }
        registry.config(.configRouter, [.no] + n + [shutdown]) { s, a throws(CommandFailure) in try s.editNeighbor(a) { $0.shutdown = false } }
    }

    private static func registerAddressFamily(_ registry: inout CommandRegistry) {
        let af = CommandElement.keyword("address-family", help: "Enter Address Family command mode")
        let family = CommandElement.choice([
            [.keyword("ipv4", help: "Address Family")], [.keyword("ipv6", help: "Address Family")],
        ])
        let unicast = CommandElement.keyword("unicast", help: "Address Family modifier")
        registry.config(.configRouter, [af, family, .optional([unicast])]) { s, a throws(CommandFailure) in
            guard s.config.bgp != nil else { throw CommandFailure("not in router configuration mode") }
            s.enter(.configRouterAF, target: a.has("ipv6") ? BGPFamily.ipv6.rawValue : BGPFamily.ipv4.rawValue)
        }
        registry.config(.configRouterAF, [.keyword("exit-address-family", help: "Exit from Address Family configuration mode")]) { s, _ throws(CommandFailure) in
            s.exitMode()
        }

        let network = CommandElement.keyword("network", help: "Specify a network to announce via BGP")
        let prefix = CommandElement.choice([
            [.argument("prefix", .ipv4Prefix, help: "IPv4 prefix")], [.argument("prefix", .ipv6Prefix, help: "IPv6 prefix")],
        ])
        let track = CommandElement.optional([.keyword("track", help: "Advertise only while a tracked object is up"),
                                             .argument("track", .range(TrackCommands.objectRange), help: "Tracked object number")])
        registry.config(.configRouterAF, [network, prefix, track]) { s, a throws(CommandFailure) in
            let p = try familyPrefix(s, a)
            let t = a.contains("track") ? Int(try a.number("track")) : nil
            try s.editFamily { _, f in f.networks.insert(p); f.networkTracks[p] = t }
        }
        registry.config(.configRouterAF, [.no, network, prefix, track]) { s, a throws(CommandFailure) in
            let p = try familyPrefix(s, a)
            try s.editFamily { _, f throws(CommandFailure) in
                guard f.networks.remove(p) != nil else { throw CommandFailure("network \(p) is not configured", argument: "prefix") }
                f.networkTracks[p] = nil
            }
        }

        let maxPaths = CommandElement.keyword("maximum-paths", help: "Forward packets over multiple paths")
        let paths = CommandElement.argument("paths", .range(UInt64(BGPAddressFamilyConfig.maximumPathsRange.lowerBound)...UInt64(BGPAddressFamilyConfig.maximumPathsRange.upperBound)),
                                            help: "Number of paths")
        registry.config(.configRouterAF, [maxPaths, paths]) { s, a throws(CommandFailure) in
            let n = Int(try a.number("paths"))
            try s.editFamily { _, f in f.maximumPaths = n }
        }
        registry.config(.configRouterAF, [.no, maxPaths, .optional([paths])]) { s, _ throws(CommandFailure) in
            try s.editFamily { _, f in f.maximumPaths = 1 }
        }

        let n = [neighborKeyword, peer]
        let activate = CommandElement.keyword("activate", help: "Enable the Address Family for this Neighbor")
        registry.config(.configRouterAF, n + [activate]) { s, a throws(CommandFailure) in try s.editNeighborFamily(a) { $0.activate = true } }
        registry.config(.configRouterAF, [.no] + n + [activate]) { s, a throws(CommandFailure) in try s.editNeighborFamily(a) { $0.activate = false } }

        let originate = CommandElement.keyword("default-originate", help: "Originate default route to this neighbor")
        registry.config(.configRouterAF, n + [originate, track]) { s, a throws(CommandFailure) in
            let t = a.contains("track") ? Int(try a.number("track")) : nil
            try s.editNeighborFamily(a) { $0.defaultOriginate = true; $0.defaultOriginateTrack = t }
        }
        registry.config(.configRouterAF, [.no] + n + [originate, track]) { s, a throws(CommandFailure) in
            try s.editNeighborFamily(a) { $0.defaultOriginate = false; $0.defaultOriginateTrack = nil }
        }

        let prefixList = CommandElement.keyword("prefix-list", help: "Filter updates to/from this neighbor")
        let listName = CommandElement.argument("list", .word, help: "Name of a prefix list")
        let direction = CommandElement.choice([
            [.keyword("in", help: "Filter incoming updates")], [.keyword("out", help: "Filter outgoing updates")],
        ])
        registry.config(.configRouterAF, n + [prefixList, listName, direction]) { s, a throws(CommandFailure) in
            let name = try a.string("list")
            let inbound = a.has("in")
            try s.editNeighborFamily(a) { if inbound { $0.prefixListIn = name } else { $0.prefixListOut = name } }
        }
        registry.config(.configRouterAF, [.no] + n + [prefixList, .optional([listName]), direction]) { s, a throws(CommandFailure) in
            let inbound = a.has("in")
            try s.editNeighborFamily(a) { if inbound { $0.prefixListIn = nil } else { $0.prefixListOut = nil } }
        }

        let soft = [CommandElement.keyword("soft-reconfiguration", help: "Per neighbor soft reconfiguration"),
                    .keyword("inbound", help: "Allow inbound soft reconfiguration for this neighbor")]
        registry.config(.configRouterAF, n + soft) { s, a throws(CommandFailure) in try s.editNeighborFamily(a) { $0.softReconfigurationInbound = true } }
        registry.config(.configRouterAF, [.no] + n + soft) { s, a throws(CommandFailure) in try s.editNeighborFamily(a) { $0.softReconfigurationInbound = false } }

        let maxPrefix = CommandElement.keyword("maximum-prefix", help: "Maximum number of prefixes to accept from this peer")
        let limit = CommandElement.argument("limit", .range(1...UInt64(UInt32.max)), help: "maximum no. of prefix limit")
        let threshold = CommandElement.argument("threshold", .range(1...100), help: "Threshold value (%) at which to generate a warning msg")
        let warningOnly = CommandElement.keyword("warning-only", help: "Only give warning message when limit is exceeded")
        registry.config(.configRouterAF, n + [maxPrefix, limit, .optional([threshold]), .optional([warningOnly])]) { s, a throws(CommandFailure) in
            let value = BGPMaximumPrefixConfig(limit: UInt32(try a.number("limit")),
                                               threshold: a.contains("threshold") ? Int(try a.number("threshold")) : nil,
                                               warningOnly: a.has("warning-only"))
            try s.editNeighborFamily(a) { $0.maximumPrefix = value }
        }
        registry.config(.configRouterAF, [.no] + n + [maxPrefix, .optional([limit, .optional([threshold]), .optional([warningOnly])])]) { s, a throws(CommandFailure) in
            try s.editNeighborFamily(a) { $0.maximumPrefix = nil }
        }
    }

    /// The `network` prefix, checked against the block's family and for host bits.
    private static func familyPrefix(_ s: ConfigSession, _ a: Arguments) throws(CommandFailure) -> IPPrefix {
        let family = BGPFamily(rawValue: s.target ?? "") ?? .ipv4
        switch a.entries["prefix"]?.value {
        case .ipv4Prefix(let p)?:
            guard family == .ipv4 else { throw CommandFailure("an IPv4 prefix in address-family ipv6", argument: "prefix") }
            guard p.subnet.address == p.address else { throw CommandFailure("host bits set in \(p) (did you mean \(p.subnet)?)", argument: "prefix") }
            return .v4(p.subnet)
        case .ipv6Prefix(let p)?:
            guard family == .ipv6 else { throw CommandFailure("an IPv6 prefix in address-family ipv4", argument: "prefix") }
            guard p.subnet.address == p.address else { throw CommandFailure("host bits set in \(p) (did you mean \(p.subnet)?)", argument: "prefix") }
            return .v6(p.subnet)
        default:
            throw CommandFailure("internal error: no prefix")
        }
    }

    private static func registerPrefixLists(_ registry: inout CommandRegistry) {
        for family in BGPFamily.allCases {
            let ip = CommandElement.keyword(family == .ipv4 ? "ip" : "ipv6", help: family == .ipv4 ? "IP information" : "IPv6 information")
            let prefixList = CommandElement.keyword("prefix-list", help: "Build a prefix list")
            let name = CommandElement.argument("name", .word, help: "Name of a prefix list")
            let seqKeyword = CommandElement.keyword("seq", help: "sequence number of an entry")
            let seq = CommandElement.argument("seq", .range(1...UInt64(UInt32.max)), help: "Sequence number")
            let action = CommandElement.choice([
                [.keyword("permit", help: "Specify packets to forward")], [.keyword("deny", help: "Specify packets to reject")],
            ])
            let maxLength: UInt64 = family == .ipv4 ? 32 : 128
            let prefix = CommandElement.argument("prefix", family == .ipv4 ? .ipv4Prefix : .ipv6Prefix, help: "Prefix to match")
            let ge = CommandElement.optional([.keyword("ge", help: "Minimum prefix length to be matched"),
                                              .argument("ge", .range(0...maxLength), help: "Minimum prefix length")])
            let le = CommandElement.optional([.keyword("le", help: "Maximum prefix length to be matched"),
                                              .argument("le", .range(0...maxLength), help: "Maximum prefix length")])
            let entry: [CommandElement] = [.optional([seqKeyword, seq]), action, prefix, ge, le]
            registry.config(.config, [ip, prefixList, name] + entry) { s, a throws(CommandFailure) in
                let name = try a.string("name")
                let line = try prefixListLine(a)
                var list = s.config.prefixLists(family)[name] ?? PrefixListConfig(name: name)
                let seqNumber = a.contains("seq") ? UInt32(try a.number("seq")) : (list.entries.keys.max().map { $0 / 5 * 5 + 5 } ?? 5)
                list.entries[seqNumber] = line
                s.config.setPrefixList(list, family)
            }
            registry.config(.config, [.no, ip, prefixList, name, .optional(entry)]) { s, a throws(CommandFailure) in
                let name = try a.string("name")
                guard var list = s.config.prefixLists(family)[name] else {
                    throw CommandFailure("prefix list \(name) does not exist", argument: "name")
                }
                if a.contains("prefix") {
                    let line = try prefixListLine(a)
                    let seqNumber = a.contains("seq") ? UInt32(try a.number("seq")) : list.entries.first { $0.value == line }?.key
                    guard let seqNumber, list.entries[seqNumber] == line else {
                        throw CommandFailure("no matching entry in prefix list \(name)", argument: "prefix")
                    }
                    list.entries[seqNumber] = nil
                    s.config.setPrefixList(list.entries.isEmpty ? nil : list, family, name: name)
                } else {
                    s.config.setPrefixList(nil, family, name: name)
                }
            }
        }
    }

    /// The entry a matched `prefix-list` line describes; ge/le checked as FRR does.
    private static func prefixListLine(_ a: Arguments) throws(CommandFailure) -> PrefixListLine {
        let prefix: IPPrefix, length: UInt8, maxLength: UInt8
        switch a.entries["prefix"]?.value {
        case .ipv4Prefix(let p)?: prefix = .v4(p.subnet); length = p.length; maxLength = 32
        case .ipv6Prefix(let p)?: prefix = .v6(p.subnet); length = p.length; maxLength = 128
        default: throw CommandFailure("internal error: no prefix")
        }
        let ge = a.contains("ge") ? UInt8(try a.number("ge")) : nil
        let le = a.contains("le") ? UInt8(try a.number("le")) : nil
        // FRR: len < ge <= le <= max.
        if let ge, ge <= length || ge > maxLength { throw CommandFailure("ge must be greater than the prefix length \(length)", argument: "ge") }
        if let le, le <= length || le < (ge ?? 0) {
            throw CommandFailure("le must be greater than the prefix length \(length) and at least ge", argument: "le")
        }
        return PrefixListLine(permit: a.has("permit"), prefix: prefix, ge: ge, le: le)
    }

    // MARK: running-config

    static func render(_ config: RunningConfig) -> [[String]] {
        var blocks: [[String]] = []
        if let b = config.bgp { blocks.append(renderRouter(b)) }
        for family in BGPFamily.allCases {
            let keyword = family == .ipv4 ? "ip" : "ipv6"
            let lines = config.prefixLists(family).values.sorted { $0.name < $1.name }.flatMap { list in
                list.ordered.map { seq, l in
                    var text = "\(keyword) prefix-list \(list.name) seq \(seq) \(l.permit ? "permit" : "deny") \(l.prefix)"
                    if let ge = l.ge { text += " ge \(ge)" }
                    if let le = l.le { text += " le \(le)" }
                    return text
                }
            }
            blocks.append(lines)
        }
        return blocks
    }

    private static func renderRouter(_ b: BGPRouterConfig) -> [String] {
        var lines = ["router bgp \(b.asNumber)"]
        if let id = b.routerID { lines.append(" bgp router-id \(id)") }
        if !b.ebgpRequiresPolicy { lines.append(" no bgp ebgp-requires-policy") }
        if let d = b.updateDelay { lines.append(" bgp update-delay \(d)") }
        if let d = b.gracefulShutdownDrainTime { lines.append(" bgp graceful-shutdown drain-time \(d)") }
        let neighbors = b.neighbors.values.sorted { addressOrder($0.address, $1.address) }
        for n in neighbors {
            let a = n.address
            lines.append(" neighbor \(a) remote-as \(n.remoteAS)")
            if let ttl = n.ebgpMultihop { lines.append(" neighbor \(a) ebgp-multihop \(ttl)") }
            if let k = n.keepalive { lines.append(" neighbor \(a) timers \(k) \(n.holdTime ?? BGPNeighborConfig.defaultHoldTime)") }
            if let s = n.updateSource { lines.append(" neighbor \(a) update-source \(s)") }
            if n.asPathPrepend > 0 { lines.append(" neighbor \(a) as-path-prepend \(n.asPathPrepend)") }
            if let p = n.password { lines.append(" neighbor \(a) password \(p)") }
            if let h = n.ttlSecurityHops { lines.append(" neighbor \(a) ttl-security hops \(h)") }
            if n.shutdown { lines.append(" neighbor \(a) shutdown") }
        }
        for family in BGPFamily.allCases {
            let f = b[family]
            var body: [String] = f.networks.sorted { prefixOrder($0, $1) }.map { p in
                "  network \(p)" + (f.networkTracks[p].map { " track \($0)" } ?? "")
            }
            for n in neighbors {
                let nf = n[family], a = n.address
                let defaultActive = family == .ipv4
                if nf.activate != defaultActive { body.append(nf.activate ? "  neighbor \(a) activate" : "  no neighbor \(a) activate") }
                if nf.defaultOriginate { body.append("  neighbor \(a) default-originate" + (nf.defaultOriginateTrack.map { " track \($0)" } ?? "")) }
                if let l = nf.prefixListIn { body.append("  neighbor \(a) prefix-list \(l) in") }
                if let l = nf.prefixListOut { body.append("  neighbor \(a) prefix-list \(l) out") }
                if nf.softReconfigurationInbound { body.append("  neighbor \(a) soft-reconfiguration inbound") }
                if let m = nf.maximumPrefix {
                    var text = "  neighbor \(a) maximum-prefix \(m.limit)"
                    if let t = m.threshold { text += " \(t)" }
                    if m.warningOnly { text += " warning-only" }
                    body.append(text)
                }
            }
            if f.maximumPaths != 1 { body.append("  maximum-paths \(f.maximumPaths)") }
            if !body.isEmpty {
                lines += [" !", " address-family \(family.rawValue) unicast"] + body + [" exit-address-family"]
            }
        }
        return lines
    }

    /// IPv4 before IPv6, then numerically.
    static func addressOrder(_ a: IPAddress, _ b: IPAddress) -> Bool {
        func key(_ x: IPAddress) -> (Int, UInt64, UInt64) {
            switch x {
            case .v4(let v): (4, UInt64(v.value), 0)
            case .v6(let v): (6, v.high, v.low)
            }
        }
        return key(a) < key(b)
    }

    /// IPv4 before IPv6, then by address and length.
    static func prefixOrder(_ a: IPPrefix, _ b: IPPrefix) -> Bool {
        func key(_ p: IPPrefix) -> (Int, UInt64, UInt64, UInt8) {
            switch p {
            case .v4(let q): (4, UInt64(q.address.value), 0, q.length)
            case .v6(let q): (6, q.address.high, q.address.low, q.length)
            }
        }
        return key(a) < key(b)
    }
}

// MARK: - Session helpers

extension RunningConfig {
    /// The prefix lists of a family by name.
    public func prefixLists(_ family: BGPFamily) -> [String: PrefixListConfig] {
        family == .ipv4 ? ipPrefixLists : ipv6PrefixLists
    }

    /// Stores (or with nil removes) a prefix list.
    mutating func setPrefixList(_ list: PrefixListConfig?, _ family: BGPFamily, name: String? = nil) {
        guard let key = name ?? list?.name else { return }
        if family == .ipv4 { ipPrefixLists[key] = list } else { ipv6PrefixLists[key] = list }
    }
}

extension ConfigSession {
    /// Edits the `router bgp` block (config-router and its sub-modes).
    mutating func editBGP(_ edit: (inout BGPRouterConfig) throws(CommandFailure) -> Void) throws(CommandFailure) {
        guard var b = config.bgp else { throw CommandFailure("not in router configuration mode") }
        try edit(&b)
        config.bgp = b
    }

    /// Edits the neighbour named by the line's `peer` argument, which must exist.
    mutating func editNeighbor(_ a: Arguments, _ edit: (inout BGPNeighborConfig) throws(CommandFailure) -> Void) throws(CommandFailure) {
        let address = try a.ipAddress("peer")
        try editBGP { b throws(CommandFailure) in
            guard var n = b.neighbors[address] else {
                throw CommandFailure("Specify remote-as or peer-group commands first (neighbor \(address))", argument: "peer")
            }
            try edit(&n)
            b.neighbors[address] = n
        }
    }

    /// Edits the current address-family block.
    mutating func editFamily(_ edit: (BGPFamily, inout BGPAddressFamilyConfig) throws(CommandFailure) -> Void) throws(CommandFailure) {
        guard let family = target.flatMap(BGPFamily.init(rawValue:)) else { throw CommandFailure("not in address-family mode") }
        try editBGP { b throws(CommandFailure) in try edit(family, &b[family]) }
    }

    /// Edits the neighbour's settings in the current address family.
    mutating func editNeighborFamily(_ a: Arguments, _ edit: (inout BGPNeighborFamilyConfig) throws(CommandFailure) -> Void) throws(CommandFailure) {
        guard let family = target.flatMap(BGPFamily.init(rawValue:)) else { throw CommandFailure("not in address-family mode") }
        try editNeighbor(a) { n throws(CommandFailure) in try edit(&n[family]) }
    }
}
