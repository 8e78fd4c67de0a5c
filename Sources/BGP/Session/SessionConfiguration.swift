// What the operator configures for one neighbour, as the FSM needs it.

import Packet

/// Per-neighbour session settings.
public struct BGPSessionConfiguration: Hashable, Sendable {
    public var localAS: UInt32
    public var peerAS: UInt32
    public var routerID: IPv4Address
    /// Proposed hold time; the Transit Gateway uses 30 s (specs.md §1.3). 0 disables keepalives.
    public var holdTime: UInt16 = 30
    /// Keepalive interval upper bound; the negotiated one is min(this, hold / 3).
    public var keepaliveTime: UInt16 = 10
    /// Seconds between connection attempts (RFC 4271 suggests 120; short for GRE tunnels).
    public var connectRetryTime: UInt16 = 30
    /// Only accept connections, never initiate.
    public var passive = false
    /// Families we offer (multiprotocol capabilities).
    public var families: [AddressFamily] = [.ipv4Unicast, .ipv6Unicast]
    /// Refuse the session (2/7) unless the peer offers at least one family in common.
    public var requireCommonFamily = true
    public var routeRefresh = true
    /// Graceful restart time we announce (RFC 4724); nil: no GR capability.
    public var gracefulRestartTime: UInt16? = 120
    /// First wait after an error before restarting (BIRD's `error wait time`), doubled per failure.
    public var idleHoldTime: UInt16 = 5
    /// Upper bound of the doubled wait.
    public var maximumIdleHoldTime: UInt16 = 120
    /// Time a session must stay Established before the doubling is forgotten.
    public var dampingResetTime: UInt16 = 300
    /// Restart automatically after errors (otherwise stay Idle until a manual start).
    public var automaticRestart = true
    /// Hold time while waiting for the peer's OPEN (RFC 4271 suggests 4 minutes).
    public var largeHoldTime: UInt16 = 240

    public init(localAS: UInt32, peerAS: UInt32, routerID: IPv4Address) {
        self.localAS = localAS; self.peerAS = peerAS; self.routerID = routerID
    }

    public var isEBGP: Bool { localAS != peerAS }

    /// The OPEN we send.
    public var open: BGPOpen {
        var caps: [Capability] = families.map { .multiprotocol($0) }
        if routeRefresh { caps += [.routeRefresh, .enhancedRouteRefresh] }
        if let t = gracefulRestartTime {
            caps.append(.gracefulRestart(GracefulRestartCapability(notification: true, restartTime: t,
                families: families.map { .init(family: $0, forwardingPreserved: false) })))
        }
        return BGPOpen(asNumber: localAS, holdTime: holdTime, bgpIdentifier: routerID, capabilities: caps)
    }
}
