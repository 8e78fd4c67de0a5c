import CEgressSys
import Testing
@testable import Engine
#if canImport(Glibc)
import Glibc
#endif

// The TPACKET_V2 receive ring (the tpacket backend's default): frames laid
// out as the kernel lays them out (tpacket2_hdr, network header at tp_net),
// each the user's as soon as its status says TP_STATUS_USER. Which packets a
// batch hands out, that frames go back only on release and are never read
// twice, how a packet bigger than a frame is read whole from the socket
// queue (TP_STATUS_COPY), and the frame geometry chosen from the MTU.

/// Plays the kernel's side of a V2 receive ring of `frames` frames.
struct FakeRxRingV2: FakeReceiveRing {
    let frameSize: Int
    let frames: Int
    let memory: UnsafeMutableRawPointer
    var ring = egressd_rxring()
    var head = 0   // the kernel's next frame
    static let net = 144

    init(frameSize: Int = 512, frames: Int = 4, fd: Int32 = -1) {
        self.frameSize = frameSize
        self.frames = frames
        memory = .allocate(byteCount: frameSize * frames, alignment: 4096)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: frameSize * frames)
        egressd_rxring_attach_v2(&ring, fd, memory, UInt32(frameSize), UInt32(frames))
    }

    /// Writes one packet (byte k is first+k) into the kernel's next frame and
    /// hands it over; false (dropped, as the kernel does) when that frame is
    /// still the user's. `length` > what fits: cut to the frame, with
    /// TP_STATUS_COPY when `copy`.
    @discardableResult
    mutating func deliver(length: Int, first: UInt8 = 0, copy: Bool = false) -> Bool {
        let f = memory + head * frameSize
        guard f.load(as: UInt32.self) == UInt32(TP_STATUS_KERNEL) else { return false }
        let snap = min(length, frameSize - Self.net)
        f.storeBytes(of: UInt32(length), toByteOffset: 4, as: UInt32.self)     // tp_len
        f.storeBytes(of: UInt32(snap), toByteOffset: 8, as: UInt32.self)       // tp_snaplen
        f.storeBytes(of: UInt16(Self.net), toByteOffset: 12, as: UInt16.self)  // tp_mac
        f.storeBytes(of: UInt16(Self.net), toByteOffset: 14, as: UInt16.self)  // tp_net
        for k in 0..<snap { (f + Self.net + k).storeBytes(of: first &+ UInt8(truncatingIfNeeded: k), as: UInt8.self) }
        let status = UInt32(TP_STATUS_USER) | (copy && snap < length ? UInt32(TP_STATUS_COPY) : 0)
        f.storeBytes(of: status, as: UInt32.self)
        head = (head + 1) % frames
        return true
    }

    func status(frame i: Int) -> UInt32 { (memory + i * frameSize).load(as: UInt32.self) }

}

