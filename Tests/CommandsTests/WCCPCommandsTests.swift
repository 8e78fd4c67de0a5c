import Packet
import Testing
@testable import Commands

// `ip wccp ...` and `ip access-list extended`: the model each line builds,
// the running-config text, parse(render(c)) == c, `no` forms and refusals.

private let canonical = """
ip access-list extended CACHES
 permit ip host 10.0.3.11 any
 deny ip any any
!
ip access-list extended WEB
 deny tcp host 10.0.3.11 any
 permit tcp 10.1.0.0/16 any eq 80 8080
 permit udp any 198.51.100.0/24 range 5000 5100
!
ip wccp router-id 10.0.3.10
ip wccp timers here-i-am 1000
ip wccp web-cache redirect-list WEB group-list CACHES password 0 secret
ip wccp 61 group-list CACHES
ip wccp 61 forwarding-method l2
ip wccp 61 assignment-method mask
ip wccp 61 return-method gre
!

"""

private func session(_ text: String = "") throws -> ConfigSession {
    var s = ConfigSession()
    s.config = try ConfigParser.parse(text: text)
    return s
}

private func any() -> IPv4Prefix { IPv4Prefix(.any, length: 0)! }

@Test func wccpConfigParsesIntoTheModel() throws {
    let c = try ConfigParser.parse(text: canonical)
    #expect(c.wccp.routerID == IPv4Address(10, 0, 3, 10))
    #expect(c.wccp.hereIAmMilliseconds == 1000)
    let web = try #require(c.wccp.services[0])
    #expect(web.redirectList == "WEB" && web.groupList == "CACHES" && web.password == "secret")
    #expect(web.forwarding == .both && web.assignment == .both && web.packetReturn == .both)
    let s61 = try #require(c.wccp.services[61])
    #expect(s61.redirectList == nil && s61.password == nil)
    #expect(s61.forwarding == .l2 && s61.assignment == .mask && s61.packetReturn == .gre)
    let list = try #require(c.accessLists["WEB"])
    #expect(list.entries == [
        AccessListEntry(permit: false, protocolName: .tcp, source: IPv4Prefix(IPv4Address(10, 0, 3, 11), length: 32)!, destination: any()),
        AccessListEntry(permit: true, protocolName: .tcp, source: IPv4Prefix("10.1.0.0/16")!, destination: any(),
                        destinationPorts: .equal([80, 8080])),
        AccessListEntry(permit: true, protocolName: .udp, source: any(), destination: IPv4Prefix("198.51.100.0/24")!,
                        destinationPorts: .range(5000, 5100)),
    ])
}

@Test func wccpRunningConfigRoundTrips() throws {
    let c = try ConfigParser.parse(text: canonical)
    #expect(c.render() == canonical)
    #expect(try ConfigParser.parse(text: c.render()) == c)
}

@Test func wccpServiceLineFormsAndAliases() throws {
    var s = try session()
    _ = try s.execute("ip wccp 0 password mypw")
    #expect(s.config.wccp.services[0]?.password == "mypw")
    // Typing the service line again replaces its options; method lines stay.
    _ = try s.execute("ip wccp web-cache forwarding-method gre")
    _ = try s.execute("ip wccp web-cache redirect-list R")
    #expect(s.config.wccp.services[0]?.password == nil && s.config.wccp.services[0]?.redirectList == "R")
    #expect(s.config.wccp.services[0]?.forwarding == .gre)
    _ = try s.execute("no ip wccp web-cache forwarding-method")
    #expect(s.config.wccp.services[0]?.forwarding == .both)
    _ = try s.execute("ip wccp 255")
    _ = try s.execute("no ip wccp 255")
    _ = try s.execute("no ip wccp 0")
    #expect(s.config.wccp.services.isEmpty)
    _ = try s.execute("ip wccp router-id 192.0.2.1")
    _ = try s.execute("ip wccp timers here-i-am 500")
    _ = try s.execute("no ip wccp router-id")
    _ = try s.execute("no ip wccp timers here-i-am")
    #expect(s.config.wccp.isEmpty)
    #expect(s.config.render() == "")
}

@Test func wccpRefusals() throws {
    var s = try session()
    #expect(throws: CommandError.self) { try s.execute("ip wccp 7") }           // reserved well-known ID
    #expect(throws: CommandError.self) { try s.execute("ip wccp 61 password 123456789") }
    #expect(throws: CommandError.self) { try s.execute("ip wccp 61 forwarding-method l2") } // not configured yet
    #expect(throws: CommandError.self) { try s.execute("no ip wccp 61") }
    #expect(throws: CommandError.self) { try s.execute("ip wccp timers here-i-am 100") }
    #expect(throws: CommandError.self) { try s.execute("ip wccp router-id 0.0.0.0") }
    #expect(s.config.wccp.isEmpty)
    do {
        _ = try s.execute("ip wccp 20")
        Issue.record("service 20 accepted")
    } catch {
        #expect(error.message.contains("reserved"))
    }
}

