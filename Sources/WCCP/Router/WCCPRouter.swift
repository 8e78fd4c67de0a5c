import Packet

/// The WCCPv2 router state machine: datagrams and clock ticks in, actions out.
/// Pure: no I/O, no wall-clock time; `now` is a monotonic time since an arbitrary epoch.
public struct WCCPRouter: Sendable {
    /// Caches one service group keeps, pending ones included (the protocol's limit is 32 usable
    /// caches; pending entries from unknown sources expire after 3 × HERE_I_AM_T). A new cache
    /// beyond it is dropped and counted (`tooManyCaches`): the state per group stays bounded.
    public static let maximumCachesPerGroup = 64
    public private(set) var config: WCCPRouterConfig
    var groups: [UInt8: ServiceGroup]
    /// Dropped datagrams by reason.
    public private(set) var drops: [WCCPDropReason: UInt64] = [:]

    public init(config: WCCPRouterConfig) {
        self.config = config
        groups = Dictionary(uniqueKeysWithValues: config.services.map { ($0.serviceID, ServiceGroup(config: $0)) })
    }

    /// Takes a new configuration and keeps the state of every service group
    /// whose definition did not change (its caches, assignment and change
    /// numbers stay, so their flows do not move). Added groups start empty;
    /// removed or changed ones are dropped, their redirection withdrawn.
    /// Timer changes apply to all groups from the next tick.
    public mutating func reconfigure(_ new: WCCPRouterConfig) -> [WCCPRouterAction] {
        guard new.routerID == config.routerID else {
            // The router's identity is in every message: start over.
            var actions: [WCCPRouterAction] = groups.keys.sorted().map { .assignmentChanged(serviceID: $0, table: .empty) }
            self = WCCPRouter(config: new)
            return actions
        }
        var actions: [WCCPRouterAction] = []
        var next: [UInt8: ServiceGroup] = [:]
        for service in new.services {
            if let old = groups[service.serviceID], old.config == service {
                next[service.serviceID] = old
            } else if var old = groups[service.serviceID], old.config.sameGroup(as: service) {
                // Only the failover policy changed: same caches and assignment, table recompiled.
                old.config = service
                if let a = old.recompile() { actions.append(a) }
                next[service.serviceID] = old
            } else {
                next[service.serviceID] = ServiceGroup(config: service)
                if groups[service.serviceID] != nil {
                    actions.append(.assignmentChanged(serviceID: service.serviceID, table: .empty))
                }
            }
        }
        for id in groups.keys.sorted() where next[id] == nil {
            actions.append(.assignmentChanged(serviceID: id, table: .empty))
        }
        groups = next
        config = new
        return actions
    }

    /// Handles one datagram received on UDP 2048 from `source`.
    /// `groupListPermits(serviceID, cacheIP)` is the operator's group-list check.
    public mutating func receive(_ datagram: [UInt8], from source: IPv4Address, now: Duration,
                                 groupListPermits: (UInt8, IPv4Address) -> Bool = { _, _ in true }) -> [WCCPRouterAction] {
        let message: WCCPMessage
        do {
            message = try WCCPMessage.decode(datagram)
        } catch {
            return drop(WCCPDropReason(error))
        }
        guard var group = groups[message.service.serviceID] else { return drop(.unknownService) }
        do {
            try WCCPSecurity.verify(datagram, password: group.config.password)
        } catch {
            return drop(WCCPDropReason(error))
        }
        let actions: [WCCPRouterAction]
        switch message {
        case .hereIAm(let hia):
            actions = hereIAm(hia, from: source, group: &group, now: now, permits: groupListPermits)
        case .redirectAssign(let ra):
            actions = redirectAssign(ra, from: source, group: &group, now: now)
        case .iSeeYou, .removalQuery:
            actions = drop(.unexpectedMessageType)
        }
        groups[group.config.serviceID] = group
        return actions
    }

