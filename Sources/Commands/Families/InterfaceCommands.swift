import Packet

// `interface NAME` and what is typed under it: the GRE tunnel toward a
// Transit Gateway Connect peer and its inside addresses.

/// Tunnel interfaces (config-if mode).
enum InterfaceCommands: CommandFamily {
    /// Words that cannot be interface names (in any case) because a route's
    /// next hop would read them as keywords.
    static let reservedNames: Set<String> = ["blackhole"]

    static func register(into registry: inout CommandRegistry) {
        registry.addMode(.configInterface)
        registerInterface(&registry)
        registerTunnel(&registry)
        registerAddresses(&registry)

        let description = CommandElement.keyword("description", help: "Interface specific description")
        let text = CommandElement.argument("text", .line, help: "Characters describing this interface")
        registry.config(.configInterface, [description, text]) { s, a throws(CommandFailure) in
            let text = try a.string("text")
            try s.editTunnel { $0.description = text }
        }
        registry.config(.configInterface, [.no, description, .optional([text])]) { s, _ throws(CommandFailure) in
            try s.editTunnel { $0.description = nil }
        }
        let shutdown = CommandElement.keyword("shutdown", help: "Shutdown the selected interface")
        registry.config(.configInterface, [shutdown]) { s, _ throws(CommandFailure) in try s.editTunnel { $0.shutdown = true } }
        registry.config(.configInterface, [.no, shutdown]) { s, _ throws(CommandFailure) in try s.editTunnel { $0.shutdown = false } }
    }

    private static func registerInterface(_ registry: inout CommandRegistry) {
        let interface = CommandElement.keyword("interface", help: "Select an interface to configure")
        let name = CommandElement.argument("name", .interfaceName, help: "Interface name (e.g. tgw0)")
        registry.config(.config, [interface, name]) { s, a throws(CommandFailure) in
            let name = try a.string("name")
            if reservedNames.contains(name.lowercased()) { throw CommandFailure("'\(name)' is a reserved word", argument: "name") }
            // A route's next hop would read such a name as a gateway address.
            if IPv4Address(name) != nil { throw CommandFailure("'\(name)' looks like an address, not an interface name", argument: "name") }
            if s.config.tunnels[name] == nil { s.config.tunnels[name] = TunnelInterface(name: name) }
            s.enter(.configInterface, target: name)
        }
        registry.config(.config, [.no, interface, name]) { s, a throws(CommandFailure) in
            let name = try a.string("name")
            guard s.config.tunnels[name] != nil else {
                throw CommandFailure("interface \(name) does not exist", argument: "name")
            }
            try s.requireUnused(interface: name, column: a.column(of: "name"))
            s.config.tunnels[name] = nil
        }
    }

