// What the Prometheus endpoint reports, read at scrape time from the
// engine's counter rows (summed over workers), the BGP speaker's sessions
// and the WCCP router's state. Names follow Prometheus conventions:
// `egressd_` prefix, `_total` for counters, base units (bytes, seconds).

import BGP
import Commands
import Engine
import NIOPosix
import Observability
import Packet
import WCCP

extension Appliance {
    /// Starts, moves or stops the endpoint to match `config.metrics`. Runs on the control thread.
    func applyMetrics() {
        let wanted = config.metrics.listen
        if let s = metricsServer, let w = wanted, s.address == w.address.description, s.port == Int(w.port) { return }
        if let s = metricsServer {
            s.stop()
            metricsServer = nil
            record("metrics endpoint on \(s.address):\(s.port) stopped", ["listen": "\(s.address):\(s.port)", "state": "down"])
        }
        guard let wanted else { return }
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else {
            record("metrics endpoint not started: apply must run on the control thread's event loop")
            return
        }
        let server = MetricsServer(eventLoop: loop, address: wanted.address.description, port: Int(wanted.port)) { [weak self] in
            self?.scrapeMetrics() ?? ""
        }
        metricsServer = server
        server.start { [weak self] result in
            switch result {
            case .success:
                self?.record("metrics endpoint listening on http://\(wanted)/metrics", ["listen": "\(wanted)", "state": "up"])
            case .failure(let error):
                self?.record("metrics endpoint: cannot listen on \(wanted): \(error)", ["listen": "\(wanted)", "state": "failed"])
                if self?.metricsServer === server { self?.metricsServer = nil }
            }
        }
    }

    func stopMetrics() {
        metricsServer?.stop()
        metricsServer = nil
    }

    /// The page served at /metrics.
    public func scrapeMetrics() -> String {
        metricsRegistry.scrape { r in reportMetrics(into: r) }
    }

    func reportMetrics(into r: ScrapeRegistry) {
        r.gauge("egressd_build_info", "egressd version (value is 1)", [("version", Self.version)], 1)
        let up = ContinuousClock.now - startedAt
        r.gauge("egressd_uptime_seconds", "Seconds since egressd started",
                [], Double(up.components.seconds) + Double(up.components.attoseconds) / 1e18)
        reportEngine(into: r)
        reportBGP(into: r)
        reportWCCP(into: r)
        reportBounds(into: r)
    }