    /// Advances timers: REMOVAL_QUERY after 2.5 × T, removal after 3 × T, flush after 5 × T without assignment.
    public mutating func tick(now: Duration) -> [WCCPRouterAction] {
        var actions: [WCCPRouterAction] = []
        let timers = config.timers
        for id in groups.keys.sorted() {
            guard var group = groups[id] else { continue }
            var removedUsable = false
            for ip in group.caches.keys.sorted() {
                guard var cache = group.caches[ip] else { continue }
                let silence = now - cache.lastHeard
                if silence >= timers.removeAfter {
                    group.caches[ip] = nil
                    let reason: CacheStateReason = cache.state == .usable ? .silent : .pendingExpired
                    // A cache already declared dead left the view then; its removal changes nothing.
                    if cache.state == .usable && !cache.failed { removedUsable = true }
                    actions.append(.cacheStateChanged(serviceID: id, cache: ip, state: .removed, reason: reason))
                } else if silence >= timers.queryAfter, !cache.queried, cache.state == .usable {
                    cache.queried = true
                    group.caches[ip] = cache
                    actions.append(.send(datagram: removalQuery(group: group, cache: cache), to: ip))
                }
            }
            if removedUsable {
                group.membershipChanged(now: now, timers: timers)
                if let a = group.recompile() { actions.append(a) }
            }
            if group.caches.isEmpty {
                group.definition = nil
                group.assignmentMethod = nil
            }
            if let deadline = group.assignmentDeadline, now >= deadline {
                // No REDIRECT_ASSIGN after the change: flush (forward normally, fail open).
                group.assignmentDeadline = nil
                group.assignment = nil
                if let a = group.recompile() { actions.append(a) }
            }
            groups[id] = group
        }
        return actions
    }

    /// Fast failure detection's verdict on a cache (`CacheHealthMonitor`). A dead cache leaves
    /// the Router View and the redirect table of every group it is usable in: its buckets fail
    /// open at once while the other caches keep theirs, and the member change number moves so
    /// the designated cache reassigns without it. When it answers again it comes back the same way.
    public mutating func setCacheFailed(_ ip: IPv4Address, failed: Bool, now: Duration) -> [WCCPRouterAction] {
        var actions: [WCCPRouterAction] = []
        for id in groups.keys.sorted() {
            guard var group = groups[id], var cache = group.caches[ip], cache.state == .usable, cache.failed != failed else {
                continue
            }
            cache.failed = failed
            group.caches[ip] = cache
            actions.append(.cacheStateChanged(serviceID: id, cache: ip, state: .usable,
                                              reason: failed ? .failureDetected : .recovered))
            group.membershipChanged(now: now, timers: config.timers)
            if let a = group.recompile() { actions.append(a) }
            groups[id] = group
        }
        return actions
    }

    /// Addresses of every cache that completed the handshake in some group (failed or not).
    public var registeredCaches: Set<IPv4Address> {
        Set(groups.values.flatMap { g in g.caches.values.filter { $0.state == .usable }.map(\.address) })
    }

    /// Addresses of every cache known in some group (pending or usable).
    public var knownCaches: Set<IPv4Address> {
        Set(groups.values.flatMap { g in g.caches.keys })
    }

    /// The redirect table currently installed for a service (empty if unknown).
    public func table(serviceID: UInt8) -> RedirectTable { groups[serviceID]?.table ?? .empty }

    /// State of every configured service, for `show ip wccp`.
    public func status() -> [WCCPServiceStatus] {
        groups.keys.sorted().compactMap { groups[$0]?.status() }
    }

    /// Total drops for one reason.
    public func dropCount(_ reason: WCCPDropReason) -> UInt64 { drops[reason, default: 0] }

    private mutating func drop(_ reason: WCCPDropReason) -> [WCCPRouterAction] {
        drops[reason, default: 0] += 1
        return []
    }

    // MARK: - HERE_I_AM

