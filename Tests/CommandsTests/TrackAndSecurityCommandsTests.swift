import Packet
import Testing
@testable import Commands

// `ip sla` / `track` (health checks), BGP advertisements tied to a track,
// `neighbor A password`, `ttl-security hops`, `soft-reconfiguration inbound`.

private let text = """
ip sla 1
 icmp-echo 10.0.2.1 source-ip 10.0.2.10
 frequency 1
 timeout 500
!
ip sla 2
!
track 1 ip sla 1 reachability
 delay down 3 up 5
!
track 2 ip sla 2 reachability
!
router bgp 65000
 neighbor 169.254.6.2 remote-as 64512
 neighbor 169.254.6.2 password s3cr3t
 neighbor 169.254.6.2 ttl-security hops 1
 neighbor 169.254.6.3 remote-as 64512
 !
 address-family ipv4 unicast
  network 0.0.0.0/0 track 1
  network 192.0.2.0/24
  neighbor 169.254.6.2 soft-reconfiguration inbound
  neighbor 169.254.6.3 default-originate track 2
 exit-address-family
!

"""

@Test func tracksAndTheirUsersParseRenderAndRoundTrip() throws {
    let c = try ConfigParser.parse(text: text)
    #expect(c.slas[1]?.target == IPv4Address(10, 0, 2, 1) && c.slas[1]?.source == IPv4Address(10, 0, 2, 10))
    #expect(c.slas[1]?.frequency == 1 && c.slas[1]?.timeoutMilliseconds == 500)
    #expect(c.slas[2]?.target == nil && c.slas[2]?.frequency == SLAConfig.defaultFrequency)
    #expect(c.tracks[1] == { var t = TrackConfig(number: 1, sla: 1); t.downDelay = 3; t.upDelay = 5; return t }())
    #expect(c.tracks[2] == TrackConfig(number: 2, sla: 2))
    let b = try #require(c.bgp)
    #expect(b.ipv4.networkTracks == [IPPrefix("0.0.0.0/0")!: 1])
    #expect(b.ipv4.networks == [IPPrefix("0.0.0.0/0")!, IPPrefix("192.0.2.0/24")!])
    let n2 = try #require(b.neighbors[.v4(IPv4Address(169, 254, 6, 2))])
    #expect(n2.password == "s3cr3t" && n2.ttlSecurityHops == 1 && n2.ipv4.softReconfigurationInbound)
    let n3 = try #require(b.neighbors[.v4(IPv4Address(169, 254, 6, 3))])
    #expect(n3.ipv4.defaultOriginate && n3.ipv4.defaultOriginateTrack == 2)
    #expect(c.render() == text)
    #expect(try ConfigParser.parse(text: c.render()) == c)
}

@Test func noFormsRemoveWhatTheyName() throws {
    var c = try ConfigParser.parse(text: text)
    c = try ConfigParser.apply(text: """
        ip sla 1
         no timeout
         no icmp-echo
        track 1 ip sla 1
         no delay
        no track 2
        no ip sla 2
        router bgp 65000
         no neighbor 169.254.6.2 password
         no neighbor 169.254.6.2 ttl-security
         address-family ipv4 unicast
          no network 0.0.0.0/0 track 1
          no neighbor 169.254.6.2 soft-reconfiguration inbound
          no neighbor 169.254.6.3 default-originate
        """, to: c)
    #expect(c.slas[1]?.target == nil && c.slas[1]?.timeoutMilliseconds == SLAConfig.defaultTimeoutMilliseconds)
    #expect(c.slas[2] == nil && c.tracks[2] == nil)
    #expect(c.tracks[1]?.downDelay == 0 && c.tracks[1]?.upDelay == 0)
    let b = try #require(c.bgp)
    #expect(b.ipv4.networkTracks.isEmpty && b.ipv4.networks == [IPPrefix("192.0.2.0/24")!])
    let n2 = try #require(b.neighbors[.v4(IPv4Address(169, 254, 6, 2))])
    #expect(n2.password == nil && n2.ttlSecurityHops == nil && !n2.ipv4.softReconfigurationInbound)
    #expect(b.neighbors[.v4(IPv4Address(169, 254, 6, 3))]?.ipv4.defaultOriginate == false)
    #expect(b.neighbors[.v4(IPv4Address(169, 254, 6, 3))]?.ipv4.defaultOriginateTrack == nil)
}

@Test(arguments: [
    ("router bgp 65000\n neighbor 10.0.0.1 remote-as 1\n neighbor 10.0.0.1 ebgp-multihop 2\n neighbor 10.0.0.1 ttl-security hops 1",
     "cannot be configured together"),
    ("router bgp 65000\n neighbor 10.0.0.1 remote-as 1\n neighbor 10.0.0.1 ttl-security hops 1\n neighbor 10.0.0.1 ebgp-multihop",
     "cannot be configured together"),
    ("router bgp 65000\n neighbor 10.0.0.1 remote-as 1\n neighbor 10.0.0.1 password " + String(repeating: "x", count: 81),
     "1 to 80 characters"),
    ("router bgp 65000\n neighbor 10.0.0.1 remote-as 1\n neighbor 10.0.0.1 ttl-security hops 255", ""),
    ("no track 7", "track 7 is not configured"),
    ("no ip sla 7", "ip sla 7 is not configured"),
    ("ip sla 0", ""),
])
func refusedTrackAndSecurityLines(text: String, message: String) throws {
    #expect {
        _ = try ConfigParser.parse(text: text)
    } throws: { error in
        message.isEmpty || "\(error)".contains(message)
    }
}

@Test func aRefusedLineNamesItsLineNumberAndChangesNothing() throws {
    let before = try ConfigParser.parse(text: text)
    #expect {
        _ = try ConfigParser.apply(text: "ip sla 1\n frequency 0", to: before)
    } throws: { error in
        "\(error)".contains(":2:")
    }
}