@Test func accessListForms() throws {
    var s = try session()
    _ = try s.execute("ip access-list extended A")
    #expect(s.mode == .configExtendedACL && s.target == "A")
    _ = try s.execute("permit tcp 10.0.0.0 0.0.255.255 host 192.0.2.9 eq 443")
    _ = try s.execute("deny ip any any")
    _ = try s.execute("permit udp any any")
    _ = try s.execute("permit udp any any")    // a duplicate line is not added twice
    let entries = try #require(s.config.accessLists["A"]).entries
    #expect(entries.map(\.description) == ["permit tcp 10.0.0.0/16 host 192.0.2.9 eq 443", "deny ip any any", "permit udp any any"])
    _ = try s.execute("no deny ip any any")
    #expect(s.config.accessLists["A"]?.entries.count == 2)
    #expect(throws: CommandError.self) { try s.execute("no deny ip any any") }
    #expect(throws: CommandError.self) { try s.execute("permit tcp 10.0.0.1/8 any") }          // host bits
    #expect(throws: CommandError.self) { try s.execute("permit tcp 10.0.0.0 0.255.0.255 any") } // not contiguous
    #expect(throws: CommandError.self) { try s.execute("permit tcp any any range 90 80") }
    #expect(throws: CommandError.self) { try s.execute("permit ip any any eq 80") }           // ports need tcp/udp
    // Lines typed at the top level leave the sub-mode (as in FRR); `exit` works too.
    _ = try s.execute("exit")
    #expect(s.mode == .config)
    _ = try s.execute("no ip access-list extended A")
    #expect(s.config.accessLists.isEmpty)
}

@Test func groupListPermitsByCacheAddress() {
    let list = AccessListConfig(name: "G", entries: [
        AccessListEntry(permit: false, protocolName: .ip, source: IPv4Prefix(IPv4Address(10, 0, 3, 12), length: 32)!, destination: any()),
        AccessListEntry(permit: true, protocolName: .ip, source: IPv4Prefix("10.0.3.0/24")!, destination: any()),
    ])
    #expect(list.permitsHost(IPv4Address(10, 0, 3, 11)))
    #expect(!list.permitsHost(IPv4Address(10, 0, 3, 12)))
    #expect(!list.permitsHost(IPv4Address(10, 0, 4, 1)))     // implicit deny
}

@Test func showAndClearWCCPParse() throws {
    let r = CommandRegistry.standard
    #expect(try r.parseExec("show ip wccp") == .show(.wccp(.summary), json: false))
    #expect(try r.parseExec("show ip wccp json") == .show(.wccp(.summary), json: true))
    #expect(try r.parseExec("show ip wccp web-cache") == .show(.wccp(.service(serviceID: 0)), json: false))
    #expect(try r.parseExec("show ip wccp 61 detail json") == .show(.wccp(.detail(serviceID: 61)), json: true))
    #expect(try r.parseExec("sh ip wc web buckets") == .show(.wccp(.buckets(serviceID: 0)), json: false))
    #expect(try r.parseExec("clear ip wccp") == .show(.wccp(.clearCounters), json: false))
    #expect(throws: CommandError.self) { try r.parseExec("show ip wccp 30 detail") }
}

@Test func wccpFailureDetectionLines() throws {
    var s = try session()
    _ = try s.execute("ip wccp failure-detection tcp-port 3128")
    #expect(s.config.wccp.failureDetection == WCCPFailureDetection(tcpPort: 3128, intervalMilliseconds: 250, timeoutMilliseconds: 1500))
    #expect(s.config.render().contains("ip wccp failure-detection tcp-port 3128\n"))
    _ = try s.execute("ip wccp failure-detection tcp-port 8080 interval 200 timeout 1000")
    #expect(s.config.wccp.failureDetection == WCCPFailureDetection(tcpPort: 8080, intervalMilliseconds: 200, timeoutMilliseconds: 1000))
    let text = s.config.render()
    #expect(text.contains("ip wccp failure-detection tcp-port 8080 interval 200 timeout 1000\n"))
    #expect(try ConfigParser.parse(text: text) == s.config)
    // Refusals leave the config as it was.
    let before = s.config
    #expect(throws: CommandError.self) { try s.execute("ip wccp failure-detection tcp-port 3128 interval 1000 timeout 500") }
    #expect(throws: CommandError.self) { try s.execute("ip wccp failure-detection tcp-port 0") }
    #expect(throws: CommandError.self) { try s.execute("ip wccp failure-detection tcp-port 3128 interval 10") }
    #expect(throws: CommandError.self) { try s.execute("ip wccp failure-detection interval 200") }
    #expect(s.config == before)
    _ = try s.execute("no ip wccp failure-detection")
    #expect(s.config.wccp.failureDetection == nil)
}

@Test func wccpFailoverAndDataPathLines() throws {
    var s = try session()
    // Failover needs the service first; refused with the config unchanged.
    let empty = s.config
    #expect(throws: CommandError.self) { try s.execute("ip wccp 80 failover remaining-caches") }
    #expect(s.config == empty)
    _ = try s.execute("ip wccp 80 password 0 secret")
    _ = try s.execute("ip wccp 80 failover remaining-caches")
    #expect(s.config.wccp.services[80]?.failover == true)
    // Retyping the service line keeps failover (like the method lines).
    _ = try s.execute("ip wccp 80")
    #expect(s.config.wccp.services[80]?.failover == true)
    _ = try s.execute("ip wccp failure-detection tcp-port 3128 interval 200 timeout 1000 data-path")
    #expect(s.config.wccp.failureDetection?.dataPath == true)
    let text = s.config.render()
    #expect(text.contains("ip wccp 80 failover remaining-caches\n"))
    #expect(text.contains("ip wccp failure-detection tcp-port 3128 interval 200 timeout 1000 data-path\n"))
    #expect(try ConfigParser.parse(text: text) == s.config)
    #expect(throws: CommandError.self) { try s.execute("ip wccp 80 failover somewhere") }
    _ = try s.execute("no ip wccp 80 failover")
    #expect(s.config.wccp.services[80]?.failover == false)
    #expect(!s.config.render().contains("failover"))
}