    private static func registerTunnel(_ registry: inout CommandRegistry) {
        let tunnel = CommandElement.keyword("tunnel", help: "Protocol-over-protocol tunneling (GRE)")
        let peerKeyword = CommandElement.keyword("connect-peer", help: "Transit Gateway Connect peer")
        let peerName = CommandElement.argument("peer", .word, help: "Connect peer name")
        let sourceKeyword = CommandElement.keyword("source", help: "Source (local underlay) address of the tunnel")
        let destinationKeyword = CommandElement.keyword("destination", help: "Destination (Connect peer's GRE) address")
        func endpoint(_ name: String) -> CommandElement {
            .choice([[.argument(name, .ipv4Address, help: "IPv4 address")],
                     [.argument(name, .ipv6Address, help: "IPv6 address (not supported)")]])
        }

        registry.config(.configInterface, [tunnel, peerKeyword, peerName, sourceKeyword, endpoint("source"),
                                           destinationKeyword, endpoint("destination")]) { s, a throws(CommandFailure) in
            let peer = try a.string("peer")
            let source = try underlay(a, "source")
            let destination = try underlay(a, "destination")
            try s.editTunnel { t in
                t.connectPeer = peer
                t.source = source
                t.destination = destination
            }
        }
        registry.config(.configInterface, [.no, tunnel, peerKeyword, .optional([
            peerName, .optional([sourceKeyword, endpoint("source"), destinationKeyword, endpoint("destination")]),
        ])]) { s, _ throws(CommandFailure) in
            try s.editTunnel { t in
                t.connectPeer = nil
                t.source = nil
                t.destination = nil
            }
        }
        registry.config(.configInterface, [tunnel, sourceKeyword, endpoint("source")]) { s, a throws(CommandFailure) in
            let source = try underlay(a, "source")
            try s.editTunnel { $0.source = source }
        }
        registry.config(.configInterface, [.no, tunnel, sourceKeyword, .optional([endpoint("source")])]) { s, _ throws(CommandFailure) in
            try s.editTunnel { t throws(CommandFailure) in
                if let peer = t.connectPeer { throw CommandFailure(peerOwns("source", peer)) }
                t.source = nil
            }
        }
        registry.config(.configInterface, [tunnel, destinationKeyword, endpoint("destination")]) { s, a throws(CommandFailure) in
            let destination = try underlay(a, "destination")
            try s.editTunnel { $0.destination = destination }
        }
        registry.config(.configInterface, [.no, tunnel, destinationKeyword, .optional([endpoint("destination")])]) { s, _ throws(CommandFailure) in
            try s.editTunnel { t throws(CommandFailure) in
                if let peer = t.connectPeer { throw CommandFailure(peerOwns("destination", peer)) }
                t.destination = nil
            }
        }

        let keyKeyword = CommandElement.keyword("key", help: "Set tunnel (GRE) key")
        let key = CommandElement.argument("key", .range(0...UInt64(UInt32.max)), help: "Key")
        registry.config(.configInterface, [tunnel, keyKeyword, key]) { s, a throws(CommandFailure) in
            let key = UInt32(try a.number("key"))
            try s.editTunnel { $0.key = key }
        }
        registry.config(.configInterface, [.no, tunnel, keyKeyword, .optional([key])]) { s, _ throws(CommandFailure) in
            try s.editTunnel { $0.key = nil }
        }

        let mtuKeyword = CommandElement.keyword("mtu", help: "Largest GRE packet on the wire (outer header included)")
        let mtu = CommandElement.argument("mtu", .range(UInt64(TunnelInterface.mtuRange.lowerBound)...UInt64(TunnelInterface.mtuRange.upperBound)),
                                          help: "MTU in bytes (default \(TunnelInterface.defaultMTU))")
        registry.config(.configInterface, [tunnel, mtuKeyword, mtu]) { s, a throws(CommandFailure) in
            let mtu = Int(try a.number("mtu"))
            try s.editTunnel { $0.mtu = mtu }
        }
        registry.config(.configInterface, [.no, tunnel, mtuKeyword, .optional([mtu])]) { s, _ throws(CommandFailure) in
            try s.editTunnel { $0.mtu = TunnelInterface.defaultMTU }
        }
    }

    private static func registerAddresses(_ registry: inout CommandRegistry) {
        let ip = CommandElement.keyword("ip", help: "Interface Internet Protocol config commands")
        let ipv6 = CommandElement.keyword("ipv6", help: "Interface IPv6 config commands")
        let address = CommandElement.keyword("address", help: "Set the inside address of the interface")
        let v4 = CommandElement.choice([
            [.argument("address", .ipv4Prefix, help: "IP address and prefix length (169.254.6.1/29)")],
            [.argument("host", .ipv4Address, help: "IP address"), .argument("mask", .ipv4Address, help: "Subnet mask")],
        ])
        let v6 = CommandElement.argument("address", .ipv6Prefix, help: "IPv6 address and prefix length (fd00::1/125)")

        registry.config(.configInterface, [ip, address, v4]) { s, a throws(CommandFailure) in
            let value = try interfaceAddress(a)
            guard (1...32).contains(value.length) else {
                throw CommandFailure("prefix length of an interface address must be 1-32", argument: a.contains("mask") ? "mask" : "address")
            }
            if value.length <= 30, value.address == value.subnet.address {
                throw CommandFailure("\(value) is the subnet's network address", argument: a.contains("mask") ? "host" : "address")
            }
            if value.length <= 30, value.address.value == value.subnet.address.value | ~IPv4Prefix.mask(value.length) {
                throw CommandFailure("\(value) is the subnet's broadcast address", argument: a.contains("mask") ? "host" : "address")
            }
            let name = s.target
            for other in s.config.tunnels.values where other.name != name {
                if let o = other.ipv4, o.subnet.contains(value.address) || value.subnet.contains(o.address) {
                    throw CommandFailure("\(value) overlaps \(o) of interface \(other.name)",
                                         argument: a.contains("mask") ? "host" : "address")
                }
            }
            try s.editTunnel { $0.ipv4 = value }
        }
        registry.config(.configInterface, [.no, ip, address, .optional([v4])]) { s, _ throws(CommandFailure) in
            try s.editTunnel { $0.ipv4 = nil }
        }
        registry.config(.configInterface, [ipv6, address, v6]) { s, a throws(CommandFailure) in
            let value = try a.ipv6Prefix("address")
            guard (1...128).contains(value.length) else {
                throw CommandFailure("prefix length of an interface address must be 1-128", argument: "address")
            }
            let name = s.target
            for other in s.config.tunnels.values where other.name != name {
                if let o = other.ipv6, o.subnet.contains(value.address) || value.subnet.contains(o.address) {
                    throw CommandFailure("\(value) overlaps \(o) of interface \(other.name)", argument: "address")
                }
            }
            try s.editTunnel { $0.ipv6 = value }
        }
        registry.config(.configInterface, [.no, ipv6, address, .optional([v6])]) { s, _ throws(CommandFailure) in
            try s.editTunnel { $0.ipv6 = nil }
        }
    }

