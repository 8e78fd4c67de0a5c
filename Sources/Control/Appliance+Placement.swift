// Thread placement at start (Engine/ThreadPlacement.swift): with `dataplane worker
// cpus`, every thread but the workers goes to the other CPUs (main confined the
// threads that existed before the control plane started; this sweep catches those
// made since), and refused SCHED_FIFO requests (`dataplane worker realtime`) are said.

import Commands
import Engine
#if canImport(Glibc)
import Glibc
#endif

extension Appliance {
    func placeThreads(_ plan: ThreadPlacement.Plan?) {
        if let plan {
            let workers = engine.workerThreads
            let (moved, failed) = ThreadPlacement.confine(to: plan.controlCPUs, except: Set(workers))
            let control = CPUList.format(plan.controlCPUs)
            let owned = CPUList.format(plan.workerCPUs)
            record("thread placement: \(workers.count) worker(s) on CPU \(owned), \(moved) other thread(s) on CPU \(control)"
                + (plan.shared ? " (the workers take every CPU egressd may use: the other threads share them)" : "")
                + (failed > 0 ? ", \(failed) could not be moved" : ""))
        }
        for (worker, error) in engine.realtimeRefusals {
            let why = error == EPERM ? "not permitted (needs CAP_SYS_NICE, or an RLIMIT_RTPRIO of 1 or more)" : String(cString: strerror(error))
            logger.warning("dataplane worker realtime: SCHED_FIFO refused for worker \(worker): \(why); it runs as a normal thread")
            record("dataplane worker realtime refused for worker \(worker): \(why)")
        }
        if engine.settings.realtime && engine.realtimeRefusals.isEmpty {
            record("dataplane worker realtime: \(engine.settings.workers) worker(s) on SCHED_FIFO priority 1")
        }
    }
}

extension Appliance {
    /// The workers' CPUs and the other threads' (`dataplane worker cpus`; nil: no placement).
    var threadPlan: ThreadPlacement.Plan? {
        try? ThreadPlacement.plan(workerCPUs: engine.settings.cpus, allowed: ThreadPlacement.allowedAtStart)
    }

    /// How the workers are scheduled, for `show dataplane`.
    var workerScheduling: String {
        guard engine.settings.realtime else { return "normal" }
        return engine.realtimeRefusals.isEmpty ? "SCHED_FIFO 1" : "normal (realtime refused)"
    }

    /// One line of `show dataplane`.
    var threadPlacementLine: String {
        let placement = threadPlan.map {
            "workers on CPU \(CPUList.format($0.workerCPUs)), other threads on CPU \(CPUList.format($0.controlCPUs))"
        }
            ?? "not placed (no dataplane worker cpus)"
        return "  threads: \(placement); worker scheduling \(workerScheduling)\n"
    }
}
