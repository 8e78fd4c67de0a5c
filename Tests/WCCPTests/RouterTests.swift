import Packet
import Testing
@testable import WCCP

/// Drives a WCCPRouter the way Squid would, with a fake clock (seconds as Duration).
struct RouterHarness {
    var router: WCCPRouter
    let routerID = ip("10.77.0.1")
    var password: WCCPPassword?

    init(services: [WCCPServiceConfig] = [WCCPServiceConfig(serviceID: 0)]) throws {
        router = WCCPRouter(config: try WCCPRouterConfig(routerID: ip("10.77.0.1"), services: services))
        password = services.first?.password
    }

    mutating func hereIAm(_ cache: IPv4Address, at t: Int, echo: UInt32, mask: Bool = false, service: ServiceInfo = .webCache,
                          forwarding: PacketMethods = .gre, permit: Bool = true) -> [WCCPRouterAction] {
        let m = squidHereIAm(cache: cache, router: routerID, echo: echo, service: service, mask: mask, forwarding: forwarding,
                             md5: password != nil)
        return router.receive(WCCPMessage.hereIAm(m).encode(password: password), from: cache, now: .seconds(t)) { _, _ in permit }
    }

    mutating func redirectAssign(from cache: IPv4Address, at t: Int, _ assignment: RedirectAssignment,
                                 service: ServiceInfo = .webCache) -> [WCCPRouterAction] {
        let ra = RedirectAssign(security: password == nil ? .none : .md5Unsigned, service: service, assignment: assignment)
        return router.receive(WCCPMessage.redirectAssign(ra).encode(password: password), from: cache, now: .seconds(t))
    }
}

/// The decoded I_SEE_YOU / REMOVAL_QUERY sent in `actions`, with its destination.
func sent(_ actions: [WCCPRouterAction], password: WCCPPassword? = nil) -> [(WCCPMessage, IPv4Address)] {
    actions.compactMap {
        guard case .send(let bytes, let to) = $0 else { return nil }
        return (try! WCCPMessage.decode(bytes, password: password), to)
    }
}

func iSeeYou(_ actions: [WCCPRouterAction], password: WCCPPassword? = nil) -> ISeeYou? {
    for (m, _) in sent(actions, password: password) { if case .iSeeYou(let i) = m { return i } }
    return nil
}

func tables(_ actions: [WCCPRouterAction]) -> [RedirectTable] {
    actions.compactMap { if case .assignmentChanged(_, let t) = $0 { t } else { nil } }
}

@Suite struct RouterTests {
    let cacheA = ip("10.77.0.2")
    let cacheB = ip("10.77.0.3")

