import Commands
import Engine
import Foundation
import NIOCore
import NIOPosix
import Packet
import Testing
import WCCP
@testable import Control

// The WCCP glue: config -> router settings, group-list, redirect-lists, the
// engine services built from the router's state (hash, mask, GRE/L2), the
// show renderers, and one real UDP exchange on loopback.

private func ip(_ s: String) -> IPv4Address { IPv4Address(s)! }
private let routerID = ip("127.0.0.1")
private let cacheIP = ip("127.0.0.2")

private func config(_ text: String) throws -> RunningConfig { try ConfigParser.parse(text: text) }
/// The web-cache service redirecting what the access list WEB permits: TCP to port 80.
private let webCacheRedirectingPort80 = """
    ip access-list extended WEB
     permit tcp any any eq 80
    ip wccp router-id 127.0.0.1
    ip wccp web-cache redirect-list WEB
    """

/// A HERE_I_AM as Squid builds it (Web-Cache View change number 1, one router element).
private func hereIAm(cache: IPv4Address, echo: UInt32, service: ServiceInfo = .webCache, mask: Bool = false,
                     forwarding: PacketMethods = .gre, password: String? = nil) -> [UInt8] {
    let identity: WebCacheIdentityElement = mask
        ? WebCacheIdentityElement(cacheIP: cache, flags: WebCacheIdentityElement.flagMaskData,
                                  data: .mask(sets: [], weight: 0, status: 0))
        : .hash(cache, weight: 10000)
    let message = HereIAm(security: password == nil ? .none : .md5Unsigned, service: service, identity: identity,
                          view: WebCacheViewInfo(changeNumber: 1, routers: [RouterIDElement(routerIP: routerID, receiveID: echo)], caches: []),
                          capabilities: [.forwarding(forwarding), .assignment(mask ? .mask : .hash), .packetReturn(.gre)])
    return WCCPMessage.hereIAm(message).encode(password: password.map(WCCPPassword.init))
}

private func hashAssign(service: ServiceInfo = .webCache, receiveID: UInt32, changeNumber: UInt32, buckets: [UInt8]) -> [UInt8] {
    let h = HashAssignment(key: AssignmentKey(keyIP: cacheIP, changeNumber: 1),
                           routers: [RouterAssignmentElement(routerIP: routerID, receiveID: receiveID, changeNumber: changeNumber)],
                           caches: [cacheIP], buckets: buckets)
    return WCCPMessage.redirectAssign(RedirectAssign(security: .none, service: service, assignment: .hash(h))).encode(password: nil)
}

/// Records what the endpoint hands the appliance.
private final class Sink: @unchecked Sendable {
    var installs: [[RedirectServiceSpec]] = []
    var events: [String] = []
    var l2: RedirectMethod?
    var hooks: WCCPEndpointHooks {
        WCCPEndpointHooks(install: { self.installs.append($0) }, record: { self.events.append($0) }, resolveL2: { _ in self.l2 })
    }
}

/// Registers `cache` with the endpoint (two-way handshake) without sockets; returns the router's status.
private func register(_ e: WCCPEndpoint, cache: IPv4Address = cacheIP, service: ServiceInfo = .webCache,
                      mask: Bool = false, forwarding: PacketMethods = .gre) -> WCCPServiceStatus {
    e.receive(hereIAm(cache: cache, echo: 0, service: service, mask: mask, forwarding: forwarding), from: cache)
    let first = e.router.status().first { $0.serviceID == service.serviceID }!
    e.receive(hereIAm(cache: cache, echo: first.receiveID, service: service, mask: mask, forwarding: forwarding), from: cache)
    return e.router.status().first { $0.serviceID == service.serviceID }!
}

private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

private func endpoint(_ c: RunningConfig, sink: Sink, listenPort: Int = 2048, cachePort: Int = 2048) throws -> WCCPEndpoint {
    try WCCPEndpoint(eventLoop: group.next(), settings: c.wccp, accessLists: c.accessLists, routerID: routerID,
                     listenPort: listenPort, cachePort: cachePort, hooks: sink.hooks)
}

