import Packet

// The configuration as values: what the config file, `configure terminal`
// and `show running-config` all describe. The daemon diffs two of these.

/// The whole configuration of the appliance.
public struct RunningConfig: Equatable, Sendable {
    /// The default hostname, not printed.
    public static let defaultHostname = "egressd"

    /// `hostname NAME`.
    public var hostname: String
    /// Tunnel interfaces by interface name.
    public var tunnels: [String: TunnelInterface]
    /// `ip route` / `ipv6 route` lines; several for one prefix = ECMP.
    public var staticRoutes: Set<StaticRoute>
    /// `dataplane ...` settings.
    public var dataplane: DataplaneSettings
    /// `router bgp ASN` (nil: no BGP speaker). See Families/BGPCommands.swift.
    public var bgp: BGPRouterConfig? = nil
    /// `ip prefix-list NAME ...` by name.
    public var ipPrefixLists: [String: PrefixListConfig] = [:]
    /// `ipv6 prefix-list NAME ...` by name.
    public var ipv6PrefixLists: [String: PrefixListConfig] = [:]
    /// `ip wccp ...`: the WCCPv2 router. See Families/WCCPCommands.swift.
    public var wccp: WCCPConfig = WCCPConfig()
    /// `ip access-list extended NAME` by name (WCCP redirect-lists and group-lists).
    public var accessLists: [String: AccessListConfig] = [:]
    /// `metrics listen ADDR:PORT` / `no metrics listen`. See Families/ObservabilityCommands.swift.
    public var metrics: MetricsConfig = MetricsConfig()
    /// `ip flow-export ...` / `ip flow-cache ...`: IPFIX export. See Families/ObservabilityCommands.swift.
    public var flowExport: FlowExportConfig = FlowExportConfig()
    /// `ip sla N` health probes and `track N` objects. See Families/TrackCommands.swift.
    public var slas: [Int: SLAConfig] = [:]
    public var tracks: [Int: TrackConfig] = [:]

    public init(hostname: String = RunningConfig.defaultHostname,
                tunnels: [String: TunnelInterface] = [:],
                staticRoutes: Set<StaticRoute> = [],
                dataplane: DataplaneSettings = DataplaneSettings()) {
        self.hostname = hostname
        self.tunnels = tunnels
        self.staticRoutes = staticRoutes
        self.dataplane = dataplane
    }
}

/// A GRE tunnel toward a Transit Gateway Connect peer (`interface NAME`).
/// Invariant kept by the commands: `connectPeer` set implies `source` and
/// `destination` set (they print as one `tunnel connect-peer` line).
public struct TunnelInterface: Equatable, Sendable {
    /// The default and largest GRE packet size Connect carries.
    public static let defaultMTU = 8500
    /// Allowed `tunnel mtu` values.
    public static let mtuRange = 576...9216

    public var name: String
    /// `description LINE`.
    public var description: String?
    /// Connect peer name from `tunnel connect-peer NAME source A destination B`.
    public var connectPeer: String?
    /// Outer (underlay) source address.
    public var source: IPv4Address?
    /// Outer (underlay) destination address.
    public var destination: IPv4Address?
    /// `tunnel key N`: the optional GRE key.
    public var key: UInt32?
    /// `tunnel mtu N`: largest GRE packet on the wire, outer header included.
    public var mtu: Int
    /// `ip address A.B.C.D/M`: inside address.
    public var ipv4: IPv4InterfaceAddress?
    /// `ipv6 address X:X::X:X/M`: inside address.
    public var ipv6: IPv6InterfaceAddress?
    /// `shutdown`.
    public var shutdown: Bool

    public init(name: String, description: String? = nil, connectPeer: String? = nil,
                source: IPv4Address? = nil, destination: IPv4Address? = nil, key: UInt32? = nil,
                mtu: Int = TunnelInterface.defaultMTU, ipv4: IPv4InterfaceAddress? = nil,
                ipv6: IPv6InterfaceAddress? = nil, shutdown: Bool = false) {
        self.name = name
        self.description = description
        self.connectPeer = connectPeer
        self.source = source
        self.destination = destination
        self.key = key
        self.mtu = mtu
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.shutdown = shutdown
    }

    /// Largest inner packet: the wire MTU less the outer IPv4 (20) and GRE
    /// (4, or 8 with a key) headers.
    public var innerMTU: Int { mtu - 24 - (key == nil ? 0 : 4) }
}

/// A static route: `ip route PREFIX NEXTHOP` or `ipv6 route ...`.
public struct StaticRoute: Hashable, Sendable {
    public var prefix: IPPrefix
    public var nextHop: StaticNextHop

