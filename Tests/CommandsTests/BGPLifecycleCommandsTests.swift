import Testing
@testable import Commands

// `bgp graceful-shutdown drain-time` and `bgp update-delay`: model, running-config, `no` forms, range.

@Test func gracefulShutdownAndUpdateDelayParseRenderAndRoundTrip() throws {
    let text = """
        router bgp 65000
         bgp update-delay 30
         bgp graceful-shutdown drain-time 10
         neighbor 169.254.6.2 remote-as 64512
        !

        """
    let c = try ConfigParser.parse(text: text)
    let b = try #require(c.bgp)
    #expect(b.updateDelay == 30 && b.gracefulShutdownDrainTime == 10)
    #expect(c.render().contains(" bgp update-delay 30\n bgp graceful-shutdown drain-time 10\n"))
    #expect(try ConfigParser.parse(text: c.render()) == c)
    var d = try ConfigParser.apply(text: "router bgp 65000\n no bgp update-delay\n no bgp graceful-shutdown", to: c)
    #expect(d.bgp?.updateDelay == nil && d.bgp?.gracefulShutdownDrainTime == nil)
    #expect(!d.render().contains("update-delay") && !d.render().contains("graceful-shutdown"))
    d = try ConfigParser.apply(text: "router bgp 65000\n bgp graceful-shutdown drain-time 5\n no bgp graceful-shutdown drain-time 5\n no bgp update-delay 30", to: c)
    #expect(d.bgp?.gracefulShutdownDrainTime == nil && d.bgp?.updateDelay == nil)
}

@Test(arguments: ["router bgp 65000\n bgp update-delay 0", "router bgp 65000\n bgp graceful-shutdown drain-time 3601",
                  "router bgp 65000\n bgp graceful-shutdown"])
func lifecycleValuesOutOfRangeAreRefused(text: String) {
    #expect(throws: (any Error).self) { try ConfigParser.parse(text: text) }
}