    private mutating func hereIAm(_ hia: HereIAm, from source: IPv4Address, group: inout ServiceGroup, now: Duration,
                                  permits: (UInt8, IPv4Address) -> Bool) -> [WCCPRouterAction] {
        let id = group.config.serviceID
        let ip = hia.identity.cacheIP
        if hia.service.isDynamic == group.config.isStandard { return drop(.serviceDefinitionConflict) }
        if let known = group.definition, !group.caches.isEmpty, known != hia.service {
            return drop(.serviceDefinitionConflict)
        }
        guard permits(id, ip) else { return drop(.groupListDenied) }
        guard let methods = chooseMethods(hia.capabilities, group: group, cache: ip) else {
            return drop(.unsupportedCapability)
        }
        let echoed = hia.view.routers.first { $0.routerIP == config.routerID }?.receiveID ?? 0

        var actions: [WCCPRouterAction] = []
        var cache: CacheEntry
        if let existing = group.caches[ip] {
            cache = existing
            if echoed != 0 && !cache.echoIsValid(echoed) { return drop(.badReceiveID) }
        } else if group.caches.count >= Self.maximumCachesPerGroup {
            return drop(.tooManyCaches)
        } else {
            cache = CacheEntry(address: ip, state: .pending, identity: hia.identity, forwarding: methods.forwarding,
                               assignment: methods.assignment, packetReturn: methods.packetReturn,
                               firstSeen: now, lastHeard: now)
            actions.append(.cacheStateChanged(serviceID: id, cache: ip, state: .pending, reason: .registered))
        }
        if group.caches.isEmpty { group.definition = hia.service }
        group.assignmentMethod = methods.assignment
        cache.identity = hia.identity
        cache.lastHeard = now
        cache.queried = false
        (cache.forwarding, cache.assignment, cache.packetReturn) = (methods.forwarding, methods.assignment, methods.packetReturn)
        var becameUsable = false
        if cache.state == .pending, cache.echoIsValid(echoed) {
            cache.state = .usable
            becameUsable = true
            actions.append(.cacheStateChanged(serviceID: id, cache: ip, state: .usable, reason: .receiveIDEchoed))
        }
        group.caches[ip] = cache
        if becameUsable {
            group.membershipChanged(now: now, timers: config.timers)
            if let a = group.recompile() { actions.append(a) }
        }
        actions.append(.send(datagram: iSeeYou(group: &group, to: ip), to: source))
        return actions
    }

    /// The cache's method choice (absent capabilities = GRE/hash/GRE), or nil if the router does not offer it
    /// or the group already uses another assignment method.
    private func chooseMethods(_ caps: [Capability]?, group: ServiceGroup, cache: IPv4Address)
        -> (forwarding: PacketMethods, assignment: AssignmentMethods, packetReturn: PacketMethods)? {
        var forwarding: PacketMethods = .gre, assignment: AssignmentMethods = .hash, ret: PacketMethods = .gre
        for c in caps ?? [] {
            switch c {
            case .forwarding(let m): forwarding = m
            case .assignment(let m): assignment = m
            case .packetReturn(let m): ret = m
            default: break
            }
        }
        // A cache may list several bits; take the first one the router offers.
        func pick<T: OptionSet>(_ chosen: T, _ offered: T, _ order: [T]) -> T? where T.Element == T {
            order.first { chosen.contains($0) && offered.contains($0) }
        }
        guard let f = pick(forwarding, group.config.forwarding, [.gre, .l2]),
              let r = pick(ret, group.config.packetReturn, [.gre, .l2]) else { return nil }
        // All caches of a group share one assignment method (the other caches, not this one, fix it).
        let others = group.caches.values.filter { $0.address != cache }
        let required = others.isEmpty ? nil : group.assignmentMethod
        guard let a = pick(assignment, required ?? group.config.assignment, [.hash, .mask]) else { return nil }
        return (f, a, r)
    }

    // MARK: - Outgoing messages

    private func capabilities(_ group: ServiceGroup) -> [Capability] {
        [.forwarding(group.config.forwarding), .assignment(group.config.assignment), .packetReturn(group.config.packetReturn)]
    }

    private func security(_ group: ServiceGroup) -> SecurityInfo {
        group.config.password == nil ? .none : .md5Unsigned
    }

