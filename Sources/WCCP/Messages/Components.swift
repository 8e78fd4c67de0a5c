import Packet

/// Security Info (component 0): option none, or MD5 with its 16-byte digest.
public enum SecurityInfo: Equatable, Sendable {
    case none
    case md5(digest: [UInt8])

    /// An MD5 security component with a zero digest, to be signed on encode.
    public static let md5Unsigned = SecurityInfo.md5(digest: [UInt8](repeating: 0, count: 16))
}

/// Service Info flags (hash fields, ports, alternate hash fields).
public struct ServiceFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let srcIPHash = ServiceFlags(rawValue: 0x0001)
    public static let dstIPHash = ServiceFlags(rawValue: 0x0002)
    public static let srcPortHash = ServiceFlags(rawValue: 0x0004)
    public static let dstPortHash = ServiceFlags(rawValue: 0x0008)
    public static let portsDefined = ServiceFlags(rawValue: 0x0010)
    public static let portsSource = ServiceFlags(rawValue: 0x0020)
    public static let redirectOnlyProtocol0 = ServiceFlags(rawValue: 0x0040)
    public static let srcIPAltHash = ServiceFlags(rawValue: 0x0100)
    public static let dstIPAltHash = ServiceFlags(rawValue: 0x0200)
    public static let srcPortAltHash = ServiceFlags(rawValue: 0x0400)
    public static let dstPortAltHash = ServiceFlags(rawValue: 0x0800)
}

/// Service Info (component 1): which service group a message is about and, for dynamic services, its definition.
public struct ServiceInfo: Equatable, Sendable {
    /// ServiceType 0: well-known service, only the ID is meaningful.
    public static let typeStandard: UInt8 = 0
    /// ServiceType 1: dynamic service defined by priority, protocol, flags and ports.
    public static let typeDynamic: UInt8 = 1

    public var serviceType: UInt8
    public var serviceID: UInt8
    public var priority: UInt8
    public var protocolNumber: UInt8
    public var flags: ServiceFlags
    /// Up to 8 ports; trailing zeros of the wire list are dropped.
    public var ports: [UInt16]

    public init(serviceType: UInt8, serviceID: UInt8, priority: UInt8 = 0, protocolNumber: UInt8 = 0,
                flags: ServiceFlags = [], ports: [UInt16] = []) {
        self.serviceType = serviceType; self.serviceID = serviceID; self.priority = priority
        self.protocolNumber = protocolNumber; self.flags = flags; self.ports = ports
    }

    /// The standard "web-cache" service 0 as Squid sends it (all fields but the ID zero).
    public static let webCache = ServiceInfo(serviceType: typeStandard, serviceID: 0)

    public var isDynamic: Bool { serviceType == ServiceInfo.typeDynamic }

    /// The hash flags in effect: for standard web-cache (0) the well-known dst-IP hash.
    public var effectiveFlags: ServiceFlags {
        isDynamic ? flags : (serviceID == 0 ? .dstIPHash : flags)
    }
}

/// Router Identity Info (component 2).
public struct RouterIdentityInfo: Equatable, Sendable {
    public var router: RouterIDElement
    public var sentTo: IPv4Address
    public var receivedFrom: [IPv4Address]
    public init(router: RouterIDElement, sentTo: IPv4Address, receivedFrom: [IPv4Address]) {
        self.router = router; self.sentTo = sentTo; self.receivedFrom = receivedFrom
    }
}

/// Router View Info (component 4): the router's member change number, assignment key, routers and usable caches.
public struct RouterViewInfo: Equatable, Sendable {
    public var memberChangeNumber: UInt32
    public var assignmentKey: AssignmentKey
    public var routers: [IPv4Address]
    public var caches: [WebCacheIdentityElement]
    public init(memberChangeNumber: UInt32, assignmentKey: AssignmentKey, routers: [IPv4Address],
                caches: [WebCacheIdentityElement]) {
        self.memberChangeNumber = memberChangeNumber; self.assignmentKey = assignmentKey
        self.routers = routers; self.caches = caches
    }
}

/// Web-Cache View Info (component 5): the cache's change number, routers (with echoed ReceiveIDs) and caches.
public struct WebCacheViewInfo: Equatable, Sendable {
    public var changeNumber: UInt32
    public var routers: [RouterIDElement]
    public var caches: [IPv4Address]
    public init(changeNumber: UInt32, routers: [RouterIDElement], caches: [IPv4Address]) {
        self.changeNumber = changeNumber; self.routers = routers; self.caches = caches
    }
}

