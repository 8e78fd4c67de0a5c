import Testing
@testable import Commands

// `dataplane io-backend afxdp|tpacket|raw`: parsed, rendered only when not the
// default (afxdp), `no` restores the default, anything else is rejected with its place.

@Test func ioBackendParsesRendersAndResets() throws {
    #expect(DataplaneSettings().ioBackend == .afxdp)
    #expect(RunningConfig().dataplane.ioBackend == .afxdp)
    let raw = try ConfigParser.parse(text: "dataplane io-backend raw\n")
    #expect(raw.dataplane.ioBackend == .raw)
    #expect(raw.render().contains("dataplane io-backend raw\n"))
    #expect(try ConfigParser.parse(text: raw.render()) == raw)
    // Pinned to tpacket: shown, and it survives the round trip.
    let tpacket = try ConfigParser.parse(text: "dataplane io-backend tpacket\n")
    #expect(tpacket.dataplane.ioBackend == .tpacket)
    #expect(tpacket.render().contains("dataplane io-backend tpacket\n"))
    #expect(try ConfigParser.parse(text: tpacket.render()) == tpacket)
    let reset = try ConfigParser.parse(text: "dataplane io-backend raw\nno dataplane io-backend\n")
    #expect(reset.dataplane.ioBackend == .afxdp)
    #expect(!reset.render().contains("io-backend"))
    let abbreviated = try ConfigParser.parse(text: "data io raw\n")
    #expect(abbreviated.dataplane.ioBackend == .raw)
}

@Test func qdiscBypassIsOffByDefaultAndRoundTrips() throws {
    #expect(!DataplaneSettings().qdiscBypass)
    let on = try ConfigParser.parse(text: "dataplane qdisc-bypass\n")
    #expect(on.dataplane.qdiscBypass)
    #expect(on.render().contains("dataplane qdisc-bypass\n"))
    #expect(try ConfigParser.parse(text: on.render()) == on)
    #expect(!(try ConfigParser.parse(text: "dataplane qdisc-bypass\nno dataplane qdisc-bypass\n").dataplane.qdiscBypass))
}

@Test func unknownIOBackendIsRejectedWithItsLine() {
    expectConfigError("hostname a\ndataplane io-backend dpdk\n", line: 2, column: 22, "Invalid input detected")
}

@Test func afxdpBackendParsesAndRoundTrips() throws {
    let x = try ConfigParser.parse(text: "dataplane io-backend afxdp\n")
    #expect(x.dataplane.ioBackend == .afxdp)
    // The default: the running config omits the word.
    #expect(!x.render().contains("io-backend"))
    #expect(try ConfigParser.parse(text: x.render()) == x)
    #expect(try ConfigParser.parse(text: "data io af\n").dataplane.ioBackend == .afxdp)
    expectConfigError("dataplane io-backend afxdp extra\n", line: 1, column: 28, "Invalid input detected")
}
