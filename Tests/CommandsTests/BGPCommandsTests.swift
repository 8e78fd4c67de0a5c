import Packet
import Testing
@testable import Commands

// `router bgp` and `ip prefix-list`: the model each line builds, the
// running-config text, parse(render(c)) == c, `no` forms and refusals.

private let appliance = """
router bgp 65000
 bgp router-id 10.0.1.10
 no bgp ebgp-requires-policy
 neighbor 169.254.6.2 remote-as 64512
 neighbor 169.254.6.2 ebgp-multihop 2
 neighbor 169.254.6.3 remote-as 64512
 neighbor 169.254.6.3 ebgp-multihop 2
 neighbor 169.254.6.3 timers 5 15
 neighbor 169.254.6.3 update-source 169.254.6.1
 neighbor 169.254.6.3 as-path-prepend 2
 neighbor fd00::2 remote-as 64512
 neighbor fd00::2 shutdown
 !
 address-family ipv4 unicast
  network 192.0.2.0/24
  neighbor 169.254.6.2 default-originate
  neighbor 169.254.6.2 prefix-list SPOKES in
  neighbor 169.254.6.2 maximum-prefix 100 90 warning-only
  neighbor 169.254.6.3 default-originate
  neighbor 169.254.6.3 maximum-prefix 1000
  no neighbor fd00::2 activate
  maximum-paths 4
 exit-address-family
 !
 address-family ipv6 unicast
  network 2001:db8::/32
  neighbor fd00::2 activate
  neighbor fd00::2 prefix-list V6 out
 exit-address-family
!
ip prefix-list SPOKES seq 5 permit 10.0.0.0/8 le 24
ip prefix-list SPOKES seq 10 deny 0.0.0.0/0 ge 1
!
ipv6 prefix-list V6 seq 5 permit ::/0
!

"""

@Test func applianceBGPConfigParsesIntoTheModel() throws {
    let c = try ConfigParser.parse(text: appliance)
    let b = try #require(c.bgp)
    #expect(b.asNumber == 65000)
    #expect(b.routerID == IPv4Address(10, 0, 1, 10) && !b.ebgpRequiresPolicy)
    #expect(b.neighbors.count == 3)
    let n2 = try #require(b.neighbors[.v4(IPv4Address(169, 254, 6, 2))])
    #expect(n2.remoteAS == 64512 && n2.ebgpMultihop == 2 && n2.keepalive == nil)
    #expect(n2.ipv4.activate && n2.ipv4.defaultOriginate && n2.ipv4.prefixListIn == "SPOKES")
    #expect(n2.ipv4.maximumPrefix == BGPMaximumPrefixConfig(limit: 100, threshold: 90, warningOnly: true))
    let n3 = try #require(b.neighbors[.v4(IPv4Address(169, 254, 6, 3))])
    #expect(n3.keepalive == 5 && n3.holdTime == 15 && n3.asPathPrepend == 2)
    #expect(n3.updateSource == .v4(IPv4Address(169, 254, 6, 1)))
    let v6 = try #require(b.neighbors[.v6(IPv6Address("fd00::2")!)])
    #expect(v6.shutdown && !v6.ipv4.activate && v6.ipv6.activate && v6.ipv6.prefixListOut == "V6")
    #expect(b.ipv4.maximumPaths == 4 && b.ipv4.networks == [IPPrefix("192.0.2.0/24")!])
    #expect(b.ipv6.networks == [IPPrefix("2001:db8::/32")!])
    let spokes = try #require(c.ipPrefixLists["SPOKES"])
    #expect(spokes.ordered.map(\.seq) == [5, 10])
    #expect(spokes.entries[5] == PrefixListLine(permit: true, prefix: IPPrefix("10.0.0.0/8")!, le: 24))
    #expect(spokes.entries[10] == PrefixListLine(permit: false, prefix: IPPrefix("0.0.0.0/0")!, ge: 1))
    #expect(c.ipv6PrefixLists["V6"]?.entries[5]?.permit == true)
}

@Test func applianceBGPConfigRendersCanonicallyAndRoundTrips() throws {
    let c = try ConfigParser.parse(text: appliance)
    #expect(c.render() == appliance)
    #expect(try ConfigParser.parse(text: c.render()) == c)
}

