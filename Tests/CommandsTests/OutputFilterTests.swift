import Testing
@testable import Commands

// `| include/exclude/begin/count` after exec commands.

private let text = "hostname egress-a\n!\ninterface tgw0\n ip address 169.254.6.1/29\n!\ninterface tgw1\n shutdown\n!\n"

@Test func lineWithoutBarHasNoFilter() throws {
    let (command, filter) = try OutputFilter.split("show running-config")
    #expect(command == "show running-config")
    #expect(filter == nil)
}

@Test(arguments: [
    ("show run | include ^interface", OutputFilter(kind: .include, pattern: "^interface")),
    ("show run|in tgw", OutputFilter(kind: .include, pattern: "tgw")),
    ("show run | e shut", OutputFilter(kind: .exclude, pattern: "shut")),
    ("show run | b tgw1", OutputFilter(kind: .begin, pattern: "tgw1")),
    ("show run | count", OutputFilter(kind: .count, pattern: nil)),
    ("show run | c ^ ", OutputFilter(kind: .count, pattern: "^")),
    ("show run | include tgw0|tgw1", OutputFilter(kind: .include, pattern: "tgw0|tgw1")),
])
func filtersParse(line: String, expected: OutputFilter) throws {
    let (command, filter) = try OutputFilter.split(line)
    #expect(command == line.split(separator: "|")[0].trimmingCharacters())
    #expect(filter == expected)
}

extension Substring {
    fileprivate func trimmingCharacters() -> String { String(self).trimmedBlanks() }
}

@Test func badFiltersPointAtTheWord() {
    func error(_ line: String) -> CommandError? {
        do { _ = try OutputFilter.split(line); return nil } catch { return error }
    }
    #expect(error("show run | grep x")?.column == 12)
    #expect(error("show run | grep x")?.kind == .invalidInput)
    #expect(error("show run | include")?.kind == .incomplete)
    #expect(error("show run | ")?.kind == .incomplete)
    #expect(error("| include x")?.column == 1)
    let badRegex = error("show run | include (unclosed")
    #expect(badRegex?.kind == .rejected)
    #expect(badRegex?.column == 20)
    #expect(badRegex?.message.hasPrefix("% Invalid regular expression '(unclosed'") == true)
}

@Test func includeExcludeBeginCount() {
    #expect(OutputFilter(kind: .include, pattern: "^interface").apply(to: text) == "interface tgw0\ninterface tgw1\n")
    #expect(OutputFilter(kind: .exclude, pattern: "^!|^ ").apply(to: text) == "hostname egress-a\ninterface tgw0\ninterface tgw1\n")
    #expect(OutputFilter(kind: .begin, pattern: "tgw1").apply(to: text) == "interface tgw1\n shutdown\n!\n")
    #expect(OutputFilter(kind: .count, pattern: nil).apply(to: text) == "Number of lines: 8\n")
    #expect(OutputFilter(kind: .count, pattern: "tgw").apply(to: text) == "Number of lines: 2\n")
    #expect(OutputFilter(kind: .include, pattern: "nothing").apply(to: text) == "")
    #expect(OutputFilter(kind: .begin, pattern: "nothing").apply(to: text) == "")
}

@Test func filterKeywordsComplete() {
    #expect(OutputFilter.completions(partial: "").map(\.word) == ["include", "exclude", "begin", "count"])
    #expect(OutputFilter.completions(partial: "IN").map(\.word) == ["include"])
}
