import Commands
import Packet
import Testing
@testable import Control

// A connection's session: modes and prompts, config lines applied at once
// through the backend, refused lines changing nothing, `do`, filters.

@Test func promptsFollowTheModes() throws {
    let shell = ShellSession(backend: try FakeBackend(oneTunnel), configFile: nil)
    #expect(shell.prompt == "egress-a#")
    #expect(shell.execute("conf t").status == .ok)
    #expect(shell.prompt == "egress-a(config)#")
    #expect(shell.execute("interface tgw0").status == .ok)
    #expect(shell.prompt == "egress-a(config-if)#")
    #expect(shell.execute("exit").status == .ok)
    #expect(shell.prompt == "egress-a(config)#")
    #expect(shell.execute("int tgw1").status == .ok)
    #expect(shell.execute("end").status == .ok)
    #expect(shell.mode == .exec)
    #expect(shell.handle("\u{1}prompt") == .ok("egress-a#"))
}

@Test func eachConfigLineIsAppliedWhenEntered() throws {
    let backend = try FakeBackend(oneTunnel)
    let shell = ShellSession(backend: backend, configFile: nil)
    _ = shell.execute("configure terminal")
    _ = shell.execute("interface tgw0")
    #expect(backend.applied.isEmpty)  // entering a mode of an existing tunnel changes nothing
    #expect(shell.execute(" ip address 169.254.7.1/29").status == .ok)
    #expect(backend.applied.count == 1)
    #expect(backend.applied[0].line == "ip address 169.254.7.1/29")
    #expect(backend.runningConfig.tunnels["tgw0"]?.ipv4 == IPv4InterfaceAddress("169.254.7.1/29"))
    // A global command typed in the sub-mode leaves it, as in a file.
    #expect(shell.execute("hostname egress-b").status == .ok)
    #expect(backend.runningConfig.hostname == "egress-b")
    #expect(shell.prompt == "egress-b(config)#")
    #expect(backend.applied.count == 2)
}

@Test func refusedLineChangesNothingAndPointsAtTheWord() throws {
    let backend = try FakeBackend(oneTunnel)
    let shell = ShellSession(backend: backend, configFile: nil)
    _ = shell.execute("conf t")
    _ = shell.execute("interface tgw0")
    let before = backend.runningConfig
    let response = shell.execute("ip address 169.254.6.1/40")
    #expect(response.status == .error)
    #expect(response.output == "ip address 169.254.6.1/40\n           ^\n"
        + "% Invalid input detected at '^' marker. (prefix length must be 0-32 in '169.254.6.1/40')\n")
    #expect(backend.runningConfig == before)
    #expect(backend.applied.isEmpty)
    #expect(shell.mode == .configInterface)
}

@Test func interactiveErrorsShowOnlyTheCaretUnderThePromptedLine() throws {
    let shell = ShellSession(backend: try FakeBackend(oneTunnel), configFile: nil)
    #expect(shell.handle("\u{1}interactive") == .ok(""))
    // "egress-a# show bogus": the caret sits under "bogus" (column 6 + prompt 9 + blank).
    let response = shell.execute("show bogus")
    #expect(response.status == .error)
    #expect(response.output == String(repeating: " ", count: 15) + "^\n% Invalid input detected at '^' marker.\n")
}

@Test func failedApplyKeepsTheSessionWhereItWas() throws {
    let backend = try FakeBackend(oneTunnel)
    let shell = ShellSession(backend: backend, configFile: nil)
    _ = shell.execute("conf t")
    backend.failNextApply = "TUN device busy"
    let response = shell.execute("interface tgw5")
    #expect(response.status == .error)
    #expect(response.output.contains("TUN device busy"))
    #expect(shell.mode == .config)  // the mode change of the refused line is not kept
    #expect(backend.runningConfig.tunnels["tgw5"] == nil)
}

@Test func configChangesFromElsewhereAreSeenByTheNextLine() throws {
    let backend = try FakeBackend(oneTunnel)
    let shell = ShellSession(backend: backend, configFile: nil)
    _ = shell.execute("conf t")
    // A SIGHUP reload (or another shell) removes tgw1 meanwhile.
    backend.runningConfig.tunnels["tgw1"] = nil
    #expect(shell.execute("hostname x1").status == .ok)
    #expect(backend.runningConfig.tunnels["tgw1"] == nil)
    #expect(backend.runningConfig.hostname == "x1")
}

