// From the configuration and the WCCP router's state to what the engine
// applies: the router's settings, the group-list check, redirect-lists as
// access rules, and one RedirectServiceSpec per service group. Pure functions,
// tested without sockets (Tests/ControlTests/WCCPTranslationTests.swift).

import Commands
import Engine
import Packet
import WCCP

/// The assignment last accepted from a service's designated cache, as decoded
/// from its REDIRECT_ASSIGN (the router's compiled table does not expose mask
/// sets or the alternate-hash bit).
enum AcceptedAssignment: Equatable, Sendable {
    case hash(HashAssignment)
    case mask(MaskAssignment)
}

enum WCCPTranslation {
    /// The state machine's settings for `config` (routerID required).
    static func routerConfig(_ config: WCCPConfig, routerID: IPv4Address) throws(WCCPConfigError) -> WCCPRouterConfig {
        let services = config.services.keys.sorted().map { id -> WCCPServiceConfig in
            let s = config.services[id]!
            return WCCPServiceConfig(serviceID: id, password: s.password.map(WCCPPassword.init),
                                     forwarding: packetMethods(s.forwarding), assignment: assignmentMethods(s.assignment),
                                     packetReturn: packetMethods(s.packetReturn), failover: s.failover)
        }
        return try WCCPRouterConfig(routerID: routerID, services: services,
                                    timers: WCCPTimers(hereIAmInterval: .milliseconds(config.hereIAmMilliseconds)))
    }

    /// The failure-detection timers for `config`, nil when detection is off.
    static func healthConfig(_ config: WCCPConfig) -> CacheHealthConfig? {
        config.failureDetection.map {
            CacheHealthConfig(interval: .milliseconds($0.intervalMilliseconds), timeout: .milliseconds($0.timeoutMilliseconds))
        }
    }

    static func packetMethods(_ offer: WCCPPacketMethodOffer) -> PacketMethods {
        switch offer {
        case .both: [.gre, .l2]
        case .gre: .gre
        case .l2: .l2
        }
    }

    static func assignmentMethods(_ offer: WCCPAssignmentOffer) -> AssignmentMethods {
        switch offer {
        case .both: [.hash, .mask]
        case .hash: .hash
        case .mask: .mask
        }
    }

    /// The group-list check: no list = any cache; a list that does not exist = none.
    static func groupListPermits(_ config: WCCPConfig, accessLists: [String: AccessListConfig],
                                 serviceID: UInt8, cache: IPv4Address) -> Bool {
        guard let name = config.services[serviceID]?.groupList else { return true }
        return accessLists[name]?.permitsHost(cache) ?? false
    }

    /// A redirect-list as engine rules (first match wins, implicit deny); a list
    /// that does not exist has no rules, so nothing is redirected.
    static func accessRules(_ list: AccessListConfig?) -> [AccessRule] {
        guard let list else { return [] }
        return list.entries.flatMap { e -> [AccessRule] in
            let ranges: [ClosedRange<UInt16>?] = switch e.destinationPorts {
            case nil: [nil]
            case .equal(let ports)?: ports.map { $0...$0 }
            case .range(let low, let high)?: [low...high]
            }
            return ranges.map {
                AccessRule(permit: e.permit, protocolNumber: e.protocolName.number, source: e.source,
                           destination: e.destination, destinationPorts: $0)
            }
        }
    }

