import Packet
import Testing
@testable import Commands

// Loading config text: the example from the brief, line/column errors,
// `no` forms and semantic checks.

let exampleConfig = """
hostname egress-a
!
interface tgw0
 description Connect peer 1
 tunnel connect-peer tgw-1 source 10.0.1.10 destination 10.0.0.1
 tunnel mtu 8500
 ip address 169.254.6.1/29
 ipv6 address fd00::1/125
!
ip route 10.1.0.0/16 tgw0
ip route 0.0.0.0/0 10.0.2.1
dataplane workers 2
"""

/// Expects `text` to fail at `line`:`column` with a message containing `fragment`.
func expectConfigError(_ text: String, line: Int, column: Int, _ fragment: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let config = try ConfigParser.parse(text: text, fileName: "test.conf")
        Issue.record("accepted: \(config)", sourceLocation: sourceLocation)
    } catch {
        #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
        #expect(error.column == column, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(fragment), "\(error)", sourceLocation: sourceLocation)
        #expect(error.fileName == "test.conf", sourceLocation: sourceLocation)
    }
}

@Test func parsesTheExampleConfig() throws {
    let config = try ConfigParser.parse(text: exampleConfig, fileName: "egressd.conf")
    #expect(config.hostname == "egress-a")
    #expect(config.dataplane == DataplaneSettings(workers: 2, batchSize: 64))
    let tgw0 = TunnelInterface(name: "tgw0", description: "Connect peer 1", connectPeer: "tgw-1",
                               source: IPv4Address("10.0.1.10"), destination: IPv4Address("10.0.0.1"),
                               mtu: 8500, ipv4: IPv4InterfaceAddress("169.254.6.1/29"),
                               ipv6: IPv6InterfaceAddress("fd00::1/125"))
    #expect(config.tunnels == ["tgw0": tgw0])
    #expect(tgw0.innerMTU == 8476)
    #expect(config.staticRoutes == [
        StaticRoute(prefix: IPPrefix("10.1.0.0/16")!, nextHop: .interface("tgw0")),
        StaticRoute(prefix: IPPrefix("0.0.0.0/0")!, nextHop: .address(.v4(IPv4Address(10, 0, 2, 1)))),
    ])
}