@Test func modesAndPromptsOfRouterBGP() throws {
    var s = ConfigSession()
    _ = try s.execute("router bgp 65000")
    #expect(s.mode == .configRouter && s.mode.name == "config-router")
    _ = try s.execute("address-family ipv6 unicast")
    #expect(s.mode == .configRouterAF && s.target == "ipv6")
    _ = try s.execute("exit-address-family")
    #expect(s.mode == .configRouter)
    _ = try s.execute("address-family ipv4")
    // A router-level line typed in the af mode applies there and leaves the af mode (FRR).
    _ = try s.execute("neighbor 10.0.0.1 remote-as 1.10")
    #expect(s.mode == .configRouter)
    #expect(s.config.bgp?.neighbors[.v4(IPv4Address(10, 0, 0, 1))]?.remoteAS == 65546)
    // A global line leaves router mode.
    _ = try s.execute("ip prefix-list L permit 10.0.0.0/8")
    #expect(s.mode == .config)
    _ = try s.execute("ip prefix-list L permit 10.1.0.0/16")
    #expect(s.config.ipPrefixLists["L"]?.ordered.map(\.seq) == [5, 10])
}

@Test func noFormsUndoEveryLine() throws {
    var c = try ConfigParser.parse(text: appliance)
    c = try ConfigParser.apply(text: """
        router bgp 65000
         no bgp router-id
         no neighbor 169.254.6.2 ebgp-multihop
         no neighbor 169.254.6.3 timers
         no neighbor 169.254.6.3 update-source
         no neighbor 169.254.6.3 as-path-prepend
         no neighbor fd00::2 shutdown
         address-family ipv4 unicast
          no network 192.0.2.0/24
          no neighbor 169.254.6.2 default-originate
          no neighbor 169.254.6.2 prefix-list SPOKES in
          no neighbor 169.254.6.2 maximum-prefix
          no neighbor 169.254.6.3 maximum-prefix 1000
          neighbor fd00::2 activate
          no maximum-paths
         exit-address-family
        no ip prefix-list SPOKES seq 10 deny 0.0.0.0/0 ge 1
        no ipv6 prefix-list V6
        """, to: c)
    let b = try #require(c.bgp)
    #expect(b.routerID == nil && b.ipv4 == BGPAddressFamilyConfig())
    let n2 = try #require(b.neighbors[.v4(IPv4Address(169, 254, 6, 2))])
    #expect(n2 == BGPNeighborConfig(address: n2.address, remoteAS: 64512))
    #expect(c.ipPrefixLists["SPOKES"]?.entries.count == 1)
    #expect(c.ipv6PrefixLists.isEmpty)
    c = try ConfigParser.apply(text: "router bgp 65000\n no neighbor 169.254.6.2\nno router bgp", to: c)
    #expect(c.bgp == nil)
}

@Test(arguments: [
    ("router bgp 65000\nrouter bgp 65001", "BGP is already running; AS is 65000"),
    ("router bgp 65000\n address-family ipv4\n  neighbor 10.0.0.1 activate", "Specify remote-as"),
    ("router bgp 65000\n neighbor 10.0.0.1 ebgp-multihop 2", "Specify remote-as"),
    ("router bgp 65000\n address-family ipv4\n  network 10.0.0.1/8", "host bits set"),
    ("router bgp 65000\n address-family ipv6\n  network 10.0.0.0/8", "an IPv4 prefix in address-family ipv6"),
    ("router bgp 65000\n neighbor 10.0.0.1 remote-as 1\n neighbor 10.0.0.1 timers 10 2", "hold time must be 0 or 3-65535"),
    ("router bgp 65000\n bgp router-id 0.0.0.0", "not a router identifier"),
    ("ip prefix-list L permit 10.0.0.0/8 ge 8", "ge must be greater"),
    ("ip prefix-list L permit 10.0.0.0/8 ge 20 le 16", "le must be greater"),
    ("no ip prefix-list L", "does not exist"),
    ("network 10.0.0.0/8", "address-family"),
])
func refusedLines(text: String, message: String) throws {
    #expect {
        _ = try ConfigParser.parse(text: text)
    } throws: { error in
        "\(error)".contains(message)
    }
}

