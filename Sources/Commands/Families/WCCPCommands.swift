import Packet

// WCCPv2 router settings (IOS syntax) and the extended access lists they name:
//
//   ip wccp router-id A.B.C.D
//   ip wccp timers here-i-am MILLISECONDS
//   ip wccp failure-detection tcp-port PORT [interval MS] [timeout MS] [data-path]
//   ip wccp {web-cache | 0 | <51-255>} [redirect-list ACL] [group-list ACL] [password [0] PASSWORD]
//   ip wccp {web-cache | N} forwarding-method gre|l2 / assignment-method hash|mask / return-method gre|l2
//   ip wccp {web-cache | N} failover remaining-caches
//   ip access-list extended NAME
//    permit|deny tcp|udp|ip SRC DST [eq PORT [PORT...] | range LOW HIGH]
//
// One `ip wccp N ...` line is the whole definition of its options: typing it again
// replaces redirect-list, group-list and password (the method lines stay). Deviations
// from IOS: `router-id` replaces `source-interface`, and `timers here-i-am` sets the
// HERE_I_AM interval the router expects (query at 2.5x, removal at 3x; Cisco's fast
// timers are negotiated by the client instead). A list name that is not defined
// matches nothing: no traffic is redirected, no cache may join. `failure-detection` is
// egressd's own (IOS has no equivalent): every usable cache is probed with a TCP connect
// to PORT each interval; a cache refused twice, or silent for the timeout, leaves the
// view and the redirect table until it answers again (its buckets fail open meanwhile).
// `failover remaining-caches` (egressd's own too) sends a dead or removed cache's buckets to
// the service's remaining caches instead of failing open, until the designated cache
// reassigns; only the dead cache's flows move.

// MARK: - The model

/// `ip wccp ...`: the WCCPv2 router's configuration.
public struct WCCPConfig: Equatable, Sendable {
    /// Allowed `timers here-i-am` values (milliseconds); Cisco's fast timers allow 0.5-60 s.
    public static let hereIAmRange = 500...60_000
    /// The protocol default HERE_I_AM interval (draft-wilson §4.14).
    public static let defaultHereIAm = 10_000

    /// `ip wccp router-id A.B.C.D`: the address caches know the router by (its `wccp2_router`), the
    /// UDP 2048 endpoint's address and the source of GRE redirects. nil: WCCP does not run.
    public var routerID: IPv4Address?
    /// `ip wccp timers here-i-am MS`.
    public var hereIAmMilliseconds: Int = WCCPConfig.defaultHereIAm
    /// Service groups by ID (0 = web-cache).
    public var services: [UInt8: WCCPServiceSettings] = [:]
    /// `ip wccp failure-detection ...`: fast dead-cache detection; nil = protocol timers only.
    public var failureDetection: WCCPFailureDetection?

    public init(routerID: IPv4Address? = nil, services: [UInt8: WCCPServiceSettings] = [:]) {
        self.routerID = routerID
        self.services = services
    }

    /// True when nothing is configured (nothing to run, nothing printed).
    public var isEmpty: Bool { self == WCCPConfig() }
}

/// `ip wccp failure-detection tcp-port PORT [interval MS] [timeout MS]`.
public struct WCCPFailureDetection: Equatable, Sendable {
    public static let defaultInterval = 250
    public static let defaultTimeout = 1500
    public static let intervalRange = 50...10_000
    public static let timeoutRange = 100...60_000

    /// The proxy port probed by a TCP connect (Squid's `http_port`, e.g. 3128).
    public var tcpPort: UInt16
    public var intervalMilliseconds: Int
    public var timeoutMilliseconds: Int
    /// `data-path`: ICMP destination unreachables a cache sends about GRE redirected to it
    /// count against it like refused probes.
    public var dataPath: Bool

    public init(tcpPort: UInt16, intervalMilliseconds: Int = WCCPFailureDetection.defaultInterval,
                timeoutMilliseconds: Int = WCCPFailureDetection.defaultTimeout, dataPath: Bool = false) {
        self.tcpPort = tcpPort
        self.intervalMilliseconds = intervalMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
        self.dataPath = dataPath
    }

