// Linux refuses device-only next hops in an IPv6 multipath route ("Device only
// routes can not be added for IPv6 using the multipath API"), so an IPv6 ECMP
// route over several tunnels names a gateway inside each tunnel's /125. The
// TUNs are point-to-point without neighbour discovery, so the gateway decides
// nothing but the interface; the protocol's own next hop is used when there is
// one in that tunnel (what `ip -6 route` then shows), else the first address
// of the tunnel's subnet that is not ours (the peer in the usual .1/.2 layout).

import Netlink
import Packet

extension Appliance {
    /// The kernel next hop for an IPv6 route of an ECMP group through tunnel `name`.
    func ipv6MultipathHop(prefix: IPPrefix, tunnel name: String) -> KernelNextHop? {
        ipv6MultipathHop(tunnel: name, protocolNextHops: protocolRoutes.values.flatMap { $0[prefix] ?? [] })
    }

    /// The same for a route whose protocol next hops are `hops` (learned routes).
    func ipv6MultipathHop(tunnel name: String, protocolNextHops hops: [IPAddress]) -> KernelNextHop? {
        guard let t = tunnels[name], let inside = t.spec.insideV6 else { return nil }
        return Self.ipv6Gateway(inside: inside, protocolNextHops: hops).map {
            KernelNextHop(gateway: .v6($0), interfaceIndex: t.interfaceIndex)
        }
    }

    /// The gateway in the tunnel whose inside address is `inside`: a protocol next hop in
    /// its subnet, else the subnet's first host address that is not ours; nil for a /128.
    static func ipv6Gateway(inside: IPv6InterfaceAddress, protocolNextHops: [IPAddress]) -> IPv6Address? {
        for hop in protocolNextHops {
            if case .v6(let a) = hop, a != inside.address, inside.subnet.contains(a) { return a }
        }
        let base = inside.subnet.address
        // A /127 has no subnet-router anycast address to skip: its peer may be the first.
        for offset: UInt64 in inside.length >= 127 ? [0, 1] : [1, 2] {
            let (low, carry) = base.low.addingReportingOverflow(offset)
            let candidate = IPv6Address(high: base.high &+ (carry ? 1 : 0), low: low)
            if candidate != inside.address, inside.subnet.contains(candidate) { return candidate }
        }
        return nil
    }
}
