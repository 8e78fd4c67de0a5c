// What the speaker runs, as plain values: the daemon's configuration
// translated (in Control) into sessions, policies and what to advertise.

import Packet

/// The whole BGP speaker's settings.
public struct BGPSpeakerConfiguration: Hashable, Sendable {
    public var localAS: UInt32
    public var routerID: IPv4Address
    public var neighbors: [BGPNeighborSettings]
    /// `maximum-paths`: ECMP width of learned routes.
    public var maximumPaths: Int = 1
    /// Addresses to accept connections on (nil: none, active opens only).
    public var listenAddresses: [IPAddress] = [.v4(.any)]
    public var listenPort: Int = 179

    public init(localAS: UInt32, routerID: IPv4Address, neighbors: [BGPNeighborSettings] = []) {
        self.localAS = localAS; self.routerID = routerID; self.neighbors = neighbors
    }
}

/// One neighbour: its session, the connection parameters, policies and advertisements.
public struct BGPNeighborSettings: Hashable, Sendable {
    public var address: IPAddress
    /// TCP port of the peer (179; tests use others).
    public var port: Int = 179
    /// FSM settings (AS numbers, timers, families offered).
    public var session: BGPSessionConfiguration
    /// TTL of our packets: 1 for a directly connected eBGP peer, the `ebgp-multihop` value otherwise.
    public var ttl: Int = 1
    /// Local address of the TCP connection (`update-source`).
    public var updateSource: IPAddress?
    /// `neighbor A shutdown`: configured but kept down.
    public var shutdown = false
    /// What this peer's routes must pass to enter the RIB.
    public var importPolicy: ImportPolicy = .none
    public var maximumPrefix: MaximumPrefix?
    /// `soft-reconfiguration inbound`: keep the peer's routes as received, before policy.
    public var keepReceived = false
    /// Our routes for this peer (both families, after the outbound filter).
    public var advertised: [IPPrefix] = []
    /// Extra copies of our AS in AS_PATH.
    public var extraPrepends = 0
    /// `password`: the TCP MD5 signature key (RFC 2385); nil: unsigned.
    public var password: String?
    /// `ttl-security hops N` (GTSM, RFC 5082): the peer is at most N hops away; we send
    /// with TTL 255 (set `ttl`) and the kernel drops what arrives with less than 256 - N.
    public var ttlSecurityHops: Int?
    /// Next hop for IPv6 routes on an IPv4 session (our /125 address in the same tunnel).
    public var nextHopV6: IPv6Address?

    public init(address: IPAddress, session: BGPSessionConfiguration) {
        self.address = address; self.session = session
    }

    /// Whether changing from `old` to `self` needs the session to restart
    /// (anything the OPEN or the TCP connection depends on).
    public func needsReset(from old: BGPNeighborSettings) -> Bool {
        old.session != session || old.port != port || old.ttl != ttl || old.updateSource != updateSource
            || old.password != password || old.ttlSecurityHops != ttlSecurityHops
    }
}
