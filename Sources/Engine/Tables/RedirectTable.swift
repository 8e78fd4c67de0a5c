// The WCCP redirect stage's tables, as the control plane hands them to the
// engine (specs) and as workers read them (flat entries in the snapshot).
// The WCCP module decides who the caches are and which buckets they own;
// the engine only applies that, per packet, with no allocation.

import Packet

/// One line of an extended access list (redirect-list): first match wins.
public struct AccessRule: Equatable, Sendable {
    public var permit: Bool
    /// nil: any IP protocol.
    public var protocolNumber: UInt8?
    public var source: IPv4Prefix
    public var destination: IPv4Prefix
    public var sourcePorts: ClosedRange<UInt16>?
    public var destinationPorts: ClosedRange<UInt16>?

    public init(permit: Bool, protocolNumber: UInt8? = nil, source: IPv4Prefix = IPv4Prefix(.any, length: 0)!,
                destination: IPv4Prefix = IPv4Prefix(.any, length: 0)!,
                sourcePorts: ClosedRange<UInt16>? = nil, destinationPorts: ClosedRange<UInt16>? = nil) {
        self.permit = permit
        self.protocolNumber = protocolNumber
        self.source = source
        self.destination = destination
        self.sourcePorts = sourcePorts
        self.destinationPorts = destinationPorts
    }
}

/// How packets reach a cache.
public enum RedirectMethod: Equatable, Sendable {
    /// GRE (protocol 0x883E + redirect header) from `source`, the address
    /// the cache knows the router by.
    case gre(source: IPv4Address)
    /// Unchanged packet in an Ethernet frame to the cache's MAC, out of the
    /// interface the cache is on (same segment).
    case l2(interfaceIndex: Int32, mac: [UInt8])
}

public struct RedirectCacheSpec: Equatable, Sendable {
    public var address: IPv4Address
    public var method: RedirectMethod
    /// False while the cache is considered dead: its buckets fail open.
    public var usable: Bool
    public init(address: IPv4Address, method: RedirectMethod, usable: Bool = true) {
        self.address = address
        self.method = method
        self.usable = usable
    }
}

/// One mask/value set (draft §5.7.6-5.7.8): the first value equal to the
/// masked packet fields names the cache.
public struct RedirectMaskSet: Equatable, Sendable {
    public struct Value: Equatable, Sendable {
        public var sourceIP: UInt32, destinationIP: UInt32, sourcePort: UInt16, destinationPort: UInt16
        public var cacheIndex: Int
        public init(sourceIP: UInt32, destinationIP: UInt32, sourcePort: UInt16, destinationPort: UInt16, cacheIndex: Int) {
            self.sourceIP = sourceIP
            self.destinationIP = destinationIP
            self.sourcePort = sourcePort
            self.destinationPort = destinationPort
            self.cacheIndex = cacheIndex
        }
    }
    public var sourceIPMask: UInt32, destinationIPMask: UInt32, sourcePortMask: UInt16, destinationPortMask: UInt16
    public var values: [Value]
    public init(sourceIPMask: UInt32, destinationIPMask: UInt32, sourcePortMask: UInt16, destinationPortMask: UInt16, values: [Value]) {
        self.sourceIPMask = sourceIPMask
        self.destinationIPMask = destinationIPMask
        self.sourcePortMask = sourcePortMask
        self.destinationPortMask = destinationPortMask
        self.values = values
    }
}

public enum RedirectAssignment: Equatable, Sendable {
    /// Nothing assigned: every packet of the service fails open.
    case none
    /// `flags`: the service flags (hash selectors in bits 0-3, alternate
    /// selectors in bits 8-11); `buckets`: 256 entries, 0xFF unassigned,
    /// else a cache index in the low 7 bits, 0x80 = use the alternate hash.
    case hash(flags: UInt32, buckets: [UInt8])
    case mask([RedirectMaskSet])
}

/// A service group as the engine applies it.
public struct RedirectServiceSpec: Equatable, Sendable {
    public var serviceID: UInt8
    /// Dynamic service (51-255): the D bit of the redirect header.
    public var dynamic: Bool
    /// Services are tried highest priority first; the first that matches
    /// the packet's protocol and ports decides (IOS without
    /// `ip wccp check services all`).
    public var priority: UInt8
    public var protocolNumber: UInt8
    /// Empty: every port.
    public var ports: [UInt16]
    public var portsAreSource: Bool
    /// nil: all of the service's traffic; else permitted traffic only.
    public var redirectList: [AccessRule]?
    public var assignment: RedirectAssignment
    public var caches: [RedirectCacheSpec]

