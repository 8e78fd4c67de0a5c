import CMNL
import Glibc
import Packet

/// A route read from the kernel together with the rtmsg fields the caller may filter on.
struct DecodedRoute {
    var route: KernelRoute
    /// rtm_flags (RTM_F_CLONED marks a cache entry, e.g. the answer of a lookup).
    var flags: UInt32
    var scope: UInt8
}

/// Encoding and decoding of RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE bodies.
enum RouteMessage {
    /// "RTM_NEWROUTE 10.1.0.0/16": the operation text used in errors.
    static func operation(_ type: UInt16, _ route: KernelRoute) -> String {
        "\(MessageType.name(type)) \(route.prefix)"
    }

    /// Checks what the kernel could never accept, so the error names the route and the reason.
    static func validate(_ route: KernelRoute, type: UInt16) throws(NetlinkError) {
        // The operation's text names the route: formatted only for an error (a table load
        // validates a million routes).
        var op: String { operation(type, route) }
        if route.type == .unicast {
            if route.nextHops.isEmpty && type != MessageType.deleteRoute {
                throw NetlinkError(operation: op, errno: EINVAL, detail: "a unicast route needs a next hop")
            }
        } else if !route.nextHops.isEmpty {
            throw NetlinkError(operation: op, errno: EINVAL, detail: "a \(route.type) route takes no next hops")
        }
        for hop in route.nextHops {
            if hop.gateway == nil && hop.interfaceIndex == nil {
                throw NetlinkError(operation: op, errno: EINVAL, detail: "next hop without gateway or interface")
            }
            if hop.weight == 0 {
                throw NetlinkError(operation: op, errno: EINVAL, detail: "next hop weight must be 1...255")
            }
            if case .v6 = route.prefix, case .v4? = hop.gateway {
                throw NetlinkError(operation: op, errno: EINVAL, detail: "an IPv6 route cannot have an IPv4 gateway")
            }
        }
    }

    /// Writes the body of a route request: rtmsg, then RTA_TABLE, RTA_DST, RTA_PRIORITY,
    /// RTA_PREFSRC, then either RTA_GATEWAY/RTA_OIF (one next hop) or RTA_MULTIPATH.
    static func write(_ route: KernelRoute, type: UInt16, into w: inout MessageWriter) throws(NetlinkError) {
        try validate(route, type: type)
        var header = rtmsg()
        header.rtm_family = route.prefix.netlinkFamily
        header.rtm_dst_len = route.prefix.length
        header.rtm_table = route.table < 256 ? UInt8(route.table) : RouteAttribute.tableCompat
        header.rtm_protocol = route.protocol
        header.rtm_type = route.type.rawValue
        if type == MessageType.deleteRoute {
            header.rtm_scope = RouteAttribute.scopeNowhere
        } else if route.type == .unicast && route.nextHops.allSatisfy({ $0.gateway == nil }) {
            header.rtm_scope = RouteAttribute.scopeLink  // straight onto the interface
        } else {
            header.rtm_scope = RouteAttribute.scopeUniverse
        }
        w.putFamilyHeader(header)
        w.put(RouteAttribute.table, u32: route.table)
        w.put(RouteAttribute.destination, address: route.prefix.networkAddress)
        if let metric = route.metric { w.put(RouteAttribute.priority, u32: metric) }
        if let source = route.preferredSource { w.put(RouteAttribute.preferredSource, address: source) }

        if route.nextHops.count == 1 {
            let hop = route.nextHops[0]
            if let gateway = hop.gateway { putGateway(gateway, routeFamily: header.rtm_family, into: &w) }
            if let index = hop.interfaceIndex { w.put(RouteAttribute.outputInterface, u32: UInt32(bitPattern: index)) }
        } else if route.nextHops.count > 1 {
            let multipath = w.beginAttribute(RouteAttribute.multipath)
            for hop in route.nextHops {
                // struct rtnexthop { u16 len; u8 flags; u8 hops (weight - 1); s32 ifindex; } + attributes
                guard let start = w.reserve(MemoryLayout<rtnexthop>.size) else { break }
                start.storeBytes(of: hop.weight - 1, toByteOffset: 3, as: UInt8.self)
                start.storeBytes(of: hop.interfaceIndex ?? 0, toByteOffset: 4, as: Int32.self)
                if let gateway = hop.gateway { putGateway(gateway, routeFamily: header.rtm_family, into: &w) }
                start.storeBytes(of: UInt16(w.tail - start), toByteOffset: 0, as: UInt16.self)
            }
            w.endAttribute(multipath)
        }
        if w.overflowed {
            throw NetlinkError(operation: operation(type, route), errno: EMSGSIZE,
                               detail: "\(route.nextHops.count) next hops do not fit in one request")
        }
    }

    /// RTA_GATEWAY in the route's own family; an IPv6 gateway of an IPv4 route (RFC 5549)
    /// goes in RTA_VIA, which carries its own family.
    private static func putGateway(_ gateway: IPAddress, routeFamily: UInt8, into w: inout MessageWriter) {
        if gateway.netlinkFamily == routeFamily {
            w.put(RouteAttribute.gateway, address: gateway)
        } else {
            w.put(RouteAttribute.via, bytes: [gateway.netlinkFamily, 0] + gateway.networkBytes)
        }
    }

