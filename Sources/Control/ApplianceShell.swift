// The appliance as the shell sessions' backend: configuration changes typed
// in `configure terminal` go through the same apply(_:) as SIGHUP, so only
// the difference is applied; completion offers the live tunnel names.

import Commands
import Observability
import Packet

extension Appliance: ShellBackend {
    public var runningConfig: RunningConfig { config }

    public func apply(_ config: RunningConfig, line: String) throws {
        try apply(config)
        record("configuration changed from the shell: \(line)")
    }

    public func show(_ command: ShowCommand, json: Bool) -> ShellResponse {
        run(command, json: json)
    }

    /// Tunnel names for interface arguments. Other live values (BGP
    /// neighbor addresses, WCCP service numbers) are added here by slot
    /// name as their families arrive.
    public func liveValues(for slot: ArgumentSlot) -> [String] { Self.liveValues(for: slot, in: config) }

    /// What TAB offers for an argument, from the running config: tunnel
    /// names, BGP neighbor addresses, WCCP service numbers.
    static func liveValues(for slot: ArgumentSlot, in config: RunningConfig) -> [String] {
        switch slot.kind {
        case .interfaceName:
            return config.tunnels.keys.sorted { $0.count != $1.count ? $0.count < $1.count : $0 < $1 }
        case .ipv4Address where slot.name == "peer":
            // BGP neighbor addresses (`neighbor A ...`, `show ip bgp neighbors A`).
            let peers = config.bgp.map { Array($0.neighbors.keys) } ?? []
            let v4: [IPv4Address] = peers.compactMap { if case .v4(let a) = $0 { a } else { nil } }
            return v4.sorted().map(\.description)
        case .ipv6Address where slot.name == "peer":
            let peers = config.bgp.map { Array($0.neighbors.keys) } ?? []
            let v6: [IPv6Address] = peers.compactMap { if case .v6(let a) = $0 { a } else { nil } }
            return v6.sorted().map(\.description)
        case .range where slot.name == "service":
            // WCCP service groups configured (`ip wccp N ...`, `show ip wccp N`).
            return config.wccp.services.keys.sorted().map(String.init)
        default:
            return []
        }
    }

    /// `show logging`: the recent state changes, oldest first.
    func showLogging(json: Bool) -> String {
        // The log ring (every record with its structured fields) when the
        // daemon installed it; the appliance's own event list otherwise.
        let records = LogRing.shared.recent()
        if !records.isEmpty {
            if json {
                return JSON.object([("records", .array(records.map { r in
                    .object([("time", .string(LogRecord.iso8601(r.time))), ("level", .string(r.level.rawValue)),
                             ("label", .string(r.label)), ("message", .string(r.message)),
                             ("fields", .object(r.fields.map { ($0.0, .string($0.1)) }))])
                }))]).rendered() + "\n"
            }
            return records.map { $0.line + "\n" }.joined()
        }
        if json { return JSON.object([("events", .array(events.map { .string($0) }))]).rendered() + "\n" }
        if events.isEmpty { return "No events logged.\n" }
        return events.map { $0 + "\n" }.joined()
    }
}