    /// The line in the running config (defaults left out).
    public var line: String {
        var line = "ip wccp failure-detection tcp-port \(tcpPort)"
        if intervalMilliseconds != Self.defaultInterval { line += " interval \(intervalMilliseconds)" }
        if timeoutMilliseconds != Self.defaultTimeout { line += " timeout \(timeoutMilliseconds)" }
        if dataPath { line += " data-path" }
        return line
    }
}

/// A packet forwarding or return method offer.
public enum WCCPPacketMethodOffer: String, Equatable, Sendable, CaseIterable {
    case both, gre, l2
}

/// An assignment method offer.
public enum WCCPAssignmentOffer: String, Equatable, Sendable, CaseIterable {
    case both, hash, mask
}

/// One `ip wccp {web-cache | N}` service group.
public struct WCCPServiceSettings: Equatable, Sendable {
    /// Allowed dynamic service IDs.
    public static let dynamicRange: ClosedRange<UInt8> = 51...255
    /// Longest MD5 password (draft-wilson §5.6.1).
    public static let maximumPasswordLength = 8

    public var serviceID: UInt8
    /// `redirect-list ACL`: traffic to redirect (nil: all of the service's traffic).
    public var redirectList: String?
    /// `group-list ACL`: caches allowed to join (nil: any).
    public var groupList: String?
    /// `password [0] PW`: MD5 authentication (nil: none).
    public var password: String?
    /// `forwarding-method`: offered to caches.
    public var forwarding: WCCPPacketMethodOffer = .both
    /// `assignment-method`: offered to caches.
    public var assignment: WCCPAssignmentOffer = .both
    /// `return-method`: offered to caches.
    public var packetReturn: WCCPPacketMethodOffer = .both
    /// `failover remaining-caches`: a dead cache's buckets go to the remaining caches (false: fail open).
    public var failover = false

    public init(serviceID: UInt8, redirectList: String? = nil, groupList: String? = nil, password: String? = nil) {
        self.serviceID = serviceID
        self.redirectList = redirectList
        self.groupList = groupList
        self.password = password
    }

    /// "web-cache" for 0, else the number.
    public var name: String { serviceID == 0 ? "web-cache" : String(serviceID) }
}

/// `ip access-list extended NAME`: lines in order, first match wins, implicit deny at the end.
public struct AccessListConfig: Equatable, Sendable {
    public var name: String
    public var entries: [AccessListEntry]
    public init(name: String, entries: [AccessListEntry] = []) {
        self.name = name
        self.entries = entries
    }
}

/// The IP protocol an access-list line matches.
public enum AccessListProtocol: String, Hashable, Sendable {
    case ip, tcp, udp

    /// The IP protocol number; nil for `ip` (any protocol).
    public var number: UInt8? {
        switch self {
        case .ip: nil
        case .tcp: 6
        case .udp: 17
        }
    }
}

/// Destination ports of a tcp/udp line.
public enum AccessListPorts: Hashable, Sendable {
    /// `eq P [P...]`: any of these ports.
    case equal([UInt16])
    /// `range LOW HIGH`.
    case range(UInt16, UInt16)
}

/// `permit|deny PROTOCOL SRC DST [eq PORT... | range LOW HIGH]`.
public struct AccessListEntry: Hashable, Sendable, CustomStringConvertible {
    public var permit: Bool
    public var protocolName: AccessListProtocol
    public var source: IPv4Prefix
    public var destination: IPv4Prefix
    /// Destination ports (tcp and udp only); nil: any port.
    public var destinationPorts: AccessListPorts?

    public init(permit: Bool, protocolName: AccessListProtocol, source: IPv4Prefix, destination: IPv4Prefix,
                destinationPorts: AccessListPorts? = nil) {
        self.permit = permit
        self.protocolName = protocolName
        self.source = source
        self.destination = destination
        self.destinationPorts = destinationPorts
    }