    public init(serviceID: UInt8, dynamic: Bool, priority: UInt8, protocolNumber: UInt8, ports: [UInt16] = [],
                portsAreSource: Bool = false, redirectList: [AccessRule]? = nil, assignment: RedirectAssignment,
                caches: [RedirectCacheSpec]) {
        self.serviceID = serviceID
        self.dynamic = dynamic
        self.priority = priority
        self.protocolNumber = protocolNumber
        self.ports = ports
        self.portsAreSource = portsAreSource
        self.redirectList = redirectList
        self.assignment = assignment
        self.caches = caches
    }

    /// The well-known web-cache service: TCP destination port 80, hashed
    /// on the destination address (draft §4.1), priority 240.
    public static func webCache(assignment: RedirectAssignment, caches: [RedirectCacheSpec], redirectList: [AccessRule]? = nil) -> Self {
        RedirectServiceSpec(serviceID: 0, dynamic: false, priority: 240, protocolNumber: 6, ports: [80],
                            redirectList: redirectList, assignment: assignment, caches: caches)
    }
}

/// Per-service counters: totals, then one per cache slot, then one per bucket.
public enum RedirectCounter {
    public static let redirected = 0
    public static let failedOpen = 1      // matched, but no usable cache for the flow
    public static let denied = 2          // matched, but the redirect-list denies it
    public static let returned = 3        // GRE-returned by one of the service's caches, forwarded normally
    public static let cacheBase = 4       // + cache index (32 caches at most)
    public static let bucketBase = cacheBase + 32
    public static let fieldCount = bucketBase + 256
    public static let maximumCaches = 32
}

// MARK: Flat forms read by the workers

struct ServiceEntry {
    var serviceID: UInt8
    var dynamic: Bool
    var protocolNumber: UInt8
    var portsAreSource: Bool
    var portCount: Int
    var ports: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16)
    var aclStart: Int, aclCount: Int          // aclCount -1: no redirect-list
    var kind: UInt8                            // 0 none, 1 hash, 2 mask
    var hashFlags: UInt32
    var bucketStart: Int                       // 256 entries in `buckets`
    var maskSetStart: Int, maskSetCount: Int
    var cacheStart: Int, cacheCount: Int
    var counters: CounterRowSet
}

struct AccessEntry {
    var permit: Bool
    var anyProtocol: Bool
    var protocolNumber: UInt8
    var source: UInt32, sourceMask: UInt32
    var destination: UInt32, destinationMask: UInt32
    var sourcePortLow: UInt16, sourcePortHigh: UInt16
    var destinationPortLow: UInt16, destinationPortHigh: UInt16
}

struct MaskSetEntry {
    var sourceIPMask: UInt32, destinationIPMask: UInt32, sourcePortMask: UInt16, destinationPortMask: UInt16
    var valueStart: Int, valueCount: Int
}

struct MaskValueEntry {
    var sourceIP: UInt32, destinationIP: UInt32, sourcePort: UInt16, destinationPort: UInt16
    var cacheIndex: Int
}

struct CacheEntry {
    var address: UInt32
    var usable: Bool
    var l2: Bool
    var greSource: UInt32
    var interfaceIndex: Int32
    var mac: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)
}

/// The compiled redirect tables of one snapshot.
final class CompiledRedirect: @unchecked Sendable {
    let serviceCount: Int
    let services: UnsafeMutablePointer<ServiceEntry>
    let acl: UnsafeMutablePointer<AccessEntry>
    let buckets: UnsafeMutablePointer<UInt8>
    let maskSets: UnsafeMutablePointer<MaskSetEntry>
    let maskValues: UnsafeMutablePointer<MaskValueEntry>
    let caches: UnsafeMutablePointer<CacheEntry>
    let counts: (Int, Int, Int, Int, Int, Int)

