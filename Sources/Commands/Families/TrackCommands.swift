import Packet

// Health checks of the egress path, IOS style: an `ip sla` operation probes
// (ICMP echo to the firewall / next hop at a frequency, with a timeout), a
// `track` object follows its reachability with optional up/down delays, and
// BGP ties what it advertises to a track:
//
//   ip sla 1
//    icmp-echo 10.0.2.1 [source-ip 10.0.2.10]
//    frequency 1
//    timeout 500
//   track 1 ip sla 1 reachability
//    delay down 3 up 5
//   router bgp 65000
//    address-family ipv4 unicast
//     network 0.0.0.0/0 track 1
//     neighbor 169.254.6.2 default-originate track 1
//
// A track that does not exist, or whose operation has no target yet, is down.

// MARK: - The model

/// `ip sla N`: an ICMP echo probe.
public struct SLAConfig: Equatable, Sendable {
    public static let frequencyRange: ClosedRange<UInt64> = 1...604_800
    public static let timeoutRange: ClosedRange<UInt64> = 10...604_800_000
    /// IOS defaults are 60 s and 5000 ms; an egress health check wants faster.
    public static let defaultFrequency = 5
    public static let defaultTimeoutMilliseconds = 1000

    public var number: Int
    /// `icmp-echo A.B.C.D`: the address probed (nil until configured: the operation never succeeds).
    public var target: IPv4Address?
    /// `icmp-echo A source-ip S`.
    public var source: IPv4Address?
    /// `frequency S`: seconds between probes.
    public var frequency: Int = SLAConfig.defaultFrequency
    /// `timeout MS`: how long to wait for the echo reply.
    public var timeoutMilliseconds: Int = SLAConfig.defaultTimeoutMilliseconds

    public init(number: Int) { self.number = number }
}

/// `track N ip sla M reachability`.
public struct TrackConfig: Equatable, Sendable {
    public static let delayRange: ClosedRange<UInt64> = 0...180
    public var number: Int
    public var sla: Int
    /// `delay down S`: seconds of failed probes before the track goes down.
    public var downDelay: Int = 0
    /// `delay up S`: seconds of good probes before the track comes up.
    public var upDelay: Int = 0

    public init(number: Int, sla: Int) { self.number = number; self.sla = sla }
}

extension CommandMode {
    /// `ip sla N`.
    public static let configIPSLA = CommandMode(
        name: "config-ip-sla", title: "IP SLA configuration", enteredBy: "ip sla N", parent: .config)
    /// `track N ip sla M reachability`.
    public static let configTrack = CommandMode(
        name: "config-track", title: "tracking configuration", enteredBy: "track N ip sla M reachability", parent: .config)
}

// MARK: - Commands

enum TrackCommands: CommandFamily {
    static let objectRange: ClosedRange<UInt64> = 1...1000