    func reportEngine(into r: ScrapeRegistry) {
        for (name, t) in tunnels.sorted(by: { $0.key < $1.key }) {
            let c = t.counters
            let l = [("tunnel", name)]
            func v(_ f: TunnelCounter) -> UInt64 { c.total(f.rawValue) }
            r.counter("egressd_tunnel_receive_packets_total", "GRE packets received on the tunnel", l, total: v(.rxPackets))
            r.counter("egressd_tunnel_receive_bytes_total", "GRE bytes received on the tunnel (outer IPv4 included)", l, total: v(.rxBytes))
            r.counter("egressd_tunnel_transmit_packets_total", "GRE packets sent on the tunnel", l, total: v(.txPackets))
            r.counter("egressd_tunnel_transmit_bytes_total", "GRE bytes sent on the tunnel (outer IPv4 included)", l, total: v(.txBytes))
            for (outcome, f) in [("forwarded", TunnelCounter.decapForwarded), ("kernel", .decapToKernel), ("redirected", .decapRedirected)] {
                r.counter("egressd_tunnel_decapsulated_packets_total",
                          "Packets received on the tunnel, by outcome: forwarded to the next hop, to the kernel, redirected to a WCCP cache",
                          [("tunnel", name), ("outcome", outcome)], total: v(f))
            }
            r.counter("egressd_tunnel_ecmp_packets_total",
                      "Return packets from the kernel that ECMP (flow hash) sent into this tunnel", l, total: v(.encapFromKernel))
            r.counter("egressd_tunnel_kernel_input_packets_total",
                      "Packets from the kernel (TUN) that the engine assigned to this tunnel", l, total: v(.kernelInput))
            r.counter("egressd_tunnel_icmp_errors_sent_total", "ICMP errors the engine originated about this tunnel's traffic", l, total: v(.icmpSent))
            for reason in DropReason.allCases where reason != .unknownPeer && reason != .badOuter {
                r.counter("egressd_tunnel_drops_total", "Packets of the tunnel dropped, by reason", [("tunnel", name), ("reason", reason.name)],
                          total: c.total(TunnelCounter.dropBase + reason.rawValue))
            }
            r.gauge("egressd_tunnel_up", "1 while the tunnel is up", l, 1)
        }
        let e = engine.engineCounters
        for reason in DropReason.allCases {
            r.counter("egressd_engine_drops_total", "Packets dropped before a tunnel was known (or after it), by reason",
                      [("reason", reason.name)], total: e.total(EngineCounter.dropBase + reason.rawValue))
        }
        let gre = e.perWorker(EngineCounter.greReceived.rawValue)
        let kernel = e.perWorker(EngineCounter.kernelReceived.rawValue)
        let batches = e.perWorker(EngineCounter.batches.rawValue)
        let busy = e.perWorker(EngineCounter.busyNanoseconds.rawValue)
        for w in 0..<e.workers {
            let worker = String(w)
            r.counter("egressd_engine_received_packets_total", "Packets a worker read, by source (gre socket or kernel TUN)",
                      [("worker", worker), ("source", "gre")], total: gre[w])
            r.counter("egressd_engine_received_packets_total", "Packets a worker read, by source (gre socket or kernel TUN)",
                      [("worker", worker), ("source", "kernel")], total: kernel[w])
            r.counter("egressd_engine_batches_total", "Receive batches a worker processed (packets / batches = mean batch size)",
                      [("worker", worker)], total: batches[w])
            r.counter("egressd_engine_busy_seconds_total", "Seconds a worker spent processing packets (rate = utilisation)",
                      [("worker", worker)], seconds: Double(busy[w]) / 1e9)
        }
        r.counter("egressd_flow_records_lost_total", "IPFIX flow records lost because a worker's export ring was full",
                  [], total: e.total(EngineCounter.flowRecordsLost.rawValue))
        if let f = flowExporter {
            r.counter("egressd_flow_records_exported_total", "IPFIX flow records sent to the collectors", [], total: f.exported)
        }
        r.gauge("egressd_engine_workers", "Packet worker threads", [], Double(engine.settings.workers))
        r.gauge("egressd_engine_batch_size", "Configured receive batch size (packets)", [], Double(engine.settings.batchSize))
        r.gauge("egressd_routes", "Routes in the engine's forwarding snapshot", [], Double(lastRoutes.count))
    }