/// Hash Assignment Info (component 6, and Alternate Assignment type 0).
public struct HashAssignment: Equatable, Sendable {
    public var key: AssignmentKey
    public var routers: [RouterAssignmentElement]
    public var caches: [IPv4Address]
    /// 256 entries: 0xFF unassigned, else index into `caches` (low 7 bits), 0x80 = use alternate hash.
    public var buckets: [UInt8]
    public init(key: AssignmentKey, routers: [RouterAssignmentElement], caches: [IPv4Address], buckets: [UInt8]) {
        self.key = key; self.routers = routers; self.caches = caches; self.buckets = buckets
    }
}

/// Mask assignment (Alternate Assignment type 1).
public struct MaskAssignment: Equatable, Sendable {
    public var key: AssignmentKey
    public var routers: [RouterAssignmentElement]
    public var sets: [MaskValueSet]
    public init(key: AssignmentKey, routers: [RouterAssignmentElement], sets: [MaskValueSet]) {
        self.key = key; self.routers = routers; self.sets = sets
    }
}

/// Alternate Assignment (component 13).
public enum AlternateAssignment: Equatable, Sendable {
    case hash(HashAssignment)
    case mask(MaskAssignment)
    /// Rev1 types 2 (alternate mask) and 3 (weight/status), kept verbatim.
    case other(type: UInt16, body: [UInt8])
}

/// Router Query Info (component 7), sent in REMOVAL_QUERY.
public struct RouterQueryInfo: Equatable, Sendable {
    public var routerID: IPv4Address
    public var receiveID: UInt32
    public var sentTo: IPv4Address
    public var target: IPv4Address
    public init(routerID: IPv4Address, receiveID: UInt32, sentTo: IPv4Address, target: IPv4Address) {
        self.routerID = routerID; self.receiveID = receiveID; self.sentTo = sentTo; self.target = target
    }
}

/// Forwarding or return methods (capability types 1 and 3): a bitmask.
public struct PacketMethods: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let gre = PacketMethods(rawValue: 0x1)
    public static let l2 = PacketMethods(rawValue: 0x2)
    public var description: String {
        [contains(.gre) ? "GRE" : nil, contains(.l2) ? "L2" : nil].compactMap { $0 }.joined(separator: "+")
    }
}

/// Assignment methods (capability type 2): a bitmask.
public struct AssignmentMethods: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let hash = AssignmentMethods(rawValue: 0x1)
    public static let mask = AssignmentMethods(rawValue: 0x2)
    public var description: String {
        [contains(.hash) ? "hash" : nil, contains(.mask) ? "mask" : nil].compactMap { $0 }.joined(separator: "+")
    }
}

/// One Capability Element (in Capabilities Info, component 8).
public enum Capability: Equatable, Sendable {
    case forwarding(PacketMethods)
    case assignment(AssignmentMethods)
    case packetReturn(PacketMethods)
    /// Rev1 Transmit_t: upper/lower bounds in ms (upper 0 = single value `lower`).
    case transmitT(upper: UInt16, lower: UInt16)
    /// Rev1 Timer_scale: four octets a, b, c, d.
    case timerScale(UInt8, UInt8, UInt8, UInt8)
    case unknown(type: UInt16, value: [UInt8])
}

/// Command Extension (component 15).
public struct CommandExtension: Equatable, Sendable {
    public static let shutdown: UInt16 = 1
    public static let shutdownResponse: UInt16 = 2
    public var commandType: UInt16
    public var data: [UInt8]
    public init(commandType: UInt16, data: [UInt8]) { self.commandType = commandType; self.data = data }

    /// The cache IP carried by SHUTDOWN / SHUTDOWN_RESPONSE.
    public var cacheIP: IPv4Address? {
        guard data.count >= 4 else { return nil }
        return IPv4Address(UInt32(data[0]) << 24 | UInt32(data[1]) << 16 | UInt32(data[2]) << 8 | UInt32(data[3]))
    }
}

// MARK: - Component codecs (body only; the TLV header is handled by the message codec)

extension SecurityInfo {
    static func decode(_ r: inout WireReader) throws(WCCPDecodeError) -> SecurityInfo {
        switch try r.u32("security option") {
        case 0: return .none
        case 1: return .md5(digest: try r.raw(16, "MD5 digest"))
        case let other: throw .malformedComponent(.securityInfo, "unknown security option \(other)")
        }
    }
    func encode(_ w: inout WireWriter) {
        switch self {
        case .none: w.u32(0)
        case .md5(let digest):
            w.u32(1)
            var d = Array(digest.prefix(16))
            while d.count < 16 { d.append(0) }
            w.raw(d)
        }
    }
}

