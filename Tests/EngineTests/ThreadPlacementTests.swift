import Testing
@testable import Engine
#if canImport(Glibc)
import Glibc
#endif

// ThreadPlacement: which CPUs the workers and the other threads get, the refusal of a CPU
// the process may not use, and the process's own threads as /proc and sched_getaffinity see them.

@Test func placementGivesTheOtherThreadsTheRest() throws {
    #expect(try ThreadPlacement.plan(workerCPUs: [], allowed: [0, 1]) == nil)
    let p = try #require(try ThreadPlacement.plan(workerCPUs: [1], allowed: [0, 1]))
    #expect(p.workerCPUs == [1] && p.controlCPUs == [0] && !p.shared)
    let wide = try #require(try ThreadPlacement.plan(workerCPUs: [2, 3], allowed: [0, 1, 2, 3, 4]))
    #expect(wide.controlCPUs == [0, 1, 4])
    // The workers take every CPU: the other threads share them (a one-CPU taskset).
    let all = try #require(try ThreadPlacement.plan(workerCPUs: [1], allowed: [1]))
    #expect(all.controlCPUs == [1] && all.shared)
}

@Test func placementRefusesACPUTheProcessMayNotUse() {
    #expect(throws: ThreadPlacement.Refused(cpus: [5], allowed: [0, 1])) {
        try ThreadPlacement.plan(workerCPUs: [1, 5], allowed: [0, 1])
    }
    let e = ThreadPlacement.Refused(cpus: [5, 7], allowed: [0, 1])
    #expect(e.description.contains("CPUs 5, 7 are not among the CPUs egressd may run on (0,1"))
}

@Test func processThreadsAndTheirCPUsAreReadable() {
    let allowed = ThreadPlacement.cpus(ofThread: 0)
    #expect(!allowed.isEmpty)
    #expect(ThreadPlacement.allowedAtStart == allowed || !ThreadPlacement.allowedAtStart.isEmpty)
    let ids = ThreadPlacement.threadIDs()
    #expect(ids.contains(getpid()))
    // Confining to what a thread already has changes nothing and succeeds.
    let r = ThreadPlacement.confine(to: allowed, except: Set(ids.filter { $0 != getpid() }))
    #expect(r.moved == 1 && r.failed == 0)
    #expect(ThreadPlacement.cpus(ofThread: getpid()) == allowed)
}
