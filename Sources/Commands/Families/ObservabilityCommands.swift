// Observability words: `metrics listen ADDR:PORT` / `no metrics listen`
// (the Prometheus endpoint) and the exec command
// `trace packet [tunnel NAME] PROTO SRC[:PORT] DST[:PORT]`.

import Packet

/// Where the Prometheus endpoint listens.
public struct MetricsListenAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16
    public static let `default` = MetricsListenAddress(address: IPv4Address(127, 0, 0, 1), port: 9108)

    public init(address: IPv4Address, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses "A.B.C.D:PORT"; nil when malformed.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv4Address(String(parts[0])), let p = UInt16(parts[1]), p > 0 else { return nil }
        self.init(address: a, port: p)
    }

    public var description: String { "\(address):\(port)" }
}

/// `metrics ...` settings. `listen` nil: the endpoint is off (`no metrics listen`).
public struct MetricsConfig: Equatable, Sendable {
    public var listen: MetricsListenAddress? = .default
    public init(listen: MetricsListenAddress? = .default) { self.listen = listen }
}

/// IPFIX flow export (`ip flow-export ...`, `ip flow-cache timeout ...`, IOS words).
public struct FlowExportConfig: Equatable, Sendable {
    public struct Destination: Hashable, Sendable, Comparable {
        public var address: IPv4Address
        public var port: UInt16
        public init(address: IPv4Address, port: UInt16) { self.address = address; self.port = port }
        public static func < (a: Self, b: Self) -> Bool { (a.address.value, a.port) < (b.address.value, b.port) }
    }
    public static let maximumDestinations = 4
    /// Collectors (none: no flow accounting at all).
    public var destinations: Set<Destination> = []
    /// `ip flow-cache timeout active MINUTES` (IOS: minutes).
    public var activeTimeoutMinutes: Int = 30
    /// `ip flow-cache timeout inactive SECONDS`.
    public var inactiveTimeoutSeconds: Int = 15
    /// `ip flow-export template timeout-rate MINUTES`: templates are resent this often.
    public var templateTimeoutMinutes: Int = 1
    public init() {}
}

/// `capture NAME interface TUNNEL|any [inner|outer] [count N] file PATH [filter BPF]`.
public struct CaptureRequest: Equatable, Sendable {
    public var name: String
    /// nil: every tunnel (`any`).
    public var tunnel: String?
    public var inner: Bool
    public var count: Int?
    public var file: String
    public var filter: String?
    public init(name: String, tunnel: String?, inner: Bool, count: Int?, file: String, filter: String?) {
        self.name = name; self.tunnel = tunnel; self.inner = inner; self.count = count; self.file = file; self.filter = filter
    }
}

/// The protocol of a traced packet.
public enum TraceProtocol: String, Sendable, CaseIterable {
    case tcp, udp, icmp
    public var number: UInt8 {
        switch self {
        case .tcp: 6
        case .udp: 17
        case .icmp: 1
        }
    }
}

/// `trace packet ...`: a packet to run through the engine's code.
public struct TracePacketRequest: Equatable, Sendable {
    /// The tunnel it arrives on (nil: from the kernel side, i.e. return
    /// traffic toward the spokes; it is then traced as leaving a TUN).
    public var tunnel: String?
    public var proto: TraceProtocol
    public var source: IPv4Address
    public var sourcePort: UInt16
    public var destination: IPv4Address
    public var destinationPort: UInt16

    public init(tunnel: String?, proto: TraceProtocol, source: IPv4Address, sourcePort: UInt16,
                destination: IPv4Address, destinationPort: UInt16) {
        self.tunnel = tunnel
        self.proto = proto
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
    }

    /// Parses "A.B.C.D" or "A.B.C.D:PORT".
    static func endpoint(_ text: String) -> (IPv4Address, UInt16)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let a = IPv4Address(String(parts[0])) else { return nil }
        if parts.count == 1 { return (a, 0) }
        guard let p = UInt16(parts[1]) else { return nil }
        return (a, p)
    }
}

