// RFC 4271 §9.1.2.2 best path selection and FRR-style multipath among a
// prefix's candidate routes (one per peer).

import Packet

/// One peer's route to a prefix, as the decision process sees it.
struct Candidate {
    var peer: Int
    var id: AttributeSetID
    var attributes: RouteAttributes
    var isEBGP: Bool
    var peerIdentifier: IPv4Address
    var peerAddress: IPAddress
}

/// Multipath settings (`maximum-paths N`, `bgp bestpath as-path multipath-relax`).
public struct MultipathConfiguration: Hashable, Sendable {
    /// Paths installed per prefix; 1 disables multipath.
    public var maximumPaths: Int
    /// Equal AS path length suffices; otherwise AS paths must be identical (FRR's default).
    public var asPathRelax: Bool

    public init(maximumPaths: Int = 1, asPathRelax: Bool = false) {
        self.maximumPaths = max(1, maximumPaths); self.asPathRelax = asPathRelax
    }
}

enum DecisionProcess {
    /// Default LOCAL_PREF when absent (eBGP routes never carry one here).
    static let defaultLocalPref: UInt32 = 100

    /// Returns the chosen candidates: best first, then the other multipaths.
    static func select(_ candidates: [Candidate], multipath: MultipathConfiguration) -> [Candidate] {
        guard candidates.count > 1 else { return candidates }
        var set = candidates
        // 1. Highest LOCAL_PREF.
        let pref = set.map { $0.attributes.attributes.localPref ?? defaultLocalPref }.max()!
        set.removeAll { ($0.attributes.attributes.localPref ?? defaultLocalPref) != pref }
        // 2. Shortest AS_PATH.
        let shortest = set.map { $0.attributes.attributes.asPath?.length ?? 0 }.min()!
        set.removeAll { ($0.attributes.attributes.asPath?.length ?? 0) != shortest }
        // 3. Lowest ORIGIN.
        let origin = set.map { $0.attributes.attributes.origin ?? .incomplete }.min()!
        set.removeAll { ($0.attributes.attributes.origin ?? .incomplete) != origin }
        // 4. Lowest MED among routes from the same neighbouring AS (absent MED is 0).
        set = set.filter { c in
            let med = c.attributes.attributes.multiExitDisc ?? 0
            let neighbour = c.attributes.attributes.asPath?.firstAS
            return !set.contains { d in
                d.attributes.attributes.asPath?.firstAS == neighbour && (d.attributes.attributes.multiExitDisc ?? 0) < med
            }
        }
        // 5. eBGP over iBGP.
        if set.contains(where: \.isEBGP) { set.removeAll { !$0.isEBGP } }
        // 6. (IGP cost to the next hop: all next hops are connected here.)
        // 7-8. Tie-break: lowest BGP identifier, then lowest peer address.
        set.sort { a, b in
            a.peerIdentifier != b.peerIdentifier ? a.peerIdentifier < b.peerIdentifier : lessAddress(a.peerAddress, b.peerAddress)
        }
        let best = set[0]
        guard multipath.maximumPaths > 1 else { return [best] }
        // Multipath: equal through step 6, and the same AS path (or only its length, relaxed).
        let paths = set.filter { multipath.asPathRelax || $0.attributes.attributes.asPath == best.attributes.attributes.asPath }
        return Array(paths.prefix(multipath.maximumPaths))
    }

    static func lessAddress(_ a: IPAddress, _ b: IPAddress) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): x < y
        case (.v6(let x), .v6(let y)): x < y
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }
}
