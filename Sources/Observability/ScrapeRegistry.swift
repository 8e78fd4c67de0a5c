// Prometheus exposition of values read at scrape time. The engine's counters
// are plain per-worker rows that the control plane sums when it is scraped
// (the packet path never touches a metrics library); this registry turns
// those absolute totals into swift-prometheus counters (incremented by the
// difference since the last scrape, reset when a total went backwards, i.e.
// its source was recreated) and gauges, and forgets the series that were not
// reported in a scrape (a removed tunnel, peer or cache).
//
// The registry is the one swift-metrics is bootstrapped with, so metrics that
// libraries record through swift-metrics appear on the same page.

import CoreMetrics
import Prometheus

/// One scrape's values, kept between scrapes. Use from one thread at a time
/// (egressd: the control thread, which also serves the HTTP endpoint).
public final class ScrapeRegistry: @unchecked Sendable {
    public let registry: PrometheusCollectorRegistry

    struct Key: Hashable {
        var name: String
        var labels: [String]
    }

    private var counters: [Key: (counter: Prometheus.Counter, value: UInt64)] = [:]
    private var fractional: [Key: (counter: Prometheus.Counter, value: Double)] = [:]
    private var gauges: [Key: Prometheus.Gauge] = [:]
    private var touched: Set<Key> = []

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// Makes swift-metrics (Counter, Gauge, Timer of CoreMetrics) record into
    /// this registry. Call once per process.
    public func bootstrapMetricsSystem() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    static func key(_ name: String, _ labels: [(String, String)]) -> Key {
        Key(name: name, labels: labels.flatMap { [$0.0, $0.1] })
    }

    /// Reports the current total of a counter (`name` ends in `_total`).
    public func counter(_ name: String, _ help: String, _ labels: [(String, String)] = [], total: UInt64) {
        let k = Self.key(name, labels)
        touched.insert(k)
        if let (c, last) = counters[k] {
            if total >= last {
                if total > last { c.increment(by: Int64(clamping: total - last)) }
            } else {
                c.reset()
                c.increment(by: Int64(clamping: total))
            }
            counters[k] = (c, total)
        } else {
            let c = registry.makeCounter(name: name, labels: labels, help: help)
            if total > 0 { c.increment(by: Int64(clamping: total)) }
            counters[k] = (c, total)
        }
    }

    /// Reports the current total of a counter of fractional values (seconds).
    public func counter(_ name: String, _ help: String, _ labels: [(String, String)] = [], seconds total: Double) {
        let k = Self.key(name, labels)
        touched.insert(k)
        if let (c, last) = fractional[k] {
            if total >= last {
                if total > last { c.increment(by: total - last) }
            } else {
                c.reset()
                c.increment(by: total)
            }
            fractional[k] = (c, total)
        } else {
            let c = registry.makeCounter(name: name, labels: labels, help: help)
            if total > 0 { c.increment(by: total) }
            fractional[k] = (c, total)
        }
    }

    /// Reports the current value of a gauge.
    public func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = [], _ value: Double) {
        let k = Self.key(name, labels)
        touched.insert(k)
        let g: Prometheus.Gauge
        if let existing = gauges[k] {
            g = existing
        } else {
            g = registry.makeGauge(name: name, labels: labels, help: help)
            gauges[k] = g
        }
        g.set(to: value)
    }

    /// Runs one scrape: `report` reports every current value; series it did
    /// not report are removed. Returns the page in the text format (0.0.4).
    public func scrape(_ report: (ScrapeRegistry) -> Void) -> String {
        touched = []
        report(self)
        for (k, entry) in counters where !touched.contains(k) {
            registry.unregisterCounter(entry.counter)
            counters[k] = nil
        }
        for (k, entry) in fractional where !touched.contains(k) {
            registry.unregisterCounter(entry.counter)
            fractional[k] = nil
        }
        for (k, g) in gauges where !touched.contains(k) {
            registry.unregisterGauge(g)
            gauges[k] = nil
        }
        return registry.emitToString()
    }
}
