import Glibc
import Packet
import Testing
@testable import Netlink

/// A route dump by table and protocol is filtered by the kernel (strict checking), so the
/// connected routes are read without copying out a full table of learned routes.
@Suite(.enabled(if: TestNamespace.isUsable, "needs root and iproute2"))
struct RouteDumpFilterTests {
    @Test func theKernelSendsOnlyTheTableAndProtocolAsked() throws {
        let ns = try TestNamespace()
        defer { ns.remove() }
        try ns.mustIP("link", "add", "f0", "type", "veth", "peer", "name", "f1")
        try ns.mustIP("link", "set", "f0", "up")
        try ns.mustIP("addr", "add", "10.0.1.1/24", "dev", "f0")
        try ns.mustIP("addr", "add", "fd00:1::1/64", "dev", "f0", "nodad")
        // Another table (same protocol) and many of our own routes in main.
        try ns.mustIP("route", "add", "10.5.0.0/16", "dev", "f0", "table", "100", "proto", "kernel")
        let nl = try RTNetlink(namespace: ns.name)
        let f0 = try #require(try nl.link(named: "f0")).index
        let ours = (0..<300).map { KernelRoute(prefix: IPPrefix("10.\(100 + $0 / 256).\($0 % 256).0/24")!,
                                               nextHops: [KernelNextHop(gateway: .v4(IPv4Address("10.0.1.2")!), interfaceIndex: f0)]) }
        #expect(try nl.replaceRoutes(ours).allSatisfy { $0 == nil })

        // What the kernel itself sends for the filtered request: only main-table kernel routes.
        let socket = try NetlinkSocket(namespace: ns.name)
        #expect(socket.setStrictDumpCheck(true))
        let sent = try socket.dump(type: MessageType.getRoute, operation: "test dump", { w in
            w.putFamilyHeader(rtmsgForDump(table: RouteTable.main, protocol: RouteProtocol.kernel))
        }, decode: { message in message.type == MessageType.newRoute ? RouteMessage.decode(message.payload) : nil })
        #expect(!sent.isEmpty)
        #expect(sent.allSatisfy { $0.route.protocol == RouteProtocol.kernel && $0.route.table == RouteTable.main })
        let prefixes = Set(sent.map(\.route.prefix))
        #expect(prefixes.contains(IPPrefix("10.0.1.0/24")!) && prefixes.contains(IPPrefix("fd00:1::/64")!))
        #expect(!prefixes.contains(IPPrefix("10.5.0.0/16")!))

        // The public call gives the same, and unfiltered dumps on the same socket still see everything.
        let connected = try nl.routes(table: RouteTable.main, protocol: RouteProtocol.kernel)
        #expect(Set(connected.map(\.prefix)) == prefixes.subtracting(sent.filter { $0.flags & RouteAttribute.flagCloned != 0 }.map(\.route.prefix)))
        #expect(try nl.routes(protocol: RouteProtocol.egressd).count == 300)
        #expect(try nl.routes(table: 100).map(\.prefix) == [IPPrefix("10.5.0.0/16")!])
    }
}