    /// Builds an I_SEE_YOU for `cache`, consuming the next ReceiveID.
    private func iSeeYou(group: inout ServiceGroup, to ip: IPv4Address) -> [UInt8] {
        let receiveID = group.nextReceiveID()
        if var cache = group.caches[ip] {
            cache.previousSentReceiveID = cache.lastSentReceiveID
            cache.lastSentReceiveID = receiveID
            group.caches[ip] = cache
        }
        let designated = group.designatedCache
        let key = AssignmentKey(keyIP: designated ?? .any,
                                changeNumber: group.assignmentKey.keyIP == designated ? group.assignmentKey.changeNumber : 0)
        let mask = group.assignmentMethod == .mask
        let elements = group.usableCaches.map { c -> WebCacheIdentityElement in
            if mask {
                // Squid reads 16-byte mask elements: flags 0x0002, no sets (specs §2.10).
                return WebCacheIdentityElement(cacheIP: c.address, flags: WebCacheIdentityElement.flagMaskData,
                                               data: .mask(sets: [], weight: c.identity.weight, status: 0))
            }
            let buckets = group.table.caches.firstIndex(of: c.address).map { group.table.buckets(forSlot: $0) } ?? []
            return .hash(c.address, buckets: buckets, weight: c.identity.weight)
        }
        let message = ISeeYou(
            security: security(group),
            service: group.definition ?? ServiceInfo(serviceType: group.config.isStandard ? 0 : 1, serviceID: group.config.serviceID),
            identity: RouterIdentityInfo(router: RouterIDElement(routerIP: config.routerID, receiveID: receiveID),
                                         sentTo: ip, receivedFrom: group.caches.keys.sorted()),
            view: RouterViewInfo(memberChangeNumber: group.memberChangeNumber, assignmentKey: key,
                                 routers: [config.routerID], caches: elements),
            capabilities: capabilities(group))
        return WCCPMessage.iSeeYou(message).encode(password: group.config.password)
    }

    private func removalQuery(group: ServiceGroup, cache: CacheEntry) -> [UInt8] {
        let message = RemovalQuery(
            security: security(group),
            service: group.definition ?? ServiceInfo(serviceType: group.config.isStandard ? 0 : 1, serviceID: group.config.serviceID),
            query: RouterQueryInfo(routerID: config.routerID, receiveID: cache.lastSentReceiveID,
                                   sentTo: cache.address, target: cache.address))
        return WCCPMessage.removalQuery(message).encode(password: group.config.password)
    }

    // MARK: - REDIRECT_ASSIGN

    private mutating func redirectAssign(_ ra: RedirectAssign, from source: IPv4Address, group: inout ServiceGroup,
                                         now: Duration) -> [WCCPRouterAction] {
        guard let sender = group.caches[source], sender.state == .usable else { return drop(.notFromUsableCache) }
        guard group.designatedCache == source else { return drop(.notDesignatedCache) }
        let key: AssignmentKey, routers: [RouterAssignmentElement], stored: StoredAssignment
        switch ra.assignment {
        case .hash(let h), .alternate(.hash(let h)):
            (key, routers, stored) = (h.key, h.routers, .hash(h))
        case .alternate(.mask(let m)):
            (key, routers, stored) = (m.key, m.routers, .mask(m))
        case .alternate(.other):
            return drop(.invalidAssignment)
        }
        guard let mine = routers.first(where: { $0.routerIP == config.routerID }) else {
            // draft §4.8: an assignment that does not list this router flushes its table.
            group.assignment = nil
            let action = group.recompile()
            drops[.assignmentNotForThisRouter, default: 0] += 1
            return action.map { [$0] } ?? []
        }
        guard mine.changeNumber == group.memberChangeNumber, sender.echoIsValid(mine.receiveID) else {
            return drop(.staleAssignment)
        }
        let usable = Set(group.usableCaches.map(\.address))
        switch stored {
        case .hash(let h):
            guard group.assignmentMethod == .hash, h.buckets.count == 256,
                  h.caches.allSatisfy(usable.contains),
                  h.buckets.allSatisfy({ $0 == BucketEntry.unassigned || Int($0 & BucketEntry.indexMask) < h.caches.count })
            else { return drop(.invalidAssignment) }
        case .mask(let m):
            guard group.assignmentMethod == .mask,
                  m.sets.allSatisfy({ $0.values.allSatisfy { usable.contains($0.cacheIP) } })
            else { return drop(.invalidAssignment) }
        }
        group.assignment = stored
        group.assignmentKey = key
        group.assignmentDeadline = nil
        return group.recompile().map { [$0] } ?? []
    }
}
