// `hostname NAME`.

/// System-wide settings: the hostname.
enum SystemCommands: CommandFamily {
    static func register(into registry: inout CommandRegistry) {
        let hostname = CommandElement.keyword("hostname", help: "Set system's network name")
        registry.config(.config, [hostname, .argument("name", .word, help: "This system's network name")]) { s, a throws(CommandFailure) in
            let name = try a.string("name")
            if let problem = hostnameProblem(name) { throw CommandFailure(problem, argument: "name") }
            s.config.hostname = name
        }
        registry.config(.config, [.no, hostname, .optional([.argument("name", .word, help: "This system's network name")])]) { s, _ throws(CommandFailure) in
            s.config.hostname = RunningConfig.defaultHostname
        }
    }

    static func render(_ config: RunningConfig) -> [[String]] {
        config.hostname == RunningConfig.defaultHostname ? [] : [["hostname \(config.hostname)"]]
    }

    /// RFC 1123 host name: letters, digits, '-' and '.', up to 63 characters,
    /// starting with a letter or digit. nil when acceptable.
    static func hostnameProblem(_ name: String) -> String? {
        guard (1...63).contains(name.count) else { return "hostname must be 1-63 characters" }
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }),
              let first = name.first, first.isLetter || first.isNumber else {
            return "hostname '\(name)' may hold only letters, digits, '-' and '.', starting with a letter or digit"
        }
        return nil
    }
}
