// Where egressd's threads run, the way DPDK and VPP appliances place theirs:
// the packet workers own their CPUs (`dataplane worker cpus LIST`) and every
// other thread (NIO event loops, the shell, metrics, the kernel route writer,
// Dispatch's pool, the main thread) is confined to the CPUs the process may
// use that are not worker CPUs. A thread inherits its creator's affinity, so
// confining the threads that exist before the control plane starts places
// the threads it makes later; a second sweep after start catches the rest.
// The workers pin themselves (Worker.run) and are left out of the sweeps.

import CEgressSys
#if canImport(Glibc)
import Glibc
#endif

public enum ThreadPlacement {
    /// The CPUs the process could run on when this was first read (egressd's
    /// main reads it before confining anything: the taskset it was started under).
    public static let allowedAtStart: [Int] = cpus(ofThread: 0)

    /// The CPUs thread `tid` (0: the caller) may run on; empty when it cannot be read.
    public static func cpus(ofThread tid: Int32) -> [Int] {
        var buffer = [Int32](repeating: 0, count: 1024)
        let n = buffer.withUnsafeMutableBufferPointer { egressd_thread_cpus(tid, $0.baseAddress!, Int32($0.count)) }
        return n > 0 ? buffer[0..<Int(n)].map(Int.init) : []
    }

    /// The kernel ids of this process's threads (/proc/self/task).
    public static func threadIDs() -> [Int32] {
        guard let dir = opendir("/proc/self/task") else { return [] }
        defer { closedir(dir) }
        var ids: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let id = Int32(name) { ids.append(id) }
        }
        return ids.sorted()
    }

    /// Worker CPUs not in the allowed set.
    public struct Refused: Error, Equatable, CustomStringConvertible {
        public var cpus: [Int]
        public var allowed: [Int]
        public var description: String {
            let which = cpus.count == 1 ? "CPU \(cpus[0]) is" : "CPUs \(cpus.map(String.init).joined(separator: ", ")) are"
            return "dataplane worker cpus: \(which) not among the CPUs egressd may run on (\(Self.list(allowed)); "
                + "see taskset -p, or the service's CPUAffinity)"
        }
        static func list(_ cpus: [Int]) -> String {
            cpus.isEmpty ? "none readable" : cpus.map(String.init).joined(separator: ",")
        }
    }

    /// Which CPUs the workers and the other threads get.
    public struct Plan: Equatable, Sendable {
        /// Worker i runs on workerCPUs[i % count].
        public var workerCPUs: [Int]
        /// Every other thread. The same as the allowed set when the workers take all of it.
        public var controlCPUs: [Int]
        /// The workers take every allowed CPU: the other threads share them.
        public var shared: Bool
    }

    /// The placement for `workerCPUs` (nil when none is asked for) within `allowed`.
    public static func plan(workerCPUs: [Int], allowed: [Int]) throws(Refused) -> Plan? {
        guard !workerCPUs.isEmpty else { return nil }
        let outside = workerCPUs.filter { !allowed.contains($0) }
        if !outside.isEmpty { throw Refused(cpus: outside, allowed: allowed) }
        let rest = allowed.filter { !workerCPUs.contains($0) }
        return Plan(workerCPUs: workerCPUs, controlCPUs: rest.isEmpty ? allowed : rest, shared: rest.isEmpty)
    }

    /// Confines every thread of the process but `except` to `cpus`. Returns
    /// how many were moved, and how many refused (a thread that ended meanwhile
    /// is neither).
    @discardableResult
    public static func confine(to cpus: [Int], except: Set<Int32> = []) -> (moved: Int, failed: Int) {
        var moved = 0, failed = 0
        let list = cpus.map(Int32.init)
        for tid in threadIDs() where !except.contains(tid) {
            let r = list.withUnsafeBufferPointer { egressd_set_thread_cpus(tid, $0.baseAddress!, Int32($0.count)) }
            if r == 0 { moved += 1 } else if r != -ESRCH { failed += 1 }
        }
        return (moved, failed)
    }
}