    /// The whole life of one Squid: registration → handshake → assignment → silence → query → removal → fail open.
    @Test func fullLifecycleHashWithMD5() throws {
        var h = try RouterHarness(services: [WCCPServiceConfig(serviceID: 0, password: WCCPPassword("s3cret"))])
        let pw = h.password

        // t=0: first HERE_I_AM (echo 0) → pending, I_SEE_YOU with ReceiveID 1, empty view.
        var a = h.hereIAm(cacheA, at: 0, echo: 0)
        #expect(a.contains(.cacheStateChanged(serviceID: 0, cache: cacheA, state: .pending, reason: .registered)))
        var isy = try #require(iSeeYou(a, password: pw))
        #expect(isy.security != .none)
        #expect(isy.identity.router == RouterIDElement(routerIP: h.routerID, receiveID: 1))
        #expect(isy.identity.sentTo == cacheA && isy.identity.receivedFrom == [cacheA])
        #expect(isy.view.memberChangeNumber == 0 && isy.view.caches.isEmpty && isy.view.routers == [h.routerID])
        #expect(isy.capabilities == [.forwarding([.gre, .l2]), .assignment([.hash, .mask]), .packetReturn([.gre, .l2])])
        #expect(sent(a, password: pw).first?.1 == cacheA)

        // t=10: echo of ReceiveID 1 → usable, change number 1, cache listed, ReceiveID 2.
        a = h.hereIAm(cacheA, at: 10, echo: 1)
        #expect(a.contains(.cacheStateChanged(serviceID: 0, cache: cacheA, state: .usable, reason: .receiveIDEchoed)))
        isy = try #require(iSeeYou(a, password: pw))
        #expect(isy.identity.router.receiveID == 2)
        #expect(isy.view.memberChangeNumber == 1)
        #expect(isy.view.assignmentKey == AssignmentKey(keyIP: cacheA, changeNumber: 0))
        #expect(isy.view.caches == [.hash(cacheA, weight: 10000)])
        #expect(h.router.table(serviceID: 0).isEmpty)

        // t=20: steady state, echo 2 → no membership change.
        a = h.hereIAm(cacheA, at: 20, echo: 2)
        #expect(iSeeYou(a, password: pw)?.view.memberChangeNumber == 1)
        #expect(iSeeYou(a, password: pw)?.identity.router.receiveID == 3)

        // t=25: Squid's REDIRECT_ASSIGN, 15 s after the change: all buckets → cache 0.
        let assignment = HashAssignment(key: AssignmentKey(keyIP: cacheA, changeNumber: 1),
                                        routers: [RouterAssignmentElement(routerIP: h.routerID, receiveID: 3, changeNumber: 1)],
                                        caches: [cacheA], buckets: squidHashBuckets(cacheCount: 1))
        a = h.redirectAssign(from: cacheA, at: 25, .hash(assignment))
        let table = try #require(tables(a).first)
        #expect(table.caches == [cacheA] && table.buckets(forSlot: 0).count == 256)
        #expect(table.cacheSlot(srcIP: ip("10.1.0.9"), dstIP: ip("203.0.113.7"), srcPort: 40000, dstPort: 80) == 0)
        #expect(h.router.status()[0].caches[0].buckets.count == 256)
        #expect(h.router.status()[0].assignmentDeadline == nil)

        // The next I_SEE_YOU reflects the assignment key and the cache's buckets.
        a = h.hereIAm(cacheA, at: 30, echo: 3)
        isy = try #require(iSeeYou(a, password: pw))
        #expect(isy.view.assignmentKey == AssignmentKey(keyIP: cacheA, changeNumber: 1))
        #expect(isy.view.caches[0].bitmapBuckets.count == 256)

        // Silence. 24 s: nothing. 25 s: REMOVAL_QUERY (once). 30 s: removal, buckets unassigned.
        #expect(h.router.tick(now: .seconds(54)).isEmpty)
        a = h.router.tick(now: .seconds(55))
        let queries = sent(a, password: pw)
        #expect(queries.count == 1 && queries[0].1 == cacheA)
        guard case .removalQuery(let rq) = queries[0].0 else { Issue.record("expected REMOVAL_QUERY"); return }
        #expect(rq.query == RouterQueryInfo(routerID: h.routerID, receiveID: 4, sentTo: cacheA, target: cacheA))
        #expect(h.router.tick(now: .seconds(57)).isEmpty)
        a = h.router.tick(now: .seconds(60))
        #expect(a.contains(.cacheStateChanged(serviceID: 0, cache: cacheA, state: .removed, reason: .silent)))
        #expect(tables(a) == [.empty])
        #expect(h.router.table(serviceID: 0).cacheSlot(srcIP: ip("10.1.0.9"), dstIP: ip("203.0.113.7"), srcPort: 1, dstPort: 80) == nil)
        #expect(h.router.status()[0].caches.isEmpty && h.router.status()[0].memberChangeNumber == 2)
    }

    @Test func hereIAmAfterQueryKeepsCache() throws {
        var h = try RouterHarness()
        _ = h.hereIAm(cacheA, at: 0, echo: 0)
        _ = h.hereIAm(cacheA, at: 10, echo: 1)
        #expect(sent(h.router.tick(now: .seconds(35))).count == 1)
        let a = h.hereIAm(cacheA, at: 36, echo: 2)
        #expect(iSeeYou(a) != nil)
        #expect(h.router.tick(now: .seconds(45)).isEmpty)
        #expect(h.router.status()[0].caches.map(\.state) == [.usable])
    }