@Test func routerSettingsFromTheConfig() throws {
    let c = try config("""
        ip wccp router-id 127.0.0.1
        ip wccp timers here-i-am 500
        ip wccp web-cache password 0 pw
        ip wccp 61
        ip wccp 61 forwarding-method l2
        ip wccp 61 assignment-method mask
        """)
    let r = try WCCPTranslation.routerConfig(c.wccp, routerID: routerID)
    #expect(r.timers.hereIAmInterval == .milliseconds(500))
    #expect(r.services.map(\.serviceID) == [0, 61])
    #expect(r.services[0].password == WCCPPassword("pw") && r.services[0].forwarding == [.gre, .l2])
    #expect(r.services[1].forwarding == .l2 && r.services[1].assignment == .mask && r.services[1].packetReturn == [.gre, .l2])
}

@Test func redirectListsBecomeEngineRules() throws {
    let c = try config("""
        ip access-list extended WEB
         deny tcp host 10.0.3.11 any
         permit tcp any any eq 80 443
        """)
    let rules = WCCPTranslation.accessRules(c.accessLists["WEB"])
    #expect(rules.count == 3)
    #expect(rules[0] == AccessRule(permit: false, protocolNumber: 6, source: IPv4Prefix(ip("10.0.3.11"), length: 32)!))
    #expect(rules[1].destinationPorts == 80...80 && rules[2].destinationPorts == 443...443 && rules[2].permit)
    // A list that is named but not defined redirects nothing.
    #expect(WCCPTranslation.accessRules(nil).isEmpty)
}

@Test func groupListKeepsOtherCachesOut() throws {
    let c = try config("""
        ip access-list extended CACHES
         permit ip host 127.0.0.2 any
        ip wccp router-id 127.0.0.1
        ip wccp web-cache group-list CACHES
        """)
    let sink = Sink()
    let e = try endpoint(c, sink: sink)
    e.receive(hereIAm(cache: ip("127.0.0.3"), echo: 0), from: ip("127.0.0.3"))
    #expect(e.router.dropCount(.groupListDenied) == 1)
    #expect(e.serviceDrops[0]?[.groupListDenied] == 1)
    #expect(register(e).caches.map(\.state) == [.usable])
    let missing = try config("ip wccp router-id 127.0.0.1\nip wccp web-cache group-list NOPE")
    #expect(!WCCPTranslation.groupListPermits(missing.wccp, accessLists: [:], serviceID: 0, cache: cacheIP))
}

@Test func hashAssignmentInstallsGREService() throws {
    let c = try config(webCacheRedirectingPort80)
    let sink = Sink()
    let e = try endpoint(c, sink: sink)
    // Before any cache: service 0 is installed with nothing assigned (fail open, counted as unassigned).
    #expect(e.serviceSpecs().first?.assignment == EngineRedirectAssignment.none)
    let status = register(e)
    var buckets = [UInt8](repeating: 0, count: 256)
    buckets[7] = 0x80          // alternate-hash bit is carried to the engine
    buckets[9] = 0xFF
    e.receive(hashAssign(receiveID: status.receiveID, changeNumber: status.memberChangeNumber, buckets: buckets), from: cacheIP)
    let spec = try #require(sink.installs.last?.first)
    #expect(spec.serviceID == 0 && spec.priority == 240 && spec.protocolNumber == 6 && spec.ports == [80] && !spec.dynamic)
    #expect(spec.caches == [RedirectCacheSpec(address: cacheIP, method: .gre(source: routerID), usable: true)])
    #expect(spec.redirectList == [AccessRule(permit: true, protocolNumber: 6, destinationPorts: 80...80)])
    guard case .hash(let flags, let table) = spec.assignment else { Issue.record("not hash: \(spec.assignment)"); return }
    #expect(flags == 0x2)
    #expect(table[0] == 0 && table[7] == 0x80 && table[9] == 0xFF && table.filter { $0 == 0 }.count == 254)
    #expect(sink.events.contains { $0.contains("usable") })
}

