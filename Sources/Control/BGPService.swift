// The BGP speaker inside the appliance: built from `router bgp` on apply,
// reconfigured in place on later applies (neighbours added or removed without
// touching the others), stopped with the appliance. The speaker runs on the
// control thread's event loop, so its route callbacks call the appliance
// directly; learned routes go in through `setProtocolRoutes("bgp", ...)`.

import BGP
import Observability
import Commands
import NIOCore
import NIOPosix
import Netlink
import Packet

extension Appliance {
    /// Starts, reconfigures or stops the speaker to match `config.bgp`. Runs on the control thread.
    func applyBGP() {
        guard let router = config.bgp else {
            bgpLifecycle.updateDelay = nil
            bgpLifecycle.shutdown.drainTime = nil
            if let speaker = bgpSpeaker {
                speaker.stop()
                bgpSpeaker = nil
                record("bgp stopped")
            }
            return
        }
        guard let routerID = router.routerID ?? tunnels.values.compactMap(\.spec.insideV4?.address).max() else {
            record("bgp not started: no router-id configured and no interface address to take it from")
            return
        }
        bgpLifecycle.shutdown.drainTime = router.gracefulShutdownDrainTime.map { .seconds($0) }
        if bgpSpeaker == nil { startUpdateDelay(router.updateDelay) }
        let wanted = Self.speakerConfiguration(router, routerID: routerID, config: config, trackUp: { [self] in trackIsUp($0) },
                                               advertise: !bgpLifecycle.holdsAdvertisements) { [self] address in
            // Our IPv6 next hop for a neighbour reached over IPv4: the tunnel's /125 address.
            guard case .v4 = address, let name = tunnel(owning: address) else { return nil }
            return tunnels[name]?.spec.insideV6?.address
        }
        do {
            if let speaker = bgpSpeaker {
                guard speaker.configuration != wanted else { return }
                try speaker.reconfigure(wanted)
                record("bgp reconfigured")
            } else {
                guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else {
                    record("bgp not started: apply must run on the control thread's event loop")
                    return
                }
                let speaker = BGPSpeaker(eventLoop: loop, configuration: wanted,
                                         routeDeltaSink: { [weak self] delta in self?.learnedRoutesChanged(delta) },
                                         eventSink: { [weak self] event in
                                             self?.record("bgp: " + event, EventFields.bgp(event))
                                             self?.updateDelayInputChanged()
                                         })
                try speaker.start()
                bgpSpeaker = speaker
                record("bgp started: AS \(router.asNumber), router-id \(routerID), \(wanted.neighbors.count) neighbor(s)")
            }
        } catch {
            record("bgp: cannot apply the configuration: \(error)")
        }
    }

    /// Stops the speaker (appliance shutdown).
    func stopBGP() {
        // The daemon stops: an administrative shutdown, said so (RFC 9003).
        bgpSpeaker?.stop(.administrativeShutdown(message: GracefulShutdown.message))
        bgpSpeaker = nil
        // The writer thread stops; what it wrote goes in one pipelined batch.
        if let writer = learned?.kernel {
            writer.stop()
            let ours = (try? netlink.routes(table: RouteTable.main, protocol: RouteProtocol.egressd)) ?? []
            let learnedOnly = ours.filter { installedRoutes[$0.prefix] == nil }
            if !learnedOnly.isEmpty { _ = try? netlink.deleteRoutes(learnedOnly) }
        }
        learned = nil
    }