    @Test func twoCachesRemovalUnassignsOnlyTheDeadOnesBuckets() throws {
        var h = try RouterHarness()
        _ = h.hereIAm(cacheA, at: 0, echo: 0)
        _ = h.hereIAm(cacheB, at: 1, echo: 0)   // ReceiveID 2
        _ = h.hereIAm(cacheA, at: 10, echo: 1)  // A usable (change 1), ReceiveID 3
        let a = h.hereIAm(cacheB, at: 11, echo: 2)  // B usable (change 2), ReceiveID 4
        let isy = try #require(iSeeYou(a))
        #expect(isy.view.memberChangeNumber == 2 && isy.view.caches.map(\.cacheIP) == [cacheA, cacheB])
        #expect(h.router.status()[0].designatedCache == cacheA)

        // Non-designated cache B may not assign.
        let ra = HashAssignment(key: AssignmentKey(keyIP: cacheA, changeNumber: 1),
                                routers: [RouterAssignmentElement(routerIP: h.routerID, receiveID: 3, changeNumber: 2)],
                                caches: [cacheA, cacheB], buckets: squidHashBuckets(cacheCount: 2))
        #expect(h.redirectAssign(from: cacheB, at: 20, .hash(ra)).isEmpty)
        #expect(h.router.dropCount(.notDesignatedCache) == 1)
        // Stale: computed for change number 1.
        var stale = ra
        stale.routers[0].changeNumber = 1
        #expect(h.redirectAssign(from: cacheA, at: 20, .hash(stale)).isEmpty)
        #expect(h.router.dropCount(.staleAssignment) == 1)
        // Wrong ReceiveID for this router.
        var badID = ra
        badID.routers[0].receiveID = 4  // that one went to B
        #expect(h.redirectAssign(from: cacheA, at: 20, .hash(badID)).isEmpty)
        #expect(h.router.dropCount(.staleAssignment) == 2)
        // Names a cache the router does not know.
        var unknown = ra
        unknown.caches[1] = ip("10.77.0.9")
        #expect(h.redirectAssign(from: cacheA, at: 20, .hash(unknown)).isEmpty)
        #expect(h.router.dropCount(.invalidAssignment) == 1)

        let table = try #require(tables(h.redirectAssign(from: cacheA, at: 26, .hash(ra))).first)
        #expect(table.buckets(forSlot: 0).count == 128 && table.buckets(forSlot: 1).count == 128)
        #expect(table.cacheSlot(srcIP: ip("10.9.9.9"), dstIP: ip("10.1.2.3"), srcPort: 1, dstPort: 80) == 0)   // bucket 10
        #expect(table.cacheSlot(srcIP: ip("10.9.9.9"), dstIP: ip("10.1.2.2"), srcPort: 1, dstPort: 80) == 1)   // bucket 11

        // Only A keeps talking; B is removed at t = 11 + 30.
        _ = h.hereIAm(cacheA, at: 20, echo: 3)
        _ = h.hereIAm(cacheA, at: 30, echo: 5)
        _ = h.router.tick(now: .seconds(36))   // query to B
        _ = h.hereIAm(cacheA, at: 40, echo: 6)
        let removal = h.router.tick(now: .seconds(41))
        #expect(removal.contains(.cacheStateChanged(serviceID: 0, cache: cacheB, state: .removed, reason: .silent)))
        let after = try #require(tables(removal).first)
        #expect(after.cacheSlot(srcIP: ip("10.9.9.9"), dstIP: ip("10.1.2.3"), srcPort: 1, dstPort: 80) == 0)
        #expect(after.cacheSlot(srcIP: ip("10.9.9.9"), dstIP: ip("10.1.2.2"), srcPort: 1, dstPort: 80) == nil)
        // No new assignment within 5 × T of the change → flush.
        _ = h.hereIAm(cacheA, at: 50, echo: 7)
        _ = h.hereIAm(cacheA, at: 60, echo: 8)
        _ = h.hereIAm(cacheA, at: 70, echo: 9)
        _ = h.hereIAm(cacheA, at: 80, echo: 10)
        #expect(h.router.tick(now: .seconds(90)).isEmpty)
        #expect(tables(h.router.tick(now: .seconds(91))) == [.empty])
    }

