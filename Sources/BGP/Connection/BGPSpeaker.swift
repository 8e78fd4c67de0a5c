// The BGP speaker at the edge: listens for peers, runs one PeerSession per
// neighbour on a single event loop (the control thread, so no locks), feeds
// UPDATEs into the RIB and hands the selected routes to a sink (the
// appliance's route table). Reconfiguration touches only the neighbours that
// changed.

import NIOCore
import NIOPosix
import Packet

/// A running BGP speaker. Create, use and stop it on `eventLoop` only.
public final class BGPSpeaker: @unchecked Sendable {
    /// Receives the learned routes: for each prefix, its ECMP next hops (replaces the previous table).
    /// Small users and tests; the appliance takes `RouteDeltaSink`.
    public typealias RouteSink = ([IPPrefix: [IPAddress]]) -> Void
    /// Receives the changes of the learned routes since the last call, coalesced over
    /// `publishInterval` so that a full table arrives in a few large batches.
    public typealias RouteDeltaSink = (RouteDelta) -> Void
    /// Receives state changes worth a log line.
    public typealias EventSink = (String) -> Void

    public let eventLoop: EventLoop
    public private(set) var configuration: BGPSpeakerConfiguration
    private let routeSink: RouteDeltaSink
    private let eventSink: EventSink
    private(set) var rib: RIB
    private var sessions: [IPAddress: PeerSession] = [:]
    /// RIB peer slots by address; the RIB never forgets a peer, so a re-added neighbour reuses its slot.
    private var ribPeers: [IPAddress: PeerID] = [:]
    private var listeners: [Channel] = []
    /// MD5 keys set on the listeners, by peer (RFC 2385: inbound connections must be signed too).
    private var listenerPasswords: [IPAddress: String] = [:]
    /// Increments per stop, so a listener bound for a stopped instance is closed when it arrives.
    private var runGeneration = 0
    /// Changes not yet handed to the sink, and the task that will hand them over.
    private var pending = RouteDeltaBuilder()
    private var publishTask: Scheduled<Void>?
    /// How long changes are collected before they go to the sink.
    public var publishInterval: TimeAmount = .milliseconds(50)
    /// Prefixes handed to the sink and not withdrawn since (both families).
    public private(set) var publishedRouteCount = 0
    /// Seeds the FSMs' jitter generators (one per session).
    private var seed: UInt64 = 0x5EED
    /// Inbound connections closed at once: from an address that is not a configured neighbour,
    /// or over the per-source connection rate (a neighbour reconnects a few times a minute at most).
    public private(set) var rejectedUnconfigured: UInt64 = 0
    public private(set) var rejectedRateLimited: UInt64 = 0
    private var connectionLimiter = SourceRateLimiter(rate: 0.5, burst: 5, capacity: 256)
    private let started = NIODeadline.now()