    /// The line as printed in the running config (IOS forms: any, host A, else A.B.C.D/M).
    public var description: String {
        func address(_ p: IPv4Prefix) -> String {
            p.length == 0 ? "any" : p.length == 32 ? "host \(p.address)" : p.description
        }
        var words = [permit ? "permit" : "deny", protocolName.rawValue, address(source), address(destination)]
        switch destinationPorts {
        case .equal(let ports)?: words += ["eq"] + ports.map(String.init)
        case .range(let low, let high)?: words += ["range", String(low), String(high)]
        case nil: break
        }
        return words.joined(separator: " ")
    }
}

extension AccessListConfig {
    /// Whether a cache at `address` may join (group-list): the first line whose source holds the
    /// cache decides; protocol, destination and ports are ignored; no match denies.
    public func permitsHost(_ address: IPv4Address) -> Bool {
        entries.first { $0.source.contains(address) }?.permit ?? false
    }
}

extension CommandMode {
    /// `ip access-list extended NAME`.
    public static let configExtendedACL = CommandMode(
        name: "config-ext-nacl", title: "extended access list configuration",
        enteredBy: "ip access-list extended NAME", parent: .config)
}

// MARK: - The commands

/// WCCP router and extended access lists.
enum WCCPCommands: CommandFamily {
    static func register(into registry: inout CommandRegistry) {
        let ip = CommandElement.keyword("ip", help: "Internet Protocol (IPv4) configuration")
        let wccp = CommandElement.keyword("wccp", help: "Web Cache Communication Protocol (WCCPv2 router)")
        registerRouter(&registry, ip: ip, wccp: wccp)
        registerFailover(&registry, ip: ip, wccp: wccp)
        registerAccessLists(&registry, ip: ip)
        registerShow(&registry, wccp: wccp)
    }

    /// `web-cache`, or a service number (0 or 51-255).
    static let service = CommandElement.choice([
        [.keyword("web-cache", help: "Standard web caching service (service 0)")],
        [.argument("service", .range(0...255), help: "Service number: 0 (web-cache) or dynamic 51-255")],
    ])

    /// The service ID a line names, refusing the reserved well-known numbers.
    static func serviceID(_ a: Arguments) throws(CommandFailure) -> UInt8 {
        if a.has("web-cache") { return 0 }
        let n = try a.number("service")
        guard n == 0 || WCCPServiceSettings.dynamicRange.contains(UInt8(n)) else {
            throw CommandFailure("service \(n) is reserved: use web-cache (0) or a dynamic service 51-255", argument: "service")
        }
        return UInt8(n)
    }