@Test func dynamicMaskServiceOverL2() throws {
    let c = try config("""
        ip wccp router-id 127.0.0.1
        ip wccp 70
        """)
    let sink = Sink()
    let e = try endpoint(c, sink: sink)
    #expect(e.serviceSpecs().isEmpty)   // dynamic: unknown until the first cache defines it
    let service = ServiceInfo(serviceType: ServiceInfo.typeDynamic, serviceID: 70, priority: 231, protocolNumber: 6,
                              flags: [.srcIPHash, .portsDefined], ports: [443])
    let status = register(e, service: service, mask: true, forwarding: .l2)
    let values = [MaskValueElement(value: MaskFields(srcIP: 0), cacheIP: cacheIP),
                  MaskValueElement(value: MaskFields(srcIP: 1), cacheIP: cacheIP)]
    let m = MaskAssignment(key: AssignmentKey(keyIP: cacheIP, changeNumber: 1),
                           routers: [RouterAssignmentElement(routerIP: routerID, receiveID: status.receiveID, changeNumber: status.memberChangeNumber)],
                           sets: [MaskValueSet(mask: MaskFields(srcIP: 1), values: values)])
    let assign = WCCPMessage.redirectAssign(RedirectAssign(security: .none, service: service, assignment: .alternate(.mask(m))))
    e.receive(assign.encode(password: nil), from: cacheIP)
    // The MAC is not known: installed unusable (fails open) until resolved.
    var spec = try #require(sink.installs.last?.first)
    #expect(spec.serviceID == 70 && spec.dynamic && spec.priority == 231 && spec.ports == [443] && spec.caches.first?.usable == false)
    guard case .mask(let sets) = spec.assignment else { Issue.record("not mask: \(spec.assignment)"); return }
    #expect(sets == [RedirectMaskSet(sourceIPMask: 1, destinationIPMask: 0, sourcePortMask: 0, destinationPortMask: 0, values: [
        .init(sourceIP: 0, destinationIP: 0, sourcePort: 0, destinationPort: 0, cacheIndex: 0),
        .init(sourceIP: 1, destinationIP: 0, sourcePort: 0, destinationPort: 0, cacheIndex: 0)])])
    sink.l2 = .l2(interfaceIndex: 5, mac: [2, 0, 0, 0, 0, 1])
    e.tick()
    spec = try #require(sink.installs.last?.first)
    #expect(spec.caches == [RedirectCacheSpec(address: cacheIP, method: .l2(interfaceIndex: 5, mac: [2, 0, 0, 0, 0, 1]), usable: true)])
}

@Test func wrongPasswordIsDroppedAndCountedPerService() throws {
    let c = try config("ip wccp router-id 127.0.0.1\nip wccp web-cache password 0 right")
    let sink = Sink()
    let e = try endpoint(c, sink: sink)
    e.receive(hereIAm(cache: cacheIP, echo: 0, password: "wrong"), from: cacheIP)
    e.receive(hereIAm(cache: cacheIP, echo: 0), from: cacheIP)       // no digest at all
    #expect(e.serviceDrops[0]?[.authentication] == 1 && e.serviceDrops[0]?[.securityOption] == 1)
    #expect(e.router.status()[0].caches.isEmpty)
    e.receive(hereIAm(cache: cacheIP, echo: 0, password: "right"), from: cacheIP)
    #expect(e.router.status()[0].caches.count == 1)
}

