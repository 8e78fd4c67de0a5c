import Packet
import Testing
@testable import Commands

// Exec-mode lines parsed into the values the control server runs.

private let registry = CommandRegistry.standard

@Test(arguments: [
    ("show version", ExecCommand.show(.version, json: false)),
    ("show version json", .show(.version, json: true)),
    ("show running-config", .show(.runningConfig, json: false)),
    ("sh run", .show(.runningConfig, json: false)),
    ("show interfaces", .show(.interfaces(name: nil), json: false)),
    ("show interfaces tgw0", .show(.interfaces(name: "tgw0"), json: false)),
    ("show interfaces tgw0 json", .show(.interfaces(name: "tgw0"), json: true)),
    ("show interfaces json", .show(.interfaces(name: nil), json: true)),
    ("show ip route", .show(.ipRoute, json: false)),
    ("show ip route json", .show(.ipRoute, json: true)),
    ("show ipv6 route j", .show(.ipv6Route, json: true)),
    ("show dataplane", .show(.dataplane, json: false)),
    ("sh data json", .show(.dataplane, json: true)),
    ("configure terminal", .configureTerminal),
    ("conf t", .configureTerminal),
    ("exit", .exit),
    ("end", .end),
    ("show logging", .show(.logging, json: false)),
    ("sh log", .show(.logging, json: false)),
    ("write memory", .writeMemory),
    ("clear ip bgp *", .show(.bgp(.clear(nil, soft: false)), json: false)),
    ("clear ip bgp * soft", .show(.bgp(.clear(nil, soft: true)), json: false)),
    ("cl ip bgp 169.254.6.2", .show(.bgp(.clear(.v4(IPv4Address("169.254.6.2")!), soft: false)), json: false)),
    ("clear ip bgp fd00::2 soft", .show(.bgp(.clear(.v6(IPv6Address("fd00::2")!), soft: true)), json: false)),
    ("write", .writeMemory),
    ("wr mem", .writeMemory),
    ("copy running-config startup-config", .writeMemory),
    ("copy run start", .writeMemory),
])
func execLines(line: String, expected: ExecCommand) throws {
    #expect(try registry.parseExec(line) == expected)
}

@Test func configCommandsAreNotExecCommands() {
    #expect(throws: CommandError.self) { try registry.parseExec("hostname x") }
    #expect(throws: CommandError.self) { try registry.parseExec("show interfaces a/b") }
    #expect(throws: CommandError.self) { try registry.parseExec("configure") }
}

@Test func exitAndEndAreShortestUniquePrefixes() {
    // "e" is both exit and end.
    #expect {
        try registry.parseExec("e")
    } throws: { error in
        guard let e = error as? CommandError, case .ambiguous(let names) = e.kind else { return false }
        return names.sorted() == ["end", "exit"]
    }
}