    static func register(into registry: inout CommandRegistry) {
        registry.addMode(.configIPSLA)
        registry.addMode(.configTrack)
        registerShow(&registry)
        let ip = CommandElement.keyword("ip", help: "Internet Protocol (IPv4) configuration")
        let sla = CommandElement.keyword("sla", help: "IP Service Level Agreement: a health probe")
        let operation = CommandElement.argument("operation", .range(objectRange), help: "Operation number")
        registry.config(.config, [ip, sla, operation]) { s, a throws(CommandFailure) in
            let n = Int(try a.number("operation"))
            if s.config.slas[n] == nil { s.config.slas[n] = SLAConfig(number: n) }
            s.enter(.configIPSLA, target: String(n))
        }
        registry.config(.config, [.no, ip, sla, operation]) { s, a throws(CommandFailure) in
            let n = Int(try a.number("operation"))
            guard s.config.slas.removeValue(forKey: n) != nil else { throw CommandFailure("ip sla \(n) is not configured", argument: "operation") }
        }
        let echo = CommandElement.keyword("icmp-echo", help: "ICMP echo (ping) operation")
        let target = CommandElement.argument("target", .ipv4Address, help: "Destination address (the firewall or next hop)")
        let source = CommandElement.optional([.keyword("source-ip", help: "Source address"),
                                              .argument("source", .ipv4Address, help: "Source address")])
        registry.config(.configIPSLA, [echo, target, source]) { s, a throws(CommandFailure) in
            let t = try a.ipv4Address("target")
            let src = a.contains("source") ? try a.ipv4Address("source") : nil
            try s.editSLA { $0.target = t; $0.source = src }
        }
        registry.config(.configIPSLA, [.no, echo, .optional([target, source])]) { s, _ throws(CommandFailure) in
            try s.editSLA { $0.target = nil; $0.source = nil }
        }
        let frequency = CommandElement.keyword("frequency", help: "Seconds between probes")
        let seconds = CommandElement.argument("seconds", .range(SLAConfig.frequencyRange), help: "Seconds")
        registry.config(.configIPSLA, [frequency, seconds]) { s, a throws(CommandFailure) in
            let v = Int(try a.number("seconds"))
            try s.editSLA { $0.frequency = v }
        }
        registry.config(.configIPSLA, [.no, frequency, .optional([seconds])]) { s, _ throws(CommandFailure) in
            try s.editSLA { $0.frequency = SLAConfig.defaultFrequency }
        }
        let timeout = CommandElement.keyword("timeout", help: "Milliseconds to wait for a reply")
        let ms = CommandElement.argument("milliseconds", .range(SLAConfig.timeoutRange), help: "Milliseconds")
        registry.config(.configIPSLA, [timeout, ms]) { s, a throws(CommandFailure) in
            let v = Int(try a.number("milliseconds"))
            try s.editSLA { $0.timeoutMilliseconds = v }
        }
        registry.config(.configIPSLA, [.no, timeout, .optional([ms])]) { s, _ throws(CommandFailure) in
            try s.editSLA { $0.timeoutMilliseconds = SLAConfig.defaultTimeoutMilliseconds }
        }

        let track = CommandElement.keyword("track", help: "Object tracking")
        let object = CommandElement.argument("object", .range(objectRange), help: "Tracked object number")
        let slaNumber = CommandElement.argument("sla", .range(objectRange), help: "IP SLA operation number")
        let reachability = CommandElement.optional([.keyword("reachability", help: "Reachability of the operation's target")])
        registry.config(.config, [track, object, ip, sla, slaNumber, reachability]) { s, a throws(CommandFailure) in
            let n = Int(try a.number("object")), m = Int(try a.number("sla"))
            if var existing = s.config.tracks[n] {
                existing.sla = m
                s.config.tracks[n] = existing
            } else {
                s.config.tracks[n] = TrackConfig(number: n, sla: m)
            }
            s.enter(.configTrack, target: String(n))
        }
        registry.config(.config, [.no, track, object, .optional([ip, sla, slaNumber, reachability])]) { s, a throws(CommandFailure) in
            let n = Int(try a.number("object"))
            guard s.config.tracks.removeValue(forKey: n) != nil else { throw CommandFailure("track \(n) is not configured", argument: "object") }
        }
        let delay = CommandElement.keyword("delay", help: "Delay state changes")
        let down = [CommandElement.keyword("down", help: "Delay going down"), .argument("downSeconds", .range(TrackConfig.delayRange), help: "Seconds")]
        let up = [CommandElement.keyword("up", help: "Delay coming up"), .argument("upSeconds", .range(TrackConfig.delayRange), help: "Seconds")]
        registry.config(.configTrack, [delay, .choice([down + [.optional(up)], up])]) { s, a throws(CommandFailure) in
            let d = a.contains("downSeconds") ? Int(try a.number("downSeconds")) : 0
            let u = a.contains("upSeconds") ? Int(try a.number("upSeconds")) : 0
            try s.editTrack { $0.downDelay = d; $0.upDelay = u }
        }
        registry.config(.configTrack, [.no, delay, .optional([.choice([down + [.optional(up)], up])])]) { s, _ throws(CommandFailure) in
            try s.editTrack { $0.downDelay = 0; $0.upDelay = 0 }
        }
    }

    static func registerShow(_ registry: inout CommandRegistry) {
        registry.show([.keyword("track", help: "Tracking information"),
                       .optional([.argument("object", .range(objectRange), help: "Tracked object number")])]) { a throws(CommandFailure) in
            .bgp(.track(a.contains("object") ? Int(try a.number("object")) : nil))
        }
    }

    static func render(_ config: RunningConfig) -> [[String]] {
        var blocks: [[String]] = []
        for sla in config.slas.values.sorted(by: { $0.number < $1.number }) {
            var lines = ["ip sla \(sla.number)"]
            if let t = sla.target { lines.append(" icmp-echo \(t)" + (sla.source.map { " source-ip \($0)" } ?? "")) }
            if sla.frequency != SLAConfig.defaultFrequency { lines.append(" frequency \(sla.frequency)") }
            if sla.timeoutMilliseconds != SLAConfig.defaultTimeoutMilliseconds { lines.append(" timeout \(sla.timeoutMilliseconds)") }
            blocks.append(lines)
        }
        for t in config.tracks.values.sorted(by: { $0.number < $1.number }) {
            var lines = ["track \(t.number) ip sla \(t.sla) reachability"]
            if t.downDelay != 0 || t.upDelay != 0 {
                lines.append(" delay" + (t.downDelay != 0 ? " down \(t.downDelay)" : "") + (t.upDelay != 0 ? " up \(t.upDelay)" : ""))
            }
            blocks.append(lines)
        }
        return blocks
    }
}

extension ConfigSession {
    mutating func editSLA(_ edit: (inout SLAConfig) -> Void) throws(CommandFailure) {
        guard let n = target.flatMap({ Int($0) }), var sla = config.slas[n] else { throw CommandFailure("not in ip sla configuration mode") }
        edit(&sla)
        config.slas[n] = sla
    }

    mutating func editTrack(_ edit: (inout TrackConfig) -> Void) throws(CommandFailure) {
        guard let n = target.flatMap({ Int($0) }), var t = config.tracks[n] else { throw CommandFailure("not in track configuration mode") }
        edit(&t)
        config.tracks[n] = t
    }
}