@Test func showRendersTheIOSLayout() throws {
    let c = try config("ip wccp router-id 127.0.0.1\nip wccp web-cache redirect-list WEB")
    let sink = Sink()
    let e = try endpoint(c, sink: sink)
    let status = register(e)
    e.receive(hashAssign(receiveID: status.receiveID, changeNumber: status.memberChangeNumber,
                         buckets: (0..<256).map { $0 < 128 ? 0 : 0xFF }), from: cacheIP)
    e.receive(hereIAm(cache: cacheIP, echo: 0, password: "x"), from: cacheIP)
    var counters = [UInt64](repeating: 0, count: RedirectCounter.fieldCount)
    counters[RedirectCounter.redirected] = 12
    counters[RedirectCounter.failedOpen] = 3
    counters[RedirectCounter.cacheBase] = 12
    counters[RedirectCounter.bucketBase + 5] = 12
    let view = WCCPServiceView(status: e.router.status()[0], settings: c.wccp.services[0], counters: counters,
                               drops: e.serviceDrops[0] ?? [:], slots: [cacheIP])
    let snapshot = WCCPShowSnapshot(routerID: routerID, now: e.now, services: [view])
    let (text, ok) = WCCPShow.render(.summary, snapshot, json: false)
    #expect(ok)
    #expect(text.contains("        Router Identifier:                   127.0.0.1\n"))
    #expect(text.contains("    Service Identifier: web-cache\n"))
    #expect(text.contains("        Number of Service Group Clients:     1\n"))
    #expect(text.contains("        Total Packets Redirected:            12\n"))
    #expect(text.contains("        Redirect access-list:                WEB\n"))
    #expect(text.contains("        Total Packets Unassigned:            3\n"))
    #expect(text.contains("        Group access-list:                   -none-\n"))
    #expect(text.contains("        Total Authentication failures:       1\n"))
    let json = WCCPShow.render(.summary, snapshot, json: true).0
    let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    let service = try #require((doc["services"] as? [[String: Any]])?.first)
    #expect(service["packetsRedirected"] as? Int == 12 && service["authenticationFailures"] as? Int == 1)
    let detail = WCCPShow.render(.detail(serviceID: 0), snapshot, json: false).0
    #expect(detail.contains("WCCP Client ID:          127.0.0.2\n"))
    #expect(detail.contains("State:                   Usable\n"))
    #expect(detail.contains("Assigned Hash Info:      FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\n"))
    #expect(detail.contains("                         00000000000000000000000000000000\n"))
    #expect(detail.contains("Hash Allotment:          128 (50.00%)\n"))
    #expect(detail.contains("Packets Redirected:      12\n"))
    let buckets = WCCPShow.render(.buckets(serviceID: 0), snapshot, json: false).0
    #expect(buckets.contains("    0-127      127.0.0.2        12\n"))
    #expect(buckets.contains("    128-255    unassigned       0\n"))
    #expect(WCCPShow.render(.detail(serviceID: 61), snapshot, json: false).1 == false)
}

// MARK: - Real UDP on loopback

/// A blocking UDP socket for the fake cache, with a receive timeout.
private struct CacheSocket {
    let fd: Int32
    init(address: IPv4Address, port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr.s_addr = address.value.bigEndian
        var tv = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
    }
    func send(_ bytes: [UInt8], to address: IPv4Address, port: UInt16) {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr.s_addr = address.value.bigEndian
        _ = withUnsafePointer(to: &sa) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? Array(buffer[0..<n]) : nil
    }
}

@Test func handshakeOverUDPOnLoopback() async throws {
    let base = UInt16(30000 + Int(getpid()) % 20000)
    let (routerPort, cachePort) = (base, base + 1)
    let c = try config("ip wccp router-id 127.0.0.1\nip wccp web-cache")
    let sink = Sink()
    let loop = group.next()
    let e = try await loop.submit {
        let e = try endpoint(c, sink: sink, listenPort: Int(routerPort), cachePort: Int(cachePort))
        e.start()
        return e
    }.get()
    defer { _ = try? loop.submit { e.stop() }.wait() }
    let cache = try CacheSocket(address: cacheIP, port: cachePort)
    defer { close(cache.fd) }
    // Wait for the bind (asynchronous on the loop).
    for _ in 0..<50 where try await loop.submit({ sink.events.isEmpty }).get() { try await Task.sleep(for: .milliseconds(20)) }
    #expect(try await loop.submit { sink.events.first ?? "" }.get().contains("listening"))

    cache.send(hereIAm(cache: cacheIP, echo: 0), to: routerID, port: routerPort)
    let first = try #require(cache.receive())
    guard case .iSeeYou(let isy) = try WCCPMessage.decode(first) else { Issue.record("not an I_SEE_YOU"); return }
    #expect(isy.identity.router.routerIP == routerID && isy.identity.sentTo == cacheIP)
    cache.send(hereIAm(cache: cacheIP, echo: isy.identity.router.receiveID), to: routerID, port: routerPort)
    let second = try #require(cache.receive())
    guard case .iSeeYou(let isy2) = try WCCPMessage.decode(second) else { Issue.record("not an I_SEE_YOU"); return }
    #expect(isy2.view.caches.map(\.cacheIP) == [cacheIP])     // usable: listed in the Router View
    let state = try await loop.submit { e.router.status()[0].caches.map(\.state) }.get()
    #expect(state == [.usable])
    // The registered cache got a socket of its own, connected to it: the kernel lists it
    // (bound to the router's port, remote = the cache) and it carries the cache's next hello.
    for _ in 0..<50 where try await loop.submit({ e.cacheSocketCount }).get() == 0 { try await Task.sleep(for: .milliseconds(20)) }
    #expect(try await loop.submit { e.cacheSocketCount }.get() == 1)
    let udp = try String(contentsOfFile: "/proc/self/net/udp", encoding: .utf8)
    let connected = String(format: "%08X:%04X", cacheIP.value.byteSwapped, Int(cachePort))
    #expect(udp.split(separator: "\n").filter { $0.contains(String(format: ":%04X", Int(routerPort))) && $0.contains(connected) }.count == 1)
    cache.send(hereIAm(cache: cacheIP, echo: isy2.identity.router.receiveID), to: routerID, port: routerPort)
    let third = try #require(cache.receive())
    guard case .iSeeYou = try WCCPMessage.decode(third) else { Issue.record("not an I_SEE_YOU"); return }
    #expect(try await loop.submit { e.socketDrops() }.get() == (0, 0))
}

