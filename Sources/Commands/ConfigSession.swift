// Applying config lines to a RunningConfig, one line at a time, as the config
// file loader and `configure terminal` both do. A line is first read in the
// current mode, then (as in FRR) in the enclosing modes, leaving the sub-mode:
// indentation is only cosmetic. Each line is applied to a copy, so a refused
// line changes nothing.
//
// References between objects (a route naming an interface) are checked at once
// when typing, but at the end when loading a file, where order must not matter.

/// Where a session is: a mode and the object it edits (the interface name).
public struct ModeFrame: Equatable, Sendable {
    public var mode: CommandMode
    /// The object the mode edits ("tgw0" in config-if); nil in config.
    public var target: String?

    public init(mode: CommandMode, target: String? = nil) {
        self.mode = mode
        self.target = target
    }
}

/// What a line did to the session, beyond changing the config.
public enum ConfigOutcome: Equatable, Sendable {
    /// Applied; the session stays in configuration.
    case applied
    /// `end`, or `exit` at the top: the shell goes back to exec mode.
    case leftConfiguration
    /// `do COMMAND`: an exec command for the shell to run; nothing changed.
    case exec(ExecCommand)
}

/// A problem found by the end-of-text checks, at the line that caused it.
public struct ReferenceProblem: Equatable, Sendable {
    /// 1-based line of the text being loaded.
    public var line: Int
    /// 1-based column.
    public var column: Int
    public var message: String
}

/// A configuration being edited line by line.
public struct ConfigSession: Sendable {
    /// The configuration as edited so far.
    public var config: RunningConfig
    /// Mode stack, outermost first; never empty (starts at config).
    public private(set) var frames: [ModeFrame] = [ModeFrame(mode: .config)]
    /// The grammar in use.
    public let registry: CommandRegistry
    /// Loading a text: check references in `referenceProblems()` at the end
    /// instead of refusing the line.
    public var defersReferenceChecks: Bool
    /// The 1-based line number of the text being loaded, for deferred problems.
    public var currentLine = 0

    private var leftConfiguration = false
    private var routeOrigins: [StaticRoute: (line: Int, column: Int)] = [:]
    private var interfaceRemovals: [String: (line: Int, column: Int)] = [:]

    /// A session editing `config`, starting in config mode.
    public init(config: RunningConfig = RunningConfig(), registry: CommandRegistry = .standard,
                defersReferenceChecks: Bool = false) {
        self.config = config
        self.registry = registry
        self.defersReferenceChecks = defersReferenceChecks
    }

    /// The current mode.
    public var mode: CommandMode { frames.last?.mode ?? .config }
    /// The object the current mode edits (interface name in config-if).
    public var target: String? { frames.last?.target }

    /// Reads and applies one line. Empty lines and `!` comments do nothing.
    public mutating func execute(_ line: String) throws(CommandError) -> ConfigOutcome {
        let words = CommandRegistry.words(of: line)
        guard let first = words.first, !first.text.hasPrefix("!") else { return .applied }
        var failures: [CommandError] = []
        for depth in stride(from: frames.count - 1, through: 0, by: -1) {
            let matched: MatchedCommand
            do {
                matched = try registry.match(line, mode: frames[depth].mode)
            } catch {
                failures.append(error)
                continue
            }
            let action: ConfigAction
            switch matched.action {
            case .config(let a):
                action = a
            case .exec(let run):
                // `do show ...`: the shell runs it; the config is not touched.
                do {
                    return .exec(try run(matched.arguments))
                } catch {
                    let column = error.argument.flatMap { matched.arguments.column(of: $0) } ?? first.column
                    throw CommandError(kind: .rejected, column: column, message: "% " + error.message)
                }
            }
            var edited = self
            edited.frames.removeLast(frames.count - 1 - depth)
            edited.leftConfiguration = false
            do {
                try action(&edited, matched.arguments)
            } catch {
                let column = error.argument.flatMap { matched.arguments.column(of: $0) } ?? first.column
                throw CommandError(kind: .rejected, column: column, message: "% " + error.message)
            }
            let outcome: ConfigOutcome = edited.leftConfiguration ? .leftConfiguration : .applied
            edited.leftConfiguration = false
            self = edited
            return outcome
        }
        // The line goes further in a mode the session is not in: say so.
        // The error that got furthest; on a tie the current (deepest) mode's,
        // as failures are in that order and max keeps the first.
        guard let best = failures.max(by: { $0.column < $1.column }) else {
            throw CommandError(kind: .incomplete, column: first.column, message: "% Incomplete command.")
        }
        // An ambiguous abbreviation here is answered as such: the words it could be are here.
        if case .ambiguous = best.kind { throw best }
        let inStack = Set(frames.map(\.mode))
        for other in registry.modeOrder where other.isConfiguration && !inStack.contains(other) {
            var reached: Int
            do {
                _ = try registry.match(line, mode: other)
                reached = Int.max
            } catch {
                reached = error.kind == .incomplete ? Int.max : error.column
            }
            if reached > best.column {
                let how = other.enteredBy.map { " (enter it with '\($0)')" } ?? ""
                throw CommandError(kind: .wrongMode, column: first.column,
                                   message: "% Command only valid in \(other.title) mode\(how).")
            }
        }
        throw best
    }

