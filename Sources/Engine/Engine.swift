// The packet engine's public face: start the workers, publish forwarding
// snapshots, read counters, stop. Everything here runs on the control
// plane; the workers only read what it publishes.

import Atomics
import CEgressSys
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
        public init(workers: Int = 1, batchSize: Int = 64, cpus: [Int] = []) {
            self.workers = workers
            self.batchSize = batchSize
            self.cpus = cpus
        }
    }

    public let settings: Settings
    public let engineCounters: CounterBlock
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
    public let captureTap = ManagedAtomic<CaptureTap?>(nil)

    /// Turns flow accounting on (timeouts in seconds) or off (nil).
    public func setFlowTimeouts(active: Int?, inactive: Int) {
        flowInactive.store(UInt64(max(1, inactive)) * 1_000_000_000, ordering: .relaxed)
        if active != nil && flowActive.load(ordering: .relaxed) == 0 { flowEpoch.wrappingIncrement(ordering: .relaxed) }
        flowActive.store(active.map { UInt64(max(1, $0)) * 1_000_000_000 } ?? 0, ordering: .relaxed)
    }

    public init(settings: Settings) {
        self.settings = settings
        engineCounters = CounterBlock(workers: settings.workers, fields: EngineCounter.fieldCount)
        current = ManagedAtomic(ForwardingSnapshot.empty(workers: settings.workers))
        generations = (0..<settings.workers).map { _ in ManagedAtomic<UInt64>(0) }
        flowRings = (0..<settings.workers).map { _ in FlowRing(capacity: 8192) }
    }

    func workerGeneration(_ i: Int) -> ManagedAtomic<UInt64> { generations[i] }

    /// Opens the sockets and starts one thread per worker.
    public func start() throws {
        // Several workers: one fanout group per process, the kernel spreads
        // GRE over the workers' AF_PACKET sockets by flow hash.
        var group: UInt16? = nil
        if settings.workers > 1 {
            sinkFD = try Sockets.greSink()
            group = UInt16(truncatingIfNeeded: getpid() & 0xFFFF) | 1
        }
        for i in 0..<settings.workers {
            let cpu = settings.cpus.isEmpty ? nil : settings.cpus[i % settings.cpus.count]
            workers.append(try Worker(index: i, batchSize: settings.batchSize, cpu: cpu, engine: self, fanoutGroup: group))
        }
        for w in workers { w.thread = Self.startThread { w.run() } }
    }

    /// Stops the workers and waits for them.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        for w in workers { if let t = w.thread { pthread_join(t, nil) } }
        workers.removeAll()
        if sinkFD >= 0 { close(sinkFD); sinkFD = -1 }
    }

    /// The snapshot workers use now.
    public var snapshot: ForwardingSnapshot { current.load(ordering: .acquiring) }

    /// Makes `snapshot` the one every worker uses from its next batch on.
    public func publish(_ snapshot: ForwardingSnapshot) {
        current.store(snapshot, ordering: .releasing)
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