    /// The speaker's settings for `router`: sessions, policies and advertisements.
    static func speakerConfiguration(_ router: BGPRouterConfig, routerID: IPv4Address, config: RunningConfig,
                                     trackUp: (Int) -> Bool = { _ in false }, advertise: Bool = true,
                                     ipv6NextHop: (IPAddress) -> IPv6Address?) -> BGPSpeakerConfiguration {
        var result = BGPSpeakerConfiguration(localAS: router.asNumber, routerID: routerID)
        result.maximumPaths = router.ipv4.maximumPaths
        result.listenAddresses = [.v4(.any)]
        if router.neighbors.keys.contains(where: { if case .v6 = $0 { true } else { false } }) {
            result.listenAddresses.append(.v6(.any))
        }
        for n in router.neighbors.values.sorted(by: { $0.address.description < $1.address.description }) {
            var session = BGPSessionConfiguration(localAS: router.asNumber, peerAS: n.remoteAS, routerID: routerID)
            session.holdTime = n.holdTime ?? BGPNeighborConfig.defaultHoldTime
            session.keepaliveTime = n.keepalive ?? BGPNeighborConfig.defaultKeepalive
            // Tunnels come and go; retry sooner than RFC 4271's 120 s.
            session.connectRetryTime = 5
            session.families = []
            if n.ipv4.activate { session.families.append(.ipv4Unicast) }
            if n.ipv6.activate { session.families.append(.ipv6Unicast) }
            if session.families.isEmpty { session.families = [.ipv4Unicast] }
            var s = BGPNeighborSettings(address: n.address, session: session)
            s.ttl = n.ebgpMultihop ?? (n.remoteAS == router.asNumber ? 255 : 1)
            s.password = n.password
            if let hops = n.ttlSecurityHops {
                s.ttlSecurityHops = hops
                s.ttl = 255  // GTSM: we always send 255
            }
            s.updateSource = n.updateSource
            s.shutdown = n.shutdown
            s.extraPrepends = n.asPathPrepend
            s.nextHopV6 = ipv6NextHop(n.address)
            s.importPolicy = importPolicy(n, router: router, config: config)
            s.keepReceived = n.ipv4.softReconfigurationInbound || n.ipv6.softReconfigurationInbound
            if let m = n.ipv4.maximumPrefix ?? n.ipv6.maximumPrefix {
                s.maximumPrefix = MaximumPrefix(limit: Int(m.limit), warningThresholdPercent: m.threshold ?? 75, teardown: !m.warningOnly)
            }
            // Held back (update-delay after start, graceful-shutdown drain): nothing is advertised.
            for family in BGPFamily.allCases where n[family].activate && advertise {
                // A route tied to a track is advertised only while the track is up.
                var routes = router[family].networks.filter { p in router[family].networkTracks[p].map(trackUp) ?? true }
                if n[family].defaultOriginate && (n[family].defaultOriginateTrack.map(trackUp) ?? true) {
                    routes.insert(family == .ipv4 ? IPPrefix("0.0.0.0/0")! : IPPrefix("::/0")!)
                }
                if let name = n[family].prefixListOut {
                    // A list that does not exist matches nothing: nothing is sent.
                    let list = prefixList(config.prefixLists(family)[name], name: name)
                    routes = routes.filter { list.permits($0) }
                }
                s.advertised += routes.sorted { $0.description < $1.description }
            }
            result.neighbors.append(s)
        }
        return result
    }

    /// The RIB's import policy of a neighbour: its inbound prefix lists; without
    /// one, RFC 8212 (deny from eBGP) unless `no bgp ebgp-requires-policy`.
    static func importPolicy(_ n: BGPNeighborConfig, router: BGPRouterConfig, config: RunningConfig) -> ImportPolicy {
        let v4 = n.ipv4.prefixListIn, v6 = n.ipv6.prefixListIn
        if v4 == nil && v6 == nil { return router.ebgpRequiresPolicy ? .none : .acceptAll }
        var entries: [PrefixListEntry] = []
        if let v4 {
            entries += prefixList(config.ipPrefixLists[v4], name: v4).entries
        } else if !router.ebgpRequiresPolicy {
            entries.append(PrefixListEntry(.permit, IPPrefix("0.0.0.0/0")!, le: 32))
        }
        if let v6 {
            entries += prefixList(config.ipv6PrefixLists[v6], name: v6).entries
        } else if !router.ebgpRequiresPolicy {
            entries.append(PrefixListEntry(.permit, IPPrefix("::/0")!, le: 128))
        }
        return .prefixList(PrefixList(name: [v4, v6].compactMap { $0 }.joined(separator: "+"), entries: entries))
    }

    /// The RIB's form of a configured prefix list (empty, so denying all, when it does not exist).
    static func prefixList(_ list: PrefixListConfig?, name: String) -> PrefixList {
        PrefixList(name: name, entries: (list?.ordered ?? []).map { _, line in
            PrefixListEntry(line.permit ? .permit : .deny, line.prefix, ge: line.ge, le: line.le)
        })
    }
}