    public init(eventLoop: EventLoop, configuration: BGPSpeakerConfiguration,
                routeDeltaSink: @escaping RouteDeltaSink, eventSink: @escaping EventSink = { _ in }) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.routeSink = routeDeltaSink
        self.eventSink = eventSink
        rib = RIB(multipath: MultipathConfiguration(maximumPaths: configuration.maximumPaths))
    }

    /// A speaker that hands the whole learned table to `routeSink` on every change.
    public convenience init(eventLoop: EventLoop, configuration: BGPSpeakerConfiguration,
                            routeSink: @escaping RouteSink, eventSink: @escaping EventSink = { _ in }) {
        nonisolated(unsafe) var table: [IPPrefix: [IPAddress]] = [:]
        self.init(eventLoop: eventLoop, configuration: configuration, routeDeltaSink: { delta in
            delta.apply(to: &table)
            routeSink(table)
        }, eventSink: eventSink)
    }

    /// Opens the listeners and starts every session.
    public func start() throws {
        eventLoop.preconditionInEventLoop()
        try openListeners()
        for n in configuration.neighbors { addSession(n) }
    }

    /// Opens a listener on every configured address (asynchronously).
    private func openListeners() throws {
        for address in configuration.listenAddresses {
            // Bound asynchronously: waiting on the loop's own thread would deadlock it.
            let port = configuration.listenPort
            let generation = runGeneration
            try listen(on: address).whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    guard generation == runGeneration else { return channel.close(promise: nil) }
                    listeners.append(channel)
                    protectNewListener(channel)
                case .failure(let error):
                    report("cannot listen on [\(address)]:\(port): \(error)")
                }
            }
        }
    }

    /// Stops every session with `notification` (a Cease) and closes the listeners.
    public func stop(_ notification: BGPNotification = .cease(.peerDeconfigured)) {
        runGeneration += 1
        for (_, s) in sessions { s.teardown(notification) }
        sessions = [:]
        for l in listeners { l.close(promise: nil) }
        listeners = []
        listenerPasswords = [:]
        // Every learned route goes, at once.
        for c in rib.removeAllRoutes().changes { pending.add(c) }
        flushRoutes()
    }

    /// Applies a new configuration: sessions whose OPEN or connection parameters
    /// changed restart, the others keep running (also when the listen addresses change;
    /// only a new local AS or router-id restarts everything).
    public func reconfigure(_ new: BGPSpeakerConfiguration) throws {
        eventLoop.preconditionInEventLoop()
        if new.localAS != configuration.localAS || new.routerID != configuration.routerID {
            stop()
            configuration = new
            rib = RIB(multipath: MultipathConfiguration(maximumPaths: new.maximumPaths))
            ribPeers = [:]
            try start()
            return
        }
        let old = configuration
        configuration = new
        if new.listenAddresses != old.listenAddresses || new.listenPort != old.listenPort {
            // Only the listeners change (e.g. the first IPv6 neighbour adds [::]:179); accepted
            // connections are channels of their own, so no session is reset.
            runGeneration += 1
            for l in listeners { l.close(promise: nil) }
            listeners = []
            listenerPasswords = [:]
            try openListeners()
        }
        applyListenerPasswords()
        rib.multipath = MultipathConfiguration(maximumPaths: new.maximumPaths)
        let wanted = Dictionary(new.neighbors.map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })
        for (address, s) in sessions where wanted[address] == nil {
            s.teardown(.cease(.peerDeconfigured))
            sessions[address] = nil
            report("neighbor \(address) removed")
        }
        let previous = Dictionary(old.neighbors.map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })
        for n in new.neighbors {
            guard let s = sessions[n.address] else { addSession(n); continue }
            if let before = previous[n.address], n.needsReset(from: before) {
                s.teardown(.cease(.otherConfigurationChange))
                sessions[n.address] = nil
                addSession(n)
            } else {
                s.update(n)
            }
        }
    }

    /// Sets every configured MD5 key of the listener's family on a listener that just opened
    /// (the others may have opened before it and already hold theirs).
    private func protectNewListener(_ l: Channel) {
        let isV6: Bool = if case .v6? = l.localAddress { true } else { false }
        var wanted: [IPAddress: String] = [:]
        for n in configuration.neighbors { if let p = n.password { wanted[n.address] = p } }
        for (peer, password) in wanted where isV6 == peer.isV6 {
            SocketSecurity.setPassword(l, peer: peer, password).whenFailure { [self] error in
                report("neighbor \(peer): cannot set its TCP MD5 key on the listener: \(error)")
            }
        }
        listenerPasswords = wanted
    }

    /// Sets the neighbours' MD5 keys on the listening sockets of their family, and removes
    /// keys no longer configured.
    private func applyListenerPasswords() {
        var wanted: [IPAddress: String] = [:]
        for n in configuration.neighbors { if let p = n.password { wanted[n.address] = p } }
        for l in listeners {
            let isV6: Bool = if case .v6? = l.localAddress { true } else { false }
            for (peer, password) in wanted where listenerPasswords[peer] != password {
                guard isV6 == peer.isV6 else { continue }
                SocketSecurity.setPassword(l, peer: peer, password).whenFailure { [self] error in
                    report("neighbor \(peer): cannot set its TCP MD5 key on the listener: \(error)")
                }
            }
            for peer in listenerPasswords.keys where wanted[peer] == nil && isV6 == peer.isV6 {
                SocketSecurity.setPassword(l, peer: peer, nil).whenFailure { _ in }
            }
        }
        if !listeners.isEmpty { listenerPasswords = wanted }
    }

    /// `clear ip bgp *|ADDR [soft]`. Returns false when no such neighbour exists.
    @discardableResult
    public func clear(_ address: IPAddress?, soft: Bool) -> Bool {
        let targets = address.map { a in sessions[a].map { [$0] } ?? [] } ?? Array(sessions.values)
        for s in targets { if soft { s.softClear() } else { s.clear() } }
        return !targets.isEmpty
    }

    private func addSession(_ n: BGPNeighborSettings) {
        let peer: PeerID
        let ribConfig = ribConfiguration(n, identifier: .any)
        if let existing = ribPeers[n.address] {
            peer = existing
            rib.updatePeer(peer, ribConfig)
        } else {
            do {
                peer = try rib.addPeer(ribConfig)
            } catch {
                report("neighbor \(n.address) not started: \(error)")
                return
            }
            ribPeers[n.address] = peer
        }
        seed &+= 0x9E37_79B9
        let s = PeerSession(speaker: self, settings: n, ribPeer: peer, seed: seed)
        sessions[n.address] = s
        s.start()
    }

    private func ribConfiguration(_ n: BGPNeighborSettings, identifier: IPv4Address) -> RIBPeerConfiguration {
        RIBPeerConfiguration(address: n.address, peerAS: n.session.peerAS, localAS: n.session.localAS,
                             identifier: identifier, importPolicy: n.importPolicy, maximumPrefix: n.maximumPrefix,
                             keepReceived: n.keepReceived)
    }

    // MARK: listening

    private func listen(on address: IPAddress) throws -> EventLoopFuture<Channel> {
        var bootstrap = ServerBootstrap(group: eventLoop)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = BGPChannelHandler()
                    try channel.pipeline.syncOperations.addHandler(handler)
                    let c = BGPConnection(channel: channel, direction: .inbound)
                    handler.attach(c)
                    accepted(c)
                }
            }
        if case .v6 = address {
            bootstrap = bootstrap.serverChannelOption(
                ChannelOptions.Types.SocketOption(level: .ipv6, name: NIOBSDSocket.Option(rawValue: 26)), value: 1)  // IPV6_V6ONLY
        }
        return bootstrap.bind(to: try address.socketAddress(port: configuration.listenPort))
    }

    /// An inbound connection: only configured neighbours are served (GTSM off).
    private func accepted(_ c: BGPConnection) {
        let now = Duration.nanoseconds((NIODeadline.now() - started).nanoseconds)
        guard let remote = c.remoteAddress, let s = sessions[remote] else {
            rejectedUnconfigured += 1
            c.close()
            return
        }
        guard connectionLimiter.allow(Self.limiterKey(remote), now: now) else {
            rejectedRateLimited += 1
            c.close()
            return
        }
        // Our segments leave with the neighbour's TTL, as on active opens; GTSM checks theirs.
        _ = c.channel.setOption(ttlOption(for: remote), value: SocketOptionValue(s.settings.ttl))
        if let hops = s.settings.ttlSecurityHops {
            _ = SocketSecurity.setMinimumTTL(c.channel, peer: remote, hops: hops)
        }
        s.accept(c)
    }

    static func limiterKey(_ a: IPAddress) -> UInt64 {
        switch a {
        case .v4(let v): UInt64(v.value)
        case .v6(let v): UInt64(truncatingIfNeeded: v.hashValue)
        }
    }

    // MARK: from the sessions

    func report(_ event: String) { eventSink(event) }

    func updateRIBPeer(_ s: PeerSession) {
        let id = s.negotiated?.peerIdentifier ?? .any
        rib.updatePeer(s.ribPeer, ribConfiguration(s.settings, identifier: id))
    }

    func sessionEstablished(_ s: PeerSession, _ n: NegotiatedSession) {
        rib.updatePeer(s.ribPeer, ribConfiguration(s.settings, identifier: n.peerIdentifier))
        report("neighbor \(s.settings.address) Established (AS \(n.peerAS), router-id \(n.peerIdentifier), hold \(n.holdTime) s)")
    }

    func deliver(_ update: ReceivedUpdate, from s: PeerSession) {
        if case .treatAsWithdraw(let reason) = update.verdict {
            report("neighbor \(s.settings.address): UPDATE treated as withdraw: \(reason)")
        }
        let changes = update.routeChanges
        var result = rib.apply(changes, from: s.ribPeer)
        if let family = changes.endOfRIB {
            let swept = rib.sweepStale(s.ribPeer, family: family)
            result.changes += swept.changes
        }
        publish(result.changes)
        for event in result.events {
            switch event {
            case .maximumPrefixWarning(_, let count, let limit):
                report("neighbor \(s.settings.address): \(count) prefixes, warning threshold of maximum-prefix \(limit) reached")
            case .maximumPrefixExceeded(_, let count, let notification, let teardown):
                report("neighbor \(s.settings.address): \(count) prefixes exceed maximum-prefix" + (teardown ? ", session stopped" : ""))
                if teardown { s.stop(notification) }
            }
        }
    }

    /// Soft reconfiguration inbound (FRR's `soft-reconfiguration inbound`): the peer's routes as
    /// received, kept before policy, go through the (new) import policy again, without asking
    /// the peer for anything. Routes now refused leave the RIB, routes now permitted enter it.
    func reapplyImportPolicy(_ s: PeerSession) {
        var groups: [RouteAttributes: (v4: [IPv4Prefix], v6: [IPv6Prefix])] = [:]
        for (prefix, attributes) in rib.receivedRoutes(s.ribPeer) {
            switch prefix {
            case .v4(let p): groups[attributes, default: ([], [])].v4.append(p)
            case .v6(let p): groups[attributes, default: ([], [])].v6.append(p)
            }
        }
        var changes: [RouteChange] = []
        for (attributes, prefixes) in groups {
            var c = RouteChanges(attributes: attributes.attributes)
            if !prefixes.v4.isEmpty { c.announcedV4 = prefixes.v4; c.nextHopV4 = attributes.nextHop }
            if !prefixes.v6.isEmpty { c.announcedV6 = prefixes.v6; c.nextHopV6 = attributes.nextHop }
            changes += rib.apply(c, from: s.ribPeer).changes
        }
        publish(changes)
        report("neighbor \(s.settings.address): import policy re-applied to \(groups.values.reduce(0) { $0 + $1.v4.count + $1.v6.count }) stored routes (soft reconfiguration inbound)")
    }

    /// A session's End-of-RIB (explicit for one family, or implicit): what was received before it
    /// goes to the sink now rather than after `publishInterval`, and `bgp update-delay` re-checks.
    func initialRoutesComplete(_ s: PeerSession, _ how: String) {
        handingOverEndOfRIB = true
        flushRoutes()
        handingOverEndOfRIB = false
        report("neighbor \(s.settings.address): \(how)" + (s.initialRoutes.complete ? "; initial routes complete" : ""))
    }

    /// True while the sink is handed the batch an End-of-RIB completed (a peer's table is
    /// all in, nothing follows soon): the forwarding side may take it at once, without
    /// waiting for a pause of the changes.
    public private(set) var handingOverEndOfRIB = false

    /// Whether learned-route changes are being coalesced and not yet handed to the sink.
    public var holdsUnpublishedRoutes: Bool { !pending.isEmpty }

    func sessionDown(_ s: PeerSession, reason: SessionDownReason, retainFor: UInt16?) {
        report("neighbor \(s.settings.address) down: \(reason)" + (retainFor.map { ", keeping its routes as stale for \($0) s" } ?? ""))
        if retainFor != nil {
            rib.markStale(s.ribPeer)
        } else {
            publish(rib.removePeerRoutes(s.ribPeer).changes)
        }
    }

    func sweepStale(_ s: PeerSession) {
        publish(rib.sweepStale(s.ribPeer).changes)
    }

    /// Queues RIB changes for the sink; they go out after `publishInterval`.
    private func publish(_ changes: [RouteChange]) {
        guard !changes.isEmpty else { return }
        for c in changes { pending.add(c) }
        guard publishTask == nil else { return }
        publishTask = eventLoop.scheduleTask(in: publishInterval) { [self] in
            publishTask = nil
            flushRoutes()
        }
    }

    /// Hands the queued changes to the sink now.
    private func flushRoutes() {
        publishTask?.cancel()
        publishTask = nil
        guard !pending.isEmpty else { return }
        let delta = pending.take()
        publishedRouteCount = rib.routeCount
        routeSink(delta)
    }

    // MARK: status for the shell

    /// Every neighbour's state and counters, in address order.
    public func peerStatus() -> [BGPPeerStatus] {
        let now = NIODeadline.now()
        return sessions.values.map { s in
            BGPPeerStatus(
                address: s.settings.address, remoteAS: s.settings.session.peerAS, localAS: s.settings.session.localAS,
                state: s.state, shutdown: s.settings.shutdown, enabled: s.fsm.enabled,
                messagesReceived: s.messagesReceived, messagesSent: s.messagesSent,
                upFor: s.establishedAt.map { Duration.nanoseconds((now - $0).nanoseconds) },
                downFor: s.lastDownAt.map { Duration.nanoseconds((now - $0).nanoseconds) },
                prefixesReceived: rib.prefixCount(s.ribPeer), prefixesSent: s.advertised.count,
                establishedTransitions: s.establishedTransitions, lastError: s.lastError, lastConnectError: s.lastConnectError,
                negotiated: s.negotiated, ttl: s.settings.ttl,
                localAddress: s.connection?.localAddress, holdTime: s.settings.session.holdTime,
                keepaliveTime: s.settings.session.keepaliveTime,
                advertised: s.advertised.sorted { $0.description < $1.description },
                updatesReceived: s.updatesReceived, updatesSent: s.updatesSent,
                initialRoutes: s.initialRoutes)
        }.sorted { a, b in
            switch (a.address, b.address) {
            case (.v4(let x), .v4(let y)): x < y
            case (.v6(let x), .v6(let y)): x < y
            case (.v4, .v6): true
            case (.v6, .v4): false
            }
        }
    }

    /// The selected paths of every learned prefix, with the attributes `show ip bgp` prints.
    public func routeStatus() -> [BGPRouteStatus] {
        var addressOf: [PeerID: IPAddress] = [:]
        for (a, p) in ribPeers { addressOf[p] = a }
        return rib.prefixes().map { prefix in
            let paths = rib.paths(for: prefix).enumerated().map { index, p in
                let attributes = rib.attributes(p.attributes)
                return BGPPathStatus(peer: addressOf[p.peer], nextHop: p.nextHop.description, best: index == 0,
                                     asPath: attributes.attributes.asPath?.description ?? "",
                                     origin: attributes.attributes.origin ?? .incomplete,
                                     med: attributes.attributes.multiExitDisc, localPref: attributes.attributes.localPref,
                                     stale: rib.isStale(p.peer, prefix))
            }
            return BGPRouteStatus(prefix: prefix, paths: paths)
        }
    }

    /// A neighbour's routes as received, before policy (`received-routes`): nil when there is
    /// no such neighbour or it does not keep them (`soft-reconfiguration inbound`).
    public func receivedRoutes(_ address: IPAddress) -> [BGPReceivedRoute]? {
        guard let peer = ribPeers[address], sessions[address] != nil, rib.keepsReceived(peer) else { return nil }
        return rib.receivedRoutes(peer).map { r in
            BGPReceivedRoute(prefix: r.prefix, nextHop: r.attributes.nextHop.description,
                             asPath: r.attributes.attributes.asPath?.description ?? "",
                             origin: r.attributes.attributes.origin ?? .incomplete,
                             med: r.attributes.attributes.multiExitDisc, localPref: r.attributes.attributes.localPref,
                             accepted: rib.adjRIBIn(peer, r.prefix) != nil)
        }
    }

    /// Accepted prefixes in the RIB, both families.
    public var ribRouteCount: Int { rib.routeCount }
}

