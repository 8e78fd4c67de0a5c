// The packet engine's public face: start the workers, publish forwarding
// snapshots, read counters, stop. Everything here runs on the control
// plane; the workers only read what it publishes.

import Atomics
import CEgressSys
import Packet
#if canImport(Glibc)
import Glibc
#endif

extension ForwardingSnapshot: AtomicReference {}

public final class Engine: @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        public var workers: Int
        public var batchSize: Int
        /// CPUs to pin workers to (worker i → cpus[i % count]); empty: no pinning.
        public var cpus: [Int]
        /// The underlay I/O backend asked for (default `.afxdp`; the engine falls
        /// back to `.tpacket` when XDP or AF_XDP is refused, and to `.raw` when the
        /// rings cannot be set up; `runningBackend` says which runs).
        public var ioBackend: IOBackend
        /// PACKET_QDISC_BYPASS on the AF_PACKET senders (TX rings, the L2
        /// socket): straight to the driver, but tcpdump, tc and netdev egress
        /// hooks on this host no longer see what the engine sends.
        public var qdiscBypass: Bool
        /// The tpacket backend's receive ring (V2 frames by default; the
        /// environment's `EGRESSD_RX_RING=v3` picks V3 blocks, for benchmarks).
        public var receiveRing: ReceiveRingKind
        /// Tests only (`EGRESSD_TEST_REFUSE_RING=rx|tx`): ring setup fails on purpose.
        public var refuseRings: RingRefusal
        /// Empty rounds a worker keeps reading after a packet before it sleeps
        /// in poll() (200; `EGRESSD_SPIN_ROUNDS` in the environment, for benchmarks).
        public var spinRounds: Int
        /// Workers ask for SCHED_FIFO priority 1 (`dataplane worker realtime`).
        public var realtime: Bool
        /// A SCHED_FIFO worker that has not slept for `yieldEvery` nanoseconds sleeps
        /// `yieldFor` (1000 µs / 20 µs; `EGRESSD_RT_YIELD_EVERY_US`, `EGRESSD_RT_YIELD_US`):
        /// under steady load it never blocks in poll(), and ksoftirqd and the kernel's other
        /// normal threads on its CPU would wait for it without end.
        public var yieldEvery: UInt64
        public var yieldFor: UInt64
        public init(workers: Int = 1, batchSize: Int = 64, cpus: [Int] = [], ioBackend: IOBackend = .afxdp,
                    qdiscBypass: Bool = false, receiveRing: ReceiveRingKind? = nil, refuseRings: RingRefusal? = nil,
                    realtime: Bool = false) {
            self.workers = workers
            self.batchSize = batchSize
            self.cpus = cpus
            self.realtime = realtime
            self.yieldEvery = UInt64(max(1, Self.environment("EGRESSD_RT_YIELD_EVERY_US").flatMap { Int($0) } ?? 1000)) * 1000
            self.yieldFor = UInt64(max(1, Self.environment("EGRESSD_RT_YIELD_US").flatMap { Int($0) } ?? 20)) * 1000
            self.ioBackend = ioBackend
            self.qdiscBypass = qdiscBypass
            self.receiveRing = receiveRing ?? Self.environment("EGRESSD_RX_RING").flatMap(ReceiveRingKind.init(rawValue:)) ?? .frames
            self.refuseRings = refuseRings ?? Self.environment("EGRESSD_TEST_REFUSE_RING").flatMap(RingRefusal.init(rawValue:)) ?? .none
            self.spinRounds = max(0, Self.environment("EGRESSD_SPIN_ROUNDS").flatMap { Int($0) } ?? Worker.spinBudget)
        }

        static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
    }

    /// How GRE enters and leaves the engine (IO/PacketRings.swift).
    public enum IOBackend: String, Sendable, CaseIterable {
        /// TPACKET_V2 (or V3) RX ring (fanout hash) + TPACKET_V2 TX rings per egress interface.
        case tpacket
        /// recvmmsg on a raw GRE socket (AF_PACKET fanout with several workers), sendmmsg out.
        case raw
        /// An XDP program steers our GRE to AF_XDP sockets per worker and queue (IO/XDPSockets.swift),
        /// which also transmit to next-hop MACs; the tpacket rings stay open beside them. Falls back to tpacket.
        case afxdp
    }

    /// The XDP attachment while `.afxdp` runs (nil otherwise).
    private(set) var xdp: XDPAttachment?

    /// The interfaces the XDP program is attached to (name, native or generic mode, queues), and those left out.
    public var xdpInterfaces: [XDPInterface] { xdp?.interfaces ?? [] }
    public var xdpSkipped: [String] { xdp?.skipped ?? [] }

    /// Whether the kernel's steering map has `key` (`.afxdp` running).
    public func xdpSteers(_ key: XDPSteeringKey) -> Bool { xdp?.isSteered(key) ?? false }

    /// The backend the workers run (set by `start()`), and why it is not the
    /// one asked for (nil when it is).
    public private(set) var runningBackend: IOBackend = .raw
    public private(set) var fallbackReason: String?
    /// The receive ring the tpacket workers read, in words (`show dataplane`); nil with `.raw`.
    public private(set) var receiveRingDescription: String?

    /// Next-hop MACs of the underlay (tunnel remote ends, GRE caches).
    let underlay = ManagedAtomic<UnderlayNeighbours>(UnderlayNeighbours.empty)

    /// Makes `table` the underlay neighbours workers use from their next batch on.
    public func publishUnderlay(_ table: UnderlayNeighbours) {
        underlay.store(table, ordering: .releasing)
        published.wrappingIncrement(ordering: .releasing)
    }

    /// Bumped after each store of `current`, `underlay` or `captureTap`:
    /// workers reload those three (retaining them) only when it moved.
    let published = ManagedAtomic<UInt64>(0)

    public var underlayNeighbours: UnderlayNeighbours { underlay.load(ordering: .acquiring) }

    public let settings: Settings
    public let engineCounters: CounterBlock
    /// The I/O backend's own counters (IOCounter), per worker.
    public let ioCounters: CounterBlock
    let current: ManagedAtomic<ForwardingSnapshot>
    let stopping = ManagedAtomic<Bool>(false)
    let generations: [ManagedAtomic<UInt64>]
    var workers: [Worker] = []
    var sinkFD: Int32 = -1
    /// Flow export (Flows/FlowCache.swift): each worker's ring of expired
    /// flows, and the timeouts in nanoseconds (active 0: no flow accounting).
    public let flowRings: [FlowRing]
    let flowActive = ManagedAtomic<UInt64>(0)
    let flowInactive = ManagedAtomic<UInt64>(15_000_000_000)
    /// Bumped when export is switched on: workers then start from an empty flow table.
    let flowEpoch = ManagedAtomic<UInt64>(0)

    /// The capture in progress (Flows/CaptureTap.swift), nil when none.
    /// Set only through attachCaptureTap / detachCaptureTap, which bump
    /// `published` (a store elsewhere would not reach the workers).
    let captureTap = ManagedAtomic<CaptureTap?>(nil)

    /// Makes `tap` the capture workers copy packets into from their next round on.
    public func attachCaptureTap(_ tap: CaptureTap) {
        captureTap.store(tap, ordering: .releasing)
        published.wrappingIncrement(ordering: .releasing)
    }

    /// Detaches `tap` if it is the one attached.
    public func detachCaptureTap(_ tap: CaptureTap) {
        if captureTap.compareExchange(expected: tap, desired: nil, ordering: .acquiringAndReleasing).exchanged {
            published.wrappingIncrement(ordering: .releasing)
        }
    }

    /// Turns flow accounting on (timeouts in seconds) or off (nil).
    public func setFlowTimeouts(active: Int?, inactive: Int) {
        flowInactive.store(UInt64(max(1, inactive)) * 1_000_000_000, ordering: .relaxed)
        if active != nil && flowActive.load(ordering: .relaxed) == 0 { flowEpoch.wrappingIncrement(ordering: .relaxed) }
        flowActive.store(active.map { UInt64(max(1, $0)) * 1_000_000_000 } ?? 0, ordering: .relaxed)
    }

    public init(settings: Settings) {
        self.settings = settings
        engineCounters = CounterBlock(workers: settings.workers, fields: EngineCounter.fieldCount)
        ioCounters = CounterBlock(workers: settings.workers, fields: IOCounter.fieldCount)
        current = ManagedAtomic(ForwardingSnapshot.empty(workers: settings.workers))
        generations = (0..<settings.workers).map { _ in ManagedAtomic<UInt64>(0) }
        flowRings = (0..<settings.workers).map { _ in FlowRing(capacity: 8192) }
        workerThreadIDs = (0..<settings.workers).map { _ in ManagedAtomic<Int32>(0) }
        workerScheduling = (0..<settings.workers).map { _ in ManagedAtomic<Int32>(0) }
    }

    func workerGeneration(_ i: Int) -> ManagedAtomic<UInt64> { generations[i] }

    /// Each worker's kernel thread id (0 until its thread started), and the
    /// outcome of its SCHED_FIFO request (0: none asked or not yet, 1: granted, -errno).
    let workerThreadIDs: [ManagedAtomic<Int32>]
    let workerScheduling: [ManagedAtomic<Int32>]

    /// The workers' kernel thread ids (those started).
    public var workerThreads: [Int32] {
        workerThreadIDs.map { $0.load(ordering: .acquiring) }.filter { $0 != 0 }
    }

    /// Workers whose SCHED_FIFO request was refused, with the reason (`realtime`).
    public var realtimeRefusals: [(worker: Int, error: Int32)] {
        workerScheduling.enumerated().compactMap { i, r in
            let v = r.load(ordering: .relaxed)
            return v < 0 ? (i, -v) : nil
        }
    }

    /// Opens the sockets and starts one thread per worker.
    public func start() throws {
        // Several workers: one fanout group per process, the kernel spreads
        // GRE over the workers' AF_PACKET sockets by flow hash. AF_PACKET
        // receive (rings, or several workers) also needs the GRE "sink".
        let group = UInt16(truncatingIfNeeded: getpid() & 0xFFFF) | 1
        if settings.ioBackend != .raw || settings.workers > 1 {
            sinkFD = try Sockets.greSink()
        }
        if settings.ioBackend == .afxdp {
            // The program, then the workers' sockets; any refusal (no XDP or
            // AF_XDP, not permitted): log why and run tpacket.
            do {
                let attachment = try XDPAttachment()
                xdp = attachment
                do {
                    try makeWorkers(backend: .afxdp, fanoutGroup: settings.workers > 1 ? group : nil)
                    runningBackend = .afxdp
                    receiveRingDescription = workers.first?.rings.receiveDescription
                    let snap = snapshot
                    attachment.spokesPublished(attachment.spokesBeforePublishing(snap))
                    steerXDP(to: snap)
                } catch {
                    workers.removeAll()
                    attachment.detach()
                    xdp = nil
                    throw error
                }
            } catch {
                fallbackReason = "\(error)"
            }
        }
        if workers.isEmpty && settings.ioBackend != .raw {
            do {
                try makeWorkers(backend: .tpacket, fanoutGroup: settings.workers > 1 ? group : nil)
                runningBackend = .tpacket
                receiveRingDescription = workers.first?.rings.receiveDescription
            } catch {
                // The rings cannot be set up here (old kernel, no memory for
                // the mapping, a seccomp policy): the portable backend runs.
                workers.removeAll()
                fallbackReason = fallbackReason.map { "\($0); tpacket: \(error)" } ?? "\(error)"
            }
        }
        if workers.isEmpty {
            try makeWorkers(backend: .raw, fanoutGroup: settings.workers > 1 ? group : nil)
            runningBackend = .raw
        }
        for w in workers { w.thread = Self.startThread { w.run() } }
        // Until each worker has placed itself (its id is what thread placement leaves out).
        var waited = 0
        while workerThreads.count < workers.count && waited < 2000 {
            usleep(1000)
            waited += 1
        }
    }

    private func makeWorkers(backend: IOBackend, fanoutGroup: UInt16?) throws {
        // V2 receive frames hold the biggest packet the underlay can carry.
        let mtu = backend != .raw ? max(0, Int(egressd_max_ether_mtu())) : 0
        for i in 0..<settings.workers {
            let cpu = settings.cpus.isEmpty ? nil : settings.cpus[i % settings.cpus.count]
            workers.append(try Worker(index: i, batchSize: settings.batchSize, cpu: cpu, engine: self,
                                      backend: backend, fanoutGroup: fanoutGroup, underlayMTU: mtu))
        }
    }

    /// Stops the workers and waits for them.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        for w in workers { if let t = w.thread { pthread_join(t, nil) } }
        workers.removeAll()
        xdp?.detach()
        xdp = nil
        if sinkFD >= 0 { close(sinkFD); sinkFD = -1 }
    }

    /// The snapshot workers use now.
    public var snapshot: ForwardingSnapshot { current.load(ordering: .acquiring) }

    /// Makes `snapshot` the one every worker uses from its next batch on.
    public func publish(_ snapshot: ForwardingSnapshot) {
        // The spoke trie shrinks before and grows after the swap: what it steers, the snapshot routes into a tunnel.
        let raise = xdp?.spokesBeforePublishing(snapshot) ?? []
        current.store(snapshot, ordering: .releasing)
        published.wrappingIncrement(ordering: .releasing)
        steerXDP(to: snapshot)
        xdp?.spokesPublished(raise)
    }

    /// Whether spoke-bound IPv4 is steered by XDP to the sockets and why not (`.afxdp` running; else nil).
    public var xdpEncapSteering: String? { xdp?.spokeSteeringDescription }

    /// The XDP spoke trie as the kernel holds it (at most `limit` entries): prefix, largest packet steered (0: none).
    public func xdpSpokeTrie(limit: Int = 256) -> [(prefix: IPv4Prefix, limit: UInt32)] { xdp?.spokeTrie(limit: limit) ?? [] }

    /// The limit the XDP spoke trie holds for exactly this prefix (tests), nil when none.
    public func xdpSpokeLimit(_ prefix: IPv4Prefix) -> UInt32? { xdp?.spokeLimit(address: prefix.address.value, length: prefix.length) }

    /// The XDP program's steering keys follow the snapshot's tunnels and GRE caches (`.afxdp`).
    private func steerXDP(to snapshot: ForwardingSnapshot) {
        guard let xdp else { return }
        // The TUNs by name in this namespace (a tunnel's TUN is named after it).
        let tuns = snapshot.tunnelSpecs.map { if_nametoindex($0.name) }
        xdp.steer(XDPSteeringKey.keys(tunnels: snapshot.tunnelSpecs, redirect: snapshot.redirectSpecs, tunInterfaces: tuns))
    }

    /// True once every worker has started a batch with `generation` or later
    /// (the old snapshot's resources are then no longer in use).
    public func allWorkersReached(_ generation: UInt64) -> Bool {
        workers.isEmpty || generations.allSatisfy { $0.load(ordering: .acquiring) >= generation }
    }

    final class ThreadBody { let run: () -> Void; init(_ r: @escaping () -> Void) { run = r } }

    static func startThread(_ body: @escaping () -> Void) -> pthread_t? {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        let r = pthread_create(&thread, nil, { arg in
            let b = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
            b.run()
            return nil
        }, box)
        return r == 0 ? thread : nil
    }
}