    private static func registerRouter(_ registry: inout CommandRegistry, ip: CommandElement, wccp: CommandElement) {
        let routerID = CommandElement.keyword("router-id", help: "The address caches know this router by (GRE redirect source)")
        let address = CommandElement.argument("id", .ipv4Address, help: "Router identifier")
        registry.config(.config, [ip, wccp, routerID, address]) { s, a throws(CommandFailure) in
            let id = try a.ipv4Address("id")
            guard id != .any else { throw CommandFailure("0.0.0.0 is not a router identifier", argument: "id") }
            s.config.wccp.routerID = id
        }
        registry.config(.config, [.no, ip, wccp, routerID, .optional([address])]) { s, _ throws(CommandFailure) in
            s.config.wccp.routerID = nil
        }

        let timers = [CommandElement.keyword("timers", help: "WCCP timers"),
                      .keyword("here-i-am", help: "Expected interval between a cache's HERE_I_AMs")]
        let interval = CommandElement.argument("ms", .range(UInt64(WCCPConfig.hereIAmRange.lowerBound)...UInt64(WCCPConfig.hereIAmRange.upperBound)),
                                               help: "Milliseconds (query after 2.5x, removal after 3x)")
        registry.config(.config, [ip, wccp] + timers + [interval]) { s, a throws(CommandFailure) in
            s.config.wccp.hereIAmMilliseconds = Int(try a.number("ms"))
        }
        registry.config(.config, [.no, ip, wccp] + timers + [.optional([interval])]) { s, _ throws(CommandFailure) in
            s.config.wccp.hereIAmMilliseconds = WCCPConfig.defaultHereIAm
        }

        // ip wccp failure-detection tcp-port PORT [interval MS] [timeout MS]
        let failure = CommandElement.keyword("failure-detection", help: "Fast dead-cache detection by TCP probes")
        let tcpPort = [CommandElement.keyword("tcp-port", help: "Proxy port to probe with a TCP connect"),
                       .argument("port", .range(1...65535), help: "Port number (e.g. Squid's http_port 3128)")]
        let probeInterval = CommandElement.optional([
            .keyword("interval", help: "Time between probes of one cache"),
            .argument("interval", .range(UInt64(WCCPFailureDetection.intervalRange.lowerBound)...UInt64(WCCPFailureDetection.intervalRange.upperBound)),
                      help: "Milliseconds (default 250)")])
        let probeTimeout = CommandElement.optional([
            .keyword("timeout", help: "Time without an answer after which a cache is dead"),
            .argument("timeout", .range(UInt64(WCCPFailureDetection.timeoutRange.lowerBound)...UInt64(WCCPFailureDetection.timeoutRange.upperBound)),
                      help: "Milliseconds (default 1500)")])
        let dataPath = CommandElement.optional([
            .keyword("data-path", help: "Also count ICMP unreachables a cache sends about redirected GRE")])
        registry.config(.config, [ip, wccp, failure] + tcpPort + [probeInterval, probeTimeout, dataPath]) { s, a throws(CommandFailure) in
            var f = WCCPFailureDetection(tcpPort: UInt16(try a.number("port")), dataPath: a.has("data-path"))
            if a.contains("interval") { f.intervalMilliseconds = Int(try a.number("interval")) }
            if a.contains("timeout") { f.timeoutMilliseconds = Int(try a.number("timeout")) }
            guard f.timeoutMilliseconds >= f.intervalMilliseconds else {
                throw CommandFailure("the timeout (\(f.timeoutMilliseconds) ms) is shorter than the interval (\(f.intervalMilliseconds) ms)",
                                     argument: "timeout")
            }
            s.config.wccp.failureDetection = f
        }
        registry.config(.config, [.no, ip, wccp, failure, .optional(tcpPort + [probeInterval, probeTimeout, dataPath])]) { s, _ throws(CommandFailure) in
            s.config.wccp.failureDetection = nil
        }

        // ip wccp SERVICE [redirect-list ACL] [group-list ACL] [password [0] PW]
        let redirectList = CommandElement.optional([.keyword("redirect-list", help: "Access list of the traffic to redirect"),
                                                    .argument("redirect", .word, help: "Extended access list name")])
        let groupList = CommandElement.optional([.keyword("group-list", help: "Access list of the caches allowed to join"),
                                                 .argument("group", .word, help: "Extended access list name")])
        let password = CommandElement.optional([.keyword("password", help: "MD5 authentication of the group's messages"),
                                                .optional([.keyword("0", help: "The password follows unencrypted")]),
                                                .argument("password", .word, help: "Password, at most 8 characters")])
        registry.config(.config, [ip, wccp, service, redirectList, groupList, password]) { s, a throws(CommandFailure) in
            let id = try serviceID(a)
            var settings = s.config.wccp.services[id] ?? WCCPServiceSettings(serviceID: id)
            settings.redirectList = a.contains("redirect") ? try a.string("redirect") : nil
            settings.groupList = a.contains("group") ? try a.string("group") : nil
            settings.password = nil
            if a.contains("password") {
                let pw = try a.string("password")
                guard pw.utf8.count <= WCCPServiceSettings.maximumPasswordLength else {
                    throw CommandFailure("a WCCP password has at most 8 characters", argument: "password")
                }
                settings.password = pw
            }
            s.config.wccp.services[id] = settings
        }
        registry.config(.config, [.no, ip, wccp, service]) { s, a throws(CommandFailure) in
            let id = try serviceID(a)
            guard s.config.wccp.services.removeValue(forKey: id) != nil else {
                throw CommandFailure("service \(id == 0 ? "web-cache" : String(id)) is not configured")
            }
        }

        let forwarding = CommandElement.keyword("forwarding-method", help: "Packet forwarding methods offered to caches")
        let packetReturn = CommandElement.keyword("return-method", help: "Packet return methods offered to caches")
        let greOrL2 = CommandElement.choice([[.keyword("gre", help: "GRE encapsulation")],
                                             [.keyword("l2", help: "Layer 2 rewrite (cache on a directly attached segment)")]])
        let assignment = CommandElement.keyword("assignment-method", help: "Assignment methods offered to caches")
        let hashOrMask = CommandElement.choice([[.keyword("hash", help: "Hash buckets")], [.keyword("mask", help: "Mask/value sets")]])
        for (keyword, choice) in [(forwarding, greOrL2), (packetReturn, greOrL2), (assignment, hashOrMask)] {
            registry.config(.config, [ip, wccp, service, keyword, choice]) { s, a throws(CommandFailure) in
                try editService(&s, a) { settings in
                    if a.has("forwarding-method") { settings.forwarding = a.has("gre") ? .gre : .l2 }
                    if a.has("return-method") { settings.packetReturn = a.has("gre") ? .gre : .l2 }
                    if a.has("assignment-method") { settings.assignment = a.has("hash") ? .hash : .mask }
                }
            }
            registry.config(.config, [.no, ip, wccp, service, keyword, .optional([choice])]) { s, a throws(CommandFailure) in
                try editService(&s, a) { settings in
                    if a.has("forwarding-method") { settings.forwarding = .both }
                    if a.has("return-method") { settings.packetReturn = .both }
                    if a.has("assignment-method") { settings.assignment = .both }
                }
            }
        }
    }

