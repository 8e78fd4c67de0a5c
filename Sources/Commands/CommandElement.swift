// The small language command families use to declare their syntax, in the
// spirit of FRR's DEFUN strings but typed: a command is a list of elements,
// and optional parts and alternatives expand into several paths of the tree.
//
//     [.keyword("show", help: "Show running system information"),
//      .keyword("interfaces", help: "Interface status"),
//      .optional([.argument("name", .interfaceName, help: "Interface name")]),
//      .optional([.keyword("json", help: "JSON output")])]

/// One element of a command's syntax.
public indirect enum CommandElement: Sendable {
    /// A fixed word, matched by any unique abbreviation.
    case keyword(String, help: String)
    /// A typed value, found in `Arguments` under `name`.
    case argument(String, ArgumentKind, help: String)
    /// Elements that may be left out together.
    case optional([CommandElement])
    /// Exactly one of several alternatives.
    case choice([[CommandElement]])

    /// The `no` keyword that starts the negated form of a config command.
    public static let no = CommandElement.keyword("no", help: "Negate a command or set its defaults")

    /// Every linear path this element list stands for, in declaration order.
    static func expand(_ elements: [CommandElement]) -> [[PathStep]] {
        var paths: [[PathStep]] = [[]]
        for element in elements {
            switch element {
            case .keyword(let word, let help):
                paths = paths.map { $0 + [PathStep(token: .keyword(word), help: help)] }
            case .argument(let name, let kind, let help):
                paths = paths.map { $0 + [PathStep(token: .argument(name, kind), help: help)] }
            case .optional(let inner):
                let tails = expand(inner)
                paths = paths.flatMap { p in [p] + tails.map { p + $0 } }
            case .choice(let alternatives):
                let tails = alternatives.flatMap { expand($0) }
                paths = paths.flatMap { p in tails.map { p + $0 } }
            }
        }
        return paths
    }
}

/// What one node of the tree matches.
enum NodeToken: Hashable, Sendable {
    case keyword(String)
    case argument(String, ArgumentKind)
}

/// One step of an expanded path.
struct PathStep: Sendable {
    var token: NodeToken
    var help: String
}