    public init(prefix: IPPrefix, nextHop: StaticNextHop) {
        self.prefix = prefix
        self.nextHop = nextHop
    }
}

/// Where a static route sends its traffic.
public enum StaticNextHop: Hashable, Sendable {
    /// Out of a (tunnel) interface by name.
    case interface(String)
    /// To a gateway address of the prefix's family.
    case address(IPAddress)
    /// Dropped.
    case blackhole
}

/// Packet engine settings.
public struct DataplaneSettings: Equatable, Sendable {
    /// Allowed `dataplane workers` values.
    public static let workersRange = 1...64
    /// Allowed `dataplane batch-size` values.
    public static let batchSizeRange = 1...1024

    /// `dataplane workers <1-64>`: packet worker threads.
    public var workers: Int = 1
    /// `dataplane batch-size <1-1024>`: packets per I/O batch.
    public var batchSize: Int = 64
    /// `dataplane io-backend tpacket|raw|afxdp`: how GRE enters and leaves the engine
    /// (default afxdp, the fastest; the engine falls back to tpacket where it is refused).
    public var ioBackend: DataplaneIOBackend = .afxdp
    /// `dataplane qdisc-bypass`: the engine's AF_PACKET output skips the qdisc
    /// layer (faster; tcpdump/tc on the appliance no longer see it). Off by default.
    public var qdiscBypass: Bool = false
    /// `dataplane worker cpus LIST` (e.g. `1` or `2-3,6`): the CPUs the workers own (worker i
    /// on the i-th, round robin); every other egressd thread then runs on the CPUs the
    /// process may use that are not in the list. Empty (the default): no placement.
    public var workerCPUs: [Int] = []
    /// `dataplane worker realtime`: workers ask for SCHED_FIFO priority 1 (needs
    /// CAP_SYS_NICE; refused: logged, they run as normal threads). Off by default.
    public var workerRealtime: Bool = false

    public init(workers: Int = 1, batchSize: Int = 64, ioBackend: DataplaneIOBackend = .afxdp, qdiscBypass: Bool = false,
                workerCPUs: [Int] = [], workerRealtime: Bool = false) {
        self.workers = workers
        self.batchSize = batchSize
        self.ioBackend = ioBackend
        self.qdiscBypass = qdiscBypass
        self.workerCPUs = workerCPUs
        self.workerRealtime = workerRealtime
    }
}

/// A Linux CPU list as `taskset -c` and /proc's `Cpus_allowed_list` write it: `0`, `1-3,6`.
public enum CPUList {
    /// The highest CPU number accepted (CPU_SETSIZE - 1).
    public static let maxCPU = 1023

    /// The CPUs of `text`, sorted, each once; nil when it is not a CPU list.
    public static func parse(_ text: String) -> [Int]? {
        guard !text.isEmpty else { return nil }
        var cpus = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 1 || bounds.count == 2,
                  bounds.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
                  let lo = Int(bounds[0]), let hi = Int(bounds[bounds.count - 1]), lo <= hi, hi <= maxCPU else { return nil }
            for c in lo...hi { cpus.insert(c) }
        }
        return cpus.sorted()
    }

    /// `cpus` in the shortest form: ranges of three or more as `a-b`.
    public static func format(_ cpus: [Int]) -> String {
        let sorted = Array(Set(cpus)).sorted()
        var parts: [String] = []
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
            if j - i >= 2 { parts.append("\(sorted[i])-\(sorted[j])") } else { for k in i...j { parts.append("\(sorted[k])") } }
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}

/// The packet engine's I/O backend for the underlay (GRE in, GRE and
/// forwarded packets out). The kernel side (TUN) is the same for both.
public enum DataplaneIOBackend: String, CaseIterable, Sendable {
    /// AF_PACKET TPACKET_V3 receive ring (PACKET_FANOUT_HASH over workers) and
    /// TPACKET_V2 transmit rings to next-hop MACs (PACKET_QDISC_BYPASS).
    case tpacket
    /// recvmmsg from a raw GRE socket (AF_PACKET fanout with several workers),
    /// sendmmsg on raw IP and AF_PACKET sockets: the portable one.
    case raw
    /// An XDP program steers our GRE to AF_XDP sockets (per worker and queue),
    /// which also send to next-hop MACs; falls back to tpacket where refused.
    case afxdp

    public var help: String {
        switch self {
        case .tpacket: "AF_PACKET TPACKET receive ring and TPACKET_V2 transmit rings"
        case .raw: "Raw and AF_PACKET sockets with recvmmsg/sendmmsg (portable)"
        case .afxdp: "XDP program and AF_XDP sockets (default; falls back to tpacket where the kernel or driver refuses)"
        }
    }
}
