// Matching a line against a mode's tree, and the shell's completion and help
// on the same walk. Each word picks the best-ranked child:
//   exact keyword > typed argument (address, prefix, number) >
//   generic argument (WORD, IFNAME, LINE) > abbreviated keyword.
// Generic arguments beat abbreviations so a name that happens to be a prefix
// of a keyword (an interface "bl" next to `blackhole`) still reads back as the
// name the config printed; several abbreviations of the best rank are an
// "Ambiguous command" error.

/// A word of a command line and where it starts.
struct LineWord: Sendable {
    var text: String
    /// 1-based column.
    var column: Int
}

/// A fully matched command line.
public struct MatchedCommand: Sendable {
    /// What the command does.
    public var action: CommandAction
    /// Its arguments and keywords.
    public var arguments: Arguments
    /// The line with keywords written out in full ("show ip route").
    public var expanded: String
}

/// An argument position of the tree, for which a `LiveValueSource` may
/// offer current values.
public struct ArgumentSlot: Hashable, Sendable {
    /// The argument's name in its command's declaration ("name", "interface").
    public var name: String
    public var kind: ArgumentKind
    /// The mode the line is read in (config-if, or config for `do show ...`).
    public var mode: CommandMode

    public init(name: String, kind: ArgumentKind, mode: CommandMode) {
        self.name = name
        self.kind = kind
        self.mode = mode
    }
}

/// Current values for an argument slot (the daemon's tunnel names for
/// `.interfaceName`, neighbor addresses, service numbers), for completion.
public typealias LiveValueSource = (ArgumentSlot) -> [String]

/// One possible next word, for tab completion and `?`.
public struct Completion: Equatable, Sendable {
    /// What the entry is.
    public enum Kind: Equatable, Sendable {
        /// A keyword: the shell may insert `word`.
        case keyword
        /// A typed argument: `word` is its placeholder ("A.B.C.D").
        case argument
        /// A live value of an argument (a tunnel name, a neighbor address)
        /// from a `LiveValueSource`: the shell may insert `word`.
        case value
        /// The command is complete here (`<cr>`).
        case end
    }

    /// The keyword, the argument's placeholder, or "<cr>".
    public var word: String
    /// The help text shown next to it by `?`.
    public var help: String
    public var kind: Kind
}

extension CommandRegistry {
    /// Splits a line into words at spaces and tabs, keeping 1-based columns.
    static func words(of line: String) -> [LineWord] {
        var result: [LineWord] = []
        var current = ""
        var start = 0
        for (i, c) in line.enumerated() {
            if c == " " || c == "\t" {
                if !current.isEmpty { result.append(LineWord(text: current, column: start + 1)) }
                current = ""
            } else {
                if current.isEmpty { start = i }
                current.append(c)
            }
        }
        if !current.isEmpty { result.append(LineWord(text: current, column: start + 1)) }
        return result
    }

    /// The raw rest of `line` from 1-based `column`, trailing blanks removed.
    static func rest(of line: String, from column: Int) -> String {
        var tail = Substring(line.dropFirst(column - 1))
        while let last = tail.last, last == " " || last == "\t" { tail = tail.dropLast() }
        return String(tail)
    }

    /// The child of `node` the word selects, or why none does.
    private func step(from node: Int, word: LineWord, line: String) throws(CommandError) -> (child: Int, value: ArgumentValue?, text: String) {
        let lowered = word.text.lowercased()
        var best: [(child: Int, value: ArgumentValue?, text: String)] = []
        var bestRank = 0
        var rejections: [String] = []
        for child in children(of: node) {
            guard let token = nodes[child].token else { continue }
            var rank = 0
            var value: ArgumentValue?
            var text = word.text
            switch token {
            case .keyword(let k):
                if k == lowered { rank = 4 } else if k.hasPrefix(lowered) { rank = 1 }
                text = k
            case .argument(_, let kind):
                if kind == .line { text = Self.rest(of: line, from: word.column) }
                switch kind.parse(text) {
                case .success(let v):
                    value = v
                    rank = kind.isGeneric ? 2 : 3
                case .failure(let why):
                    // Only kinds the word looks like explain the refusal.
                    if kind.couldStart(text) { rejections.append(why.reason) }
                }
            }
            if rank > bestRank {
                bestRank = rank
                best = [(child, value, text)]
            } else if rank == bestRank, rank > 0 {
                best.append((child, value, text))
            }
        }
        if best.isEmpty {
            var message = "% Invalid input detected at '^' marker."
            if rejections.count == 1 { message += " (\(rejections[0]))" }
            throw CommandError(kind: .invalidInput, column: word.column, message: message)
        }
        if best.count > 1 {
            let names = best.map { candidate -> String in
                switch nodes[candidate.child].token {
                case .keyword(let k): k
                case .argument(_, let kind): kind.placeholder
                case nil: ""
                }
            }
            throw CommandError(kind: .ambiguous(names), column: word.column,
                               message: "% Ambiguous command: \"\(word.text)\" could be \(names.joined(separator: ", "))")
        }
        return best[0]
    }