    /// `ip wccp SERVICE failover remaining-caches` / `no ip wccp SERVICE failover [remaining-caches]`.
    private static func registerFailover(_ registry: inout CommandRegistry, ip: CommandElement, wccp: CommandElement) {
        let failover = [CommandElement.keyword("failover", help: "What a dead cache's buckets do until the designated cache reassigns"),
                        .keyword("remaining-caches", help: "Go to the service's remaining caches (default: fail open)")]
        registry.config(.config, [ip, wccp, service] + failover) { s, a throws(CommandFailure) in
            try editService(&s, a) { $0.failover = true }
        }
        registry.config(.config, [.no, ip, wccp, service, failover[0], .optional([failover[1]])]) { s, a throws(CommandFailure) in
            try editService(&s, a) { $0.failover = false }
        }
    }

    private static func editService(_ s: inout ConfigSession, _ a: Arguments,
                                    _ edit: (inout WCCPServiceSettings) -> Void) throws(CommandFailure) {
        let id = try serviceID(a)
        guard var settings = s.config.wccp.services[id] else {
            throw CommandFailure("service \(id == 0 ? "web-cache" : String(id)) is not configured (enter 'ip wccp \(id == 0 ? "web-cache" : String(id))' first)")
        }
        edit(&settings)
        s.config.wccp.services[id] = settings
    }

    // MARK: Access lists

