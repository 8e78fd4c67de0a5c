import Packet
import Testing
@testable import Commands

// The tree matcher: keywords, abbreviations, typed arguments and errors.

private let registry = CommandRegistry.standard

@Test func fullAndAbbreviatedKeywordsMatchTheSameCommand() throws {
    #expect(try registry.parseExec("show ip route") == .show(.ipRoute, json: false))
    #expect(try registry.parseExec("sh ip ro") == .show(.ipRoute, json: false))
    #expect(try registry.parseExec("SH IPV6 R") == .show(.ipv6Route, json: false))
    #expect(try registry.parseExec("  sh\tru  ") == .show(.runningConfig, json: false))
    #expect(try registry.match("conf t", mode: .exec).expanded == "configure terminal")
}

@Test func ambiguousAbbreviationListsTheCandidates() {
    // "i" is both "interfaces" and "ip"/"ipv6" after "show".
    #expect {
        try registry.parseExec("show i")
    } throws: { error in
        guard let e = error as? CommandError, case .ambiguous(let names) = e.kind else { return false }
        return names.sorted() == ["interfaces", "ip", "ipv6"] && e.column == 6
            && e.message.hasPrefix("% Ambiguous command: \"i\"")
    }
}

@Test func exactKeywordWinsOverLongerKeywordWithSamePrefix() throws {
    // "ip" is exact although "ipv6" starts with it.
    #expect(try registry.parseExec("show ip route json") == .show(.ipRoute, json: true))
}

@Test func invalidWordIsReportedAtItsColumnWithCaret() {
    do {
        _ = try registry.parseExec("show ip rx")
        Issue.record("expected an error")
    } catch {
        #expect(error.kind == .invalidInput)
        #expect(error.column == 9)
        #expect(error.message == "% Invalid input detected at '^' marker.")
        #expect(error.caretLine() == "        ^")
        #expect(error.rendered(line: "show ip rx", prompt: "egressd# ")
            == "egressd# show ip rx\n                 ^\n% Invalid input detected at '^' marker.")
    }
}

@Test func incompleteCommand() {
    #expect(throws: CommandError(kind: .incomplete, column: 8, message: "% Incomplete command.")) {
        try registry.parseExec("show ip")
    }
    #expect(throws: CommandError(kind: .incomplete, column: 1, message: "% Incomplete command.")) {
        try registry.parseExec("   ")
    }
}

@Test func wordsAfterACompleteCommandAreInvalid() {
    #expect {
        try registry.parseExec("show version extra")
    } throws: { ($0 as? CommandError)?.column == 14 }
}

@Test(arguments: [
    ("A.B.C.D", "10.0.0.1", true), ("A.B.C.D", "10.0.0.256", false), ("A.B.C.D", "10.0.1", false),
    ("A.B.C.D", "010.0.0.1", false), ("A.B.C.D/M", "10.0.0.0/8", true), ("A.B.C.D/M", "10.0.0.0/33", false),
    ("A.B.C.D/M", "10.0.0.0", false), ("A.B.C.D/M", "10.0.0.0/", false), ("X:X::X:X", "fd00::1", true),
    ("X:X::X:X", "fd00:::1", false), ("X:X::X:X", "1.2.3.4", false), ("X:X::X:X/M", "fd00::/64", true),
    ("X:X::X:X/M", "fd00::/129", false), ("<1-64>", "64", true), ("<1-64>", "65", false), ("<1-64>", "0", false),
    ("<1-64>", "-1", false), ("<1-64>", "99999999999999999999999", false), ("ASNUM", "65000", true),
    ("ASNUM", "4294967295", true), ("ASNUM", "4294967296", false), ("ASNUM", "1.10", true), ("ASNUM", "0", false),
    ("ASNUM", "65536.1", false), ("IFNAME", "tgw0", true), ("IFNAME", "a/b", false), ("IFNAME", "sixteen-chars-xx", false),
    ("IFNAME", "..", false), ("IFNAME", "eth0:1", false),
])
func typedArgumentsValidate(placeholder: String, text: String, valid: Bool) {
    let kinds: [String: ArgumentKind] = [
        "A.B.C.D": .ipv4Address, "A.B.C.D/M": .ipv4Prefix, "X:X::X:X": .ipv6Address, "X:X::X:X/M": .ipv6Prefix,
        "<1-64>": .range(1...64), "ASNUM": .asNumber, "IFNAME": .interfaceName,
    ]
    let kind = kinds[placeholder]!
    #expect(kind.placeholder == placeholder)
    let accepted = if case .success = kind.parse(text) { true } else { false }
    #expect(accepted == valid, "\(placeholder) \(text)")
}