    func reportBGP(into r: ScrapeRegistry) {
        guard let speaker = bgpSpeaker else { return }
        let states: [BGPSessionState] = [.idle, .connect, .active, .openSent, .openConfirm, .established]
        for p in speaker.peerStatus() {
            let peer = p.address.description
            for s in states {
                r.gauge("egressd_bgp_session_state", "1 for the BGP session's current FSM state, 0 for the others",
                        [("peer", peer), ("state", s.rawValue)], p.state == s ? 1 : 0)
            }
            r.gauge("egressd_bgp_session_up", "1 while the BGP session is Established", [("peer", peer)], p.state == .established ? 1 : 0)
            let up = p.upFor.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 } ?? 0
            r.gauge("egressd_bgp_session_uptime_seconds", "Seconds since the session became Established (0 when not)", [("peer", peer)], up)
            r.gauge("egressd_bgp_prefixes_received", "Prefixes accepted from the peer (after policy and max-prefix)", [("peer", peer)],
                    Double(p.prefixesReceived))
            r.gauge("egressd_bgp_prefixes_advertised", "Prefixes advertised to the peer", [("peer", peer)], Double(p.prefixesSent))
            r.counter("egressd_bgp_messages_received_total", "BGP messages received from the peer (all types, this session)",
                      [("peer", peer)], total: UInt64(max(0, p.messagesReceived)))
            r.counter("egressd_bgp_messages_sent_total", "BGP messages sent to the peer (all types, this session)",
                      [("peer", peer)], total: UInt64(max(0, p.messagesSent)))
            r.counter("egressd_bgp_updates_received_total", "BGP UPDATE messages received from the peer",
                      [("peer", peer)], total: UInt64(max(0, p.updatesReceived)))
            r.counter("egressd_bgp_updates_sent_total", "BGP UPDATE messages sent to the peer",
                      [("peer", peer)], total: UInt64(max(0, p.updatesSent)))
            r.counter("egressd_bgp_established_transitions_total", "Times the session reached Established",
                      [("peer", peer)], total: UInt64(max(0, p.establishedTransitions)))
        }
        r.gauge("egressd_bgp_rib_prefixes", "Prefixes in the BGP RIB", [], Double(speaker.ribRouteCount))
    }

    func reportWCCP(into r: ScrapeRegistry) {
        guard let endpoint = wccpEndpoint else { return }
        for status in endpoint.router.status() {
            let service = String(status.serviceID)
            var byState: [String: Int] = ["usable": 0, "pending": 0]
            for c in status.caches {
                byState[c.state.rawValue, default: 0] += 1
                let l = [("service", service), ("cache", c.address.description)]
                r.gauge("egressd_wccp_cache_usable", "1 while the cache is usable (two-way handshake done), 0 while pending", l,
                        c.state == .usable ? 1 : 0)
                r.gauge("egressd_wccp_cache_buckets", "Hash buckets assigned to the cache (of 256)", l, Double(c.buckets.count))
                r.gauge("egressd_wccp_cache_mask_values", "Mask values assigned to the cache", l, Double(c.maskValues))
            }
            for (state, n) in byState.sorted(by: { $0.key < $1.key }) {
                r.gauge("egressd_wccp_caches", "Caches registered with the service group, by state", [("service", service), ("state", state)], Double(n))
            }
            let totals = counters(ofService: status.serviceID)?.totals() ?? []
            func v(_ f: Int) -> UInt64 { f < totals.count ? totals[f] : 0 }
            r.counter("egressd_wccp_redirected_packets_total", "Packets redirected to a cache of the service group",
                      [("service", service)], total: v(RedirectCounter.redirected))
            r.counter("egressd_wccp_failed_open_packets_total", "Packets the service matched but no usable cache took (forwarded instead)",
                      [("service", service)], total: v(RedirectCounter.failedOpen))
            r.counter("egressd_wccp_redirect_list_denied_packets_total", "Packets the service matched that its redirect-list denied (forwarded)",
                      [("service", service)], total: v(RedirectCounter.denied))
            let slots = endpoint.installed.first { $0.serviceID == status.serviceID }?.caches.map(\.address) ?? []
            for (slot, cache) in slots.enumerated() {
                r.counter("egressd_wccp_cache_redirected_packets_total", "Packets redirected to the cache",
                          [("service", service), ("cache", cache.description)], total: v(RedirectCounter.cacheBase + slot))
            }
            let drops = endpoint.serviceDrops[status.serviceID] ?? [:]
            for reason in WCCPDropReason.allCases {
                r.counter("egressd_wccp_messages_dropped_total", "WCCP messages naming the service that were dropped, by reason",
                          [("service", service), ("reason", reason.metricName)], total: drops[reason] ?? 0)
            }
        }
    }
}

extension WCCPDropReason {
    /// The reason as a label value: words joined by '-'.
    var metricName: String {
        String(rawValue.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
    }
}
