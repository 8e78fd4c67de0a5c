// The command tree: one trie of nodes per mode, filled by the command
// families (see CommandFamily.swift). Registration expands optional parts and
// alternatives into paths and merges paths that share a beginning, so `?`
// after `ip route 10.0.0.0/8` lists every way the command can go on.

/// What a config command does to the session it is typed into.
public typealias ConfigAction = @Sendable (inout ConfigSession, Arguments) throws(CommandFailure) -> Void
/// What an exec command line means, for the control server to run.
public typealias ExecAction = @Sendable (Arguments) throws(CommandFailure) -> ExecCommand

/// The action at the end of a complete command.
public enum CommandAction: Sendable {
    case config(ConfigAction)
    case exec(ExecAction)
}

/// One node of the tree.
struct CommandNode: Sendable {
    /// nil for a mode's root.
    var token: NodeToken?
    var help: String
    var children: [Int] = []
    var action: CommandAction?
    /// The walk goes on in another mode's tree (`do` in config modes goes on
    /// in exec), so that tree is not copied.
    var continuesInMode: String?
}

/// Every mode's command tree.
public struct CommandRegistry: Sendable {
    var nodes: [CommandNode] = []
    var roots: [String: Int] = [:]
    /// The modes known to the registry, by name.
    public private(set) var modes: [String: CommandMode] = [:]
    /// Modes in registration order (for stable "which mode is this for" hints).
    public private(set) var modeOrder: [CommandMode] = []

    /// An empty registry with the exec and config modes.
    public init() {
        addMode(.exec)
        addMode(.config)
    }

    /// The registry with every command family of egressd.
    public static let standard: CommandRegistry = {
        var registry = CommandRegistry()
        for family in CommandFamilies.all { family.register(into: &registry) }
        return registry
    }()

    /// Adds a mode. Configuration modes get `exit` and `end` for free.
    public mutating func addMode(_ mode: CommandMode) {
        guard modes[mode.name] == nil else { return }
        modes[mode.name] = mode
        modeOrder.append(mode)
        nodes.append(CommandNode(token: nil, help: mode.title))
        roots[mode.name] = nodes.count - 1
        if mode.isConfiguration {
            config(mode, [.keyword("exit", help: "Exit current mode and down to previous mode")]) { s, _ throws(CommandFailure) in s.exitMode() }
            config(mode, [.keyword("end", help: "End current mode and change to enable mode")]) { s, _ throws(CommandFailure) in s.endConfiguration() }
            var link = CommandNode(token: .keyword("do"), help: "To run exec commands in config mode")
            link.continuesInMode = CommandMode.exec.name
            nodes.append(link)
            nodes[roots[mode.name]!].children.append(nodes.count - 1)
        }
    }

    /// Registers a config command of `mode`. Write the `no` form as its own
    /// registration starting with `.no`.
    public mutating func config(_ mode: CommandMode, _ syntax: [CommandElement], action: @escaping ConfigAction) {
        precondition(mode.isConfiguration, "config commands belong to a configuration mode")
        install(mode, syntax, .config(action))
    }

    /// Registers an exec (shell top level) command.
    public mutating func exec(_ syntax: [CommandElement], action: @escaping ExecAction) {
        install(.exec, syntax, .exec(action))
    }

    /// Declaration mistakes are programming errors, found by the first test run.
    private mutating func install(_ mode: CommandMode, _ syntax: [CommandElement], _ action: CommandAction) {
        guard let root = roots[mode.name] else { preconditionFailure("mode \(mode.name) is not registered") }
        for path in CommandElement.expand(syntax) {
            precondition(!path.isEmpty, "empty command")
            var node = root
            for step in path {
                precondition(nodes[node].continuesInMode == nil, "cannot add commands under 'do'")
                if let existing = nodes[node].children.first(where: { nodes[$0].token == step.token }) {
                    node = existing
                    continue
                }
                if case .argument(let name, let kind) = step.token {
                    precondition(!nodes[node].children.contains { child in
                        if case .argument(let n, let k) = nodes[child].token { return n != name && k == kind }
                        return false
                    }, "two arguments of kind \(kind) at the same place (\(name))")
                }
                nodes.append(CommandNode(token: step.token, help: step.help))
                nodes[node].children.append(nodes.count - 1)
                node = nodes.count - 1
            }
            precondition(nodes[node].action == nil, "command registered twice in \(mode.name): \(path.map(\.token))")
            nodes[node].action = action
        }
    }

    func root(of mode: CommandMode) -> Int? { roots[mode.name] }

    /// The nodes that may follow `node`.
    func children(of node: Int) -> [Int] {
        if let other = nodes[node].continuesInMode, let root = roots[other] { return nodes[root].children }
        return nodes[node].children
    }
}
