import CMNL
import Glibc
import Packet
import NIOConcurrencyHelpers

/// A synchronous rtnetlink client: one NETLINK_ROUTE socket, every change acked by the kernel
/// before the call returns, failures as `NetlinkError`. For the control plane (TUN set-up,
/// kernel routes, neighbour lookups), not for the packet path. Calls from several threads are
/// serialised by a pthread mutex (NIOLock): unlike Synchronization.Mutex, whose contended
/// hand-over on Linux goes through PI-futex syscalls ThreadSanitizer cannot see, TSan
/// understands it, so the sanitizer run checks this type instead of reporting false races.
public final class RTNetlink: @unchecked Sendable {
    private let lock = NIOLock()
    private let socket: NetlinkSocket

    /// Opens the socket in the current network namespace (nil) or in the named one
    /// (/run/netns/NAME); the socket stays in that namespace for its whole life.
    public init(namespace: String? = nil) throws(NetlinkError) {
        socket = try NetlinkSocket(namespace: namespace)
    }

    private func withSocket<T: Sendable>(_ body: (NetlinkSocket) throws(NetlinkError) -> T) throws(NetlinkError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(socket)
    }

    // MARK: Links

    /// The link named `name`, or nil when there is none.
    public func link(named name: String) throws(NetlinkError) -> LinkInfo? {
        try getLink(index: 0, name: name, operation: "RTM_GETLINK \(name)")
    }

    /// The link with interface index `index`, or nil when there is none.
    public func link(index: Int32) throws(NetlinkError) -> LinkInfo? {
        try getLink(index: index, name: nil, operation: "RTM_GETLINK #\(index)")
    }

    private func getLink(index: Int32, name: String?, operation: String) throws(NetlinkError) -> LinkInfo? {
        do throws(NetlinkError) {
            return try withSocket { (s) throws(NetlinkError) -> LinkInfo? in
                var found: LinkInfo?
                try s.request(type: MessageType.getLink, operation: operation,
                              { w in LinkMessage.writeGet(index: index, name: name, into: &w) },
                              reply: { message in
                                  if message.type == MessageType.newLink { found = LinkMessage.decode(message.payload) }
                              })
                return found
            }
        } catch where error.errno == ENODEV {
            return nil
        }
    }

    /// All links.
    public func links() throws(NetlinkError) -> [LinkInfo] {
        try withSocket { (s) throws(NetlinkError) in
            try s.dump(type: MessageType.getLink, operation: "RTM_GETLINK dump", { w in LinkMessage.writeDump(into: &w) },
                       decode: { $0.type == MessageType.newLink ? LinkMessage.decode($0.payload) : nil })
        }
    }

    /// Sets the administrative state and/or the MTU of a link; nil leaves a setting as it is.
    public func setLink(index: Int32, up: Bool? = nil, mtu: Int? = nil) throws(NetlinkError) {
        var what: [String] = []
        if let up { what.append(up ? "up" : "down") }
        if let mtu { what.append("mtu \(mtu)") }
        let operation = "RTM_NEWLINK #\(index) " + what.joined(separator: " ")
        if let mtu, !(68...65535).contains(mtu) {
            throw NetlinkError(operation: operation, errno: EINVAL, detail: "MTU must be 68...65535")
        }
        try withSocket { (s) throws(NetlinkError) in
            try s.request(type: MessageType.newLink, operation: operation) { w in
                LinkMessage.writeSet(index: index, up: up, mtu: mtu, into: &w)
            }
        }
    }

    // MARK: Addresses

    /// Assigns an IPv4 address; assigning one that is already there succeeds (NLM_F_REPLACE).
    public func addAddress(_ a: IPv4InterfaceAddress, index: Int32) throws(NetlinkError) {
        try changeAddress(.v4(a.address), prefixLength: a.length, index: index, type: MessageType.newAddress)
    }

    /// Assigns an IPv6 address with IFA_F_NODAD, so it is usable at once; idempotent.
    public func addAddress(_ a: IPv6InterfaceAddress, index: Int32) throws(NetlinkError) {
        try changeAddress(.v6(a.address), prefixLength: a.length, index: index, type: MessageType.newAddress)
    }