/// One neighbour as `show ip bgp summary` / `neighbors` print it.
public struct BGPPeerStatus: Sendable {
    public var address: IPAddress
    public var remoteAS: UInt32
    public var localAS: UInt32
    public var state: BGPSessionState
    public var shutdown: Bool
    /// False after max-prefix stopped it (until `clear ip bgp`).
    public var enabled: Bool
    public var messagesReceived: Int
    public var messagesSent: Int
    /// Time since Established, while Established.
    public var upFor: Duration?
    /// Time since the session last went down.
    public var downFor: Duration?
    public var prefixesReceived: Int
    public var prefixesSent: Int
    public var establishedTransitions: Int
    public var lastError: String?
    /// Why the last outbound connection attempt failed.
    public var lastConnectError: String?
    public var negotiated: NegotiatedSession?
    public var ttl: Int
    public var localAddress: IPAddress?
    public var holdTime: UInt16
    public var keepaliveTime: UInt16
    public var advertised: [IPPrefix]
    /// UPDATE messages received from / sent to the peer.
    public var updatesReceived: Int = 0
    public var updatesSent: Int = 0
    /// End-of-RIB received per family in this session (reset when it goes down).
    public var initialRoutes = InitialRoutes()
}

/// A learned prefix and its selected paths (best first, then multipaths).
public struct BGPRouteStatus: Sendable {
    public var prefix: IPPrefix
    public var paths: [BGPPathStatus]
}

/// One selected path.
public struct BGPPathStatus: Sendable {
    public var peer: IPAddress?
    public var nextHop: String
    public var best: Bool
    public var asPath: String
    public var origin: Origin
    public var med: UInt32?
    public var localPref: UInt32?
    /// Kept from a peer in graceful restart and not refreshed yet (`S` in `show ip bgp`).
    public var stale: Bool = false
}

/// A route as received from a neighbour, before policy.
public struct BGPReceivedRoute: Sendable {
    public var prefix: IPPrefix
    public var nextHop: String
    public var asPath: String
    public var origin: Origin
    public var med: UInt32?
    public var localPref: UInt32?
    /// Whether import policy let it into the RIB.
    public var accepted: Bool
}
