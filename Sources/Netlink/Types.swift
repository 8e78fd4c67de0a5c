import Packet

/// One network interface as rtnetlink reports it.
public struct LinkInfo: Hashable, Sendable {
    /// The kernel's interface index.
    public var index: Int32
    /// The interface name ("tgw0").
    public var name: String
    /// The MTU in bytes.
    public var mtu: Int
    /// True when the administrative flag IFF_UP is set.
    public var isUp: Bool
    /// True when the carrier is present (IFF_LOWER_UP).
    public var hasCarrier: Bool
    /// The link-layer address; nil for links without one (TUN, GRE).
    public var macAddress: [UInt8]?
    /// The driver kind from IFLA_INFO_KIND ("dummy", "veth", "tun"); nil for physical devices.
    public var kind: String?
    /// The raw IFF_* flags.
    public var flags: UInt32

    /// A link description from its fields.
    public init(index: Int32, name: String, mtu: Int, isUp: Bool, hasCarrier: Bool = false,
                macAddress: [UInt8]? = nil, kind: String? = nil, flags: UInt32 = 0) {
        self.index = index
        self.name = name
        self.mtu = mtu
        self.isUp = isUp
        self.hasCarrier = hasCarrier
        self.macAddress = macAddress
        self.kind = kind
        self.flags = flags
    }
}

/// An address assigned to an interface, either family.
public struct InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    /// The interface it is assigned to.
    public var interfaceIndex: Int32
    /// The address itself (host bits kept).
    public var address: IPAddress
    /// The subnet length.
    public var prefixLength: UInt8
    /// The IFA_F_* flags (IFA_F_NODAD, IFA_F_PERMANENT, ...).
    public var flags: UInt32

    /// An address of `prefixLength` bits on link `interfaceIndex`.
    public init(interfaceIndex: Int32, address: IPAddress, prefixLength: UInt8, flags: UInt32 = 0) {
        self.interfaceIndex = interfaceIndex
        self.address = address
        self.prefixLength = prefixLength
        self.flags = flags
    }

    /// The IPv4 form, when this is an IPv4 address.
    public var v4: IPv4InterfaceAddress? {
        if case .v4(let a) = address { return IPv4InterfaceAddress(address: a, length: prefixLength) }
        return nil
    }

    /// The IPv6 form, when this is an IPv6 address.
    public var v6: IPv6InterfaceAddress? {
        if case .v6(let a) = address { return IPv6InterfaceAddress(address: a, length: prefixLength) }
        return nil
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// Route protocol numbers (rtm_protocol): who installed a route.
public enum RouteProtocol {
    /// Routes installed by egressd. FRR/zebra use 186 and up for its daemons (bgp 186,
    /// isis 187, ospf 188, ... static 196 in /etc/iproute2/rt_protos.d/frr.conf, up to 198);
    /// 218 is in neither iproute2's nor FRR's list. A distinct
    /// number lets the daemon find and flush its own stale routes at start-up, as zebra does.
    public static let egressd: UInt8 = 218
    /// Routes the kernel made itself (connected subnets).
    public static let kernel: UInt8 = 2
    /// Routes installed at boot, the default of `ip route add`.
    public static let boot: UInt8 = 3
    /// Routes an administrator marked static.
    public static let `static`: UInt8 = 4
}

/// Well-known routing table numbers.
public enum RouteTable {
    /// The main table (`ip route` without `table`).
    public static let main: UInt32 = 254
    /// The local table (addresses of this host).
    public static let local: UInt32 = 255
}

/// The kind of a route (rtm_type).
public struct RouteType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    /// Any rtm_type value, named or not.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A route that forwards to next hops (RTN_UNICAST).
    public static let unicast = RouteType(rawValue: 1)
    /// An address of this host (RTN_LOCAL); appears in the local table.
    public static let local = RouteType(rawValue: 2)
    /// Silently discard (RTN_BLACKHOLE).
    public static let blackhole = RouteType(rawValue: 6)
    /// Discard and answer ICMP unreachable (RTN_UNREACHABLE).
    public static let unreachable = RouteType(rawValue: 7)
    /// Discard and answer ICMP administratively prohibited (RTN_PROHIBIT).
    public static let prohibit = RouteType(rawValue: 8)

    public var description: String {
        switch rawValue {
        case 1: "unicast"
        case 2: "local"
        case 3: "broadcast"
        case 4: "anycast"
        case 5: "multicast"
        case 6: "blackhole"
        case 7: "unreachable"
        case 8: "prohibit"
        default: "type \(rawValue)"
        }
    }
}

/// One next hop of a kernel route.
public struct KernelNextHop: Hashable, Sendable, CustomStringConvertible {
    /// The gateway; nil for a route straight onto the interface (a TUN, a connected subnet).
    public var gateway: IPAddress?
    /// The outgoing interface; nil lets the kernel resolve it from the gateway.
    public var interfaceIndex: Int32?
    /// The ECMP weight, 1...255 (rtnh_hops + 1). Only meaningful with several next hops.
    public var weight: UInt8

    /// A next hop via `gateway` and/or out of `interfaceIndex`.
    public init(gateway: IPAddress? = nil, interfaceIndex: Int32? = nil, weight: UInt8 = 1) {
        self.gateway = gateway
        self.interfaceIndex = interfaceIndex
        self.weight = weight
    }

