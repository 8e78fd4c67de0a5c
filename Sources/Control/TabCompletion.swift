// What TAB does to the line being typed, given the words the daemon says may
// come next (SOH complete): the client-side half of completion, kept here so
// it is tested without a terminal.

/// The effect of TAB on the line.
public enum TabAction: Equatable, Sendable {
    /// Append this text at the cursor (the rest of a word, maybe a blank).
    case insert(String)
    /// Several words fit and none is longer in common: show them.
    case list([String])
    /// Nothing to insert (a value must be typed): show the `?` help instead.
    case help
}

public enum TabCompletion {
    /// TAB after `line` (the text before the cursor) with these candidate words.
    /// One candidate completes its word and adds a blank; several complete
    /// their common beginning, or are listed when that adds nothing.
    public static func action(line: String, candidates: [String]) -> TabAction {
        let partial: Substring
        if let last = line.last, last != " ", last != "\t" {
            let start = line.lastIndex { $0 == " " || $0 == "\t" }.map(line.index(after:)) ?? line.startIndex
            partial = line[start...]
        } else {
            partial = ""
        }
        // Keywords are matched without regard to case; values as they are.
        let fitting = candidates.filter { $0.lowercased().hasPrefix(partial.lowercased()) }
        guard let first = fitting.first else { return .help }
        if fitting.count == 1 { return .insert(String(first.dropFirst(partial.count)) + " ") }
        var common = Substring(first)
        for word in fitting.dropFirst() {
            common = common.prefix(zip(common, word).prefix { $0 == $1 }.count)
        }
        if common.count > partial.count { return .insert(String(common.dropFirst(partial.count))) }
        return .list(fitting)
    }
}