    /// The engine's form of one service group, or nil while its definition is unknown
    /// (a dynamic service before its first cache). `method` gives each cache's forwarding
    /// (nil: not resolvable yet, so the cache is installed unusable and its traffic fails open).
    static func serviceSpec(status: WCCPServiceStatus, table: RedirectTable, accepted: AcceptedAssignment?,
                            redirectList: [AccessRule]?, failover: Bool = false,
                            method: (WCCPCacheStatus) -> RedirectMethod?) -> RedirectServiceSpec? {
        let definition: ServiceInfo
        if let d = status.definition {
            definition = d
        } else if status.serviceID == 0 {
            definition = .webCache
        } else {
            return nil
        }
        let byAddress = Dictionary(status.caches.map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })
        var caches: [RedirectCacheSpec] = []
        for ip in table.caches {
            let cache = byAddress[ip]
            let resolved = cache.flatMap(method)
            caches.append(RedirectCacheSpec(address: ip, method: resolved ?? .gre(source: .any),
                                            usable: resolved != nil && cache?.state == .usable))
        }
        let assignment = engineAssignment(table: table, accepted: accepted, flags: definition.effectiveFlags, failover: failover)
        if definition.isDynamic {
            let portsDefined = definition.flags.contains(.portsDefined)
            return RedirectServiceSpec(serviceID: status.serviceID, dynamic: true, priority: definition.priority,
                                       protocolNumber: definition.protocolNumber, ports: portsDefined ? definition.ports : [],
                                       portsAreSource: definition.flags.contains(.portsSource), redirectList: redirectList,
                                       assignment: assignment, caches: caches)
        }
        // Well-known web-cache: TCP 80, priority 240, dst-IP hash (draft §4.1).
        return .webCache(assignment: assignment, caches: caches, redirectList: redirectList)
    }

    /// The router's compiled table as engine entries: slots are indexes into `table.caches`.
    /// With `failover`, the mask values of caches missing from the table go to the remaining
    /// caches exactly as the router's table does (`AssignmentFailover`).
    static func engineAssignment(table: RedirectTable, accepted: AcceptedAssignment?, flags: ServiceFlags,
                                 failover: Bool = false) -> EngineRedirectAssignment {
        if table.isEmpty { return .none }
        switch accepted {
        case .mask(let m)?:
            let slot = Dictionary(table.caches.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            var acceptedSets = m.sets
            if failover {
                let dead = Set(m.sets.flatMap { $0.values.map(\.cacheIP) }.filter { slot[$0] == nil })
                acceptedSets = AssignmentFailover.remap(maskSets: m.sets, dead: dead).sets
            }
            let sets = acceptedSets.compactMap { set -> RedirectMaskSet? in
                let values = set.values.compactMap { v -> RedirectMaskSet.Value? in
                    guard let index = slot[v.cacheIP] else { return nil }
                    return RedirectMaskSet.Value(sourceIP: v.value.srcIP, destinationIP: v.value.dstIP,
                                                 sourcePort: v.value.srcPort, destinationPort: v.value.dstPort, cacheIndex: index)
                }
                guard !values.isEmpty else { return nil }
                return RedirectMaskSet(sourceIPMask: set.mask.srcIP, destinationIPMask: set.mask.dstIP,
                                       sourcePortMask: set.mask.srcPort, destinationPortMask: set.mask.dstPort, values: values)
            }
            return sets.isEmpty ? .none : .mask(sets)
        case .hash(let h)?:
            return .hash(flags: UInt32(flags.rawValue), buckets: hashBuckets(table, alternate: h.buckets))
        case nil:
            return .hash(flags: UInt32(flags.rawValue), buckets: hashBuckets(table, alternate: []))
        }
    }

    /// 256 entries from the table's per-slot buckets, with the 0x80 "use alternate"
    /// bit of the accepted assignment kept where the entry still names the same cache (a
    /// bucket failed over to another cache uses the primary hash).
    static func hashBuckets(_ table: RedirectTable, alternate: [UInt8]) -> [UInt8] {
        var buckets = [UInt8](repeating: 0xFF, count: 256)
        for slot in table.caches.indices {
            for b in table.buckets(forSlot: slot) {
                let same = b < alternate.count && alternate[b] != 0xFF && Int(alternate[b] & 0x7F) == slot
                let flag: UInt8 = same ? alternate[b] & 0x80 : 0
                buckets[b] = UInt8(slot) | flag
            }
        }
        return buckets
    }
}
