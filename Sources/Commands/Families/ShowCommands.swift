// Exec-mode commands: the shell's `show ...`, `configure terminal`, `exit`,
// `end`, `write memory`. The line is parsed into an ExecCommand value that the control server
// runs; adding `show ip bgp ...` is a new ShowCommand case plus one
// `registry.show(...)` line in the BGP family's file.

/// An exec-mode command line, parsed.
public enum ExecCommand: Equatable, Sendable {
    /// `show ... [json]`.
    case show(ShowCommand, json: Bool)
    /// `configure terminal`: enter config mode.
    case configureTerminal
    /// `exit`: leave the shell.
    case exit
    /// `end`: nothing to leave in exec mode (accepted as IOS does).
    case end
    /// `write memory` / `copy running-config startup-config`: save the
    /// running config to the file the daemon was started with.
    case writeMemory
}

/// What a `show` command asks for.
public enum ShowCommand: Equatable, Sendable {
    /// `show version`
    case version
    /// `show running-config`
    case runningConfig
    /// `show interfaces [NAME]`
    case interfaces(name: String?)
    /// `show ip route`
    case ipRoute
    /// `show ipv6 route`
    case ipv6Route
    /// `show dataplane`: engine workers and drop counters.
    case dataplane
    /// `show logging`: recent state changes of the appliance.
    case logging
    /// `show ip bgp ...` (see BGPCommands.swift).
    case bgp(BGPShowCommand)
    /// `show ip wccp ...` and `clear ip wccp` (see WCCPCommands.swift).
    case wccp(WCCPShowCommand)
    /// `trace packet ...` (see ObservabilityCommands.swift): answered by
    /// the appliance like a show.
    case tracePacket(TracePacketRequest)
    /// `capture ...`, `no capture NAME`, `show capture` (ObservabilityCommands.swift).
    case capture(CaptureRequest)
    case stopCapture(String)
    case captures
}

extension CommandRegistry {
    /// The `show` keyword, shared by every family's show commands.
    public static let showKeyword = CommandElement.keyword("show", help: "Show running system information")

    /// Registers `show <syntax> [json]`; `build` turns the matched arguments
    /// into the ShowCommand value.
    public mutating func show(_ syntax: [CommandElement],
                              _ build: @escaping @Sendable (Arguments) throws(CommandFailure) -> ShowCommand) {
        let json = CommandElement.keyword("json", help: "JavaScript Object Notation output")
        exec([Self.showKeyword] + syntax + [.optional([json])]) { a throws(CommandFailure) in
            .show(try build(a), json: a.has("json"))
        }
    }

    /// Parses an exec-mode line into the command the control server runs.
    public func parseExec(_ line: String) throws(CommandError) -> ExecCommand {
        let matched = try match(line, mode: .exec)
        guard case .exec(let action) = matched.action else {
            throw CommandError(kind: .invalidInput, column: 1, message: "% Not an exec command.")
        }
        do {
            return try action(matched.arguments)
        } catch {
            let column = error.argument.flatMap { matched.arguments.column(of: $0) } ?? 1
            throw CommandError(kind: .rejected, column: column, message: "% " + error.message)
        }
    }
}

/// Exec-mode commands of this release.
enum ShowCommands: CommandFamily {
    static func register(into registry: inout CommandRegistry) {
        let ip = CommandElement.keyword("ip", help: "IP information")
        let ipv6 = CommandElement.keyword("ipv6", help: "IPv6 information")
        let route = CommandElement.keyword("route", help: "Routing table")

        registry.show([.keyword("version", help: "Software version and uptime")]) { _ in .version }
        registry.show([.keyword("running-config", help: "Current operating configuration")]) { _ in .runningConfig }
        registry.show([.keyword("interfaces", help: "Interface status and counters"),
                       .optional([.argument("name", .interfaceName, help: "Interface name")])]) { a throws(CommandFailure) in
            .interfaces(name: a.contains("name") ? try a.string("name") : nil)
        }
        registry.show([ip, route]) { _ in .ipRoute }
        registry.show([ipv6, route]) { _ in .ipv6Route }
        registry.show([.keyword("dataplane", help: "Packet engine workers and drop counters")]) { _ in .dataplane }
        registry.show([.keyword("logging", help: "Recent state changes (interfaces, sessions, configuration)")]) { _ in .logging }

        registry.exec([.keyword("configure", help: "Enter configuration mode"),
                       .keyword("terminal", help: "Configure from the terminal")]) { _ in .configureTerminal }
        registry.exec([.keyword("exit", help: "Exit the shell")]) { _ in .exit }
        registry.exec([.keyword("end", help: "End (nothing to end in exec mode)")]) { _ in .end }
        // IOS: `write` alone means `write memory`.
        registry.exec([.keyword("write", help: "Write running configuration to memory or terminal"),
                       .optional([.keyword("memory", help: "Write to the configuration file (keeps FILE.bak)")])]) { _ in .writeMemory }
        registry.exec([.keyword("copy", help: "Copy from one file to another"),
                       .keyword("running-config", help: "Copy from the current running configuration"),
                       .keyword("startup-config", help: "Copy to the configuration file (keeps FILE.bak)")]) { _ in .writeMemory }
    }
}
