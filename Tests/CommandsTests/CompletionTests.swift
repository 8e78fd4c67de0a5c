import Testing
@testable import Commands

// What the shell's tab completion and `?` will show.

private let registry = CommandRegistry.standard

@Test func topLevelExecCompletions() throws {
    let words = try registry.completions(line: "", mode: .exec).map(\.word)
    #expect(words == ["capture", "clear", "configure", "copy", "end", "exit", "no", "show", "trace", "write"])
}

@Test func completionsAfterShow() throws {
    let entries = try registry.completions(line: "show ", mode: .exec)
    #expect(entries.map(\.word) == ["bgp", "capture", "dataplane", "interfaces", "ip", "ipv6", "logging", "running-config", "track", "version"])
    #expect(entries.first { $0.word == "ip" }?.help == "IP information")
    #expect(entries.allSatisfy { $0.kind == .keyword })
}

@Test func partialWordCompletesToMatchingKeywords() throws {
    #expect(try registry.completions(line: "show i", mode: .exec).map(\.word) == ["interfaces", "ip", "ipv6"])
    #expect(try registry.completions(line: "sh ip", mode: .exec).map(\.word) == ["ip", "ipv6"])
    #expect(try registry.completions(line: "show x", mode: .exec).isEmpty)
}

@Test func completionsIncludePlaceholdersAndEnd() throws {
    let entries = try registry.completions(line: "show interfaces ", mode: .exec)
    #expect(entries.map(\.word) == ["json", "IFNAME", "<cr>"])
    #expect(entries.map(\.kind) == [.keyword, .argument, .end])
}

@Test func routeCompletionsShowEveryWayToGoOn() throws {
    let afterRoute = try registry.completions(line: "ip route ", mode: .config).map(\.word)
    #expect(afterRoute == ["A.B.C.D/M", "A.B.C.D"])
    let afterPrefix = try registry.completions(line: "ip route 10.0.0.0/8 ", mode: .config).map(\.word)
    #expect(afterPrefix == ["blackhole", "A.B.C.D", "IFNAME"])
    let done = try registry.completions(line: "ip route 10.0.0.0/8 blackhole ", mode: .config).map(\.word)
    #expect(done == ["<cr>"])
}

@Test func partialTypedArgumentKeepsPlausiblePlaceholders() throws {
    let entries = try registry.completions(line: "ip route 10.0", mode: .config).map(\.word)
    #expect(entries == ["A.B.C.D/M", "A.B.C.D"])
    #expect(try registry.completions(line: "ip route fd", mode: .config).isEmpty)
}

@Test func interfaceModeCompletions() throws {
    let words = try registry.completions(line: "", mode: .configInterface).map(\.word)
    #expect(words == ["description", "do", "end", "exit", "ip", "ipv6", "no", "shutdown", "tunnel"])
    let tunnel = try registry.completions(line: "tunnel ", mode: .configInterface).map(\.word)
    #expect(tunnel == ["connect-peer", "destination", "key", "mtu", "source"])
    #expect(try registry.completions(line: "tunnel mtu ", mode: .configInterface).map(\.word) == ["<576-9216>"])
    #expect(try registry.completions(line: "no tunnel mtu ", mode: .configInterface).map(\.word) == ["<576-9216>", "<cr>"])
    #expect(try registry.completions(line: "description some te", mode: .configInterface).map(\.word) == ["<cr>"])
}

@Test func completionThrowsForAnEarlierBadWord() {
    #expect(throws: CommandError.self) { try registry.completions(line: "show bogus ", mode: .exec) }
}

@Test func helpAlignsHelpTexts() {
    let text = registry.help(line: "show ip", mode: .exec)
    #expect(text == "  ip    IP information\n  ipv6  IPv6 information")
    #expect(registry.help(line: "show ip route ", mode: .exec)
        == "  json     JavaScript Object Notation output\n  summary  Summary of all routes\n  <cr>")
    #expect(registry.help(line: "zz", mode: .exec) == "% Unrecognized command")
    #expect(registry.help(line: "show zz ", mode: .exec).hasSuffix("% Invalid input detected at '^' marker."))
}

@Test func doContinuesInTheExecTree() throws {
    let entries = try registry.completions(line: "do sh", mode: .configInterface).map(\.word)
    #expect(entries == ["show"])
    let afterShow = try registry.completions(line: "do show ip ", mode: .config).map(\.word)
    #expect(afterShow == ["bgp", "route", "wccp"])
}