    /// Walks `words` from the root of `mode`; returns the node reached and
    /// what was collected on the way. Stops early after a LINE argument.
    private func walk(_ words: ArraySlice<LineWord>, line: String, mode: CommandMode)
        throws(CommandError) -> (node: Int, arguments: Arguments, expanded: [String])
    {
        guard let root = root(of: mode) else {
            throw CommandError(kind: .invalidInput, column: 1, message: "% Unknown mode \(mode.name)")
        }
        var node = root
        var arguments = Arguments()
        var expanded: [String] = []
        for word in words {
            let (child, value, text) = try step(from: node, word: word, line: line)
            node = child
            expanded.append(text)
            switch nodes[child].token {
            case .keyword(let k):
                arguments.keywords.insert(k)
            case .argument(let name, let kind):
                if let value { arguments.entries[name] = Arguments.Entry(value: value, text: text, column: word.column) }
                if kind == .line { return (node, arguments, expanded) }
            case nil:
                break
            }
        }
        return (node, arguments, expanded)
    }

    /// Matches a whole line in `mode`. Throws an IOS-style error pointing at
    /// the bad word, or "Incomplete command" when the line stops too early.
    public func match(_ line: String, mode: CommandMode) throws(CommandError) -> MatchedCommand {
        let words = Self.words(of: line)
        guard !words.isEmpty else {
            throw CommandError(kind: .incomplete, column: 1, message: "% Incomplete command.")
        }
        let (node, arguments, expanded) = try walk(words[...], line: line, mode: mode)
        guard let action = nodes[node].action else {
            throw CommandError(kind: .incomplete, column: line.count + 1, message: "% Incomplete command.")
        }
        return MatchedCommand(action: action, arguments: arguments, expanded: expanded.joined(separator: " "))
    }

    /// The possible next words after `line` in `mode`: all of them when the
    /// line is empty or ends in a blank, else those the last (half-typed) word
    /// can become. Keywords first (sorted), then argument placeholders, then
    /// `<cr>` when the command could end here.
    /// `liveValues` offers current values of arguments (tunnel names, ...);
    /// those the partial word starts and the argument's kind accepts are
    /// listed after the keywords, before the placeholders.
    public func completions(line: String, mode: CommandMode,
                            liveValues: LiveValueSource? = nil) throws(CommandError) -> [Completion] {
        let words = Self.words(of: line)
        let endsInBlank = line.isEmpty || line.last == " " || line.last == "\t"
        let partial: LineWord? = endsInBlank ? nil : words.last
        let complete = endsInBlank ? words[...] : words.dropLast()
        let (node, _, _) = try walk(complete, line: line, mode: mode)
        if case .argument(_, .line) = nodes[node].token {
            // Inside free text: only the end of the command is left.
            return [Completion(word: "<cr>", help: "", kind: .end)]
        }
        var keywords: [Completion] = []
        var values: [Completion] = []
        var arguments: [Completion] = []
        let prefix = partial?.text.lowercased() ?? ""
        for child in children(of: node) {
            switch nodes[child].token {
            case .keyword(let k) where k.hasPrefix(prefix):
                keywords.append(Completion(word: k, help: nodes[child].help, kind: .keyword))
            case .argument(let name, let kind):
                if let liveValues {
                    let slot = ArgumentSlot(name: name, kind: kind, mode: mode)
                    for value in liveValues(slot) where value.hasPrefix(partial?.text ?? "") {
                        guard case .success = kind.parse(value), !values.contains(where: { $0.word == value }) else { continue }
                        values.append(Completion(word: value, help: nodes[child].help, kind: .value))
                    }
                }
                if partial.map({ kind.couldStart($0.text) }) ?? true {
                    arguments.append(Completion(word: kind.placeholder, help: nodes[child].help, kind: .argument))
                }
            default:
                break
            }
        }
        var result = keywords.sorted { $0.word < $1.word } + values + arguments
        if partial == nil, nodes[node].action != nil { result.append(Completion(word: "<cr>", help: "", kind: .end)) }
        return result
    }

    /// What `?` prints after `line`: one row per completion, help aligned,
    /// or the error that stops the line earlier.
    public func help(line: String, mode: CommandMode, liveValues: LiveValueSource? = nil) -> String {
        let entries: [Completion]
        do {
            entries = try completions(line: line, mode: mode, liveValues: liveValues)
        } catch {
            return error.rendered(line: line)
        }
        return Self.helpText(entries)
    }

    /// The `?` listing of `entries`: one row each, help texts aligned.
    public static func helpText(_ entries: [Completion]) -> String {
        if entries.isEmpty { return "% Unrecognized command" }
        let width = entries.map(\.word.count).max() ?? 0
        return entries.map { e in
            e.help.isEmpty ? "  \(e.word)"
                : "  \(e.word)\(String(repeating: " ", count: width - e.word.count + 2))\(e.help)"
        }.joined(separator: "\n")
    }
}
