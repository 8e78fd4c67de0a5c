import CEgressSys
import Testing
@testable import Engine
#if canImport(Glibc)
import Glibc
#endif

// The ring walking of the tpacket backend, on memory laid out as the kernel
// lays out TPACKET_V3 receive blocks and TPACKET_V2 transmit frames: which
// packets a batch hands out, when blocks go back to the kernel, how a full or
// refused transmit ring is reported frame by frame. And the underlay
// neighbour table the flush looks MACs up in.

/// A fake receive ring (memory laid out as the kernel lays it out) read the way the backend
/// reads it: egressd_rxring_batch and egressd_rxring_release on `ring`.
protocol FakeReceiveRing {
    var ring: egressd_rxring { get set }
}

extension FakeReceiveRing {
    /// Up to `max` packets, copied out.
    mutating func batch(max: Int) -> [[UInt8]] {
        var data = [UnsafeMutableRawPointer?](repeating: nil, count: max)
        var length = [UInt32](repeating: 0, count: max)
        let n = Int(egressd_rxring_batch(&ring, &data, &length, Int32(max)))
        return (0..<n).map { Array(UnsafeRawBufferPointer(start: data[$0], count: Int(length[$0]))) }
    }

    mutating func release() { egressd_rxring_release(&ring) }
}

/// Builds receive blocks as the kernel does: block descriptor, then packets
/// (tpacket3_hdr, network header at tp_net), each `tp_next_offset` apart.
struct FakeRxRing: FakeReceiveRing {
    let blockSize: Int
    let blocks: Int
    let memory: UnsafeMutableRawPointer
    var ring = egressd_rxring()

    init(blockSize: Int = 4096, blocks: Int = 4) {
        self.blockSize = blockSize
        self.blocks = blocks
        memory = .allocate(byteCount: blockSize * blocks, alignment: 4096)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: blockSize * blocks)
        egressd_rxring_attach(&ring, memory, UInt32(blockSize), UInt32(blocks))
    }

    /// Fills block `b` with packets of the given lengths (byte k of packet j is j+k)
    /// and hands it to the user (TP_STATUS_USER).
    func fill(block b: Int, lengths: [Int], firstByte: UInt8 = 0, truncateLast: Bool = false) {
        let base = memory + b * blockSize
        let first = 48
        var offset = first
        for (j, n) in lengths.enumerated() {
            let h = base + offset
            let net = 80
            let next = (net + n + 15) & ~15
            h.storeBytes(of: UInt32(j == lengths.count - 1 ? 0 : next), toByteOffset: 0, as: UInt32.self)  // tp_next_offset
            h.storeBytes(of: UInt32(n), toByteOffset: 12, as: UInt32.self)                               // tp_snaplen
            h.storeBytes(of: UInt32(truncateLast && j == lengths.count - 1 ? n + 100 : n), toByteOffset: 16, as: UInt32.self) // tp_len
            h.storeBytes(of: UInt16(0), toByteOffset: 24, as: UInt16.self)                               // tp_mac
            h.storeBytes(of: UInt16(net), toByteOffset: 26, as: UInt16.self)                             // tp_net
            for k in 0..<n { (h + net + k).storeBytes(of: firstByte &+ UInt8(truncatingIfNeeded: j + k), as: UInt8.self) }
            offset += next
        }
        // tpacket_block_desc: version, offset_to_priv, then bh1: block_status,
        // num_pkts, offset_to_first_pkt.
        base.storeBytes(of: UInt32(3), toByteOffset: 0, as: UInt32.self)
        base.storeBytes(of: UInt32(lengths.count), toByteOffset: 12, as: UInt32.self)
        base.storeBytes(of: UInt32(first), toByteOffset: 16, as: UInt32.self)
        base.storeBytes(of: UInt32(TP_STATUS_USER), toByteOffset: 8, as: UInt32.self)
    }

    func status(block b: Int) -> UInt32 { (memory + b * blockSize).load(fromByteOffset: 8, as: UInt32.self) }
}