@Test func asdotNumbersAreHighAndLowHalves() {
    #expect(ArgumentKind.asNumber.parse("1.10") == .success(.number(65546)))
}

@Test func badArgumentErrorNamesTheReason() {
    var session = ConfigSession()
    _ = try? session.execute("interface tgw0")
    #expect {
        _ = try session.execute(" tunnel mtu 100")
    } throws: { error in
        guard let e = error as? CommandError else { return false }
        return e.kind == .invalidInput && e.column == 13 && e.message.contains("100 is out of range 576-9216")
    }
    #expect {
        _ = try session.execute(" ip address 169.254.6.1/40")
    } throws: { error in
        guard let e = error as? CommandError else { return false }
        return e.column == 13 && e.message.contains("prefix length must be 0-32")
    }
}

@Test func typedArgumentBeatsGenericName() throws {
    // 10.0.2.1 is a valid Linux interface name too; the address reading wins.
    let config = try ConfigParser.parse(text: "ip route 0.0.0.0/0 10.0.2.1")
    #expect(config.staticRoutes == [StaticRoute(prefix: IPPrefix("0.0.0.0/0")!, nextHop: .address(IPAddress("10.0.2.1")!))])
}

@Test func exactKeywordBeatsNameButNameBeatsAbbreviation() throws {
    let text = """
    interface bl
    ip route 10.0.0.0/8 blackhole
    ip route 10.1.0.0/16 bl
    """
    let config = try ConfigParser.parse(text: text)
    #expect(config.staticRoutes == [
        StaticRoute(prefix: IPPrefix("10.0.0.0/8")!, nextHop: .blackhole),
        StaticRoute(prefix: IPPrefix("10.1.0.0/16")!, nextHop: .interface("bl")),
    ])
}

@Test func lineArgumentKeepsTheRestOfTheLine() throws {
    let config = try ConfigParser.parse(text: "interface tgw0\n description  Connect  peer 1 (us-east-1)   ")
    #expect(config.tunnels["tgw0"]?.description == "Connect  peer 1 (us-east-1)")
}

@Test func registryExpandsOptionalsAndChoices() {
    let paths = CommandElement.expand([
        .keyword("a", help: ""), .optional([.keyword("b", help: "")]),
        .choice([[.keyword("c", help: "")], [.keyword("d", help: ""), .keyword("e", help: "")]]),
    ])
    let words = paths.map { $0.map { step -> String in if case .keyword(let k) = step.token { k } else { "?" } }.joined(separator: " ") }
    #expect(words == ["a c", "a d e", "a b c", "a b d e"])
}

@Test func newFamiliesCanAddModesAndCommands() throws {
    // How a routing protocol plugs in (BGP does so in BGPCommands.swift): a mode, a config command entering it, a sub-mode command.
    let router = CommandMode(name: "config-router-ospf", title: "router configuration", enteredBy: "router ospf ASNUM", parent: .config)
    var r = CommandRegistry.standard
    r.addMode(router)
    r.config(.config, [.keyword("router", help: "Routing protocol"), .keyword("ospf", help: "OSPF"),
                       .argument("as", .asNumber, help: "AS number")]) { s, a throws(CommandFailure) in
        s.enter(router, target: String(try a.number("as")))
    }
    r.config(router, [.keyword("bgp", help: ""), .keyword("router-id", help: ""), .argument("id", .ipv4Address, help: "")]) { s, _ in
        #expect(s.target == "65000")
    }
    var session = ConfigSession(registry: r)
    _ = try session.execute("router ospf 65000")
    #expect(session.mode == router)
    _ = try session.execute(" bgp router-id 10.0.1.10")
    _ = try session.execute("interface tgw0")
    #expect(session.frames == [ModeFrame(mode: .config), ModeFrame(mode: .configInterface, target: "tgw0")])
}