@Test func rendersTheExampleCanonically() throws {
    let config = try ConfigParser.parse(text: exampleConfig)
    #expect(config.render() == """
    hostname egress-a
    !
    interface tgw0
     description Connect peer 1
     tunnel connect-peer tgw-1 source 10.0.1.10 destination 10.0.0.1
     ip address 169.254.6.1/29
     ipv6 address fd00::1/125
    !
    ip route 0.0.0.0/0 10.0.2.1
    ip route 10.1.0.0/16 tgw0
    !
    dataplane workers 2
    !

    """)
    #expect(RunningConfig().render() == "")
}

@Test func iosMaskFormsArePrintedInCIDR() throws {
    let config = try ConfigParser.parse(text: """
    interface tgw0
     ip address 169.254.6.1 255.255.255.248
    ip route 10.1.0.0 255.255.0.0 tgw0
    ip route 10.2.0.0 255.255.0.0 blackhole
    """)
    #expect(config.tunnels["tgw0"]?.ipv4 == IPv4InterfaceAddress("169.254.6.1/29"))
    #expect(config.render().contains("ip route 10.1.0.0/16 tgw0\nip route 10.2.0.0/16 blackhole\n"))
    expectConfigError("ip route 10.1.0.0 255.0.255.0 blackhole", line: 1, column: 19, "not a contiguous subnet mask")
}

@Test func ecmpRoutesAndNoRemovesOne() throws {
    let config = try ConfigParser.parse(text: """
    interface tgw0
    interface tgw1
    ip route 10.1.0.0/16 tgw0
    ip route 10.1.0.0/16 tgw1
    ip route 10.1.0.0/16 tgw1
    ipv6 route fd01::/64 tgw0
    ipv6 route ::/0 fd00::2
    no ip route 10.1.0.0/16 tgw0
    """)
    #expect(config.staticRoutes == [
        StaticRoute(prefix: IPPrefix("10.1.0.0/16")!, nextHop: .interface("tgw1")),
        StaticRoute(prefix: IPPrefix("fd01::/64")!, nextHop: .interface("tgw0")),
        StaticRoute(prefix: IPPrefix("::/0")!, nextHop: .address(IPAddress("fd00::2")!)),
    ])
    expectConfigError("no ip route 10.1.0.0/16 blackhole", line: 1, column: 1, "no matching route to delete")
}

@Test func noFormsRestoreDefaults() throws {
    let config = try ConfigParser.parse(text: """
    hostname edge
    dataplane workers 8
    dataplane batch-size 256
    interface tgw0
     description x
     tunnel connect-peer p source 10.0.1.10 destination 10.0.0.1
     tunnel key 7
     tunnel mtu 1500
     ip address 169.254.6.1/29
     ipv6 address fd00::1/125
     shutdown
     no description
     no tunnel connect-peer
     no tunnel key 7
     no tunnel mtu
     no ip address 169.254.6.1/29
     no ipv6 address
     no shutdown
    interface tgw1
     tunnel source 10.0.1.10
     tunnel destination 10.0.0.9
     no tunnel source
     no tunnel destination 10.0.0.9
    no interface tgw1
    no hostname
    no dataplane workers
    no dataplane batch-size 256
    """)
    #expect(config == RunningConfig(tunnels: ["tgw0": TunnelInterface(name: "tgw0")]))
    #expect(config.render() == "interface tgw0\n!\n")
}

@Test func errorsCarryFileLineAndColumn() {
    expectConfigError("hostname a\ninterface tgw0\n tunnel mut 9000\n", line: 3, column: 9,
                      "Invalid input detected")
    expectConfigError("interface tgw0\n tunnel mtu 9217", line: 2, column: 13, "out of range 576-9216")
    expectConfigError("ip route 10.0.0.0/33 blackhole", line: 1, column: 10, "prefix length must be 0-32")
    expectConfigError("ip route 10.0.0.1/8 blackhole", line: 1, column: 10, "host bits set in the destination (did you mean 10.0.0.0/8?)")
    expectConfigError("ip route 10.0.0.0/8", line: 1, column: 20, "Incomplete command")
    expectConfigError("! comment\n\ndataplane workers 65", line: 3, column: 19, "out of range 1-64")
    expectConfigError("hostname -bad", line: 1, column: 10, "hostname '-bad'")
    expectConfigError("interface this-name-is-too-long", line: 1, column: 11, "must be 1-15 characters")
    expectConfigError("interface blackhole", line: 1, column: 11, "reserved")
    expectConfigError("interface BlackHole", line: 1, column: 11, "reserved")
    expectConfigError("interface 10.0.0.1", line: 1, column: 11, "looks like an address")
    expectConfigError("ip route 0.0.0.0/0 0.0.0.0", line: 1, column: 20, "unspecified address")
    expectConfigError("i tgw0", line: 1, column: 1, "Ambiguous command: \"i\" could be")
}

@Test func configErrorDescriptionPointsAtTheWord() {
    do {
        _ = try ConfigParser.parse(text: "interface tgw0\n tunnel mtu 70000", fileName: "egressd.conf")
        Issue.record("accepted")
    } catch {
        #expect(error.description == """
        egressd.conf:2:13: Invalid input detected at '^' marker. (70000 is out of range 576-9216)
         tunnel mtu 70000
                    ^
        """)
        #expect(error.text == " tunnel mtu 70000")
    }
}

@Test func subModeCommandsOutsideTheirModeAreExplained() {
    expectConfigError("ip address 169.254.6.1/29", line: 1, column: 1,
                      "only valid in interface configuration mode (enter it with 'interface NAME')")
    expectConfigError("shutdown", line: 1, column: 1, "only valid in interface configuration mode")
    // After a global command the interface block is over, indentation or not.
    expectConfigError("interface tgw0\nhostname x\n shutdown", line: 3, column: 2, "only valid in interface configuration mode")
}

@Test func unindentedSubModeLinesStillBelongToTheInterface() throws {
    let config = try ConfigParser.parse(text: "interface tgw0\nshutdown\ntunnel key 5\nexit\nhostname h\nend")
    #expect(config.tunnels["tgw0"]?.shutdown == true)
    #expect(config.tunnels["tgw0"]?.key == 5)
    #expect(config.hostname == "h")
}

@Test func routesToUnknownInterfacesAreRejectedAtTheRouteLine() {
    expectConfigError("interface tgw0\n!\nip route 10.1.0.0/16 tgw9\nip route 10.2.0.0/16 tgw0", line: 3, column: 22,
                      "Interface tgw9 does not exist")
    // Order does not matter in a file: the interface may come later.
    #expect((try? ConfigParser.parse(text: "ip route 10.1.0.0/16 tgw0\ninterface tgw0")) != nil)
    // Removing an interface a route still uses is reported at the removal.
    expectConfigError("interface tgw0\nip route 10.1.0.0/16 tgw0\nno interface tgw0", line: 3, column: 14,
                      "Interface tgw0 does not exist")
}

@Test func tunnelEndpointsMustBeIPv4() {
    expectConfigError("interface tgw0\n tunnel connect-peer p source fd00::1 destination 10.0.0.1", line: 2, column: 31,
                      "tunnel source must be an IPv4 address")
    expectConfigError("interface tgw0\n tunnel destination 2001:db8::1", line: 2, column: 21,
                      "tunnel destination must be an IPv4 address")
    expectConfigError("interface tgw0\n tunnel source 10.0.0.300", line: 2, column: 16, "Invalid input")
}

@Test func connectPeerOwnsItsEndpoints() {
    expectConfigError("interface tgw0\n tunnel connect-peer p source 10.0.1.10 destination 10.0.0.1\n no tunnel source",
                      line: 3, column: 2, "belongs to connect-peer p")
}

@Test func overlappingOrDuplicateAddressesAreRejected() {
    expectConfigError("interface tgw0\n ip address 169.254.6.1/29\ninterface tgw1\n ip address 169.254.6.1/29",
                      line: 4, column: 13, "overlaps 169.254.6.1/29 of interface tgw0")
    expectConfigError("interface tgw0\n ip address 169.254.6.1/29\ninterface tgw1\n ip address 169.254.6.2/30",
                      line: 4, column: 13, "overlaps")
    expectConfigError("interface tgw0\n ipv6 address fd00::1/125\ninterface tgw1\n ipv6 address fd00::2/125",
                      line: 4, column: 15, "overlaps fd00::1/125 of interface tgw0")
    expectConfigError("interface tgw0\n ip address 169.254.6.0/29", line: 2, column: 13, "network address")
    expectConfigError("interface tgw0\n ip address 169.254.6.7/29", line: 2, column: 13, "broadcast address")
    expectConfigError("interface tgw0\n ip address 169.254.6.1/0", line: 2, column: 13, "must be 1-32")
    // Re-addressing the same interface is not an overlap with itself.
    #expect((try? ConfigParser.parse(text: "interface tgw0\n ip address 169.254.6.1/29\n ip address 169.254.6.2/29")) != nil)
}

@Test func nothingIsAppliedWhenALineFails() throws {
    let base = try ConfigParser.parse(text: exampleConfig)
    #expect(throws: ConfigError.self) {
        try ConfigParser.apply(text: "hostname changed\ndataplane workers 999", to: base)
    }
    let changed = try ConfigParser.apply(text: "hostname changed\ninterface tgw0\n shutdown", to: base)
    #expect(changed.hostname == "changed")
    #expect(changed.tunnels["tgw0"]?.shutdown == true)
    #expect(changed.tunnels["tgw0"]?.ipv4 == base.tunnels["tgw0"]?.ipv4)
}

@Test func windowsLineEndingsAreAccepted() throws {
    let config = try ConfigParser.parse(text: "hostname a\r\ninterface tgw0\r\n description d\r\n")
    #expect(config.tunnels["tgw0"]?.description == "d")
}