@Suite struct ReceiveRingTests {
    @Test func batchWalksPacketsAcrossBlocksAndReleasesAfterwards() {
        var r = FakeRxRing()
        defer { r.memory.deallocate() }
        #expect(r.batch(max: 8).isEmpty)                        // nothing handed over yet
        r.fill(block: 0, lengths: [20, 60, 33])
        r.fill(block: 1, lengths: [100, 28])
        let first = r.batch(max: 4)
        #expect(first.map(\.count) == [20, 60, 33, 100])
        #expect(first[1] == (0..<60).map { UInt8(1 + $0) })     // packet 1 of block 0, from its network header
        // Block 0 was read to the end but is the user's until the release.
        #expect(r.status(block: 0) == UInt32(TP_STATUS_USER))
        r.release()
        #expect(r.status(block: 0) == UInt32(TP_STATUS_KERNEL))
        #expect(r.status(block: 1) == UInt32(TP_STATUS_USER))   // half read: still ours
        #expect(r.batch(max: 4).map(\.count) == [28])
        r.release()
        #expect(r.status(block: 1) == UInt32(TP_STATUS_KERNEL))
        #expect(r.batch(max: 4).isEmpty)                        // block 2 is the kernel's
        r.fill(block: 2, lengths: [40])
        #expect(r.batch(max: 4).map(\.count) == [40])
    }

    @Test func wrapsAroundAndNeverReadsABlockTwiceBeforeItsRelease() {
        var r = FakeRxRing(blocks: 2)
        defer { r.memory.deallocate() }
        r.fill(block: 0, lengths: [30])
        r.fill(block: 1, lengths: [31])
        #expect(r.batch(max: 8).map(\.count) == [30, 31])
        // Both blocks read, none released: block 0 still says USER, but the
        // ring must wait for the release instead of reading it again.
        #expect(r.batch(max: 8).isEmpty)
        r.release()
        r.fill(block: 0, lengths: [32], firstByte: 7)
        let again = r.batch(max: 8)
        #expect(again.map(\.count) == [32])
        #expect(again[0].first == 7)
    }

    @Test func emptyBlocksAreSkippedAndTruncatedPacketsCounted() {
        var r = FakeRxRing()
        defer { r.memory.deallocate() }
        r.fill(block: 0, lengths: [])
        r.fill(block: 1, lengths: [50, 60], truncateLast: true)
        #expect(r.batch(max: 8).map(\.count) == [50, 60])
        #expect(r.ring.truncated == 1)
        r.release()
        #expect(r.status(block: 0) == UInt32(TP_STATUS_KERNEL))
        #expect(r.status(block: 1) == UInt32(TP_STATUS_KERNEL))
    }
}

@Suite struct TransmitRingTests {
    static let source: [UInt8] = [0x02, 0, 0, 0, 0, 0x01]

