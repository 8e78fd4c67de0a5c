import Packet

/// Protocol timers, in multiples of HERE_I_AM_T (draft-wilson §4.14, specs §2.8).
public struct WCCPTimers: Equatable, Sendable {
    /// HERE_I_AM_T: the caches' hello interval.
    public var hereIAmInterval: Duration = .seconds(10)
    /// Silence after which a REMOVAL_QUERY is sent (2.5 × T).
    public var queryAfter: Duration { hereIAmInterval * 2.5 }
    /// Silence after which a cache is removed (3 × T).
    public var removeAfter: Duration { hereIAmInterval * 3 }
    /// Time after a membership change within which a REDIRECT_ASSIGN must arrive (5 × T).
    public var assignmentDeadline: Duration { hereIAmInterval * 5 }
    public init(hereIAmInterval: Duration = .seconds(10)) { self.hereIAmInterval = hereIAmInterval }
}

/// One service group configured on the router (`ip wccp web-cache` / `ip wccp N`).
public struct WCCPServiceConfig: Equatable, Sendable {
    /// 0 = standard web-cache; 51...255 = dynamic (definition learned from the first cache).
    public var serviceID: UInt8
    /// MD5 password; nil = security option none.
    public var password: WCCPPassword?
    /// Forwarding methods offered to caches.
    public var forwarding: PacketMethods
    /// Assignment methods offered to caches.
    public var assignment: AssignmentMethods
    /// Return methods offered to caches.
    public var packetReturn: PacketMethods
    /// A dead cache's buckets go to the remaining caches until the designated cache reassigns
    /// (`AssignmentFailover`); false: they fail open.
    public var failover: Bool

    public init(serviceID: UInt8, password: WCCPPassword? = nil, forwarding: PacketMethods = [.gre, .l2],
                assignment: AssignmentMethods = [.hash, .mask], packetReturn: PacketMethods = [.gre, .l2],
                failover: Bool = false) {
        self.serviceID = serviceID; self.password = password; self.forwarding = forwarding
        self.assignment = assignment; self.packetReturn = packetReturn; self.failover = failover
    }

    /// Equal but for local policy that the caches never see (`failover`): the group keeps its state.
    func sameGroup(as other: WCCPServiceConfig) -> Bool {
        var a = self, b = other
        a.failover = false; b.failover = false
        return a == b
    }

    /// Whether HERE_I_AMs for this service must carry service type standard (ID 0) or dynamic.
    public var isStandard: Bool { serviceID == 0 }
}

/// Why a router configuration was refused.
public enum WCCPConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    case reservedServiceID(UInt8)
    case duplicateService(UInt8)
    case noMethodOffered(UInt8)

    public var description: String {
        switch self {
        case .reservedServiceID(let id): "service \(id) is reserved: use 0 (web-cache) or a dynamic service 51-255"
        case .duplicateService(let id): "service \(id) is configured twice"
        case .noMethodOffered(let id): "service \(id) offers no forwarding, assignment or return method"
        }
    }
}

/// Router-wide WCCP configuration.
public struct WCCPRouterConfig: Equatable, Sendable {
    /// The router's identifier: the address caches send to (their `wccp2_router`).
    public var routerID: IPv4Address
    public var services: [WCCPServiceConfig]
    public var timers: WCCPTimers

    public init(routerID: IPv4Address, services: [WCCPServiceConfig], timers: WCCPTimers = WCCPTimers()) throws(WCCPConfigError) {
        var seen: Set<UInt8> = []
        for s in services {
            if (1...50).contains(s.serviceID) { throw .reservedServiceID(s.serviceID) }
            if !seen.insert(s.serviceID).inserted { throw .duplicateService(s.serviceID) }
            if s.forwarding.isEmpty || s.assignment.isEmpty || s.packetReturn.isEmpty { throw .noMethodOffered(s.serviceID) }
        }
        self.routerID = routerID; self.services = services; self.timers = timers
    }
}