    /// The `ip address` value from either `A.B.C.D/M` or IOS `A.B.C.D MASK`.
    private static func interfaceAddress(_ a: Arguments) throws(CommandFailure) -> IPv4InterfaceAddress {
        if a.contains("address") { return try a.ipv4Prefix("address") }
        let host = try a.ipv4Address("host")
        let length = try maskLength(a.ipv4Address("mask"), argument: "mask")
        return IPv4InterfaceAddress(address: host, length: length)
    }

    /// The prefix length of a dotted mask ("255.255.255.248" = 29).
    static func maskLength(_ mask: IPv4Address, argument: String) throws(CommandFailure) -> UInt8 {
        let ones = mask.value.leadingZeroBitCount == 0 ? (~mask.value).leadingZeroBitCount : 0
        guard IPv4Prefix.mask(UInt8(ones)) == mask.value else {
            throw CommandFailure("\(mask) is not a contiguous subnet mask", argument: argument)
        }
        return UInt8(ones)
    }

    /// Tunnel endpoints are IPv4: the Connect peers' GRE addresses here are IPv4.
    private static func underlay(_ a: Arguments, _ name: String) throws(CommandFailure) -> IPv4Address {
        switch try a.ipAddress(name) {
        case .v4(let address): return address
        case .v6: throw CommandFailure("tunnel \(name) must be an IPv4 address (IPv6 underlay is not supported)", argument: name)
        }
    }

    private static func peerOwns(_ what: String, _ peer: String) -> String {
        "the tunnel \(what) belongs to connect-peer \(peer); use 'no tunnel connect-peer'"
    }

    static func render(_ config: RunningConfig) -> [[String]] {
        config.tunnels.values.sorted { naturalLess($0.name, $1.name) }.map { t in
            var lines = ["interface \(t.name)"]
            if let d = t.description { lines.append(" description \(d)") }
            if let peer = t.connectPeer, let source = t.source, let destination = t.destination {
                lines.append(" tunnel connect-peer \(peer) source \(source) destination \(destination)")
            } else {
                if let source = t.source { lines.append(" tunnel source \(source)") }
                if let destination = t.destination { lines.append(" tunnel destination \(destination)") }
            }
            if let key = t.key { lines.append(" tunnel key \(key)") }
            if t.mtu != TunnelInterface.defaultMTU { lines.append(" tunnel mtu \(t.mtu)") }
            if let v4 = t.ipv4 { lines.append(" ip address \(v4)") }
            if let v6 = t.ipv6 { lines.append(" ipv6 address \(v6)") }
            if t.shutdown { lines.append(" shutdown") }
            return lines
        }
    }
}

/// Orders names with their digit runs as numbers: tgw2 before tgw10.
func naturalLess(_ a: String, _ b: String) -> Bool {
    func chunks(_ s: String) -> [(text: String, number: UInt64?)] {
        var result: [(String, UInt64?)] = []
        var current = ""
        var digits = false
        for c in s {
            let isDigit = c.isASCII && c.isNumber
            if !current.isEmpty, isDigit != digits {
                result.append((current, digits ? UInt64(current) : nil))
                current = ""
            }
            digits = isDigit
            current.append(c)
        }
        if !current.isEmpty { result.append((current, digits ? UInt64(current) : nil)) }
        return result
    }
    let ca = chunks(a), cb = chunks(b)
    for (x, y) in zip(ca, cb) {
        if let nx = x.number, let ny = y.number, nx != ny { return nx < ny }
        if x.text != y.text { return x.text < y.text }
    }
    return ca.count != cb.count ? ca.count < cb.count : a < b
}