@Suite struct ReceiveRingV2Tests {
    @Test func framesAreReadableAtOnceAndGoBackOnRelease() {
        var r = FakeRxRingV2()
        defer { r.memory.deallocate() }
        #expect(r.batch(max: 8).isEmpty)
        r.deliver(length: 60)
        // One packet is a batch at once: no block to fill, no timeout.
        let one = r.batch(max: 8)
        #expect(one == [(0..<60).map { UInt8($0) }])
        #expect(r.status(frame: 0) == UInt32(TP_STATUS_USER))   // still ours until the release
        r.deliver(length: 30, first: 5)
        r.deliver(length: 40, first: 9)
        #expect(r.batch(max: 1).map(\.count) == [30])           // bounded by max
        #expect(r.batch(max: 8).map(\.count) == [40])
        r.release()
        for i in 0..<3 { #expect(r.status(frame: i) == UInt32(TP_STATUS_KERNEL)) }
        #expect(r.ring.release_count == 0)
    }

    @Test func wrapsAroundAndNeverReadsAFrameTwiceBeforeItsRelease() {
        var r = FakeRxRingV2(frames: 2)
        defer { r.memory.deallocate() }
        let first = r.deliver(length: 20), second = r.deliver(length: 21)
        let third = r.deliver(length: 22)
        #expect(first && second)
        #expect(!third)                                         // ring full: the kernel drops
        #expect(r.batch(max: 8).map(\.count) == [20, 21])
        // Both frames read, none released: frame 0 still says USER.
        #expect(r.batch(max: 8).isEmpty)
        r.release()
        let fourth = r.deliver(length: 23, first: 7)
        #expect(fourth)
        let again = r.batch(max: 8)
        #expect(again.map(\.count) == [23])
        #expect(again[0].first == 7)
    }

    @Test func cutPacketsWithoutACopyAreSkippedCountedAndReleased() {
        var r = FakeRxRingV2(frameSize: 512)
        defer { r.memory.deallocate() }
        r.deliver(length: 1000)                                 // no copy: the queue was full
        r.deliver(length: 50)
        #expect(r.batch(max: 8).map(\.count) == [50])
        #expect(r.ring.truncated == 1)
        r.release()
        #expect(r.status(frame: 0) == UInt32(TP_STATUS_KERNEL))
        // A copy announced but missing from the queue (no fd here) is cut too.
        r.deliver(length: 1000, copy: true)
        #expect(r.batch(max: 8).isEmpty)
        #expect(r.ring.truncated == 2)
        #expect(r.ring.release_count == 1)                      // the worker releases it
        r.release()
        #expect(r.status(frame: 2) == UInt32(TP_STATUS_KERNEL))
    }

    @Test func packetsBiggerThanAFrameAreReadWholeFromTheSocketQueue() throws {
        // The socket queue is a datagram socket pair: the kernel queues the
        // whole packet there and marks the frame TP_STATUS_COPY.
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var r = FakeRxRingV2(frameSize: 512, frames: 4, fd: fds[0])
        defer { r.memory.deallocate() }
        let stride = 4096, capacity = 3000
        let copies = UnsafeMutableRawPointer.allocate(byteCount: stride * 4, alignment: 64)
        defer { copies.deallocate() }
        egressd_rxring_set_copy(&r.ring, copies, UInt32(stride), UInt32(capacity))
        let jumbo = (0..<2500).map { UInt8(truncatingIfNeeded: $0 * 7) }
        #expect(send(fds[1], jumbo, jumbo.count, 0) == jumbo.count)
        r.deliver(length: 40, first: 1)
        r.deliver(length: 2500, copy: true)
        r.deliver(length: 41, first: 2)
        let got = r.batch(max: 8)
        #expect(got.map(\.count) == [40, 2500, 41])
        #expect(got[1] == jumbo)
        #expect(r.ring.copied == 1)
        // Batch slot 1 holds it.
        #expect(Array(UnsafeRawBufferPointer(start: copies + stride, count: 2500)) == jumbo)
        r.release()
        // Bigger than the copy slot: counted, not forwarded.
        let huge = [UInt8](repeating: 0x45, count: capacity + 1)
        #expect(send(fds[1], huge, huge.count, 0) == huge.count)
        r.deliver(length: capacity + 1, copy: true)
        #expect(r.batch(max: 8).isEmpty)
        #expect(r.ring.truncated == 1)
    }

    @Test func frameSizeFollowsTheUnderlayMTU() {
        let offset = Int(egressd_rxring_v2_data_offset(UInt32(PacketProcessor.headroom)))
        #expect(offset == 80 + PacketProcessor.headroom)
        #expect(RingSet.rxFrameSize(mtu: 1500) == 2048)
        #expect(RingSet.rxFrameSize(mtu: 2048 - offset) == 2048)
        #expect(RingSet.rxFrameSize(mtu: 2049 - offset) == 4096)
        #expect(RingSet.rxFrameSize(mtu: 8500) == 16384)        // TGW Connect's biggest GRE packet
        #expect(RingSet.rxFrameSize(mtu: 9001) == 16384)        // AWS jumbo frames
        #expect(RingSet.rxFrameSize(mtu: 65535) == 16384)       // bigger: PACKET_COPY_THRESH
        #expect(RingSet.rxFrameCount(frameSize: 2048) == 2048)  // 4 MiB
        #expect(RingSet.rxFrameCount(frameSize: 16384) == 512)  // 8 MiB
    }

    @Test func theKernelTakesTheRingOnAPacketSocket() throws {
        // Needs CAP_NET_RAW (CI runs as root); skipped otherwise.
        let probe = socket(AF_PACKET, Int32(SOCK_DGRAM.rawValue), 0)
        guard probe >= 0 else { return }
        close(probe)
        var r = egressd_rxring()
        let size = RingSet.rxFrameSize(mtu: 9001)
        #expect(egressd_rxring_open_v2(&r, 0, size, RingSet.rxFrameCount(frameSize: size), UInt32(PacketProcessor.headroom)) == 0)
        #expect(r.version == 2 && r.frame_size == 16384 && r.frame_nr == 512)
        var data = [UnsafeMutableRawPointer?](repeating: nil, count: 4)
        var length = [UInt32](repeating: 0, count: 4)
        #expect(egressd_rxring_batch(&r, &data, &length, 4) >= 0)
        egressd_rxring_release(&r)
        egressd_rxring_close(&r)
        // A frame too small for the headers is refused before any socket.
        #expect(egressd_rxring_open_v2(&r, 0, 128, 16, UInt32(PacketProcessor.headroom)) == -EINVAL)
    }
}

@Suite struct TransmitRingVnetTests {
    @Test func framesStartWithAVirtioHeaderAskingForALinearCopy() {
        let frames = 2, frameSize = 256
        let memory = UnsafeMutableRawPointer.allocate(byteCount: frames * frameSize, alignment: 4096)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: frames * frameSize)
        defer { memory.deallocate() }
        var t = egressd_txring()
        let source: [UInt8] = [0x02, 0, 0, 0, 0, 0x01]
        source.withUnsafeBufferPointer { egressd_txring_attach(&t, memory, UInt32(frameSize), UInt32(frames), $0.baseAddress) }
        let plain = Int(egressd_txring_max_packet(&t))
        t.vnet = 10   // as egressd_txring_open sets it when the kernel takes PACKET_VNET_HDR
        #expect(Int(egressd_txring_max_packet(&t)) == plain - 10)
        let v4: [UInt8] = [0x45] + (1..<40).map { UInt8($0) }
        let queued = v4.withUnsafeBytes { egressd_txring_put(&t, 0x0A0B_0C0D_0E0F, $0.baseAddress, UInt32(v4.count)) }
        #expect(queued == 1)
        let off = Int(egressd_txring_data_offset())
        let f = Array(UnsafeRawBufferPointer(start: memory + off, count: 10 + 14 + v4.count))
        // virtio_net_hdr: flags 0, gso_type NONE, hdr_len = the whole frame, gso_size/csum 0.
        #expect(f[0] == 0 && f[1] == 0)
        #expect(UInt16(f[2]) | UInt16(f[3]) << 8 == UInt16(14 + v4.count))
        #expect(Array(f[4..<10]) == [0, 0, 0, 0, 0, 0])
        #expect(Array(f[10..<16]) == [0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F])
        #expect(Array(f[16..<22]) == source)
        #expect(Array(f[22..<24]) == [0x08, 0x00])
        #expect(Array(f[24...]) == v4)
        #expect(memory.load(fromByteOffset: 4, as: UInt32.self) == UInt32(10 + 14 + v4.count))   // tp_len
        let tooBig = [UInt8](repeating: 0x45, count: plain - 9)
        #expect(tooBig.withUnsafeBytes { egressd_txring_put(&t, 1, $0.baseAddress, UInt32(tooBig.count)) } == 0)
    }
}