    /// The whole request as bytes.
    static func request(_ route: KernelRoute, type: UInt16, flags: UInt16, sequence: UInt32) throws(NetlinkError) -> [UInt8] {
        try MessageWriter.encode(type: type, flags: flags, sequence: sequence) { (w: inout MessageWriter) throws(NetlinkError) in
            try write(route, type: type, into: &w)
        }
    }

    /// Writes an RTM_GETROUTE lookup of one destination (`ip route get ADDRESS`).
    static func writeLookup(_ destination: IPAddress, into w: inout MessageWriter) {
        var header = rtmsg()
        header.rtm_family = destination.netlinkFamily
        header.rtm_dst_len = destination.netlinkFamily == Family.inet ? 32 : 128
        w.putFamilyHeader(header)
        w.put(RouteAttribute.destination, address: destination)
    }

    /// Reads an RTM_NEWROUTE body; nil for families other than IPv4/IPv6 or a short header.
    static func decode(_ payload: UnsafeRawBufferPointer) -> DecodedRoute? {
        guard let header = payload.loadHeader(rtmsg.self) else { return nil }
        let family = header.rtm_family
        guard var destination = zeroAddress(family: family) else { return nil }
        var table = UInt32(header.rtm_table)
        var gateway: IPAddress?
        var interfaceIndex: Int32?
        var metric: UInt32?
        var source: IPAddress?
        var multipath: [KernelNextHop]?
        for (type, value) in Attributes(payload, after: MemoryLayout<rtmsg>.size) {
            switch type {
            case RouteAttribute.destination: destination = value.ipAddress(family: family) ?? destination
            case RouteAttribute.table: table = value.u32 ?? table
            case RouteAttribute.gateway: gateway = value.ipAddress(family: family)
            case RouteAttribute.via: gateway = decodeVia(value)
            case RouteAttribute.outputInterface: interfaceIndex = value.i32
            case RouteAttribute.priority: metric = value.u32
            case RouteAttribute.preferredSource: source = value.ipAddress(family: family)
            case RouteAttribute.multipath: multipath = decodeMultipath(value, family: family)
            default: break
            }
        }
        guard let prefix = makePrefix(destination, length: header.rtm_dst_len) else { return nil }
        var hops: [KernelNextHop] = []
        if let multipath {
            hops = multipath
        } else if gateway != nil || interfaceIndex != nil {
            hops = [KernelNextHop(gateway: gateway, interfaceIndex: interfaceIndex)]
        }
        let route = KernelRoute(prefix: prefix, nextHops: hops, protocol: header.rtm_protocol, metric: metric,
                                table: table, type: RouteType(rawValue: header.rtm_type), preferredSource: source)
        return DecodedRoute(route: route, flags: header.rtm_flags, scope: header.rtm_scope)
    }

    /// RTA_VIA: u16 family, then the address.
    private static func decodeVia(_ value: UnsafeRawBufferPointer) -> IPAddress? {
        guard value.count >= 2 else { return nil }
        let family = UInt8(truncatingIfNeeded: value.loadUnaligned(as: UInt16.self))
        return UnsafeRawBufferPointer(rebasing: value[2...]).ipAddress(family: family)
    }

    /// RTA_MULTIPATH: a run of rtnexthop structs, each followed by its own attributes.
    private static func decodeMultipath(_ value: UnsafeRawBufferPointer, family: UInt8) -> [KernelNextHop] {
        var hops: [KernelNextHop] = []
        var offset = 0
        let fixed = MemoryLayout<rtnexthop>.size
        while value.count - offset >= fixed {
            let length = Int(value.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            guard length >= fixed, length <= value.count - offset else { break }
            var hop = KernelNextHop(weight: value[offset + 3] &+ 1)
            let index = value.loadUnaligned(fromByteOffset: offset + 4, as: Int32.self)
            hop.interfaceIndex = index == 0 ? nil : index
            let attributes = UnsafeRawBufferPointer(rebasing: value[(offset + fixed)..<(offset + length)])
            for (type, attribute) in Attributes(attributes) {
                switch type {
                case RouteAttribute.gateway: hop.gateway = attribute.ipAddress(family: family)
                case RouteAttribute.via: hop.gateway = decodeVia(attribute)
                default: break
                }
            }
            hops.append(hop)
            offset += (length + 3) & ~3
        }
        return hops
    }
}

/// The header of a route dump: all families, all tables (filtered on our side).
func rtmsgForDump() -> rtmsg { rtmsg() }

/// The header of a route dump that the kernel filters (with strict checking): all families,
/// one table (tables past 255 are not filtered by the header), one protocol when given.
func rtmsgForDump(table: UInt32, protocol routeProtocol: UInt8?) -> rtmsg {
    var header = rtmsg()
    header.rtm_table = table < 256 ? UInt8(table) : 0
    header.rtm_protocol = routeProtocol ?? 0
    return header
}