    @Test func maskModeViewUsesSixteenByteElementsAndCompilesMaskAssignment() throws {
        var h = try RouterHarness()
        _ = h.hereIAm(cacheA, at: 0, echo: 0, mask: true)
        let a = h.hereIAm(cacheA, at: 10, echo: 1, mask: true)
        let isyBytes = try #require(a.compactMap { if case .send(let b, _) = $0 { b } else { nil } }.first)
        let isy = try #require(iSeeYou(a))
        #expect(isy.view.caches == [WebCacheIdentityElement(cacheIP: cacheA, flags: 2, data: .mask(sets: [], weight: 0, status: 0))])
        // Router View (type 4) body: 4 + 8 + 4 + 4 + 4 + 16-byte cache element = 40.
        let viewAt = 8 + 8 + 28 + 24
        #expect(Array(isyBytes[viewAt..<(viewAt + 4)]) == [0, 4, 0, 40])
        let ra = MaskAssignment(key: AssignmentKey(keyIP: cacheA, changeNumber: 1),
                                routers: [RouterAssignmentElement(routerIP: h.routerID, receiveID: 2, changeNumber: 1)],
                                sets: [squidMaskSet(caches: [cacheA])])
        let table = try #require(tables(h.redirectAssign(from: cacheA, at: 25, .alternate(.mask(ra)))).first)
        #expect(table.maskValueCount(forSlot: 0) == 64)
        #expect(table.cacheSlot(srcIP: ip("10.9.9.9"), dstIP: ip("198.51.100.77"), srcPort: 1, dstPort: 80) == 0)
        // A hash assignment for a mask group is refused.
        let hash = HashAssignment(key: ra.key, routers: ra.routers, caches: [cacheA], buckets: squidHashBuckets(cacheCount: 1))
        #expect(h.redirectAssign(from: cacheA, at: 26, .hash(hash)).isEmpty)
        #expect(h.router.dropCount(.invalidAssignment) == 1)
        #expect(h.router.status()[0].assignmentMethod == .mask)
    }

    @Test func dropsAreCountedByReason() throws {
        var h = try RouterHarness(services: [WCCPServiceConfig(serviceID: 0, forwarding: .gre),
                                             WCCPServiceConfig(serviceID: 80)])
        // Group-list denial.
        #expect(h.hereIAm(cacheA, at: 0, echo: 0, permit: false).isEmpty)
        #expect(h.router.dropCount(.groupListDenied) == 1)
        // L2 forwarding not offered for service 0.
        #expect(h.hereIAm(cacheA, at: 0, echo: 0, forwarding: .l2).isEmpty)
        #expect(h.router.dropCount(.unsupportedCapability) == 1)
        // Service not configured.
        let s90 = ServiceInfo(serviceType: 1, serviceID: 90, priority: 240, protocolNumber: 6, flags: [.srcIPHash, .portsDefined], ports: [80])
        #expect(h.hereIAm(cacheA, at: 0, echo: 0, service: s90).isEmpty)
        #expect(h.router.dropCount(.unknownService) == 1)
        // Dynamic service 80: first definition wins, a conflicting one is refused.
        let s80 = ServiceInfo(serviceType: 1, serviceID: 80, priority: 240, protocolNumber: 6,
                              flags: [.srcIPHash, .portsDefined, .srcPortAltHash], ports: [80, 443])
        var a = h.hereIAm(cacheA, at: 0, echo: 0, service: s80)
        #expect(iSeeYou(a)?.service == s80)
        var other = s80
        other.ports = [8080]
        a = h.hereIAm(cacheB, at: 1, echo: 0, service: other)
        #expect(a.isEmpty && h.router.dropCount(.serviceDefinitionConflict) == 1)
        // Standard type for a dynamic service is a conflict too.
        #expect(h.hereIAm(cacheB, at: 1, echo: 0, service: ServiceInfo(serviceType: 0, serviceID: 80)).isEmpty)
        #expect(h.router.dropCount(.serviceDefinitionConflict) == 2)
        // Bad ReceiveID from a known cache.
        #expect(h.hereIAm(cacheA, at: 5, echo: 77, service: s80).isEmpty)
        #expect(h.router.dropCount(.badReceiveID) == 1)
        // Garbage, wrong version, a router-to-cache message.
        _ = h.router.receive([1, 2, 3], from: cacheA, now: .seconds(6))
        var v = squidHereIAmHash; v[4] = 3
        _ = h.router.receive(v, from: cacheA, now: .seconds(6))
        _ = h.router.receive(squidAcceptedISeeYou, from: cacheA, now: .seconds(6))
        #expect(h.router.dropCount(.malformed) == 1 && h.router.dropCount(.badVersion) == 1)
        #expect(h.router.dropCount(.unexpectedMessageType) == 1)
        // REDIRECT_ASSIGN from a cache that is not usable.
        let ra = HashAssignment(key: .none, routers: [], caches: [], buckets: squidHashBuckets(cacheCount: 1))
        #expect(h.redirectAssign(from: cacheA, at: 7, .hash(ra), service: s80).isEmpty)
        #expect(h.router.dropCount(.notFromUsableCache) == 1)
    }

