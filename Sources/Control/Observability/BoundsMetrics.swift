// The drops of the bounded queues that have no counter of their own elsewhere on the metrics
// page (docs/architecture.md, "Bounded queues"): what a full queue cost, by queue.

import Observability

extension Appliance {
    func reportBounds(into r: ScrapeRegistry) {
        let help = "Items a bounded queue or table dropped because it was full, by queue (docs/architecture.md, Bounded queues)"
        r.counter("egressd_bounded_queue_drops_total", help, [("queue", "log-ring")], total: LogRing.shared.overwritten)
        if let metrics = metricsServer {
            r.counter("egressd_bounded_queue_drops_total", help, [("queue", "metrics-connections")],
                      total: metrics.connectionsRefused)
        }
        if let server = controlServer {
            r.counter("egressd_bounded_queue_drops_total", help, [("queue", "shell-sessions")], total: server.sessionsRefused)
            r.counter("egressd_bounded_queue_drops_total", help, [("queue", "shell-output")], total: server.outputOverflows)
        }
        if let speaker = bgpSpeaker {
            r.counter("egressd_bounded_queue_drops_total", help, [("queue", "bgp-connections-unconfigured")],
                      total: speaker.rejectedUnconfigured)
            r.counter("egressd_bounded_queue_drops_total", help, [("queue", "bgp-connections-rate")],
                      total: speaker.rejectedRateLimited)
        }
        if let endpoint = wccpEndpoint {
            let sockets = endpoint.socketDrops()
            r.counter("egressd_bounded_queue_drops_total", help, [("queue", "wccp-source-rate")], total: endpoint.rateLimited)
            r.counter("egressd_bounded_queue_drops_total", help, [("queue", "wccp-shared-socket")], total: sockets.shared)
            r.counter("egressd_bounded_queue_drops_total", help, [("queue", "wccp-cache-sockets")], total: sockets.caches)
        }
    }
}
