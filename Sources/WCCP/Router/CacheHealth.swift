import Packet

/// Fast dead-cache detection (`ip wccp failure-detection ...`), beyond the protocol's
/// 3 × HERE_I_AM_T: the caller probes each usable cache every `interval` (a TCP connect to
/// the proxy's port) and reports the outcome; a cache with no good evidence for `timeout`,
/// or whose probe is refused `refusalsToFail` times in a row, is declared down. A down cache
/// is reported up again after `successesToRecover` good probes in a row.
///
/// Data-path evidence is a second input (`dataPath`): traffic redirected to a cache that its
/// host refuses (an ICMP destination unreachable about a redirected GRE packet, from the cache)
/// counts like a refused probe, `refusalsToFail` of them within `timeout` declare the cache
/// down even while its proxy port still answers probes; such a cache comes back only after
/// `dataPathHoldDown` without refusals, plus the good probes.
///
/// Pure: time is an input (`now`, monotonic), no I/O. The caller turns `.probe` into a probe
/// and `.down`/`.up` into `WCCPRouter.setCacheFailed`.
public struct CacheHealthConfig: Equatable, Sendable {
    /// Allowed interval between probes of one cache (milliseconds).
    public static let intervalRange = 50...10_000
    /// Allowed time without good evidence before a cache is declared down (milliseconds).
    public static let timeoutRange = 100...60_000

    public var interval: Duration
    public var timeout: Duration
    /// Consecutive refused probes (an active "nobody listens" answer) that declare a cache down at once.
    public var refusalsToFail: Int
    /// Consecutive good probes that bring a down cache back.
    public var successesToRecover: Int
    /// A cache declared down on data-path evidence stays down at least this long after the
    /// last refusal (its probes may answer while the data path does not: no flapping).
    public var dataPathHoldDown: Duration

    public init(interval: Duration = .milliseconds(250), timeout: Duration = .milliseconds(1500),
                refusalsToFail: Int = 2, successesToRecover: Int = 3, dataPathHoldDown: Duration = .seconds(10)) {
        self.interval = interval; self.timeout = timeout
        self.refusalsToFail = max(1, refusalsToFail); self.successesToRecover = max(1, successesToRecover)
        self.dataPathHoldDown = dataPathHoldDown
    }
}

/// What the health monitor asks of its caller.
public enum CacheHealthAction: Equatable, Sendable {
    /// Probe this cache now and report the result with `probeResult`.
    case probe(IPv4Address)
    /// The cache is dead: stop sending it traffic.
    case down(IPv4Address, reason: CacheHealthReason)
    /// The cache answers again.
    case up(IPv4Address)
}

/// Why a cache was declared down.
public enum CacheHealthReason: String, Equatable, Sendable {
    case refused = "probe refused"
    case timeout = "no answer within the failure-detection timeout"
    case dataPathRefused = "redirected traffic refused by the cache (data path)"
}

/// Evidence about a cache from the data path rather than from probes.
public enum CacheDataPathEvidence: Equatable, Sendable {
    /// The cache's host refused traffic redirected to it (ICMP destination unreachable about a
    /// redirected packet, sent by the cache).
    case refused
    /// Traffic came back from the cache (returned packets, its own HERE_I_AMs): alive.
    case alive
}

/// The outcome of one probe.
public enum CacheProbeResult: Equatable, Sendable {
    /// The cache accepted (alive).
    case answered
    /// The cache's host actively refused (TCP RST, ICMP unreachable): the service is gone.
    case refused
    /// No answer within the probe's own timeout, or a local error: weak evidence, only time decides.
    case noAnswer
}

/// One cache's health as `show ip wccp ... detail` reports it.
public struct CacheHealthStatus: Equatable, Sendable {
    public var down: Bool
    public var lastGood: Duration
    public var probesSent: UInt64
    public var probesFailed: UInt64
    public var downTransitions: UInt64
    /// Data-path refusals seen (`CacheDataPathEvidence.refused`).
    public var dataPathRefusals: UInt64 = 0
}

public struct CacheHealthMonitor: Sendable {
    public private(set) var config: CacheHealthConfig

    struct Entry: Sendable {
        var lastGood: Duration
        var nextProbe: Duration
        var inFlight = false
        var down = false
        var refusals = 0
        var successes = 0
        var probesSent: UInt64 = 0
        var probesFailed: UInt64 = 0
        var downTransitions: UInt64 = 0
        /// Data-path refusals in the current window (since `windowStart`).
        var windowRefusals = 0
        var windowStart: Duration = .zero
        var lastDataRefusal: Duration?
        var downOnDataPath = false
        var dataPathRefusals: UInt64 = 0
    }

    var entries: [IPv4Address: Entry] = [:]

    public init(config: CacheHealthConfig) { self.config = config }

    /// Takes new timers; the caches' states stay.
    public mutating func reconfigure(_ new: CacheHealthConfig) { config = new }

    /// The caches to watch (the usable caches of every service). New ones start healthy, with
    /// `now` as their last good evidence (they just completed the handshake); others are forgotten.
    public mutating func track(_ caches: Set<IPv4Address>, now: Duration) {
        for ip in entries.keys where !caches.contains(ip) { entries[ip] = nil }
        for ip in caches where entries[ip] == nil {
            entries[ip] = Entry(lastGood: now, nextProbe: now)
        }
    }

