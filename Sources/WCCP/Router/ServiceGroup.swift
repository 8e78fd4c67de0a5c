import Packet

/// One cache's entry in a service group.
struct CacheEntry: Sendable {
    var address: IPv4Address
    var state: CacheState
    var identity: WebCacheIdentityElement
    var forwarding: PacketMethods
    var assignment: AssignmentMethods
    var packetReturn: PacketMethods
    var firstSeen: Duration
    var lastHeard: Duration
    /// ReceiveIDs of the last two I_SEE_YOUs sent to this cache (one may be in flight or lost).
    var lastSentReceiveID: UInt32 = 0
    var previousSentReceiveID: UInt32 = 0
    /// A REMOVAL_QUERY was sent since the last valid HERE_I_AM.
    var queried = false
    /// Declared dead by fast failure detection (`CacheHealthMonitor`): kept out of the Router
    /// View and of the redirect table until it answers again.
    var failed = false

    func echoIsValid(_ id: UInt32) -> Bool {
        id != 0 && (id == lastSentReceiveID || id == previousSentReceiveID)
    }
}

/// The assignment last accepted from the designated cache, kept to recompile after removals.
enum StoredAssignment: Equatable, Sendable {
    case hash(HashAssignment)
    case mask(MaskAssignment)
}

/// Router-side state of one service group.
struct ServiceGroup: Sendable {
    var config: WCCPServiceConfig
    /// Learned from the first accepted cache; cleared when the group empties.
    var definition: ServiceInfo?
    /// The group's assignment method, chosen by the first cache.
    var assignmentMethod: AssignmentMethods?
    /// ++ per I_SEE_YOU sent in this group; never 0.
    var receiveID: UInt32 = 0
    /// ++ on every change of the usable-cache set.
    var memberChangeNumber: UInt32 = 0
    var caches: [IPv4Address: CacheEntry] = [:]
    var assignment: StoredAssignment?
    var assignmentKey: AssignmentKey = .none
    var table: RedirectTable = .empty
    /// When set, the table is flushed unless a REDIRECT_ASSIGN is accepted before this time.
    var assignmentDeadline: Duration?

    init(config: WCCPServiceConfig) { self.config = config }

    /// Caches in the Router View and the redirect table: handshake complete, not declared dead.
    var usableCaches: [CacheEntry] {
        caches.values.filter { $0.state == .usable && !$0.failed }.sorted { $0.address < $1.address }
    }

    /// The designated cache as Squid elects it: lowest raw network-order word read as a
    /// little-endian host integer (byte-reversed order), see specs §2.10.
    var designatedCache: IPv4Address? {
        usableCaches.map(\.address).min { $0.value.byteSwapped < $1.value.byteSwapped }
    }

    mutating func nextReceiveID() -> UInt32 {
        receiveID = receiveID == UInt32.max ? 1 : receiveID + 1
        return receiveID
    }

    mutating func membershipChanged(now: Duration, timers: WCCPTimers) {
        memberChangeNumber = memberChangeNumber == UInt32.max ? 1 : memberChangeNumber + 1
        assignmentDeadline = now + timers.assignmentDeadline
    }

    /// Rebuilds the redirect table from the stored assignment, dropping caches that are not
    /// usable: their entries fail open, or with `failover` go to the remaining caches.
    func compiledTable() -> RedirectTable {
        let usable = Set(usableCaches.map(\.address))
        switch assignment {
        case nil:
            return .empty
        case .hash(let h)?:
            let flags = definition?.effectiveFlags ?? .dstIPHash
            let dead = Set(h.caches.filter { !usable.contains($0) })
            guard config.failover else {
                return RedirectTable(hashBuckets: h.buckets, caches: h.caches, flags: flags, excluding: dead)
            }
            let (buckets, moved) = AssignmentFailover.remap(buckets: h.buckets, caches: h.caches, dead: dead)
            var table = RedirectTable(hashBuckets: buckets, caches: h.caches, flags: flags, excluding: dead)
            table.failedOver = table.isEmpty ? 0 : moved
            return table
        case .mask(let m)?:
            let all = m.sets.flatMap { $0.values.map(\.cacheIP) }
            let dead = Set(all.filter { !usable.contains($0) })
            guard config.failover else { return RedirectTable(maskSets: m.sets, excluding: dead) }
            let (sets, moved) = AssignmentFailover.remap(maskSets: m.sets, dead: dead)
            var table = RedirectTable(maskSets: sets, excluding: dead)
            table.failedOver = table.isEmpty ? 0 : moved
            return table
        }
    }

    /// Recompiles the table; returns an action when it changed.
    mutating func recompile() -> WCCPRouterAction? {
        let new = compiledTable()
        guard new != table else { return nil }
        table = new
        return .assignmentChanged(serviceID: config.serviceID, table: new)
    }

    func status() -> WCCPServiceStatus {
        let caches = self.caches.values.sorted { $0.address < $1.address }.map { c in
            let slot = table.caches.firstIndex(of: c.address)
            return WCCPCacheStatus(address: c.address, state: c.state, forwarding: c.forwarding, assignment: c.assignment,
                                   packetReturn: c.packetReturn, weight: c.identity.weight,
                                   buckets: slot.map { table.buckets(forSlot: $0) } ?? [],
                                   maskValues: slot.map { table.maskValueCount(forSlot: $0) } ?? 0,
                                   firstSeen: c.firstSeen, lastHeard: c.lastHeard, failed: c.failed)
        }
        return WCCPServiceStatus(serviceID: config.serviceID, definition: definition, assignmentMethod: assignmentMethod,
                                 memberChangeNumber: memberChangeNumber, receiveID: receiveID, assignmentKey: assignmentKey,
                                 designatedCache: designatedCache, caches: caches, assignmentDeadline: assignmentDeadline,
                                 failedOver: table.failedOver)
    }
}