@Test func socketDropsAreReadFromProcNetUDP() {
    // /proc/net/udp as Linux prints it: the router's shared socket on 10.0.3.10:2048 (remote
    // 0:0), a socket connected to the cache 10.0.3.11:2048, and an unrelated socket.
    let text = """
           sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
          12: 0A03000A:0800 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1001 2 0000000000000000 417
          13: 0A03000A:0800 0B03000A:0800 01 00000000:00000000 00:00000000 00000000     0        0 1002 2 0000000000000000 3
          14: 0100007F:0800 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1003 2 0000000000000000 99
        """
    let drops = WCCPEndpoint.socketDrops(procNetUDP: text, address: ip("10.0.3.10"), port: 2048)
    #expect(drops.shared == 417 && drops.caches == 3)
}

@Test func changesApplyInPlaceAndUntouchedGroupsKeepTheirCaches() throws {
    let c = try config(webCacheRedirectingPort80)
    let sink = Sink()
    let e = try endpoint(c, sink: sink)
    _ = register(e)
    var edited = c
    edited.accessLists["WEB"]?.entries[0].destinationPorts = .equal([8080])
    #expect(e.reconfigure(edited.wccp, accessLists: edited.accessLists))
    #expect(e.router.status()[0].caches.count == 1)          // the group survives an ACL edit
    #expect(sink.installs.last?.first?.redirectList?.first?.destinationPorts == 8080...8080)
    // A new service group leaves web-cache's cache and assignment alone.
    edited.wccp.services[61] = WCCPServiceSettings(serviceID: 61)
    #expect(e.reconfigure(edited.wccp, accessLists: edited.accessLists))
    let after = e.router.status()
    #expect(after.first { $0.serviceID == 0 }?.caches.count == 1)
    #expect(after.first { $0.serviceID == 61 }?.caches.isEmpty == true)
    // A changed group (new password) starts over: its cache must register again.
    edited.wccp.services[0]?.password = "new"
    #expect(e.reconfigure(edited.wccp, accessLists: edited.accessLists))
    #expect(e.router.status().first { $0.serviceID == 0 }?.caches.isEmpty == true)
    #expect(sink.installs.last?.contains { $0.serviceID == 0 && !$0.caches.isEmpty } != true)
}

@Test func aHereIAmFloodFromOneSourceIsRateLimitedAndARealCacheStillRegisters() throws {
    let c = try config("ip wccp router-id 127.0.0.1\nip wccp web-cache")
    let sink = Sink()
    let e = try endpoint(c, sink: sink)
    let flooder = ip("127.0.0.9")
    let datagram = hereIAm(cache: flooder, echo: 0)
    for _ in 0..<5000 { e.receive(datagram, from: flooder) }
    // At most the burst plus the rate over the (sub-second) run got through; the rest cost one probe each.
    #expect(e.rateLimited >= 5000 - 2 * UInt64(WCCPEndpoint.sourceRate) - 100)
    #expect(register(e).caches.contains { $0.address == cacheIP && $0.state == .usable })
    let snapshot = WCCPShowSnapshot(routerID: e.routerID, now: e.now, services: [], rateLimited: e.rateLimited)
    let (text, ok) = WCCPShow.render(.summary, snapshot, json: false)
    #expect(ok && text.contains("Messages Over Source Rate Limit:     \(e.rateLimited)\n"))
}