    /// Data-path or protocol evidence that a cache is alive (e.g. a HERE_I_AM): as good as an answered probe
    /// for the timeout, but does not by itself bring a down cache back (only probes of its service do).
    public mutating func evidence(from ip: IPv4Address, now: Duration) {
        guard var e = entries[ip], !e.down else { return }
        e.lastGood = max(e.lastGood, now)
        entries[ip] = e
    }

    /// Data-path evidence about `ip` (ignored for caches not tracked).
    public mutating func dataPath(_ ip: IPv4Address, _ evidence: CacheDataPathEvidence, now: Duration) -> [CacheHealthAction] {
        guard var e = entries[ip] else { return [] }
        var actions: [CacheHealthAction] = []
        switch evidence {
        case .alive:
            if !e.down { e.lastGood = max(e.lastGood, now) }
        case .refused:
            e.dataPathRefusals += 1
            e.lastDataRefusal = now
            if now - e.windowStart >= config.timeout {
                e.windowStart = now
                e.windowRefusals = 0
            }
            e.windowRefusals += 1
            if e.down {
                e.successes = 0
            } else if e.windowRefusals >= config.refusalsToFail {
                e.down = true
                e.downOnDataPath = true
                e.successes = 0
                e.downTransitions += 1
                actions.append(.down(ip, reason: .dataPathRefused))
            }
        }
        entries[ip] = e
        return actions
    }

    /// Probes that are due, and caches whose evidence is older than the timeout.
    public mutating func tick(now: Duration) -> [CacheHealthAction] {
        var actions: [CacheHealthAction] = []
        for ip in entries.keys.sorted() {
            guard var e = entries[ip] else { continue }
            if !e.down, now - e.lastGood >= config.timeout {
                e.down = true
                e.successes = 0
                e.downTransitions += 1
                actions.append(.down(ip, reason: .timeout))
            }
            if !e.inFlight, now >= e.nextProbe {
                e.inFlight = true
                e.probesSent += 1
                e.nextProbe = now + config.interval
                actions.append(.probe(ip))
            }
            entries[ip] = e
        }
        return actions
    }

    /// The outcome of the probe last asked for `ip`.
    public mutating func probeResult(_ ip: IPv4Address, _ result: CacheProbeResult, now: Duration) -> [CacheHealthAction] {
        guard var e = entries[ip] else { return [] }
        e.inFlight = false
        var actions: [CacheHealthAction] = []
        switch result {
        case .answered:
            e.refusals = 0
            e.lastGood = max(e.lastGood, now)
            if e.down {
                e.successes += 1
                let held = e.downOnDataPath && e.lastDataRefusal.map { now - $0 < config.dataPathHoldDown } == true
                if e.successes >= config.successesToRecover, !held {
                    e.down = false
                    e.downOnDataPath = false
                    e.windowRefusals = 0
                    e.successes = 0
                    actions.append(.up(ip))
                }
            }
        case .refused, .noAnswer:
            e.probesFailed += 1
            e.successes = 0
            if result == .refused { e.refusals += 1 }
            if !e.down, e.refusals >= config.refusalsToFail {
                e.down = true
                e.downTransitions += 1
                actions.append(.down(ip, reason: .refused))
            } else if !e.down, now - e.lastGood >= config.timeout {
                e.down = true
                e.downTransitions += 1
                actions.append(.down(ip, reason: .timeout))
            }
        }
        entries[ip] = e
        return actions
    }

    public func isDown(_ ip: IPv4Address) -> Bool { entries[ip]?.down ?? false }

    public func status(_ ip: IPv4Address) -> CacheHealthStatus? {
        entries[ip].map {
            CacheHealthStatus(down: $0.down, lastGood: $0.lastGood, probesSent: $0.probesSent,
                              probesFailed: $0.probesFailed, downTransitions: $0.downTransitions,
                              dataPathRefusals: $0.dataPathRefusals)
        }
    }
}

extension CacheDataPathEvidence {
    /// The cache an ICMP message (as a raw IPv4 socket reads it: IP header, then ICMP) reports
    /// as refusing redirected traffic, or nil. Counted: destination unreachable (type 3) with
    /// code host/protocol/port unreachable or administratively prohibited (1, 2, 3, 9, 10, 13),
    /// sent by one of `caches` about a GRE packet (IP protocol 47: a redirect) to that same
    /// cache. Anything else (other types, other senders, the router's own UDP to a cache) is
    /// not evidence. Pure.
    public static func refusingCache(icmp bytes: [UInt8], caches: Set<IPv4Address>) -> IPv4Address? {
        guard bytes.count >= 20, bytes[0] >> 4 == 4 else { return nil }
        let outer = Int(bytes[0] & 0x0F) * 4
        guard outer >= 20, bytes.count >= outer + 8 + 20, bytes[9] == 1 else { return nil }
        func address(_ at: Int) -> IPv4Address {
            IPv4Address(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3])
        }
        let type = bytes[outer], code = bytes[outer + 1]
        guard type == 3, [1, 2, 3, 9, 10, 13].contains(code) else { return nil }
        let inner = outer + 8
        guard bytes[inner] >> 4 == 4, bytes[inner + 9] == 47 else { return nil }
        let sender = address(12), target = address(inner + 16)
        guard sender == target, caches.contains(sender) else { return nil }
        return sender
    }
}
