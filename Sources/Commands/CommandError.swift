// Errors of the command language. A CommandError is about one line (with the
// column of the offending word, IOS-style); a CommandFailure is what a
// command's action throws, naming the argument it refuses so the matcher can
// turn it into a column.

/// Why a command line was not accepted.
public struct CommandError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The class of problem.
    public enum Kind: Equatable, Sendable {
        /// A word matches nothing ("% Invalid input detected at '^' marker.").
        case invalidInput
        /// The line stops before a command is complete.
        case incomplete
        /// An abbreviation matches several words; the candidates in order.
        case ambiguous([String])
        /// The line is a command of another mode (e.g. `ip address` outside an interface).
        case wrongMode
        /// The syntax is fine but the command refused the value.
        case rejected
    }

    public var kind: Kind
    /// 1-based column of the word the error is about.
    public var column: Int
    /// The operator-facing message, "% ..." as IOS prints it.
    public var message: String

    public init(kind: Kind, column: Int, message: String) {
        self.kind = kind
        self.column = column
        self.message = message
    }

    /// Spaces and a caret under column `column`; `indent` is the width of
    /// whatever precedes the echoed line (the prompt).
    public func caretLine(indent: Int = 0) -> String {
        String(repeating: " ", count: max(0, indent + column - 1)) + "^"
    }

    /// The line, the caret under the bad word and the message, as a shell prints them.
    public func rendered(line: String, prompt: String = "") -> String {
        "\(prompt)\(line)\n\(caretLine(indent: prompt.count))\n\(message)"
    }

    public var description: String { "column \(column): \(message)" }
}

/// What a command's action throws when it refuses the values it was given.
public struct CommandFailure: Error, Equatable, Sendable {
    /// What is wrong, without the leading "% ".
    public var message: String
    /// The argument the message is about, to place the caret; nil for the command as a whole.
    public var argument: String?

    public init(_ message: String, argument: String? = nil) {
        self.message = message
        self.argument = argument
    }
}