    /// Removes an IPv4 address.
    public func deleteAddress(_ a: IPv4InterfaceAddress, index: Int32) throws(NetlinkError) {
        try changeAddress(.v4(a.address), prefixLength: a.length, index: index, type: MessageType.deleteAddress)
    }

    /// Removes an IPv6 address.
    public func deleteAddress(_ a: IPv6InterfaceAddress, index: Int32) throws(NetlinkError) {
        try changeAddress(.v6(a.address), prefixLength: a.length, index: index, type: MessageType.deleteAddress)
    }

    private func changeAddress(_ address: IPAddress, prefixLength: UInt8, index: Int32, type: UInt16) throws(NetlinkError) {
        let flags = type == MessageType.newAddress ? NLMFlag.create | NLMFlag.replace : 0
        try withSocket { (s) throws(NetlinkError) in
            try s.request(type: type, flags: flags,
                          operation: "\(MessageType.name(type)) \(address)/\(prefixLength) dev #\(index)") { w in
                AddressMessage.write(address, prefixLength: prefixLength, index: index, into: &w)
            }
        }
    }

    /// The addresses of one link (or of all links when `index` is nil), both families.
    public func addresses(index: Int32? = nil) throws(NetlinkError) -> [InterfaceAddress] {
        let all = try withSocket { (s) throws(NetlinkError) in
            try s.dump(type: MessageType.getAddress, operation: "RTM_GETADDR dump",
                       { w in AddressMessage.writeDump(into: &w) },
                       decode: { $0.type == MessageType.newAddress ? AddressMessage.decode($0.payload) : nil })
        }
        guard let index else { return all }
        return all.filter { $0.interfaceIndex == index }
    }

    // MARK: Routes

    /// Installs `route`, replacing any route to the same prefix (and table, metric). A route
    /// with several next hops becomes one ECMP route (RTA_MULTIPATH).
    public func replaceRoute(_ route: KernelRoute) throws(NetlinkError) {
        try withSocket { (s) throws(NetlinkError) in
            try s.request(type: MessageType.newRoute, flags: NLMFlag.create | NLMFlag.replace,
                          operation: RouteMessage.operation(MessageType.newRoute, route)) { (w) throws(NetlinkError) in
                try RouteMessage.write(route, type: MessageType.newRoute, into: &w)
            }
        }
    }

    /// Installs many routes pipelined (hundreds per round trip). Returns one result per route,
    /// in order: nil on success, the error otherwise. Throws only when the socket fails.
    public func replaceRoutes(_ routes: [KernelRoute]) throws(NetlinkError) -> [NetlinkError?] {
        try batch(routes, type: MessageType.newRoute, flags: NLMFlag.create | NLMFlag.replace)
    }

    /// Removes a route. Protocol, type, metric and next hops, when given, must match; a route
    /// that does not exist gives ESRCH (IPv4) or ENOENT (IPv6).
    public func deleteRoute(_ route: KernelRoute) throws(NetlinkError) {
        try withSocket { (s) throws(NetlinkError) in
            try s.request(type: MessageType.deleteRoute,
                          operation: RouteMessage.operation(MessageType.deleteRoute, route)) { (w) throws(NetlinkError) in
                try RouteMessage.write(route, type: MessageType.deleteRoute, into: &w)
            }
        }
    }

    /// Removes many routes pipelined, e.g. the stale routes of a previous run found with
    /// `routes(protocol: RouteProtocol.egressd)`. One result per route, in order.
    public func deleteRoutes(_ routes: [KernelRoute]) throws(NetlinkError) -> [NetlinkError?] {
        try batch(routes, type: MessageType.deleteRoute, flags: 0)
    }

