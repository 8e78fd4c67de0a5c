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
        guard let t = tunnels[name], let mine = t.spec.insideV6 else { return nil }
        for table in protocolRoutes.values {
            for hop in table[prefix] ?? [] {
                if case .v6(let a) = hop, a != mine.address, mine.subnet.contains(a) {
                    return KernelNextHop(gateway: hop, interfaceIndex: t.interfaceIndex)
                }
            }
        }
        let base = mine.subnet.address
        for offset in UInt64(1)...2 {
            let (low, carry) = base.low.addingReportingOverflow(offset)
            let candidate = IPv6Address(high: base.high &+ (carry ? 1 : 0), low: low)
            if candidate != mine.address, mine.subnet.contains(candidate) {
                return KernelNextHop(gateway: .v6(candidate), interfaceIndex: t.interfaceIndex)
            }
        }
        return nil
    }
}
