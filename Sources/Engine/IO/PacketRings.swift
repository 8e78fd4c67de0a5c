// The `tpacket` I/O backend's memory: one TPACKET_V3 receive ring per worker
// (GRE in, PACKET_FANOUT_HASH over workers so a flow stays on one worker)
// and up to `maxRings` TPACKET_V2 transmit rings per worker, one per egress
// interface, opened the first time a packet leaves through it. The ring
// walking itself is C (CEgressSys: egressd_rxring_*, egressd_txring_*);
// this type owns the memory and keeps, per transmit ring, which output
// entries its queued frames belong to (for tx / tx-error accounting).

import CEgressSys
#if canImport(Glibc)
import Glibc
#endif

/// What the rings did, per worker (Engine.ioCounters): `show dataplane`.
public enum IOCounter: Int, CaseIterable, Sendable {
    case ringReceived = 0   // packets read from the TPACKET_V3 receive ring
    case ringBlocks         // receive blocks handed back to the kernel
    case ringSent           // frames the kernel took from a TPACKET_V2 transmit ring
    case ringRefused        // frames it refused or did not reach (counted tx-error)
    case ringFallback       // packets to a MAC sent by sendmmsg instead (no ring, ring full, too big)
    case macSent            // IPv4 GRE sent to an underlay neighbour's MAC (not the kernel's IP output)
    // TUN offloads (IO/TunOffload.swift).
    case tunSuperRead       // GSO super-packets read from TUNs
    case tunSegments        // segments cut from them
    case tunSuperWritten    // coalesced super-packets written to TUNs
    case tunCoalesced       // segments coalesced into them
    public static let fieldCount = 10
    public var name: String {
        switch self {
        case .ringReceived: "ringReceived"
        case .ringBlocks: "ringBlocks"
        case .ringSent: "ringSent"
        case .ringRefused: "ringRefused"
        case .ringFallback: "ringFallback"
        case .macSent: "underlayToMAC"
        case .tunSuperRead: "tunSuperRead"
        case .tunSegments: "tunSegments"
        case .tunSuperWritten: "tunSuperWritten"
        case .tunCoalesced: "tunCoalesced"
        }
    }
}

struct RingSet {
    /// Receive ring geometry: 32 blocks of 128 KiB (4 MiB), a block handed
    /// over when full or after 1 ms; 64 bytes of headroom before each packet
    /// (encapsulation writes outer headers in place).
    static let rxBlockSize: UInt32 = 1 << 17
    static let rxBlockCount: UInt32 = 32
    static let rxTimeoutMs: UInt32 = 1
    /// Transmit ring geometry: 512 frames of 2 KiB per interface (1 MiB);
    /// bigger packets go by sendmmsg.
    static let txFrameSize: UInt32 = 2048
    static let txFrameCount: UInt32 = 512
    static let maxRings = 8

    let rx: UnsafeMutablePointer<egressd_rxring>
    let rxData: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let rxLength: UnsafeMutablePointer<UInt32>
    let tx: UnsafeMutablePointer<egressd_txring>
    /// Per transmit ring: the output entries of its queued frames (txCapacity each).
    let txEntries: UnsafeMutablePointer<Int>
    let txOK: UnsafeMutablePointer<UInt8>
    let txCapacity: Int
    /// Rings opened (or tried: fd -1 when the interface has none). Behind a
    /// pointer so the set is a plain `let` (no exclusivity checks per packet).
    let txCountBox: UnsafeMutablePointer<Int>
    var txCount: Int { txCountBox.pointee }

    let qdiscBypass: Int32

    init(batchSize: Int, txCapacity: Int, qdiscBypass: Bool) {
        self.qdiscBypass = qdiscBypass ? 1 : 0
        rx = .allocate(capacity: 1)
        rx.initialize(to: egressd_rxring())
        rx.pointee.fd = -1
        rxData = .allocate(capacity: batchSize)
        rxData.initialize(repeating: nil, count: batchSize)
        rxLength = .allocate(capacity: batchSize)
        rxLength.initialize(repeating: 0, count: batchSize)
        tx = .allocate(capacity: Self.maxRings)
        tx.initialize(repeating: egressd_txring(), count: Self.maxRings)
        for i in 0..<Self.maxRings { tx[i].fd = -1 }
        self.txCapacity = txCapacity
        txEntries = .allocate(capacity: Self.maxRings * txCapacity)
        txOK = .allocate(capacity: txCapacity)
        txCountBox = .allocate(capacity: 1)
        txCountBox.initialize(to: 0)
    }

    /// Opens the receive ring (throws when the kernel refuses it).
    func openReceive(fanoutGroup: UInt16?) throws {
        let r = egressd_rxring_open(rx, fanoutGroup ?? 0, Self.rxBlockSize, Self.rxBlockCount, Self.rxTimeoutMs,
                                    UInt32(PacketProcessor.headroom))
        if r < 0 { throw EngineError("set up the TPACKET_V3 receive ring", errno: -r, hint: EngineError.hint(for: -r)) }
    }

    /// The transmit ring for `ifindex`, opened on first use; -1 when it has
    /// none (a failed open is remembered, not retried per packet).
    @inline(__always)
    func ring(for ifindex: Int32) -> Int {
        var i = 0
        while i < txCount {
            if tx[i].ifindex == ifindex { return tx[i].fd >= 0 ? i : -1 }
            i += 1
        }
        guard txCount < Self.maxRings else { return -1 }
        let slot = txCount
        txCountBox.pointee += 1
        if egressd_txring_open(tx + slot, ifindex, Self.txFrameSize, Self.txFrameCount, qdiscBypass) < 0 {
            tx[slot].fd = -1
            tx[slot].ifindex = ifindex
            return -1
        }
        return slot
    }

    /// Queues entry `entry` (its packet) on ring `slot` toward `mac`; false
    /// when the ring is full or the packet too big for a frame.
    @inline(__always)
    func put(slot: Int, mac: UInt64, data: UnsafeMutableRawPointer, length: Int, entry: Int) -> Bool {
        let pending = Int(tx[slot].pending)
        guard pending < txCapacity, egressd_txring_put(tx + slot, mac, data, UInt32(truncatingIfNeeded: length)) == 1 else {
            return false
        }
        txEntries[slot * txCapacity + pending] = entry
        return true
    }

    func close() {
        egressd_rxring_close(rx)
        for i in 0..<txCount { egressd_txring_close(tx + i) }
    }

    func deallocate() {
        rx.deallocate(); rxData.deallocate(); rxLength.deallocate()
        tx.deallocate(); txEntries.deallocate(); txOK.deallocate(); txCountBox.deallocate()
    }
}