    /// Enters a sub-mode editing `target` (used by commands like `interface`).
    public mutating func enter(_ mode: CommandMode, target: String?) {
        frames.append(ModeFrame(mode: mode, target: target))
    }

    /// `exit`: leaves the current sub-mode, or configuration at the top.
    public mutating func exitMode() {
        if frames.count > 1 { frames.removeLast() } else { leftConfiguration = true }
    }

    /// `end`: leaves configuration altogether.
    public mutating func endConfiguration() {
        frames = [ModeFrame(mode: .config)]
        leftConfiguration = true
    }

    // MARK: References between objects

    /// Checks that a route's interface exists, now or (loading) at the end.
    public mutating func requireInterface(of route: StaticRoute, column: Int?) throws(CommandFailure) {
        guard case .interface(let name) = route.nextHop, config.tunnels[name] == nil else { return }
        if defersReferenceChecks {
            routeOrigins[route] = (currentLine, column ?? 1)
        } else {
            throw CommandFailure("interface \(name) does not exist", argument: "interface")
        }
    }

    /// Checks that no route still uses an interface about to be removed.
    public mutating func requireUnused(interface name: String, column: Int?) throws(CommandFailure) {
        let users = config.staticRoutes.filter { $0.nextHop == .interface(name) }
        guard !users.isEmpty else { return }
        if defersReferenceChecks {
            interfaceRemovals[name] = (currentLine, column ?? 1)
        } else {
            throw CommandFailure("interface \(name) is the next hop of \(users.count) static route(s); remove them first",
                                 argument: "name")
        }
    }

    /// Routes whose interface does not exist, at the line that added the route
    /// (or removed the interface), in line order.
    public func referenceProblems() -> [ReferenceProblem] {
        var problems: [ReferenceProblem] = []
        for route in config.staticRoutes {
            guard case .interface(let name) = route.nextHop, config.tunnels[name] == nil else { continue }
            let origin = routeOrigins[route] ?? interfaceRemovals[name] ?? (currentLine, 1)
            problems.append(ReferenceProblem(
                line: origin.line, column: origin.column,
                message: "% Interface \(name) does not exist (static route \(route.prefix) needs it)"))
        }
        return problems.sorted { ($0.line, $0.column, $0.message) < ($1.line, $1.column, $1.message) }
    }

    // MARK: Helpers for sub-mode commands

    /// Runs `edit` on the tunnel the config-if mode is editing.
    public mutating func editTunnel(_ edit: (inout TunnelInterface) throws(CommandFailure) -> Void) throws(CommandFailure) {
        guard let name = target, var tunnel = config.tunnels[name] else {
            throw CommandFailure("not in interface configuration mode")
        }
        try edit(&tunnel)
        config.tunnels[name] = tunnel
    }
}
