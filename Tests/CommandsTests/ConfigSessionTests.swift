import Packet
import Testing
@testable import Commands

// `configure terminal` line by line: modes, immediate reference checks,
// refused lines leaving the session unchanged.

@Test func modesFollowInterfaceExitAndEnd() throws {
    var s = ConfigSession()
    #expect(s.mode == .config)
    #expect(try s.execute("interface tgw0") == .applied)
    #expect(s.mode == .configInterface)
    #expect(s.target == "tgw0")
    #expect(try s.execute("exit") == .applied)
    #expect(s.mode == .config)
    #expect(try s.execute("int tgw1") == .applied)
    #expect(try s.execute("end") == .leftConfiguration)
    #expect(s.mode == .config)
    #expect(try s.execute("exit") == .leftConfiguration)
    #expect(Set(s.config.tunnels.keys) == ["tgw0", "tgw1"])
}

@Test func interactiveRouteToMissingInterfaceFailsAtOnce() throws {
    var s = ConfigSession()
    #expect {
        _ = try s.execute("ip route 10.0.0.0/8 tgw0")
    } throws: { error in
        guard let e = error as? CommandError else { return false }
        return e.kind == .rejected && e.column == 21 && e.message == "% interface tgw0 does not exist"
    }
    _ = try s.execute("interface tgw0")
    _ = try s.execute("ip route 10.0.0.0/8 tgw0")
    #expect(s.mode == .config)
    #expect {
        _ = try s.execute("no interface tgw0")
    } throws: { ($0 as? CommandError)?.message.contains("next hop of 1 static route") == true }
    _ = try s.execute("no ip route 10.0.0.0/8 tgw0")
    _ = try s.execute("no interface tgw0")
    #expect(s.config == RunningConfig())
}

@Test func refusedLineLeavesSessionUnchanged() throws {
    var s = ConfigSession()
    _ = try s.execute("interface tgw0")
    let before = s.config
    let frames = s.frames
    // Matches in config mode (leaving config-if) but the action refuses it.
    #expect(throws: CommandError.self) { _ = try s.execute("hostname -x") }
    #expect(s.config == before)
    #expect(s.frames == frames)
}

@Test func commentsAndBlankLinesAreIgnored() throws {
    var s = ConfigSession()
    #expect(try s.execute("") == .applied)
    #expect(try s.execute("   ! a comment") == .applied)
    #expect(s.config == RunningConfig())
}

@Test func noInterfaceThatDoesNotExist() {
    var s = ConfigSession()
    #expect(throws: CommandError(kind: .rejected, column: 14, message: "% interface tgw5 does not exist")) {
        _ = try s.execute("no interface tgw5")
    }
}

@Test func doRunsExecCommandsWithoutChangingTheConfig() throws {
    var s = ConfigSession()
    _ = try s.execute("interface tgw0")
    let before = s.config
    #expect(try s.execute(" do sh run") == .exec(.show(.runningConfig, json: false)))
    #expect(try s.execute("do show interfaces tgw0 json") == .exec(.show(.interfaces(name: "tgw0"), json: true)))
    #expect(s.config == before)
    #expect(s.mode == .configInterface)
    #expect(throws: CommandError(kind: .invalidInput, column: 9, message: "% Invalid input detected at '^' marker.")) {
        _ = try s.execute("do show bogus")
    }
}

@Test func doIsRefusedInConfigFiles() {
    expectConfigError("hostname a\n do show version", line: 2, column: 2, "exec commands")
}