    private static func registerAccessLists(_ registry: inout CommandRegistry, ip: CommandElement) {
        let accessList = [ip, .keyword("access-list", help: "Named access list"),
                          .keyword("extended", help: "Extended access list (protocol, addresses, ports)")]
        let name = CommandElement.argument("name", .word, help: "Access list name")
        registry.addMode(.configExtendedACL)
        registry.config(.config, accessList + [name]) { s, a throws(CommandFailure) in
            let n = try a.string("name")
            if s.config.accessLists[n] == nil { s.config.accessLists[n] = AccessListConfig(name: n) }
            s.enter(.configExtendedACL, target: n)
        }
        registry.config(.config, [.no] + accessList + [name]) { s, a throws(CommandFailure) in
            let n = try a.string("name")
            guard s.config.accessLists.removeValue(forKey: n) != nil else {
                throw CommandFailure("access list \(n) does not exist", argument: "name")
            }
        }

        let action = CommandElement.choice([[.keyword("permit", help: "Specify packets to forward")],
                                            [.keyword("deny", help: "Specify packets to reject")]])
        func endpoint(_ side: String, _ what: String) -> CommandElement {
            let title = what.prefix(1).uppercased() + what.dropFirst()
            return .choice([
                [.keyword("any", help: "Any \(what) host")],
                [.keyword("host", help: "A single \(what) host"), .argument("\(side)Host", .ipv4Address, help: "\(title) address")],
                [.argument("\(side)Prefix", .ipv4Prefix, help: "\(title) prefix")],
                [.argument("\(side)Address", .ipv4Address, help: "\(title) address"),
                 .argument("\(side)Wildcard", .ipv4Address, help: "\(title) wildcard bits")],
            ])
        }
        // `any` twice on one line: keywords match by text, so the matched set cannot tell
        // source from destination; the action reads the words in order instead.
        let source = endpoint("src", "source"), destination = endpoint("dst", "destination")
        let port = { (n: Int) in CommandElement.argument("port\(n)", .range(0...65535), help: "Port number") }
        let ports = CommandElement.optional([.choice([
            [.keyword("eq", help: "Match only packets on a given port number"), port(1),
             .optional([port(2), .optional([port(3), .optional([port(4)])])])],
            [.keyword("range", help: "Match only packets in the range of port numbers"),
             .argument("low", .range(0...65535), help: "Lowest port"), .argument("high", .range(0...65535), help: "Highest port")],
        ])])
        let ipLine: [CommandElement] = [action, .keyword("ip", help: "Any Internet Protocol"), source, destination]
        let portLine: [CommandElement] = [action, .choice([[.keyword("tcp", help: "Transmission Control Protocol")],
                                                          [.keyword("udp", help: "User Datagram Protocol")]]),
                                          source, destination, ports]
        for syntax in [ipLine, portLine] {
            registry.config(.configExtendedACL, syntax) { s, a throws(CommandFailure) in
                let entry = try aclEntry(a)
                try editAccessList(&s) { list throws(CommandFailure) in
                    guard !list.entries.contains(entry) else { return }
                    list.entries.append(entry)
                }
            }
            registry.config(.configExtendedACL, [.no] + syntax) { s, a throws(CommandFailure) in
                let entry = try aclEntry(a)
                try editAccessList(&s) { list throws(CommandFailure) in
                    guard let i = list.entries.firstIndex(of: entry) else { throw CommandFailure("no such line: \(entry)") }
                    list.entries.remove(at: i)
                }
            }
        }
    }

    private static func editAccessList(_ s: inout ConfigSession,
                                       _ edit: (inout AccessListConfig) throws(CommandFailure) -> Void) throws(CommandFailure) {
        guard let name = s.target, var list = s.config.accessLists[name] else {
            throw CommandFailure("not in access list configuration mode")
        }
        try edit(&list)
        s.config.accessLists[name] = list
    }

    /// The line a matched `permit|deny ...` describes.
    static func aclEntry(_ a: Arguments) throws(CommandFailure) -> AccessListEntry {
        let proto: AccessListProtocol = a.has("tcp") ? .tcp : a.has("udp") ? .udp : .ip
        let src = try endpointPrefix(a, side: "src", isSource: true)
        let dst = try endpointPrefix(a, side: "dst", isSource: false)
        var ports: AccessListPorts?
        if a.contains("port1") {
            var list: [UInt16] = []
            for i in 1...4 where a.contains("port\(i)") { list.append(UInt16(try a.number("port\(i)"))) }
            ports = .equal(list)
        } else if a.contains("low") {
            let low = UInt16(try a.number("low")), high = UInt16(try a.number("high"))
            guard low <= high else { throw CommandFailure("range \(low) \(high): the low port is above the high port", argument: "high") }
            ports = .range(low, high)
        }
        return AccessListEntry(permit: a.has("permit"), protocolName: proto, source: src, destination: dst, destinationPorts: ports)
    }