enum ObservabilityCommands: CommandFamily {
    static func register(into registry: inout CommandRegistry) {
        let metrics = CommandElement.keyword("metrics", help: "Prometheus metrics endpoint")
        let listen = CommandElement.keyword("listen", help: "Address and port of the HTTP endpoint (/metrics)")
        let where_ = CommandElement.argument("address", .word, help: "A.B.C.D:PORT (default 127.0.0.1:9108)")
        registry.config(.config, [metrics, listen, where_]) { s, a throws(CommandFailure) in
            let text = try a.string("address")
            guard let l = MetricsListenAddress(parsing: text) else {
                throw CommandFailure("metrics listen address must be A.B.C.D:PORT, not '\(text)'", argument: "address")
            }
            s.config.metrics.listen = l
        }
        registry.config(.config, [.no, metrics, listen, .optional([where_])]) { s, _ throws(CommandFailure) in
            s.config.metrics.listen = nil
        }

        let ip = CommandElement.keyword("ip", help: "Internet Protocol (IPv4) configuration")
        let export = CommandElement.keyword("flow-export", help: "IPFIX (RFC 7011) flow export")
        let destination = CommandElement.keyword("destination", help: "A collector")
        let collector = CommandElement.argument("collector", .ipv4Address, help: "Collector address")
        let port = CommandElement.argument("port", .range(1...65535), help: "Collector UDP port (IPFIX: 4739)")
        registry.config(.config, [ip, export, destination, collector, port]) { s, a throws(CommandFailure) in
            let d = FlowExportConfig.Destination(address: try a.ipv4Address("collector"), port: UInt16(try a.number("port")))
            if !s.config.flowExport.destinations.contains(d),
               s.config.flowExport.destinations.count >= FlowExportConfig.maximumDestinations {
                throw CommandFailure("at most \(FlowExportConfig.maximumDestinations) flow-export destinations", argument: "collector")
            }
            s.config.flowExport.destinations.insert(d)
        }
        registry.config(.config, [.no, ip, export, destination, collector, port]) { s, a throws(CommandFailure) in
            let d = FlowExportConfig.Destination(address: try a.ipv4Address("collector"), port: UInt16(try a.number("port")))
            s.config.flowExport.destinations.remove(d)
        }
        let template = CommandElement.keyword("template", help: "Template options")
        let rate = CommandElement.keyword("timeout-rate", help: "Resend the templates every N minutes")
        let minutes = CommandElement.argument("minutes", .range(1...3600), help: "Minutes")
        registry.config(.config, [ip, export, template, rate, minutes]) { s, a throws(CommandFailure) in
            s.config.flowExport.templateTimeoutMinutes = Int(try a.number("minutes"))
        }
        registry.config(.config, [.no, ip, export, template, rate, .optional([minutes])]) { s, _ throws(CommandFailure) in
            s.config.flowExport.templateTimeoutMinutes = FlowExportConfig().templateTimeoutMinutes
        }
        let cache = CommandElement.keyword("flow-cache", help: "Flow cache settings")
        let timeout = CommandElement.keyword("timeout", help: "Flow expiry")
        let active = CommandElement.keyword("active", help: "Export long-lived flows every N minutes")
        let inactive = CommandElement.keyword("inactive", help: "Export flows idle for N seconds")
        let activeMinutes = CommandElement.argument("minutes", .range(1...60), help: "Minutes")
        let seconds = CommandElement.argument("seconds", .range(1...600), help: "Seconds")
        registry.config(.config, [ip, cache, timeout, active, activeMinutes]) { s, a throws(CommandFailure) in
            s.config.flowExport.activeTimeoutMinutes = Int(try a.number("minutes"))
        }
        registry.config(.config, [.no, ip, cache, timeout, active, .optional([activeMinutes])]) { s, _ throws(CommandFailure) in
            s.config.flowExport.activeTimeoutMinutes = FlowExportConfig().activeTimeoutMinutes
        }
        registry.config(.config, [ip, cache, timeout, inactive, seconds]) { s, a throws(CommandFailure) in
            s.config.flowExport.inactiveTimeoutSeconds = Int(try a.number("seconds"))
        }
        registry.config(.config, [.no, ip, cache, timeout, inactive, .optional([seconds])]) { s, _ throws(CommandFailure) in
            s.config.flowExport.inactiveTimeoutSeconds = FlowExportConfig().inactiveTimeoutSeconds
        }

        let capture = CommandElement.keyword("capture", help: "Capture tunnel packets into a pcap file")
        let captureName = CommandElement.argument("name", .word, help: "Capture name")
        let interface = CommandElement.keyword("interface", help: "Where to capture")
        let captureWhere = CommandElement.argument("interface", .interfaceName, help: "Tunnel interface name, or any")
        let side = CommandElement.optional([.choice([[.keyword("inner", help: "The decapsulated (inside) packet")],
                                                     [.keyword("outer", help: "The GRE packet as on the wire (default)")]])])
        let count = CommandElement.optional([.keyword("count", help: "Stop after N packets"),
                                             .argument("count", .range(1...10_000_000), help: "Packets")])
        let file = CommandElement.keyword("file", help: "pcap file to write")
        let path = CommandElement.argument("file", .word, help: "Absolute path of the pcap file")
        let filter = CommandElement.optional([.keyword("filter", help: "BPF filter (tcpdump syntax), the rest of the line"),
                                              .argument("filter", .line, help: "BPF expression")])
        registry.exec([capture, captureName, interface, captureWhere, side, count, file, path, filter]) { a throws(CommandFailure) in
            let iface = try a.string("interface")
            let file = try a.string("file")
            guard file.hasPrefix("/") else { throw CommandFailure("the file must be an absolute path", argument: "file") }
            return .show(.capture(CaptureRequest(name: try a.string("name"), tunnel: iface == "any" ? nil : iface, inner: a.has("inner"),
                                                 count: a.contains("count") ? Int(try a.number("count")) : nil, file: file,
                                                 filter: a.contains("filter") ? try a.string("filter") : nil)), json: false)
        }
        registry.exec([.no, capture, captureName]) { a throws(CommandFailure) in
            .show(.stopCapture(try a.string("name")), json: false)
        }
        registry.show([.keyword("capture", help: "Packet captures")]) { _ in .captures }

        let trace = CommandElement.keyword("trace", help: "Show the engine's decision for a packet")
        let packet = CommandElement.keyword("packet", help: "A synthesized packet, stage by stage")
        let tunnel = CommandElement.keyword("tunnel", help: "Arriving on a tunnel (default: return traffic from the kernel)")
        let name = CommandElement.argument("tunnel", .interfaceName, help: "Tunnel interface name")
        let proto = CommandElement.choice(TraceProtocol.allCases.map {
            [CommandElement.keyword($0.rawValue, help: "\($0.rawValue.uppercased()) packet")]
        })
        let src = CommandElement.argument("source", .word, help: "Source A.B.C.D[:PORT]")
        let dst = CommandElement.argument("destination", .word, help: "Destination A.B.C.D[:PORT]")
        let json = CommandElement.keyword("json", help: "JavaScript Object Notation output")
        registry.exec([trace, packet, .optional([tunnel, name]), proto, src, dst, .optional([json])]) { a throws(CommandFailure) in
            guard let p = TraceProtocol.allCases.first(where: { a.has($0.rawValue) }) else {
                throw CommandFailure("protocol must be tcp, udp or icmp")
            }
            guard let (s, sp) = TracePacketRequest.endpoint(try a.string("source")) else {
                throw CommandFailure("source must be A.B.C.D or A.B.C.D:PORT", argument: "source")
            }
            guard let (d, dp) = TracePacketRequest.endpoint(try a.string("destination")) else {
                throw CommandFailure("destination must be A.B.C.D or A.B.C.D:PORT", argument: "destination")
            }
            let t = a.contains("tunnel") ? try a.string("tunnel") : nil
            return .show(.tracePacket(TracePacketRequest(tunnel: t, proto: p, source: s, sourcePort: sp,
                                                         destination: d, destinationPort: dp)), json: a.has("json"))
        }
    }

    static func render(_ config: RunningConfig) -> [[String]] {
        var flow: [String] = []
        let f = config.flowExport, d = FlowExportConfig()
        for dest in f.destinations.sorted() { flow.append("ip flow-export destination \(dest.address) \(dest.port)") }
        if f.templateTimeoutMinutes != d.templateTimeoutMinutes { flow.append("ip flow-export template timeout-rate \(f.templateTimeoutMinutes)") }
        if f.activeTimeoutMinutes != d.activeTimeoutMinutes { flow.append("ip flow-cache timeout active \(f.activeTimeoutMinutes)") }
        if f.inactiveTimeoutSeconds != d.inactiveTimeoutSeconds { flow.append("ip flow-cache timeout inactive \(f.inactiveTimeoutSeconds)") }
        let metrics: [String] = switch config.metrics.listen {
        case .default: []
        case nil: ["no metrics listen"]
        case let l?: ["metrics listen \(l)"]
        }
        return [flow, metrics]
    }
}