    private func batch(_ routes: [KernelRoute], type: UInt16, flags: UInt16) throws(NetlinkError) -> [NetlinkError?] {
        try withSocket { (s) throws(NetlinkError) in
            try s.pipeline(count: routes.count, type: type, flags: flags,
                           operation: { RouteMessage.operation(type, routes[$0]) }) { (i, w) throws(NetlinkError) in
                try RouteMessage.write(routes[i], type: type, into: &w)
            }
        }
    }

    /// The routes of one table, both families, optionally only those of one protocol. Cache
    /// entries (RTM_F_CLONED) are left out.
    /// The kernel filters the dump itself where it can (strict checking: table and protocol in
    /// the request), so reading the few connected routes next to a million learned ones does
    /// not copy the million out; the same filter is applied here in any case.
    public func routes(table: UInt32 = RouteTable.main, protocol routeProtocol: UInt8? = nil) throws(NetlinkError) -> [KernelRoute] {
        try withSocket { (s) throws(NetlinkError) in
            var filtered = s.setStrictDumpCheck(true)
            defer { if filtered { s.setStrictDumpCheck(false) } }
            if filtered {
                do throws(NetlinkError) {
                    return try dumpRoutes(s, header: rtmsgForDump(table: table, protocol: routeProtocol),
                                          table: table, protocol: routeProtocol)
                } catch where error.errno == EINVAL || error.errno == EOPNOTSUPP || error.errno == ENOENT {
                    // A kernel (or a family's dumper) that refuses the filter: dump all, filter here.
                    s.setStrictDumpCheck(false)
                    filtered = false
                }
            }
            return try dumpRoutes(s, header: rtmsgForDump(), table: table, protocol: routeProtocol)
        }
    }

    private func dumpRoutes(_ s: NetlinkSocket, header: rtmsg, table: UInt32, protocol routeProtocol: UInt8?) throws(NetlinkError) -> [KernelRoute] {
            try s.dump(type: MessageType.getRoute, operation: "RTM_GETROUTE dump", { w in
                w.putFamilyHeader(header)
            }, decode: { message -> KernelRoute? in
                guard message.type == MessageType.newRoute, let decoded = RouteMessage.decode(message.payload),
                      decoded.flags & RouteAttribute.flagCloned == 0, decoded.route.table == table else { return nil }
                if let routeProtocol, decoded.route.protocol != routeProtocol { return nil }
                return decoded.route
            })
    }

    /// How the kernel would route a packet to `destination` (`ip route get`): nil when it has no
    /// route (ENETUNREACH); other refusals (unreachable/prohibit routes) throw.
    public func routeLookup(to destination: IPAddress) throws(NetlinkError) -> RouteLookup? {
        do throws(NetlinkError) {
            return try withSocket { (s) throws(NetlinkError) -> RouteLookup? in
                var found: RouteLookup?
                try s.request(type: MessageType.getRoute, operation: "RTM_GETROUTE \(destination)",
                              { w in RouteMessage.writeLookup(destination, into: &w) },
                              reply: { message in
                                  guard message.type == MessageType.newRoute,
                                        let decoded = RouteMessage.decode(message.payload) else { return }
                                  let hop = decoded.route.nextHops.first
                                  found = RouteLookup(interfaceIndex: hop?.interfaceIndex, gateway: hop?.gateway,
                                                      preferredSource: decoded.route.preferredSource,
                                                      type: decoded.route.type, table: decoded.route.table)
                              })
                return found
            }
        } catch where error.errno == ENETUNREACH {
            return nil
        }
    }

    // MARK: Neighbours

    /// The ARP and NDP entries of one link, or of all links when `index` is nil.
    public func neighbours(index: Int32? = nil) throws(NetlinkError) -> [Neighbour] {
        let all = try withSocket { (s) throws(NetlinkError) in
            try s.dump(type: MessageType.getNeighbour, operation: "RTM_GETNEIGH dump",
                       { w in NeighbourMessage.writeDump(into: &w) },
                       decode: { $0.type == MessageType.newNeighbour ? NeighbourMessage.decode($0.payload) : nil })
        }
        guard let index else { return all }
        return all.filter { $0.interfaceIndex == index }
    }
}