extension ServiceInfo {
    static func decode(_ r: inout WireReader) throws(WCCPDecodeError) -> ServiceInfo {
        let type = try r.u8("service type")
        if type > 1 { throw .malformedComponent(.serviceInfo, "unknown service type \(type)") }
        let id = try r.u8("service ID"), prio = try r.u8("priority"), proto = try r.u8("protocol")
        let flags = ServiceFlags(rawValue: try r.u32("service flags"))
        var ports: [UInt16] = []
        for _ in 0..<8 { ports.append(try r.u16("port")) }
        while ports.last == 0 { ports.removeLast() }
        return ServiceInfo(serviceType: type, serviceID: id, priority: prio, protocolNumber: proto, flags: flags, ports: ports)
    }
    func encode(_ w: inout WireWriter) {
        w.u8(serviceType); w.u8(serviceID); w.u8(priority); w.u8(protocolNumber); w.u32(flags.rawValue)
        for i in 0..<8 { w.u16(i < ports.count ? ports[i] : 0) }
    }
}

extension RouterIdentityInfo {
    static func decode(_ r: inout WireReader) throws(WCCPDecodeError) -> RouterIdentityInfo {
        let router = RouterIDElement(routerIP: try r.ipv4("router IP"), receiveID: try r.u32("receive ID"))
        let sentTo = try r.ipv4("sent-to address")
        return RouterIdentityInfo(router: router, sentTo: sentTo, receivedFrom: try decodeIPv4List(&r, "received-from addresses"))
    }
    func encode(_ w: inout WireWriter) {
        w.ipv4(router.routerIP); w.u32(router.receiveID); w.ipv4(sentTo); encodeIPv4List(receivedFrom, &w)
    }
}

extension RouterViewInfo {
    static func decode(_ r: inout WireReader) throws(WCCPDecodeError) -> RouterViewInfo {
        let change = try r.u32("member change number")
        let key = try AssignmentKey.decode(&r)
        let routers = try decodeIPv4List(&r, "router view routers")
        let n = try r.count(minimumElementSize: 16, "router view caches")
        var caches: [WebCacheIdentityElement] = []
        for _ in 0..<n { caches.append(try WebCacheIdentityElement.decode(&r, lastInComponent: false)) }
        return RouterViewInfo(memberChangeNumber: change, assignmentKey: key, routers: routers, caches: caches)
    }
    func encode(_ w: inout WireWriter) {
        w.u32(memberChangeNumber); assignmentKey.encode(&w); encodeIPv4List(routers, &w)
        w.u32(UInt32(caches.count))
        for c in caches { c.encode(&w) }
    }
}

extension WebCacheViewInfo {
    static func decode(_ r: inout WireReader) throws(WCCPDecodeError) -> WebCacheViewInfo {
        let change = try r.u32("change number")
        let n = try r.count(minimumElementSize: 8, "web-cache view routers")
        var routers: [RouterIDElement] = []
        for _ in 0..<n { routers.append(RouterIDElement(routerIP: try r.ipv4("router IP"), receiveID: try r.u32("receive ID"))) }
        return WebCacheViewInfo(changeNumber: change, routers: routers, caches: try decodeIPv4List(&r, "web-cache view caches"))
    }
    func encode(_ w: inout WireWriter) {
        w.u32(changeNumber)
        w.u32(UInt32(routers.count))
        for e in routers { w.ipv4(e.routerIP); w.u32(e.receiveID) }
        encodeIPv4List(caches, &w)
    }
}

extension HashAssignment {
    static func decode(_ r: inout WireReader) throws(WCCPDecodeError) -> HashAssignment {
        let key = try AssignmentKey.decode(&r)
        let routers = try RouterAssignmentElement.decodeList(&r)
        let caches = try decodeIPv4List(&r, "assignment caches")
        return HashAssignment(key: key, routers: routers, caches: caches, buckets: try r.raw(256, "bucket table"))
    }
    func encode(_ w: inout WireWriter) {
        key.encode(&w); RouterAssignmentElement.encodeList(routers, &w); encodeIPv4List(caches, &w)
        var b = Array(buckets.prefix(256))
        while b.count < 256 { b.append(0xFF) }
        w.raw(b)
    }
}

