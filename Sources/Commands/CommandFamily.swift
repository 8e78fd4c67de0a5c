// A command family is one file that declares a group of commands (its
// grammar and actions) and prints its part of the running config. Adding a
// family (BGP, WCCP, ...) is adding such a file and one entry to the list below.

/// A group of related commands: their grammar and their running-config text.
public protocol CommandFamily {
    /// Adds the family's modes and commands to the tree.
    static func register(into registry: inout CommandRegistry)
    /// The family's running-config blocks, in order; `!` is printed after each.
    static func render(_ config: RunningConfig) -> [[String]]
}

extension CommandFamily {
    public static func render(_ config: RunningConfig) -> [[String]] { [] }
}

/// Every family, in the order their blocks appear in the running config.
enum CommandFamilies {
    static var all: [any CommandFamily.Type] {
        [
            SystemCommands.self,
            InterfaceCommands.self,
            StaticRouteCommands.self,
            TrackCommands.self,
            BGPCommands.self,
            WCCPCommands.self,
            DataplaneCommands.self,
            ObservabilityCommands.self,
            ShowCommands.self,
        ]
    }
}

extension RunningConfig {
    /// The canonical configuration text (`show running-config`): defaults left
    /// out, blocks separated by `!`, sub-mode lines indented by one space,
    /// everything sorted, so equal configs print equal text.
    public func render() -> String {
        CommandFamilies.all.flatMap { $0.render(self) }
            .filter { !$0.isEmpty }
            .map { $0.joined(separator: "\n") + "\n!\n" }
            .joined()
    }
}
