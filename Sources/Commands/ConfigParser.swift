// Loading configuration text: the config file at start-up, or a block of
// `configure terminal` lines. Everything is applied to a new value; the caller
// swaps it in only when the whole text was accepted.

/// A refused line of configuration text: `file:line:column: message`.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var fileName: String
    /// 1-based line number.
    public var line: Int
    /// 1-based column of the offending word.
    public var column: Int
    /// What is wrong (without IOS's leading "% ").
    public var message: String
    /// The text of the line.
    public var text: String

    public init(fileName: String, line: Int, column: Int, message: String, text: String) {
        self.fileName = fileName
        self.line = line
        self.column = column
        self.message = message
        self.text = text
    }

    /// `file:line:column: message`, then the line and a caret under the word.
    public var description: String {
        "\(fileName):\(line):\(column): \(message)\n\(text)\n"
            + String(repeating: " ", count: max(0, column - 1)) + "^"
    }
}

/// Reads configuration text with the command grammar.
public enum ConfigParser {
    /// Parses a whole config file into a new configuration (defaults + the text).
    public static func parse(text: String, fileName: String = "<config>",
                             registry: CommandRegistry = .standard) throws(ConfigError) -> RunningConfig {
        try apply(text: text, to: RunningConfig(), fileName: fileName, registry: registry)
    }

    /// Applies configuration text on top of `config` and returns the result;
    /// `config` itself is untouched, and nothing is applied if any line fails.
    /// References (routes naming interfaces) are checked after the last line.
    public static func apply(text: String, to config: RunningConfig, fileName: String = "<terminal>",
                             registry: CommandRegistry = .standard) throws(ConfigError) -> RunningConfig {
        var session = ConfigSession(config: config, registry: registry, defersReferenceChecks: true)
        // "\r\n" is one Character in Swift, so isNewline splits CRLF text too.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        for (index, line) in lines.enumerated() {
            session.currentLine = index + 1
            let outcome: ConfigOutcome
            do {
                outcome = try session.execute(line)
            } catch {
                throw ConfigError(fileName: fileName, line: index + 1, column: error.column,
                                  message: plain(error.message), text: line)
            }
            // `end`/`exit` at the top mean nothing in a file (keep reading);
            // `do ...` is for the shell.
            if case .exec = outcome {
                throw ConfigError(fileName: fileName, line: index + 1,
                                  column: CommandRegistry.words(of: line).first?.column ?? 1,
                                  message: "exec commands ('do ...') are not configuration", text: line)
            }
        }
        if let problem = session.referenceProblems().first {
            let text = problem.line >= 1 && problem.line <= lines.count ? lines[problem.line - 1] : ""
            throw ConfigError(fileName: fileName, line: problem.line, column: problem.column,
                              message: plain(problem.message), text: text)
        }
        return session.config
    }

    /// IOS messages start with "% "; file errors read better without it.
    private static func plain(_ message: String) -> String {
        message.hasPrefix("% ") ? String(message.dropFirst(2)) : message
    }
}