extension MaskAssignment {
    static func decode(_ r: inout WireReader) throws(WCCPDecodeError) -> MaskAssignment {
        let key = try AssignmentKey.decode(&r)
        let routers = try RouterAssignmentElement.decodeList(&r)
        return MaskAssignment(key: key, routers: routers, sets: try MaskValueSet.decodeList(&r))
    }
    func encode(_ w: inout WireWriter) {
        key.encode(&w); RouterAssignmentElement.encodeList(routers, &w); MaskValueSet.encodeList(sets, &w)
    }
}

extension AlternateAssignment {
    static func decode(_ r: inout WireReader) throws(WCCPDecodeError) -> AlternateAssignment {
        let type = try r.u16("alternate assignment type")
        let length = Int(try r.u16("alternate assignment length"))
        guard length <= r.remaining else { throw .badLength(declared: length, available: r.remaining) }
        var body = try r.subReader(length, "alternate assignment body")
        switch type {
        case 0: return .hash(try HashAssignment.decode(&body))
        case 1: return .mask(try MaskAssignment.decode(&body))
        default: return .other(type: type, body: try body.raw(body.remaining, "alternate assignment body"))
        }
    }
    func encode(_ w: inout WireWriter) {
        var body = WireWriter()
        let type: UInt16
        switch self {
        case .hash(let h): type = 0; h.encode(&body)
        case .mask(let m): type = 1; m.encode(&body)
        case .other(let t, let b): type = t; body.raw(b)
        }
        w.u16(type); w.u16(UInt16(truncatingIfNeeded: body.count)); w.raw(body.bytes)
    }
}

extension RouterQueryInfo {
    static func decode(_ r: inout WireReader) throws(WCCPDecodeError) -> RouterQueryInfo {
        RouterQueryInfo(routerID: try r.ipv4("query router ID"), receiveID: try r.u32("query receive ID"),
                        sentTo: try r.ipv4("query sent-to"), target: try r.ipv4("query target"))
    }
    func encode(_ w: inout WireWriter) { w.ipv4(routerID); w.u32(receiveID); w.ipv4(sentTo); w.ipv4(target) }
}

extension Capability {
    static func decodeList(_ r: inout WireReader) throws(WCCPDecodeError) -> [Capability] {
        var out: [Capability] = []
        while r.remaining > 0 {
            let type = try r.u16("capability type")
            let length = Int(try r.u16("capability length"))
            var v = try r.subReader(length, "capability value")
            switch (type, length) {
            case (1, 4): out.append(.forwarding(PacketMethods(rawValue: try v.u32("forwarding"))))
            case (2, 4): out.append(.assignment(AssignmentMethods(rawValue: try v.u32("assignment"))))
            case (3, 4): out.append(.packetReturn(PacketMethods(rawValue: try v.u32("return"))))
            case (4, 4): out.append(.transmitT(upper: try v.u16("transmit_t"), lower: try v.u16("transmit_t")))
            case (5, 4):
                out.append(.timerScale(try v.u8("timer scale"), try v.u8("timer scale"), try v.u8("timer scale"), try v.u8("timer scale")))
            case (1...5, _):
                throw .malformedComponent(.capabilitiesInfo, "capability \(type) has length \(length), expected 4")
            default: out.append(.unknown(type: type, value: try v.raw(length, "capability value")))
            }
        }
        return out
    }
    static func encodeList(_ list: [Capability], _ w: inout WireWriter) {
        for c in list {
            switch c {
            case .forwarding(let m): w.u16(1); w.u16(4); w.u32(m.rawValue)
            case .assignment(let m): w.u16(2); w.u16(4); w.u32(m.rawValue)
            case .packetReturn(let m): w.u16(3); w.u16(4); w.u32(m.rawValue)
            case .transmitT(let u, let l): w.u16(4); w.u16(4); w.u16(u); w.u16(l)
            case .timerScale(let a, let b, let c, let d): w.u16(5); w.u16(4); w.u8(a); w.u8(b); w.u8(c); w.u8(d)
            case .unknown(let t, let v): w.u16(t); w.u16(UInt16(truncatingIfNeeded: v.count)); w.raw(v)
            }
        }
    }
}

extension CommandExtension {
    static func decode(_ r: inout WireReader) throws(WCCPDecodeError) -> CommandExtension {
        let type = try r.u16("command type")
        let length = Int(try r.u16("command length"))
        return CommandExtension(commandType: type, data: try r.raw(length, "command data"))
    }
    func encode(_ w: inout WireWriter) {
        w.u16(commandType); w.u16(UInt16(truncatingIfNeeded: data.count)); w.raw(data)
    }
}
