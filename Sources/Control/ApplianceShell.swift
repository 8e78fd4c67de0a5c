// The appliance as the shell sessions' backend: configuration changes typed
// in `configure terminal` go through the same apply(_:) as SIGHUP, so only
// the difference is applied; completion offers the live tunnel names.

import Commands

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
    public func liveValues(for slot: ArgumentSlot) -> [String] {
        switch slot.kind {
        case .interfaceName:
            return config.tunnels.keys.sorted { $0.count != $1.count ? $0.count < $1.count : $0 < $1 }
        default:
            return []
        }
    }

    /// `show logging`: the recent state changes, oldest first.
    func showLogging(json: Bool) -> String {
        if json { return JSON.object([("events", .array(events.map { .string($0) }))]).rendered() + "\n" }
        if events.isEmpty { return "No events logged.\n" }
        return events.map { $0 + "\n" }.joined()
    }
}
