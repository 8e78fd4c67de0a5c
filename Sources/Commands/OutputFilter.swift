// Output filters after an exec command, as IOS and vtysh have them:
//   show running-config | include ^interface
//   show interfaces | exclude counters
//   show logging | begin tgw1
//   show interfaces | count
// One filter per line: the regular expression is the rest of the line, so it
// may itself contain '|' (alternation). The filter is split off before the
// command is matched and applied to the command's output afterwards.

/// A `| include/exclude/begin/count` stage after an exec command.
public struct OutputFilter: Equatable, Sendable {
    /// What the filter keeps.
    public enum Kind: String, CaseIterable, Sendable {
        /// Lines that match.
        case include
        /// Lines that do not match.
        case exclude
        /// Everything from the first line that matches.
        case begin
        /// Only the number of lines (that match, when a pattern is given).
        case count

        /// What `?` after `|` shows.
        public var help: String {
            switch self {
            case .include: "Include lines that match the regular expression"
            case .exclude: "Exclude lines that match the regular expression"
            case .begin: "Begin with the first line that matches the regular expression"
            case .count: "Count lines (that match the optional regular expression)"
            }
        }
    }

    public var kind: Kind
    /// The regular expression (Swift Regex syntax); nil only for `count`.
    public var pattern: String?

    public init(kind: Kind, pattern: String?) {
        self.kind = kind
        self.pattern = pattern
    }

    /// Splits `line` at its first '|' into the command and its filter (nil
    /// without '|'). A bad filter is a CommandError pointing at the word.
    public static func split(_ line: String) throws(CommandError) -> (command: String, filter: OutputFilter?) {
        guard let bar = line.firstIndex(of: "|") else { return (line, nil) }
        let command = String(line[..<bar]).trimmedBlanks()
        let barColumn = line.distance(from: line.startIndex, to: bar) + 1
        guard !command.isEmpty else {
            throw CommandError(kind: .invalidInput, column: barColumn, message: "% Invalid input detected at '^' marker.")
        }
        let afterBar = line[line.index(after: bar)...]
        let keywordStart = afterBar.firstIndex { $0 != " " && $0 != "\t" } ?? afterBar.endIndex
        let keywordEnd = afterBar[keywordStart...].firstIndex { $0 == " " || $0 == "\t" } ?? afterBar.endIndex
        let keyword = afterBar[keywordStart..<keywordEnd].lowercased()
        let keywordColumn = line.distance(from: line.startIndex, to: keywordStart) + 1
        guard !keyword.isEmpty else {
            throw CommandError(kind: .incomplete, column: keywordColumn,
                               message: "% Incomplete command: use | include, exclude, begin or count.")
        }
        let candidates = Kind.allCases.filter { $0.rawValue.hasPrefix(keyword) }
        guard candidates.count == 1, let kind = candidates.first else {
            let message = candidates.isEmpty
                ? "% Invalid input detected at '^' marker. (filters: include, exclude, begin, count)"
                : "% Ambiguous command: \"\(keyword)\" could be \(candidates.map(\.rawValue).joined(separator: ", "))"
            throw CommandError(kind: candidates.isEmpty ? .invalidInput : .ambiguous(candidates.map(\.rawValue)),
                               column: keywordColumn, message: message)
        }
        let rest = String(afterBar[keywordEnd...]).trimmedBlanks()
        let patternColumn = line.count - String(afterBar[keywordEnd...]).drop { $0 == " " || $0 == "\t" }.count + 1
        if rest.isEmpty {
            guard kind == .count else {
                throw CommandError(kind: .incomplete, column: line.count + 1,
                                   message: "% Incomplete command: | \(kind.rawValue) needs a regular expression.")
            }
            return (command, OutputFilter(kind: kind, pattern: nil))
        }
        do {
            _ = try Regex(rest)
        } catch {
            throw CommandError(kind: .rejected, column: patternColumn,
                               message: "% Invalid regular expression '\(rest)': \(error)")
        }
        return (command, OutputFilter(kind: kind, pattern: rest))
    }

    /// The filtered text: whole lines, each ending in a newline.
    public func apply(to text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        // The pattern was checked by split(); one that no longer compiles matches nothing.
        let regex = pattern.flatMap { try? Regex($0) }
        func matches(_ line: String) -> Bool {
            guard let regex else { return pattern == nil }
            return (try? regex.firstMatch(in: line)) != nil
        }
        let kept: [String]
        switch kind {
        case .include:
            kept = lines.filter(matches)
        case .exclude:
            kept = lines.filter { !matches($0) }
        case .begin:
            kept = Array(lines.drop { !matches($0) })
        case .count:
            return "Number of lines: \(lines.filter(matches).count)\n"
        }
        return kept.map { $0 + "\n" }.joined()
    }

    /// The filter keywords that `partial` can start, for completion after '|'.
    public static func completions(partial: String) -> [Completion] {
        Kind.allCases.filter { $0.rawValue.hasPrefix(partial.lowercased()) }
            .map { Completion(word: $0.rawValue, help: $0.help, kind: .keyword) }
    }
}

extension String {
    /// The text without leading and trailing spaces and tabs.
    func trimmedBlanks() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}
