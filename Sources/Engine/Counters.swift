// Counters written by exactly one worker each and summed by the control plane
// when it reads them. Each worker has its own row, so the packet path never
// shares a cache line or takes a lock; the relaxed atomic load+store pair
// compiles to plain moves (no lock prefix) yet is a defined concurrent read.

import Atomics

/// Why the engine dropped a packet. Every packet the engine receives is
/// either sent somewhere or counted under exactly one of these.
public enum DropReason: Int, CaseIterable, Sendable {
    case unknownPeer = 0        // GRE from an address no tunnel expects
    case badOuter               // outer IPv4 header invalid, or a fragment
    case badGRE                 // GRE version/flags unsupported, truncated
    case greChecksum            // GRE checksum present and wrong
    case greKey                 // GRE key differs from the tunnel's
    case unsupportedPayload     // GRE protocol type not IPv4/IPv6
    case badInner               // inner IP header invalid
    case ttlExpired             // TTL / hop limit ran out (ICMP sent)
    case tooBig                 // over the egress MTU with DF (ICMP sent)
    case blackhole              // matched a blackhole route
    case txError                // the kernel refused to send it
    case tunError               // writing into the TUN failed

    public var name: String {
        switch self {
        case .unknownPeer: "unknown-peer"
        case .badOuter: "bad-outer"
        case .badGRE: "bad-gre"
        case .greChecksum: "gre-checksum"
        case .greKey: "gre-key"
        case .unsupportedPayload: "unsupported-payload"
        case .badInner: "bad-inner"
        case .ttlExpired: "ttl-expired"
        case .tooBig: "too-big"
        case .blackhole: "blackhole"
        case .txError: "tx-error"
        case .tunError: "tun-error"
        }
    }
}

/// Per-tunnel counter fields; drops follow at `dropBase + reason`.
public enum TunnelCounter: Int, CaseIterable, Sendable {
    case rxPackets = 0, rxBytes, txPackets, txBytes
    case decapForwarded      // decapsulated and forwarded by the engine
    case decapToKernel       // decapsulated and handed to the kernel (TUN)
    case encapFromKernel     // read from the kernel (TUN) and encapsulated
    case icmpSent            // ICMP errors the engine originated
    case decapRedirected     // decapsulated and redirected to a WCCP cache
    case kernelInput         // read from the kernel and assigned to this tunnel (ECMP)
    // Accounting (Tests/Namespace/accounting.test.sh): per tunnel,
    //   rxPackets + kernelInput == decapForwarded + decapToKernel + decapRedirected
    //                              + encapFromKernel + sum of drops
    // (a packet whose send fails moves from its outcome to tx-error/tun-error).
    public static let dropBase = 10
    public static let fieldCount = dropBase + DropReason.allCases.count
}

/// Engine-wide counters (not tied to a tunnel).
public enum EngineCounter: Int, CaseIterable, Sendable {
    case greReceived = 0     // packets read from the GRE socket
    case kernelReceived      // packets read from TUN devices
    case batches             // receive batches processed
    case busyNanoseconds     // time spent processing (for utilisation)
    case flowRecordsLost     // flow records lost: the export ring was full
    public static let dropBase = 5
    public static let fieldCount = dropBase + DropReason.allCases.count
}

/// A block of `fields` counters for each of `workers` workers.
public final class CounterBlock: @unchecked Sendable {
    public let workers: Int
    public let fields: Int
    @usableFromInline let storage: UnsafeMutablePointer<UInt64.AtomicRepresentation>

    public init(workers: Int, fields: Int) {
        self.workers = workers
        self.fields = fields
        // One row per worker, padded to whole cache lines (8 counters).
        let stride = Self.rowStride(fields)
        storage = .allocate(capacity: workers * stride)
        storage.initialize(repeating: UInt64.AtomicRepresentation(0), count: workers * stride)
    }

    deinit { storage.deallocate() }

    @inlinable static func rowStride(_ fields: Int) -> Int { (fields + 7) & ~7 }

    /// The row a worker writes. Valid as long as the block is alive.
    @inlinable public func row(_ worker: Int) -> CounterRow {
        CounterRow(base: storage + worker * Self.rowStride(fields))
    }

    /// The sum over all workers of one field.
    public func total(_ field: Int) -> UInt64 {
        var sum: UInt64 = 0
        let stride = Self.rowStride(fields)
        for w in 0..<workers {
            sum &+= UInt64.AtomicRepresentation.atomicLoad(at: storage + w * stride + field, ordering: .relaxed)
        }
        return sum
    }

    public func totals() -> [UInt64] { (0..<fields).map(total) }

    /// One field's value for each worker.
    public func perWorker(_ field: Int) -> [UInt64] {
        let stride = Self.rowStride(fields)
        return (0..<workers).map {
            UInt64.AtomicRepresentation.atomicLoad(at: storage + $0 * stride + field, ordering: .relaxed)
        }
    }
}

/// One worker's counters: a raw pointer, so the packet path does no ARC.
public struct CounterRow {
    @usableFromInline let base: UnsafeMutablePointer<UInt64.AtomicRepresentation>

    @inlinable init(base: UnsafeMutablePointer<UInt64.AtomicRepresentation>) { self.base = base }

    @inlinable @inline(__always)
    public func add(_ field: Int, _ delta: UInt64 = 1) {
        let p = base + field
        let v = UInt64.AtomicRepresentation.atomicLoad(at: p, ordering: .relaxed)
        UInt64.AtomicRepresentation.atomicStore(v &+ delta, at: p, ordering: .relaxed)
    }

    /// Takes back a count (a queued packet whose send failed moves to a drop).
    @inlinable @inline(__always)
    public func subtract(_ field: Int, _ delta: UInt64 = 1) {
        let p = base + field
        let v = UInt64.AtomicRepresentation.atomicLoad(at: p, ordering: .relaxed)
        UInt64.AtomicRepresentation.atomicStore(v &- delta, at: p, ordering: .relaxed)
    }

    @inlinable @inline(__always)
    public func drop(_ reason: DropReason, base dropBase: Int) { add(dropBase + reason.rawValue) }
}