@Test func doRunsExecCommandsWithFilters() throws {
    let backend = try FakeBackend(oneTunnel)
    let shell = ShellSession(backend: backend, configFile: nil)
    _ = shell.execute("conf t")
    _ = shell.execute("interface tgw0")
    let response = shell.execute("do show running-config | include ^interface")
    #expect(response == .ok("interface tgw0\ninterface tgw1\n"))
    #expect(shell.mode == .configInterface)
    #expect(backend.applied.isEmpty)
    // '|' in a config line is text, not a filter.
    #expect(shell.execute("description a | b").status == .ok)
    #expect(backend.runningConfig.tunnels["tgw0"]?.description == "a | b")
}

@Test func execFiltersAndErrors() throws {
    let shell = ShellSession(backend: try FakeBackend(oneTunnel), configFile: nil)
    #expect(shell.execute("sh run | count ^interface") == .ok("Number of lines: 2\n"))
    #expect(shell.execute("sh run | begin tgw1") == .ok("interface tgw1\n shutdown\n!\n"))
    let bad = shell.execute("show run | grep x")
    #expect(bad.status == .error)
    #expect(bad.output.hasPrefix("show run | grep x\n           ^\n"))
    // An error from the command is passed on unfiltered.
    #expect(shell.execute("show interfaces tgw9 | count") == .error("% No such interface: tgw9\n"))
}

@Test func exitEndsTheSessionOnlyInExecMode() throws {
    let shell = ShellSession(backend: try FakeBackend(), configFile: nil)
    _ = shell.execute("conf t")
    #expect(shell.execute("do exit") == .ok(""))
    #expect(shell.execute("exit") == .ok(""))  // leaves configuration
    #expect(shell.mode == .exec)
    #expect(shell.execute("exit").status == .closed)
}

@Test func blankLinesAndCommentsDoNothing() throws {
    let shell = ShellSession(backend: try FakeBackend(), configFile: nil)
    #expect(shell.execute("") == .ok(""))
    #expect(shell.execute("  ! note") == .ok(""))
}

@Test func completionOffersLiveTunnelNames() throws {
    let shell = ShellSession(backend: try FakeBackend(oneTunnel), configFile: nil)
    #expect(shell.handle("\u{1}complete show interfaces ") == .ok("json\ntgw0\ntgw1\n"))
    #expect(shell.handle("\u{1}complete show interfaces tgw1") == .ok("tgw1\n"))
    #expect(shell.handle("\u{1}complete sh") == .ok("show\n"))
    #expect(shell.handle("\u{1}complete show run | in") == .ok("include\n"))
    #expect(shell.handle("\u{1}complete show bogus ").status == .error)
}

@Test func completionInSubModesFallsBackToEnclosingModes() throws {
    let shell = ShellSession(backend: try FakeBackend(oneTunnel), configFile: nil)
    _ = shell.execute("conf t")
    _ = shell.execute("interface tgw0")
    #expect(shell.handle("\u{1}complete ip ") == .ok("address\n"))
    // `ip route` is a global command; typed in config-if it still completes.
    #expect(shell.handle("\u{1}complete ip ro") == .ok("route\n"))
    #expect(shell.handle("\u{1}complete do show int") == .ok("interfaces\n"))
}

@Test func helpListsNextWordsWithHelp() throws {
    let shell = ShellSession(backend: try FakeBackend(oneTunnel), configFile: nil)
    let help = shell.handle("\u{1}help show ")
    #expect(help.status == .ok)
    #expect(help.output.contains("  interfaces      Interface status and counters\n"))
    #expect(help.output.contains("  logging "))
    let bad = shell.handle("\u{1}help show bogus ")
    #expect(bad.status == .error)
    #expect(bad.output.hasSuffix("^\n% Invalid input detected at '^' marker.\n"))
}

@Test func writeMemoryWithoutAFileFails() throws {
    let shell = ShellSession(backend: try FakeBackend(), configFile: nil)
    let response = shell.execute("write memory")
    #expect(response.status == .error)
    #expect(response.output.contains("No configuration file"))
}
