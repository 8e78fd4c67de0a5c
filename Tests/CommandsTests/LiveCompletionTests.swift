import Testing
@testable import Commands

// Completion of live values (tunnel names and the like) offered by the daemon.

private let registry = CommandRegistry.standard

/// Tunnel names for interface arguments; records which slots were asked.
private final class Source: @unchecked Sendable {
    var asked: [ArgumentSlot] = []
    let names: [String]
    init(_ names: [String]) { self.names = names }
    func values(_ slot: ArgumentSlot) -> [String] {
        asked.append(slot)
        return slot.kind == .interfaceName ? names : []
    }
}

@Test func liveValuesFollowKeywordsAndPrecedePlaceholders() throws {
    let source = Source(["tgw0", "tgw1", "bad/name"])
    let entries = try registry.completions(line: "show interfaces ", mode: .exec, liveValues: source.values)
    // "bad/name" is not a valid IFNAME and is not offered.
    #expect(entries.map(\.word) == ["json", "tgw0", "tgw1", "IFNAME", "<cr>"])
    #expect(entries.map(\.kind) == [.keyword, .value, .value, .argument, .end])
    #expect(entries[1].help == "Interface name")
    #expect(source.asked == [ArgumentSlot(name: "name", kind: .interfaceName, mode: .exec)])
}

@Test func liveValuesAreFilteredByThePartialWord() throws {
    let source = Source(["tgw0", "tgw1", "edge3"])
    let entries = try registry.completions(line: "show interfaces tg", mode: .exec, liveValues: source.values)
    #expect(entries.map(\.word) == ["tgw0", "tgw1", "IFNAME"])
    let one = try registry.completions(line: "show interfaces e", mode: .exec, liveValues: source.values)
    #expect(one.filter { $0.kind == .value }.map(\.word) == ["edge3"])
}

@Test func liveValuesInConfigModesAndRoutes() throws {
    let source = Source(["tgw0"])
    #expect(try registry.completions(line: "interface ", mode: .config, liveValues: source.values).map(\.word)
        == ["tgw0", "IFNAME"])
    let route = try registry.completions(line: "ip route 10.0.0.0/8 ", mode: .config, liveValues: source.values)
    #expect(route.map(\.word) == ["blackhole", "tgw0", "A.B.C.D", "IFNAME"])
    #expect(source.asked.contains(ArgumentSlot(name: "interface", kind: .interfaceName, mode: .config)))
}

@Test func helpListsLiveValuesWithTheArgumentsHelp() {
    let source = Source(["tgw0"])
    #expect(registry.help(line: "show interfaces ", mode: .exec, liveValues: source.values)
        == "  json    JavaScript Object Notation output\n  tgw0    Interface name\n  IFNAME  Interface name\n  <cr>")
}

@Test func withoutASourceNothingChanges() throws {
    #expect(try registry.completions(line: "show interfaces ", mode: .exec).map(\.word) == ["json", "IFNAME", "<cr>"])
}