/// Random BGP configurations: render, parse, render again.
@Test func randomBGPConfigsRoundTrip() throws {
    var rng = SplitMix64(seed: 0xB6B)
    for _ in 0..<300 {
        var c = RunningConfig()
        var b = BGPRouterConfig(asNumber: UInt32.random(in: 1...UInt32.max, using: &rng))
        if Bool.random(using: &rng) { b.routerID = IPv4Address(UInt32.random(in: 1...UInt32.max, using: &rng)) }
        b.ebgpRequiresPolicy = Bool.random(using: &rng)
        for _ in 0..<Int.random(in: 0...4, using: &rng) {
            let address: IPAddress = Bool.random(using: &rng)
                ? .v4(IPv4Address(UInt32.random(in: 1...UInt32.max, using: &rng)))
                : .v6(IPv6Address(high: 0xFD00 << 48, low: UInt64.random(in: 1...1000, using: &rng)))
            var n = BGPNeighborConfig(address: address, remoteAS: UInt32.random(in: 1...UInt32.max, using: &rng))
            if Bool.random(using: &rng) { n.ebgpMultihop = Int.random(in: 1...255, using: &rng) }
            if Bool.random(using: &rng) { n.timers = (UInt16.random(in: 0...100, using: &rng), UInt16.random(in: 3...300, using: &rng)) }
            if Bool.random(using: &rng) { n.updateSource = .v4(IPv4Address(UInt32.random(in: 1...UInt32.max, using: &rng))) }
            n.asPathPrepend = Int.random(in: 0...3, using: &rng)
            n.shutdown = Bool.random(using: &rng)
            for f in BGPFamily.allCases {
                n[f].activate = Bool.random(using: &rng)
                n[f].defaultOriginate = Bool.random(using: &rng)
                if Bool.random(using: &rng) { n[f].prefixListIn = "IN\(Int.random(in: 0...3, using: &rng))" }
                if Bool.random(using: &rng) { n[f].prefixListOut = "OUT" }
                if Bool.random(using: &rng) {
                    n[f].maximumPrefix = BGPMaximumPrefixConfig(limit: UInt32.random(in: 1...100_000, using: &rng),
                                                                threshold: Bool.random(using: &rng) ? Int.random(in: 1...100, using: &rng) : nil,
                                                                warningOnly: Bool.random(using: &rng))
                }
            }
            b.neighbors[address] = n
        }
        for _ in 0..<Int.random(in: 0...3, using: &rng) {
            b.ipv4.networks.insert(.v4(IPv4Prefix(IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng)), length: Int.random(in: 0...32, using: &rng))!))
            b.ipv6.networks.insert(.v6(IPv6Prefix(IPv6Address(high: UInt64.random(in: 0...UInt64.max, using: &rng), low: 0), length: Int.random(in: 0...64, using: &rng))!))
        }
        b.ipv4.maximumPaths = Int.random(in: 1...64, using: &rng)
        b.ipv6.maximumPaths = Int.random(in: 1...64, using: &rng)
        c.bgp = b
        var list = PrefixListConfig(name: "L\(Int.random(in: 0...9, using: &rng))")
        for _ in 0..<Int.random(in: 0...4, using: &rng) {
            let length = Int.random(in: 0...24, using: &rng)
            let prefix = IPv4Prefix(IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng)), length: length)!
            let ge: UInt8? = Bool.random(using: &rng) ? UInt8(length + 1) : nil
            let le: UInt8? = Bool.random(using: &rng) ? 32 : nil
            list.entries[UInt32.random(in: 1...1000, using: &rng)] = PrefixListLine(permit: Bool.random(using: &rng), prefix: .v4(prefix), ge: ge, le: le)
        }
        if !list.entries.isEmpty { c.ipPrefixLists[list.name] = list }

        let text = c.render()
        let parsed = try ConfigParser.parse(text: text, fileName: "generated")
        #expect(parsed == c, "\(text)")
        #expect(parsed.render() == text)
    }
}
