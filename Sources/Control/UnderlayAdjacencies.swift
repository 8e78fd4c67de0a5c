// The underlay's next-hop MACs for the engine (Engine/IO/UnderlayNeighbours):
// for every tunnel's remote end and every GRE cache of a WCCP service, the
// kernel's neighbour entry toward it (as `adjacency(of:)` resolves route next
// hops: REACHABLE or PERMANENT only). Republished when one changed, on the
// same occasions as the routes (configuration, WCCP, the 5-second refresh).

import Engine
import Packet

extension Appliance {
    /// Resolves and publishes the underlay neighbours when they changed.
    func publishUnderlayNeighbours() {
        var addresses: [IPv4Address] = tunnels.values.map(\.spec.remoteOuter)
        for s in redirectServices {
            for c in s.caches { if case .gre = c.method { addresses.append(c.address) } }
        }
        var entries: [UnderlayNeighbours.Entry] = []
        for a in Set(addresses).sorted(by: { $0.value < $1.value }) {
            guard let adj = adjacency(of: .v4(a)), adj.mac.count == 6 else { continue }
            let mac = adj.mac.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            entries.append(UnderlayNeighbours.Entry(address: a.value, interfaceIndex: adj.interfaceIndex, mac: mac))
        }
        if entries != engine.underlayNeighbours.entries {
            engine.publishUnderlay(UnderlayNeighbours(entries))
        }
    }
}