    init(_ specs: [RedirectServiceSpec], counters: [UInt8: CounterBlock]) {
        var services: [ServiceEntry] = []
        var acl: [AccessEntry] = []
        var buckets: [UInt8] = []
        var sets: [MaskSetEntry] = []
        var values: [MaskValueEntry] = []
        var caches: [CacheEntry] = []
        for s in specs.sorted(by: { $0.priority != $1.priority ? $0.priority > $1.priority : $0.serviceID < $1.serviceID }) {
            guard let block = counters[s.serviceID] else { continue }
            var ports: [UInt16] = Array(s.ports.prefix(8))
            let portCount = ports.count
            while ports.count < 8 { ports.append(0) }
            var e = ServiceEntry(
                serviceID: s.serviceID, dynamic: s.dynamic, protocolNumber: s.protocolNumber, portsAreSource: s.portsAreSource,
                portCount: portCount, ports: (ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6], ports[7]),
                aclStart: acl.count, aclCount: -1, kind: 0, hashFlags: 0, bucketStart: 0, maskSetStart: sets.count,
                maskSetCount: 0, cacheStart: caches.count, cacheCount: min(s.caches.count, RedirectCounter.maximumCaches),
                counters: CounterRowSet(block))
            if let list = s.redirectList {
                e.aclCount = list.count
                for r in list {
                    acl.append(AccessEntry(
                        permit: r.permit, anyProtocol: r.protocolNumber == nil, protocolNumber: r.protocolNumber ?? 0,
                        source: r.source.address.value, sourceMask: IPv4Prefix.mask(r.source.length),
                        destination: r.destination.address.value, destinationMask: IPv4Prefix.mask(r.destination.length),
                        sourcePortLow: r.sourcePorts?.lowerBound ?? 0, sourcePortHigh: r.sourcePorts?.upperBound ?? .max,
                        destinationPortLow: r.destinationPorts?.lowerBound ?? 0, destinationPortHigh: r.destinationPorts?.upperBound ?? .max))
                }
            }
            switch s.assignment {
            case .none:
                break
            case .hash(let flags, let table):
                e.kind = 1
                e.hashFlags = flags
                e.bucketStart = buckets.count
                buckets += (0..<256).map { $0 < table.count ? table[$0] : 0xFF }
            case .mask(let maskSets):
                e.kind = 2
                for m in maskSets {
                    sets.append(MaskSetEntry(sourceIPMask: m.sourceIPMask, destinationIPMask: m.destinationIPMask,
                                             sourcePortMask: m.sourcePortMask, destinationPortMask: m.destinationPortMask,
                                             valueStart: values.count, valueCount: m.values.count))
                    values += m.values.map {
                        MaskValueEntry(sourceIP: $0.sourceIP, destinationIP: $0.destinationIP, sourcePort: $0.sourcePort,
                                       destinationPort: $0.destinationPort, cacheIndex: $0.cacheIndex)
                    }
                }
                e.maskSetCount = maskSets.count
            }
            for c in s.caches.prefix(RedirectCounter.maximumCaches) {
                switch c.method {
                case .gre(let source):
                    caches.append(CacheEntry(address: c.address.value, usable: c.usable, l2: false, greSource: source.value,
                                             interfaceIndex: 0, mac: (0, 0, 0, 0, 0, 0)))
                case .l2(let ifindex, let mac):
                    let m = mac.count == 6 ? mac : [0, 0, 0, 0, 0, 0]
                    caches.append(CacheEntry(address: c.address.value, usable: c.usable, l2: true, greSource: 0,
                                             interfaceIndex: ifindex, mac: (m[0], m[1], m[2], m[3], m[4], m[5])))
                }
            }
            services.append(e)
        }
        serviceCount = services.count
        func copy<T>(_ a: [T]) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, a.count))
            p.initialize(from: a, count: a.count)
            return p
        }
        self.services = copy(services)
        self.acl = copy(acl)
        self.buckets = copy(buckets)
        self.maskSets = copy(sets)
        self.maskValues = copy(values)
        self.caches = copy(caches)
        counts = (services.count, acl.count, buckets.count, sets.count, values.count, caches.count)
    }

    deinit {
        services.deinitialize(count: counts.0)
        services.deallocate()
        acl.deallocate()
        buckets.deallocate()
        maskSets.deallocate()
        maskValues.deallocate()
        caches.deallocate()
    }

    var view: RedirectView {
        RedirectView(serviceCount: serviceCount, services: services, acl: acl, buckets: buckets, maskSets: maskSets,
                     maskValues: maskValues, caches: caches)
    }
}

/// What the packet path reads of the redirect tables.
struct RedirectView {
    let serviceCount: Int
    let services: UnsafeMutablePointer<ServiceEntry>
    let acl: UnsafeMutablePointer<AccessEntry>
    let buckets: UnsafeMutablePointer<UInt8>
    let maskSets: UnsafeMutablePointer<MaskSetEntry>
    let maskValues: UnsafeMutablePointer<MaskValueEntry>
    let caches: UnsafeMutablePointer<CacheEntry>
}