    func withRing(frames: Int = 4, frameSize: Int = 256, _ body: (UnsafeMutablePointer<egressd_txring>, UnsafeMutableRawPointer) -> Void) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: frames * frameSize, alignment: 4096)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: frames * frameSize)
        let t = UnsafeMutablePointer<egressd_txring>.allocate(capacity: 1)
        t.initialize(to: egressd_txring())
        Self.source.withUnsafeBufferPointer { egressd_txring_attach(t, memory, UInt32(frameSize), UInt32(frames), $0.baseAddress) }
        body(t, memory)
        t.deallocate()
        memory.deallocate()
    }

    func put(_ t: UnsafeMutablePointer<egressd_txring>, mac: UInt64, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { egressd_txring_put(t, mac, $0.baseAddress, UInt32(bytes.count)) == 1 }
    }

    @Test func framesCarryAnEthernetHeaderAndThePacket() {
        withRing { t, memory in
            let v4: [UInt8] = [0x45] + (1..<40).map { UInt8($0) }
            let v6: [UInt8] = [0x60] + (1..<48).map { UInt8($0) }
            #expect(put(t, mac: 0x0A0B_0C0D_0E0F, v4))
            #expect(put(t, mac: 0x1112_1314_1516, v6))
            let off = Int(egressd_txring_data_offset())
            let f0 = Array(UnsafeRawBufferPointer(start: memory + off, count: 14 + v4.count))
            #expect(Array(f0[0..<6]) == [0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F])
            #expect(Array(f0[6..<12]) == Self.source)
            #expect(Array(f0[12..<14]) == [0x08, 0x00])
            #expect(Array(f0[14...]) == v4)
            #expect(memory.load(fromByteOffset: 4 * 0 + 0, as: UInt32.self) == UInt32(TP_STATUS_SEND_REQUEST))
            #expect(memory.load(fromByteOffset: 4, as: UInt32.self) == UInt32(14 + v4.count))   // tp_len
            let f1 = Array(UnsafeRawBufferPointer(start: memory + 256 + off, count: 14))
            #expect(Array(f1[12..<14]) == [0x86, 0xDD])
            #expect(t.pointee.pending == 2)
        }
    }

    @Test func fullRingAndOversizePacketsAreRefused() {
        withRing(frames: 2) { t, _ in
            let max = Int(egressd_txring_max_packet(t))
            #expect(max == 256 - Int(egressd_txring_data_offset()) - 14)
            #expect(!put(t, mac: 1, [UInt8](repeating: 0x45, count: max + 1)))
            #expect(put(t, mac: 1, [UInt8](repeating: 0x45, count: max)))
            #expect(put(t, mac: 1, [0x45, 0]))
            #expect(!put(t, mac: 1, [0x45, 0]))                 // both frames are the kernel's
            // The kernel sent frame 0 and still holds frame 1 (skb in flight).
            egressd_txring_set_frame_status(t, 0, UInt32(TP_STATUS_AVAILABLE))
            egressd_txring_set_frame_status(t, 1, UInt32(TP_STATUS_SENDING))
            var ok = [UInt8](repeating: 9, count: 2)
            #expect(egressd_txring_flush(t, &ok) == 2)
            #expect(ok == [1, 1])
            #expect(put(t, mac: 1, [0x45, 1]))                  // frame 0 again
            #expect(!put(t, mac: 1, [0x45, 2]))                 // frame 1 still in flight
        }
    }

    @Test func framesTheKernelDidNotReachAreGivenBackInOrder() {
        withRing(frames: 4) { t, _ in
            for i in 0..<3 { #expect(put(t, mac: 1, [0x45, UInt8(i)])) }
            // The kernel took frame 0, refused frame 1 as malformed (PACKET_LOSS
            // skips it), and stopped before frame 2 (e.g. the device went down).
            egressd_txring_set_frame_status(t, 0, UInt32(TP_STATUS_AVAILABLE))
            egressd_txring_set_frame_status(t, 1, UInt32(TP_STATUS_WRONG_FORMAT))
            var ok = [UInt8](repeating: 9, count: 3)
            #expect(egressd_txring_flush(t, &ok) == 1)
            #expect(ok == [1, 0, 0])
            #expect(egressd_txring_frame_status(t, 1) == UInt32(TP_STATUS_AVAILABLE))
            #expect(egressd_txring_frame_status(t, 2) == UInt32(TP_STATUS_AVAILABLE))
            // The kernel's head stayed at frame 2: the next packet goes there.
            #expect(t.pointee.head == 2)
            #expect(t.pointee.pending == 0)
        }
    }
}

@Suite struct UnderlayNeighboursTests {
    @Test func findsEveryEntryAndNothingElse() {
        let entries = (1...40).map { UnderlayNeighbours.Entry(address: 0x0A00_0000 | UInt32($0 * 7), interfaceIndex: Int32($0), mac: UInt64($0) << 8 | 1) }
        let t = UnderlayNeighbours(entries + [UnderlayNeighbours.Entry(address: 0, interfaceIndex: 1, mac: 1),
                                              UnderlayNeighbours.Entry(address: 0x0B00_0001, interfaceIndex: 1, mac: 0)])
        #expect(t.entries.count == 40)   // address 0 and MAC 0 are not neighbours
        for e in entries {
            let s = t.find(e.address)
            #expect(s >= 0)
            #expect(t.interfaceIndex(at: s) == e.interfaceIndex)
            #expect(t.mac(at: s) == e.mac)
        }
        #expect(t.find(0) == -1)
        #expect(t.find(0x0B00_0001) == -1)
        #expect(t.find(0x0A00_0001) == -1)
        #expect(UnderlayNeighbours.empty.find(0x0A00_0007) == -1)
    }
}