    public var description: String {
        var parts: [String] = []
        if let gateway { parts.append("via \(gateway)") }
        if let interfaceIndex { parts.append("dev #\(interfaceIndex)") }
        if weight != 1 { parts.append("weight \(weight)") }
        return parts.joined(separator: " ")
    }
}

/// A route in the kernel FIB, as egressd installs it or reads it back.
public struct KernelRoute: Hashable, Sendable, CustomStringConvertible {
    /// The destination.
    public var prefix: IPPrefix
    /// The next hops; several make an ECMP (RTA_MULTIPATH) route. Empty for blackhole and
    /// unreachable routes.
    public var nextHops: [KernelNextHop]
    /// Who owns the route; `RouteProtocol.egressd` for ours.
    public var `protocol`: UInt8
    /// The metric (RTA_PRIORITY); nil lets the kernel choose (0 for IPv4, 1024 for IPv6).
    public var metric: UInt32?
    /// The routing table.
    public var table: UInt32
    /// unicast, blackhole, unreachable, ...
    public var type: RouteType
    /// The preferred source address for locally originated packets (RTA_PREFSRC).
    public var preferredSource: IPAddress?

    /// A route; by default an egressd-owned unicast route in the main table.
    public init(prefix: IPPrefix, nextHops: [KernelNextHop] = [], protocol: UInt8 = RouteProtocol.egressd,
                metric: UInt32? = nil, table: UInt32 = RouteTable.main, type: RouteType = .unicast,
                preferredSource: IPAddress? = nil) {
        self.prefix = prefix
        self.nextHops = nextHops
        self.protocol = `protocol`
        self.metric = metric
        self.table = table
        self.type = type
        self.preferredSource = preferredSource
    }

    public var description: String {
        var text = type == .unicast ? "\(prefix)" : "\(type) \(prefix)"
        if !nextHops.isEmpty { text += " " + nextHops.map(\.description).joined(separator: ", ") }
        text += " proto \(self.protocol)"
        if let metric { text += " metric \(metric)" }
        if table != RouteTable.main { text += " table \(table)" }
        return text
    }
}

/// The kernel's answer to "how would you send a packet to this address?" (`ip route get`).
public struct RouteLookup: Hashable, Sendable {
    /// The outgoing interface.
    public var interfaceIndex: Int32?
    /// The gateway, nil when the destination is on-link.
    public var gateway: IPAddress?
    /// The source address the kernel would use.
    public var preferredSource: IPAddress?
    /// The type of the route that matched (unicast, local, ...).
    public var type: RouteType
    /// The table of the route that matched.
    public var table: UInt32

    /// A lookup answer from its fields.
    public init(interfaceIndex: Int32?, gateway: IPAddress?, preferredSource: IPAddress?,
                type: RouteType = .unicast, table: UInt32 = RouteTable.main) {
        self.interfaceIndex = interfaceIndex
        self.gateway = gateway
        self.preferredSource = preferredSource
        self.type = type
        self.table = table
    }
}

/// Neighbour (ARP/NDP) entry states, the NUD_* bits of ndm_state.
public struct NeighbourState: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    /// States from the raw ndm_state bits.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// Resolution in progress.
    public static let incomplete = NeighbourState(rawValue: 0x01)
    /// Confirmed reachable recently.
    public static let reachable = NeighbourState(rawValue: 0x02)
    /// Usable, but not confirmed recently.
    public static let stale = NeighbourState(rawValue: 0x04)
    /// Usable; waiting before probing.
    public static let delay = NeighbourState(rawValue: 0x08)
    /// Usable; being probed.
    public static let probe = NeighbourState(rawValue: 0x10)
    /// Resolution failed.
    public static let failed = NeighbourState(rawValue: 0x20)
    /// No resolution needed (NOARP device).
    public static let noARP = NeighbourState(rawValue: 0x40)
    /// Configured by hand; never expires.
    public static let permanent = NeighbourState(rawValue: 0x80)

    /// States in which the link-layer address can be used to send (NUD_VALID).
    public var isUsable: Bool {
        !intersection([.reachable, .stale, .delay, .probe, .noARP, .permanent]).isEmpty
    }

    public var description: String {
        let names: [(NeighbourState, String)] = [
            (.incomplete, "INCOMPLETE"), (.reachable, "REACHABLE"), (.stale, "STALE"), (.delay, "DELAY"),
            (.probe, "PROBE"), (.failed, "FAILED"), (.noARP, "NOARP"), (.permanent, "PERMANENT"),
        ]
        let set = names.filter { contains($0.0) }.map(\.1)
        return set.isEmpty ? "NONE" : set.joined(separator: ",")
    }
}

/// One neighbour (ARP or NDP) entry.
public struct Neighbour: Hashable, Sendable {
    /// The interface the neighbour is on.
    public var interfaceIndex: Int32
    /// The neighbour's IP address.
    public var address: IPAddress
    /// Its link-layer address; nil while unresolved.
    public var macAddress: [UInt8]?
    /// The NUD state.
    public var state: NeighbourState
    /// True when the neighbour announced itself as a router (NTF_ROUTER).
    public var isRouter: Bool

    /// A neighbour entry from its fields.
    public init(interfaceIndex: Int32, address: IPAddress, macAddress: [UInt8]?, state: NeighbourState,
                isRouter: Bool = false) {
        self.interfaceIndex = interfaceIndex
        self.address = address
        self.macAddress = macAddress
        self.state = state
        self.isRouter = isRouter
    }
}