    /// SRC or DST: `any` (told apart by position), `host A`, `A/M` or `A W` (contiguous wildcard only).
    private static func endpointPrefix(_ a: Arguments, side: String, isSource: Bool) throws(CommandFailure) -> IPv4Prefix {
        if a.contains("\(side)Host") { return IPv4Prefix(try a.ipv4Address("\(side)Host"), length: 32)! }
        if a.contains("\(side)Prefix") {
            let p = try a.ipv4Prefix("\(side)Prefix")
            guard p.subnet.address == p.address else {
                throw CommandFailure("host bits set in \(p) (did you mean \(p.subnet)?)", argument: "\(side)Prefix")
            }
            return p.subnet
        }
        if a.contains("\(side)Address") {
            let address = try a.ipv4Address("\(side)Address")
            let wildcard = try a.ipv4Address("\(side)Wildcard")
            let length = try InterfaceCommands.maskLength(IPv4Address(~wildcard.value), argument: "\(side)Wildcard")
            let prefix = IPv4Prefix(address, length: Int(length))!
            guard prefix.address == address else {
                throw CommandFailure("host bits set in \(address) \(wildcard) (did you mean \(prefix)?)", argument: "\(side)Address")
            }
            return prefix
        }
        return IPv4Prefix(.any, length: 0)!
    }

    // MARK: Show and clear

    private static func registerShow(_ registry: inout CommandRegistry, wccp: CommandElement) {
        let ip = CommandElement.keyword("ip", help: "IP information")
        let show = CommandElement.keyword("wccp", help: "WCCP router status and counters")
        registry.show([ip, show]) { _ in .wccp(.summary) }
        registry.show([ip, show, service, .keyword("detail", help: "Per-cache state and assignment")]) { a throws(CommandFailure) in
            .wccp(.detail(serviceID: try serviceID(a)))
        }
        registry.show([ip, show, service, .keyword("buckets", help: "Hash bucket (or mask value) owners")]) { a throws(CommandFailure) in
            .wccp(.buckets(serviceID: try serviceID(a)))
        }
        registry.show([ip, show, service]) { a throws(CommandFailure) in .wccp(.service(serviceID: try serviceID(a))) }
        // `clear` has no config side; it runs where show commands run (the appliance).
        registry.exec([.keyword("clear", help: "Reset functions"), ip,
                       .keyword("wccp", help: "Zero the WCCP counters shown by 'show ip wccp'"),
                       .optional([.keyword("json", help: "JavaScript Object Notation output")])]) { a in
            .show(.wccp(.clearCounters), json: a.has("json"))
        }
    }

    // MARK: Running config

    static func render(_ config: RunningConfig) -> [[String]] {
        var blocks: [[String]] = []
        for name in config.accessLists.keys.sorted() {
            let list = config.accessLists[name]!
            blocks.append(["ip access-list extended \(name)"] + list.entries.map { " \($0)" })
        }
        let w = config.wccp
        var lines: [String] = []
        if let id = w.routerID { lines.append("ip wccp router-id \(id)") }
        if w.hereIAmMilliseconds != WCCPConfig.defaultHereIAm { lines.append("ip wccp timers here-i-am \(w.hereIAmMilliseconds)") }
        if let f = w.failureDetection { lines.append(f.line) }
        for id in w.services.keys.sorted() {
            let s = w.services[id]!
            var line = "ip wccp \(s.name)"
            if let r = s.redirectList { line += " redirect-list \(r)" }
            if let g = s.groupList { line += " group-list \(g)" }
            if let p = s.password { line += " password 0 \(p)" }
            lines.append(line)
            if s.forwarding != .both { lines.append("ip wccp \(s.name) forwarding-method \(s.forwarding.rawValue)") }
            if s.assignment != .both { lines.append("ip wccp \(s.name) assignment-method \(s.assignment.rawValue)") }
            if s.packetReturn != .both { lines.append("ip wccp \(s.name) return-method \(s.packetReturn.rawValue)") }
            if s.failover { lines.append("ip wccp \(s.name) failover remaining-caches") }
        }
        blocks.append(lines)
        return blocks
    }
}

/// What `show ip wccp ...` asks for.
public enum WCCPShowCommand: Equatable, Sendable {
    /// `show ip wccp`: every service.
    case summary
    /// `show ip wccp SERVICE`: one service's counters.
    case service(serviceID: UInt8)
    /// `show ip wccp SERVICE detail`: per-cache state.
    case detail(serviceID: UInt8)
    /// `show ip wccp SERVICE buckets`: which cache owns each bucket.
    case buckets(serviceID: UInt8)
    /// `clear ip wccp`: zero the counters (carried as a show: it has output and changes no config).
    case clearCounters
}
