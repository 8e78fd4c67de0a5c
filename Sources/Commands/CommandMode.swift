// Command modes: which part of the tree a line is read against. Exec is the
// shell's top level; config and its sub-modes are what the config file and
// `configure terminal` type into. New families add modes as static members
// in their own files (e.g. `static let configRouter`).

/// A command mode (exec, config, config-if, ...).
public struct CommandMode: Hashable, Sendable, CustomStringConvertible {
    /// Short name as shown in the prompt ("config-if").
    public let name: String
    /// What the mode edits, for error messages ("interface configuration").
    public let title: String
    /// The command that enters the mode, for error hints ("interface NAME").
    public let enteredBy: String?
    /// The mode `exit` returns to; nil for exec and config.
    public let parentName: String?

    /// A mode named `name`; `parent` is where `exit` goes back to.
    public init(name: String, title: String, enteredBy: String? = nil, parent: CommandMode? = nil) {
        self.name = name
        self.title = title
        self.enteredBy = enteredBy
        self.parentName = parent?.name
    }

    /// The shell's top level: show commands, `configure terminal`.
    public static let exec = CommandMode(name: "exec", title: "exec")
    /// Global configuration: what the config file starts in.
    public static let config = CommandMode(name: "config", title: "global configuration")
    /// Interface (tunnel) configuration, entered by `interface NAME`.
    public static let configInterface = CommandMode(
        name: "config-if", title: "interface configuration", enteredBy: "interface NAME", parent: .config)

    /// True for the configuration modes (everything but exec).
    public var isConfiguration: Bool { self != .exec }

    public var description: String { name }
}
