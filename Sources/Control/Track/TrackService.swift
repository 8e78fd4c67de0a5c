// The I/O edge of `ip sla` / `track`: each configured ICMP echo operation
// probes at its frequency on a thread of its own (the probe blocks up to its
// timeout), results come back to the control thread and feed the pure
// `TrackState` of every track that follows the operation. A state change
// re-applies BGP, which withdraws or re-advertises the routes tied to it.

import Commands
import NIOCore
import NIOPosix
import Packet

final class TrackService: @unchecked Sendable {
    private let loop: EventLoop
    private let pool: NIOThreadPool
    private let origin = ContinuousClock.now
    private var slas: [Int: SLAConfig] = [:]
    private var tracks: [Int: TrackConfig] = [:]
    private(set) var states: [Int: TrackState] = [:]
    private var timers: [Int: RepeatedTask] = [:]
    private var sequence: UInt16 = 0
    /// Called on the control thread after a track changed state.
    var onChange: (Int, TrackState.Change) -> Void = { _, _ in }

    init(loop: EventLoop) {
        self.loop = loop
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    private var now: Duration { ContinuousClock.now - origin }

    func isUp(_ track: Int) -> Bool { states[track]?.isUp ?? false }
    func configuration(_ track: Int) -> (TrackConfig, SLAConfig?)? { tracks[track].map { ($0, slas[$0.sla]) } }

    /// Follows a new configuration: operations restart only where they changed.
    func apply(slas newSLAs: [Int: SLAConfig], tracks newTracks: [Int: TrackConfig]) {
        for (n, t) in timers where newSLAs[n] != slas[n] || newSLAs[n]?.target == nil {
            t.cancel()
            timers[n] = nil
        }
        slas = newSLAs
        tracks = newTracks
        for n in states.keys where newTracks[n] == nil { states[n] = nil }
        for (n, t) in newTracks {
            var s = states[n] ?? TrackState()
            s.upDelay = .seconds(t.upDelay)
            s.downDelay = .seconds(t.downDelay)
            // No operation, or one without a target: down.
            if newSLAs[t.sla]?.target == nil, let change = s.reset(at: now) { notify(n, change) }
            states[n] = s
        }
        for (n, sla) in newSLAs where timers[n] == nil {
            guard sla.target != nil else { continue }
            timers[n] = loop.scheduleRepeatedTask(initialDelay: .zero, delay: .seconds(Int64(sla.frequency))) { [weak self] _ in
                self?.probe(n)
            }
        }
    }

    private func probe(_ n: Int) {
        guard let sla = slas[n], let target = sla.target else { return }
        sequence &+= 1
        let seq = sequence
        let identifier = UInt16(truncatingIfNeeded: getpid()) ^ UInt16(n)
        let timeout = Duration.milliseconds(sla.timeoutMilliseconds)
        pool.runIfActive(eventLoop: loop) {
            ICMPProbe.echo(to: target, from: sla.source, identifier: identifier, sequence: seq, timeout: timeout)
        }.whenSuccess { [weak self] rtt in
            self?.result(n, sla, rtt)
        }
    }

    private func result(_ n: Int, _ sla: SLAConfig, _ rtt: Duration?) {
        guard slas[n] == sla else { return }  // reconfigured meanwhile
        let at = now
        for (t, config) in tracks where config.sla == n {
            guard var s = states[t] else { continue }
            let change = s.probe(succeeded: rtt != nil, roundTrip: rtt, at: at)
            states[t] = s
            if let change { notify(t, change) }
        }
    }

    private func notify(_ track: Int, _ change: TrackState.Change) {
        let callback = onChange
        loop.execute { callback(track, change) }
    }

    func stop() {
        for t in timers.values { t.cancel() }
        timers = [:]
        try? pool.syncShutdownGracefully()
    }

    /// Seconds since a time on this service's clock.
    func age(_ t: Duration?) -> Duration? { t.map { now - $0 } }
}

extension Appliance {
    /// Starts, reconfigures or stops the health checks to match the configuration.
    func applyTracks() {
        if config.slas.isEmpty && config.tracks.isEmpty {
            trackService?.stop()
            trackService = nil
            return
        }
        if trackService == nil {
            guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else {
                record("track: not started: apply must run on the control thread's event loop")
                return
            }
            let service = TrackService(loop: loop)
            service.onChange = { [weak self] track, change in
                guard let self else { return }
                self.record("track \(track): reachability \(change == .wentUp ? "Down -> Up" : "Up -> Down")")
                // Advertisements tied to the track follow it.
                self.applyBGP()
            }
            trackService = service
        }
        trackService?.apply(slas: config.slas, tracks: config.tracks)
    }