    @Test func md5FailuresAreDropped() throws {
        var h = try RouterHarness(services: [WCCPServiceConfig(serviceID: 0, password: WCCPPassword("right"))])
        let m = WCCPMessage.hereIAm(squidHereIAm(cache: cacheA, router: h.routerID, md5: true))
        #expect(h.router.receive(m.encode(password: WCCPPassword("wrong")), from: cacheA, now: .zero).isEmpty)
        #expect(h.router.dropCount(.authentication) == 1)
        let plain = WCCPMessage.hereIAm(squidHereIAm(cache: cacheA, router: h.routerID))
        #expect(h.router.receive(plain.encode(), from: cacheA, now: .zero).isEmpty)
        #expect(h.router.dropCount(.securityOption) == 1)
        #expect(!h.router.receive(m.encode(password: WCCPPassword("right")), from: cacheA, now: .zero).isEmpty)
    }

    @Test func assignmentNotListingThisRouterFlushes() throws {
        var h = try RouterHarness()
        _ = h.hereIAm(cacheA, at: 0, echo: 0)
        _ = h.hereIAm(cacheA, at: 10, echo: 1)
        let good = HashAssignment(key: AssignmentKey(keyIP: cacheA, changeNumber: 1),
                                  routers: [RouterAssignmentElement(routerIP: h.routerID, receiveID: 2, changeNumber: 1)],
                                  caches: [cacheA], buckets: squidHashBuckets(cacheCount: 1))
        #expect(tables(h.redirectAssign(from: cacheA, at: 25, .hash(good))).count == 1)
        var foreign = good
        foreign.routers[0].routerIP = ip("10.77.0.254")
        #expect(tables(h.redirectAssign(from: cacheA, at: 26, .hash(foreign))) == [.empty])
        #expect(h.router.dropCount(.assignmentNotForThisRouter) == 1)
    }

    @Test func pendingCacheThatNeverEchoesExpires() throws {
        var h = try RouterHarness()
        _ = h.hereIAm(cacheA, at: 0, echo: 0)
        #expect(h.router.tick(now: .seconds(29)).isEmpty)  // no query to a pending cache
        let a = h.router.tick(now: .seconds(30))
        #expect(a == [.cacheStateChanged(serviceID: 0, cache: cacheA, state: .removed, reason: .pendingExpired)])
        #expect(h.router.status()[0].memberChangeNumber == 0)
    }

    @Test func designatedCacheFollowsSquidByteOrder() throws {
        var h = try RouterHarness()
        let low = ip("10.77.1.1"), high = ip("10.77.0.2")   // 10.77.1.1 wins on x86 s_addr order
        _ = h.hereIAm(high, at: 0, echo: 0); _ = h.hereIAm(low, at: 0, echo: 0)
        _ = h.hereIAm(high, at: 10, echo: 1)
        let a = h.hereIAm(low, at: 10, echo: 2)
        #expect(iSeeYou(a)?.view.assignmentKey.keyIP == low)
        #expect(h.router.status()[0].designatedCache == low)
    }

    @Test func configValidation() {
        #expect(throws: WCCPConfigError.reservedServiceID(5)) {
            try WCCPRouterConfig(routerID: ip("10.0.0.1"), services: [WCCPServiceConfig(serviceID: 5)])
        }
        #expect(throws: WCCPConfigError.duplicateService(80)) {
            try WCCPRouterConfig(routerID: ip("10.0.0.1"), services: [WCCPServiceConfig(serviceID: 80), WCCPServiceConfig(serviceID: 80)])
        }
        #expect(throws: WCCPConfigError.noMethodOffered(0)) {
            try WCCPRouterConfig(routerID: ip("10.0.0.1"), services: [WCCPServiceConfig(serviceID: 0, forwarding: [])])
        }
    }
}
