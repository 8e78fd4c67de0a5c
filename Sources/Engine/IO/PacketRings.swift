// The `tpacket` I/O backend's memory: one receive ring per worker (GRE in,
// PACKET_FANOUT_HASH over workers so a flow stays on one worker): TPACKET_V2
// frames by default (each packet the worker's as soon as the kernel wrote
// it), or TPACKET_V3 blocks (`EGRESSD_RX_RING=v3`, for comparison: a block
// is handed over when full or after its 1 ms retire timeout); and up to
// `maxRings` TPACKET_V2 transmit rings per worker, one per egress
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
    case ringBlocks         // receive blocks (V3) or frames (V2) handed back to the kernel
    case ringSent           // frames the kernel took from a TPACKET_V2 transmit ring
    case ringRefused        // frames it refused or did not reach (counted tx-error)
    case ringFallback       // packets to a MAC sent by sendmmsg instead (no ring, ring full, too big)
    case macSent            // IPv4 GRE sent to an underlay neighbour's MAC (not the kernel's IP output)
    case ringCopied         // V2: packets bigger than a receive frame, read whole from the socket queue
    case ringTruncated      // packets the receive ring cut short (V2: not forwarded)
    case xskReceived        // packets read from AF_XDP RX rings (`afxdp`)
    case xskSent            // frames handed to AF_XDP TX rings
    case xskFallback        // frames for an AF_XDP socket sent another way (no free frame or ring slot, too big)
    // TUN offloads (IO/TunOffload.swift).
    case tunSuperRead       // GSO super-packets read from TUNs
    case tunSegments        // segments cut from them
    case tunSuperWritten    // coalesced super-packets written to TUNs
    case tunCoalesced       // segments coalesced into them
    // AF_XDP encapsulation steering (IO/XDPSpokePrefixes.swift).
    case xskSteered         // spoke-bound IPv4 read from AF_XDP RX rings and encapsulated there (not through the TUN)
    case xskSteerMiss       // of those, not routed into a tunnel by the worker's snapshot (a publication's moment): dropped
    public static let fieldCount = 17
    public var name: String {
        switch self {
        case .ringReceived: "ringReceived"
        case .ringBlocks: "ringBlocks"
        case .ringSent: "ringSent"
        case .ringRefused: "ringRefused"
        case .ringFallback: "ringFallback"
        case .macSent: "underlayToMAC"
        case .ringCopied: "ringCopied"
        case .ringTruncated: "ringTruncated"
        case .xskReceived: "xskReceived"
        case .xskSent: "xskSent"
        case .xskFallback: "xskFallback"
        case .tunSuperRead: "tunSuperRead"
        case .tunSegments: "tunSegments"
        case .tunSuperWritten: "tunSuperWritten"
        case .tunCoalesced: "tunCoalesced"
        case .xskSteered: "xskSteered"
        case .xskSteerMiss: "xskSteerMiss"
        }
    }
}

/// Which receive ring a worker of the `tpacket` backend reads.
public enum ReceiveRingKind: String, Sendable {
    /// TPACKET_V2: per-frame status, a packet is readable as soon as it is written.
    case frames = "v2"
    /// TPACKET_V3: blocks handed over when full or after the retire timeout.
    case blocks = "v3"
}

/// Fault injection for tests (`EGRESSD_TEST_REFUSE_RING`): make the ring
/// setup fail as a kernel that refuses it would, to exercise the fallbacks.
public enum RingRefusal: String, Sendable {
    case none
    /// The receive ring's setup fails: the engine runs the raw backend.
    case rx
    /// Every transmit ring's setup fails: frames to MACs go by sendmmsg.
    case tx
}

struct RingSet {
    /// V3 receive geometry: 32 blocks of 128 KiB (4 MiB), a block handed
    /// over when full or after 1 ms.
    static let rxBlockSize: UInt32 = 1 << 17
    static let rxBlockCount: UInt32 = 32
    static let rxTimeoutMs: UInt32 = 1
    /// V2 receive geometry: frames sized for the biggest Ethernet MTU of the
    /// namespace (a power of two from 2 KiB to 16 KiB: 8500-byte TGW Connect
    /// GRE and 9001-byte AWS jumbo frames fit), at least 4 MiB and 512 frames
    /// in all. Bigger packets arrive whole through PACKET_COPY_THRESH (read
    /// from the socket queue into the worker's slot, counted ringCopied).
    static let rxMinFrameSize: UInt32 = 2048
    static let rxMaxFrameSize: UInt32 = 16384
    static let rxRingBytes: UInt32 = 4 << 20
    static let rxMinFrames: UInt32 = 512

    /// The V2 frame size for an underlay MTU.
    static func rxFrameSize(mtu: Int) -> UInt32 {
        let need = Int(egressd_rxring_v2_data_offset(UInt32(PacketProcessor.headroom))) + max(0, mtu)
        var size = rxMinFrameSize
        while Int(size) < need && size < rxMaxFrameSize { size <<= 1 }
        return size
    }

    static func rxFrameCount(frameSize: UInt32) -> UInt32 { max(rxMinFrames, rxRingBytes / frameSize) }
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
    let refusal: RingRefusal

    init(batchSize: Int, txCapacity: Int, qdiscBypass: Bool, refusal: RingRefusal = .none) {
        self.qdiscBypass = qdiscBypass ? 1 : 0
        self.refusal = refusal
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

    /// Opens the receive ring (throws when the kernel refuses it). V2:
    /// packets bigger than a frame are read into `copyBase + n * copyStride`
    /// (n: the packet's place in its batch), at most `copyCapacity` bytes.
    func openReceive(fanoutGroup: UInt16?, kind: ReceiveRingKind, underlayMTU: Int,
                     copyBase: UnsafeMutableRawPointer, copyStride: Int, copyCapacity: Int) throws {
        if refusal == .rx {
            throw EngineError("set up the receive ring", errno: ENOMEM, hint: "refused on purpose (EGRESSD_TEST_REFUSE_RING=rx)")
        }
        switch kind {
        case .blocks:
            let r = egressd_rxring_open(rx, fanoutGroup ?? 0, Self.rxBlockSize, Self.rxBlockCount, Self.rxTimeoutMs,
                                        UInt32(PacketProcessor.headroom))
            if r < 0 { throw EngineError("set up the TPACKET_V3 receive ring", errno: -r, hint: EngineError.hint(for: -r)) }
        case .frames:
            let size = Self.rxFrameSize(mtu: underlayMTU)
            let r = egressd_rxring_open_v2(rx, fanoutGroup ?? 0, size, Self.rxFrameCount(frameSize: size),
                                           UInt32(PacketProcessor.headroom))
            if r < 0 { throw EngineError("set up the TPACKET_V2 receive ring", errno: -r, hint: EngineError.hint(for: -r)) }
            egressd_rxring_set_copy(rx, copyBase, UInt32(copyStride), UInt32(copyCapacity))
        }
    }

    /// What the receive ring is, for `show dataplane`.
    var receiveDescription: String {
        let r = rx.pointee
        return r.version == 2 ? "TPACKET_V2 ring (\(r.frame_nr) frames of \(r.frame_size) bytes)"
                              : "TPACKET_V3 ring (\(r.block_nr) blocks of \(r.block_size / 1024) KiB, \(Self.rxTimeoutMs) ms retire)"
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
        if refusal == .tx {
            tx[slot].fd = -1
            tx[slot].ifindex = ifindex
            return -1
        }
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