    /// Whether track `n` is up (a missing track is down).
    func trackIsUp(_ n: Int) -> Bool { trackService?.isUp(n) ?? false }

    /// `show track [N] [json]`.
    func showTrack(_ number: Int?, json: Bool) -> (String, Bool) {
        var numbers = config.tracks.keys.sorted()
        if let number {
            guard config.tracks[number] != nil else { return json ? ("{}\n", true) : ("% track \(number) is not configured\n", false) }
            numbers = [number]
        }
        func ms(_ d: Duration?) -> JSON {
            d.map { .int($0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000) } ?? .null
        }
        var users: [Int: [String]] = [:]
        if let b = config.bgp {
            for family in BGPFamily.allCases {
                for (p, t) in b[family].networkTracks { users[t, default: []].append("BGP network \(p)") }
                for n in b.neighbors.values.sorted(by: { $0.address.description < $1.address.description }) {
                    if let t = n[family].defaultOriginateTrack { users[t, default: []].append("BGP neighbor \(n.address) default-originate (\(family.rawValue))") }
                }
            }
        }
        if json {
            let rows: [JSON] = numbers.map { n in
                let t = config.tracks[n]!, sla = config.slas[t.sla], s = trackService?.states[n] ?? TrackState()
                return .object([
                    ("track", .int(Int64(n))), ("ipSla", .int(Int64(t.sla))), ("target", sla?.target.map { .string($0.description) } ?? .null),
                    ("state", .string(s.isUp ? "up" : "down")), ("changes", .int(Int64(s.changes))),
                    ("lastChangeAgoMsec", ms(trackService?.age(s.lastChange))), ("delayUp", .int(Int64(t.upDelay))),
                    ("delayDown", .int(Int64(t.downDelay))), ("probes", .int(Int64(s.probes))), ("failures", .int(Int64(s.failures))),
                    ("lastProbeOk", .bool(s.lastSucceeded)), ("lastRttMsec", ms(s.lastRoundTrip)),
                    ("trackedBy", .array((users[n] ?? []).sorted().map { .string($0) })),
                ])
            }
            return (JSON.object([("tracks", .array(rows))]).rendered() + "\n", true)
        }
        var out = ""
        for n in numbers {
            let t = config.tracks[n]!, sla = config.slas[t.sla], s = trackService?.states[n] ?? TrackState()
            out += "Track \(n)\n  IP SLA \(t.sla) reachability" + (sla?.target.map { " (icmp-echo \($0))" } ?? " (no operation configured)") + "\n"
            out += "  Reachability is \(s.isUp ? "Up" : "Down")\n"
            out += "    \(s.changes) change\(s.changes == 1 ? "" : "s"), last change "
                + BGPShowFormat.uptime(trackService?.age(s.lastChange)) + "\n"
            if t.upDelay != 0 || t.downDelay != 0 { out += "  Delay up \(t.upDelay) secs, down \(t.downDelay) secs\n" }
            out += "  Latest operation return code: " + (s.probes == 0 ? "none yet" : s.lastSucceeded ? "OK" : "Timeout")
                + (s.lastRoundTrip.map { ", RTT \(BGPShowFormat.milliseconds($0).rendered()) ms" } ?? "") + "\n"
            out += "  \(s.probes) probes, \(s.failures) failed\n"
            if let u = users[n], !u.isEmpty { out += "  Tracked by:\n" + u.sorted().map { "    \($0)\n" }.joined() }
        }
        return (out, true)
    }
}
