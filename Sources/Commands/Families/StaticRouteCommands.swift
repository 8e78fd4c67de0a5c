import Packet

// `ip route PREFIX NEXTHOP` and `ipv6 route PREFIX NEXTHOP` (FRR syntax; IOS
// `ip route NETWORK MASK NEXTHOP` is read too and printed in CIDR form).
// Several routes for one prefix are ECMP; `no` removes exactly one.

/// Static routes.
enum StaticRouteCommands: CommandFamily {
    static func register(into registry: inout CommandRegistry) {
        let ip = CommandElement.keyword("ip", help: "Internet Protocol (IPv4) configuration")
        let ipv6 = CommandElement.keyword("ipv6", help: "IPv6 configuration")
        let route = CommandElement.keyword("route", help: "Establish static routes")
        let blackhole = CommandElement.keyword("blackhole", help: "Drop the traffic silently")
        let interface = CommandElement.argument("interface", .interfaceName, help: "Next-hop interface (e.g. tgw0)")
        let v4Destination = CommandElement.choice([
            [.argument("prefix", .ipv4Prefix, help: "IP destination prefix (e.g. 10.0.0.0/8)")],
            [.argument("network", .ipv4Address, help: "IP destination prefix"),
             .argument("mask", .ipv4Address, help: "IP destination prefix mask")],
        ])
        let v4NextHop = CommandElement.choice([
            [.argument("gateway", .ipv4Address, help: "IP gateway address")], [interface], [blackhole],
        ])
        let v6Destination = CommandElement.argument("prefix", .ipv6Prefix, help: "IPv6 destination prefix (e.g. 2001:db8::/32)")
        let v6NextHop = CommandElement.choice([
            [.argument("gateway", .ipv6Address, help: "IPv6 gateway address")], [interface], [blackhole],
        ])

        registry.config(.config, [ip, route, v4Destination, v4NextHop]) { s, a throws(CommandFailure) in try add(s: &s, a) }
        registry.config(.config, [.no, ip, route, v4Destination, v4NextHop]) { s, a throws(CommandFailure) in try remove(s: &s, a) }
        registry.config(.config, [ipv6, route, v6Destination, v6NextHop]) { s, a throws(CommandFailure) in try add(s: &s, a) }
        registry.config(.config, [.no, ipv6, route, v6Destination, v6NextHop]) { s, a throws(CommandFailure) in try remove(s: &s, a) }
    }

    private static func add(s: inout ConfigSession, _ a: Arguments) throws(CommandFailure) {
        let route = try staticRoute(a)
        try s.requireInterface(of: route, column: a.column(of: "interface"))
        s.config.staticRoutes.insert(route)
    }

    private static func remove(s: inout ConfigSession, _ a: Arguments) throws(CommandFailure) {
        let route = try staticRoute(a)
        guard s.config.staticRoutes.remove(route) != nil else {
            throw CommandFailure("no matching route to delete")
        }
    }

    /// The route a matched line describes.
    private static func staticRoute(_ a: Arguments) throws(CommandFailure) -> StaticRoute {
        let prefix = try destination(a)
        let nextHop: StaticNextHop
        if a.has("blackhole") {
            nextHop = .blackhole
        } else if a.contains("interface") {
            nextHop = .interface(try a.string("interface"))
        } else {
            let gateway = try a.ipAddress("gateway")
            if gateway == .v4(.any) || gateway == .v6(.any) {
                throw CommandFailure("the unspecified address is not a gateway", argument: "gateway")
            }
            nextHop = .address(gateway)
        }
        return StaticRoute(prefix: prefix, nextHop: nextHop)
    }

    /// The destination from `A.B.C.D/M`, `X:X::X:X/M` or IOS `NETWORK MASK`.
    private static func destination(_ a: Arguments) throws(CommandFailure) -> IPPrefix {
        if a.contains("network") {
            let network = try a.ipv4Address("network")
            let length = try InterfaceCommands.maskLength(a.ipv4Address("mask"), argument: "mask")
            let subnet = IPv4InterfaceAddress(address: network, length: length).subnet
            return try withoutHostBits(.v4(subnet), written: .v4(network), argument: "network")
        }
        if case .ipv6Prefix(let p)? = a.entries["prefix"]?.value {
            return try withoutHostBits(.v6(p.subnet), written: .v6(p.address), argument: "prefix")
        }
        let p = try a.ipv4Prefix("prefix")
        return try withoutHostBits(.v4(p.subnet), written: .v4(p.address), argument: "prefix")
    }

    /// Refuses a destination written with host bits (IOS: "Inconsistent
    /// address and mask"): a typo there would route the wrong network.
    private static func withoutHostBits(_ subnet: IPPrefix, written: IPAddress, argument: String) throws(CommandFailure) -> IPPrefix {
        let network: IPAddress = switch subnet {
        case .v4(let p): .v4(p.address)
        case .v6(let p): .v6(p.address)
        }
        guard network == written else {
            throw CommandFailure("host bits set in the destination (did you mean \(subnet)?)", argument: argument)
        }
        return subnet
    }

    static func render(_ config: RunningConfig) -> [[String]] {
        [config.staticRoutes.sorted(by: routeOrder).map { r in
            let family = if case .v4 = r.prefix { "ip" } else { "ipv6" }
            let nextHop = switch r.nextHop {
            case .interface(let name): name
            case .address(let a): a.description
            case .blackhole: "blackhole"
            }
            return "\(family) route \(r.prefix) \(nextHop)"
        }]
    }

    /// IPv4 before IPv6, then by prefix address and length, then next hop
    /// (gateways, interfaces, blackhole).
    static func routeOrder(_ a: StaticRoute, _ b: StaticRoute) -> Bool {
        func key(_ r: StaticRoute) -> (Int, UInt64, UInt64, UInt8, Int, UInt64, UInt64, String) {
            let prefixKey: (Int, UInt64, UInt64, UInt8) = switch r.prefix {
            case .v4(let p): (4, UInt64(p.address.value), 0, p.length)
            case .v6(let p): (6, p.address.high, p.address.low, p.length)
            }
            let hopKey: (Int, UInt64, UInt64, String) = switch r.nextHop {
            case .address(.v4(let g)): (0, UInt64(g.value), 0, "")
            case .address(.v6(let g)): (0, g.high, g.low, "")
            case .interface(let name): (1, 0, 0, name)
            case .blackhole: (2, 0, 0, "")
            }
            return (prefixKey.0, prefixKey.1, prefixKey.2, prefixKey.3, hopKey.0, hopKey.1, hopKey.2, hopKey.3)
        }
        let ka = key(a), kb = key(b)
        if (ka.0, ka.1, ka.2, ka.3) != (kb.0, kb.1, kb.2, kb.3) { return (ka.0, ka.1, ka.2, ka.3) < (kb.0, kb.1, kb.2, kb.3) }
        return (ka.4, ka.5, ka.6, ka.7) < (kb.4, kb.5, kb.6, kb.7)
    }
}
