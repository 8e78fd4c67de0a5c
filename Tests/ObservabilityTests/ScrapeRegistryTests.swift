import Foundation
import Testing
import Logging
@testable import Observability

/// Scrape-time exposition: totals become monotonic counters, resets are
/// followed, vanished series disappear, and promtool accepts the page.
@Suite struct ScrapeRegistryTests {
    func line(_ page: String, _ prefix: String) -> String? {
        page.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
    }

    @Test func countersFollowTotalsAndResets() {
        let r = ScrapeRegistry()
        var total: UInt64 = 5
        var page = r.scrape { $0.counter("egressd_x_total", "X", [("tunnel", "tgw0")], total: total) }
        #expect(line(page, "egressd_x_total{") == #"egressd_x_total{tunnel="tgw0"} 5"#)
        #expect(page.contains("# TYPE egressd_x_total counter"))
        #expect(page.contains("# HELP egressd_x_total X"))
        total = 12
        page = r.scrape { $0.counter("egressd_x_total", "X", [("tunnel", "tgw0")], total: total) }
        #expect(line(page, "egressd_x_total{") == #"egressd_x_total{tunnel="tgw0"} 12"#)
        // The source was recreated: the counter restarts from its new total.
        total = 3
        page = r.scrape { $0.counter("egressd_x_total", "X", [("tunnel", "tgw0")], total: total) }
        #expect(line(page, "egressd_x_total{") == #"egressd_x_total{tunnel="tgw0"} 3"#)
    }

    @Test func vanishedSeriesAreRemoved() {
        let r = ScrapeRegistry()
        _ = r.scrape {
            $0.gauge("egressd_up", "Up", [("peer", "a")], 1)
            $0.gauge("egressd_up", "Up", [("peer", "b")], 0)
            $0.counter("egressd_busy_seconds_total", "Busy", [("worker", "0")], seconds: 1.5)
        }
        let page = r.scrape { $0.gauge("egressd_up", "Up", [("peer", "b")], 1) }
        #expect(!page.contains(#"peer="a""#))
        #expect(page.contains(#"egressd_up{peer="b"} 1"#))
        #expect(!page.contains("egressd_busy_seconds_total"))
    }

    static let promtool = "/usr/bin/promtool"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: promtool)))
    func promtoolAcceptsThePage() throws {
        let r = ScrapeRegistry()
        let page = r.scrape {
            $0.gauge("egressd_build_info", "Build", [("version", "0.1.0")], 1)
            $0.counter("egressd_tunnel_receive_packets_total", "Rx", [("tunnel", "tgw0")], total: 10)
            $0.counter("egressd_tunnel_drops_total", "Drops", [("tunnel", "tgw0"), ("reason", "bad-gre")], total: 2)
            $0.counter("egressd_tunnel_drops_total", "Drops", [("tunnel", "tgw0"), ("reason", "gre-key")], total: 0)
            $0.counter("egressd_engine_busy_seconds_total", "Busy", [("worker", "0")], seconds: 0.25)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.promtool)
        p.arguments = ["check", "metrics"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = output
        try p.run()
        input.fileHandleForWriting.write(Data(page.utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "promtool: \(text)\n\(page)")
    }
}

/// The recent-log ring behind `show logging`.
@Suite struct LogRingTests {
    @Test func keepsTheLastRecordsWithTheirFields() {
        let ring = LogRing(capacity: 3)
        let clock: @Sendable () -> Double = { 1_790_000_000.25 }
        let logger = Logger(label: "egressd") { RingLogHandler(label: $0, ring: ring, level: .info, clock: clock) }
        for i in 0..<5 { logger.info("event \(i)", metadata: ["interface": "tgw\(i)", "state": "up"]) }
        logger.debug("not kept: below the level")
        let recent = ring.recent()
        #expect(recent.map(\.message) == ["event 2", "event 3", "event 4"])
        #expect(recent[0].fields.map(\.0) == ["interface", "state"])
        #expect(recent[2].line == "2026-09-21T14:13:20.250000Z info egressd: event 4 interface=tgw4 state=up")
    }

    @Test func iso8601() {
        #expect(LogRecord.iso8601(0) == "1970-01-01T00:00:00.000000Z")
        #expect(LogRecord.iso8601(951_782_400) == "2000-02-29T00:00:00.000000Z")
        #expect(LogRecord.iso8601(1_700_000_000.5) == "2023-11-14T22:13:20.500000Z")
    }
}

/// Structured fields of the BGP and WCCP state-change events.
@Suite struct EventFieldsTests {
    @Test func bgp() {
        #expect(EventFields.bgp("neighbor 169.254.6.2 OpenConfirm -> Established")
                == ["subsystem": "bgp", "peer": "169.254.6.2", "from": "OpenConfirm", "state": "Established"])
        #expect(EventFields.bgp("neighbor 169.254.6.2 down: hold timer expired")["state"] == "down")
        #expect(EventFields.bgp("neighbor fd00::2: UPDATE treated as withdraw: x")["peer"] == "fd00::2")
        #expect(EventFields.bgp("cannot listen on [::]:179") == ["subsystem": "bgp"])
    }

    @Test func wccp() {
        #expect(EventFields.wccp("service 0 cache 10.0.3.11 usable: two-way handshake")
                == ["subsystem": "wccp", "service": "0", "cache": "10.0.3.11", "state": "usable"])
        #expect(EventFields.wccp("service 80 assignment changed: 2 cache(s)")
                == ["subsystem": "wccp", "service": "80", "assignment": "changed", "caches": "2"])
    }
}
