import CEgressSys
import Packet
import Testing
@testable import Engine
#if canImport(Glibc)
import Glibc
#endif

// The afxdp backend's pure parts: which steering keys a snapshot needs,
// which queues a worker owns, the AF_XDP ring walking on plain memory laid
// out as the kernel's rings (playing the kernel: producer of RX and
// completion, consumer of fill and TX), and the steering program itself
// through the kernel's verifier when this process may load BPF.

@Test func steeringKeysAreTunnelEndsAndGRECaches() {
    let t1 = TunnelSpec(name: "a", localOuter: IPv4Address("10.0.0.1")!, remoteOuter: IPv4Address("10.0.0.2")!)
    let t2 = TunnelSpec(name: "b", localOuter: IPv4Address("10.0.0.1")!, remoteOuter: IPv4Address("10.0.0.3")!)
    let t3 = TunnelSpec(name: "c", localOuter: IPv4Address("10.0.1.1")!, remoteOuter: IPv4Address("10.0.0.3")!)
    let caches = [
        RedirectCacheSpec(address: IPv4Address("192.0.2.5")!, method: .gre(source: IPv4Address("192.0.2.1")!)),
        RedirectCacheSpec(address: IPv4Address("192.0.2.6")!, method: .l2(interfaceIndex: 3, mac: [2, 0, 0, 0, 0, 6])),
    ]
    let service = RedirectServiceSpec.webCache(assignment: RedirectAssignment.hash(flags: 0, buckets: [UInt8](repeating: 0, count: 256)),
                                               caches: caches)
    let keys = XDPSteeringKey.keys(tunnels: [t1, t2, t3], redirect: [service])
    #expect(keys == [
        XDPSteeringKey(address: 0x0A00_0001, kind: .destination), XDPSteeringKey(address: 0x0A00_0101, kind: .destination),
        XDPSteeringKey(address: 0xC000_0205, kind: .source),
    ])
    // As the program reads it: address bytes in wire order, then the kind.
    var b = XDPSteeringKey(address: 0x0A00_0001, kind: .source).bytes
    let bytes = withUnsafeBytes(of: &b) { Array($0) }
    #expect(bytes == [10, 0, 0, 1, 1, 0, 0, 0])
    #expect(XDPSteeringKey.keys(tunnels: [], redirect: []).isEmpty)
}

@Test func workersOwnQueuesRoundRobin() {
    let ifs = [XDPInterface(name: "a", index: 2, rxQueues: 3), XDPInterface(name: "b", index: 5, rxQueues: 1)]
    let w0 = XDPInterface.queues(of: ifs, worker: 0, workers: 2).map { "\($0.interface):\($0.queue)" }
    let w1 = XDPInterface.queues(of: ifs, worker: 1, workers: 2).map { "\($0.interface):\($0.queue)" }
    #expect(w0 == ["0:0", "0:2", "1:0"])
    #expect(w1 == ["0:1"])
    #expect(XDPInterface.queues(of: ifs, worker: 0, workers: 1).count == 4)
}

/// A socket on plain memory: 8 frames of 4096 bytes (0-3 receive, 4-7 transmit), rings of 4.
final class FakeXSK {
    static let frameSize = 4096, frames = 8, ringSize: UInt32 = 4
    let umem = UnsafeMutableRawPointer.allocate(byteCount: frameSize * frames, alignment: 4096)
    let rings = UnsafeMutableRawPointer.allocate(byteCount: egressd_xsk_test_rings_size(ringSize), alignment: 64)
    let free = UnsafeMutablePointer<UInt64>.allocate(capacity: frames)
    let held = UnsafeMutablePointer<UInt64>.allocate(capacity: frames / 2)
    var x = egressd_xsk()

    init() {
        rings.initializeMemory(as: UInt8.self, repeating: 0, count: egressd_xsk_test_rings_size(Self.ringSize))
        let mac: [UInt8] = [2, 0, 0, 0, 0, 1]
        egressd_xsk_attach_memory(&x, umem, UInt32(Self.frameSize), UInt32(Self.frames), rings, Self.ringSize, free, held, mac)
    }
    deinit { umem.deallocate(); rings.deallocate(); free.deallocate(); held.deallocate() }

    func ring(_ i: Int) -> UnsafeMutableRawPointer {
        // fill, comp: 8-byte entries; rx, tx: 16-byte descriptors.
        let sizes = [8, 8, 16, 16]
        var p = rings
        for k in 0..<i { p += 64 + Int(Self.ringSize) * sizes[k] }
        return p
    }
    func producer(_ i: Int) -> UInt32 { ring(i).load(as: UInt32.self) }
    func setProducer(_ i: Int, _ v: UInt32) { ring(i).storeBytes(of: v, as: UInt32.self) }
    func consumer(_ i: Int) -> UInt32 { ring(i).load(fromByteOffset: 4, as: UInt32.self) }
    func setConsumer(_ i: Int, _ v: UInt32) { ring(i).storeBytes(of: v, toByteOffset: 4, as: UInt32.self) }

    /// Kernel: a received frame in frame `f` at offset `offset` (past headroom), `n` bytes of Ethernet + IP.
    func receive(frame f: Int, offset: Int, ipLength n: Int, first: UInt8) {
        let at = f * Self.frameSize + offset
        for k in 0..<(14 + n) { (umem + at + k).storeBytes(of: UInt8(truncatingIfNeeded: Int(first) + k), as: UInt8.self) }
        let p = producer(2)
        let d = ring(2) + 64 + Int(p % Self.ringSize) * 16
        d.storeBytes(of: UInt64(at), as: UInt64.self)
        d.storeBytes(of: UInt32(14 + n), toByteOffset: 8, as: UInt32.self)
        setProducer(2, p + 1)
    }
}

@Test func xskReceiveHandsOutIPHeadersAndRecyclesFramesToTheFillRing() {
    let f = FakeXSK()
    var data = [UnsafeMutableRawPointer?](repeating: nil, count: 4)
    var length = [UInt32](repeating: 0, count: 4)
    #expect(egressd_xsk_rx_batch(&f.x, &data, &length, 4) == 0)
    f.receive(frame: 2, offset: 320, ipLength: 40, first: 0)
    f.receive(frame: 0, offset: 320, ipLength: 60, first: 100)
    f.receive(frame: 3, offset: 320, ipLength: 5, first: 0)    // shorter than Ethernet + IPv4: skipped
    let got = egressd_xsk_rx_batch(&f.x, &data, &length, 4)
    #expect(got == 2)
    #expect(length[0] == 40 && length[1] == 60)
    #expect(data[0]! == f.umem + 2 * 4096 + 320 + 14)
    #expect(data[1]!.load(as: UInt8.self) == 114)
    #expect(f.consumer(2) == 3)            // the RX ring is ours no longer
    #expect(f.x.short_frames == 1)
    #expect(f.producer(0) == 0)            // frames still held
    egressd_xsk_rx_release(&f.x)
    #expect(f.producer(0) == 3)            // back to the fill ring, as frame base addresses
    let fill = f.ring(0) + 64
    #expect([0, 1, 2].map { fill.load(fromByteOffset: $0 * 8, as: UInt64.self) } == [2 * 4096, 0, 3 * 4096])
    // A batch is bounded by `max`.
    f.receive(frame: 1, offset: 320, ipLength: 20, first: 0)
    f.receive(frame: 2, offset: 320, ipLength: 20, first: 0)
    #expect(egressd_xsk_rx_batch(&f.x, &data, &length, 1) == 1)
    #expect(egressd_xsk_rx_batch(&f.x, &data, &length, 4) == 1)
    egressd_xsk_rx_release(&f.x)
    #expect(f.producer(0) == 5)
}

@Test func xskTransmitWritesEthernetFramesAndTakesCompletedFramesBack() {
    let f = FakeXSK()
    var packet = [UInt8](repeating: 0xAB, count: 100)
    packet[0] = 0x45
    #expect(f.x.free_count == 4)
    for _ in 0..<4 { #expect(egressd_xsk_tx_put(&f.x, 0x0200_0000_00FE, packet, 100) == 1) }
    #expect(egressd_xsk_tx_put(&f.x, 0x0200_0000_00FE, packet, 100) == 0)   // no free frame (and the ring is full)
    #expect(f.producer(3) == 0)            // not published before the flush
    #expect(egressd_xsk_tx_flush(&f.x) == 4)
    #expect(f.producer(3) == 4)
    let d = f.ring(3) + 64
    let addr = Int(d.load(as: UInt64.self))
    #expect(addr >= 4 * 4096 && addr % 4096 == 0)
    #expect(d.load(fromByteOffset: 8, as: UInt32.self) == 114)
    let frame = Array(UnsafeRawBufferPointer(start: f.umem + addr, count: 16))
    #expect(frame == [2, 0, 0, 0, 0, 0xFE, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0xAB])
    // Kernel: sends two, completes them; the next put reclaims their frames.
    f.setConsumer(3, 2)
    let comp = f.ring(1) + 64
    comp.storeBytes(of: UInt64(addr), as: UInt64.self)
    comp.storeBytes(of: d.load(fromByteOffset: 16, as: UInt64.self), toByteOffset: 8, as: UInt64.self)
    f.setProducer(1, 2)
    packet[0] = 0x60
    #expect(egressd_xsk_tx_put(&f.x, 1, packet, 100) == 1)
    #expect(f.consumer(1) == 2)
    // Ring slot 4 & 3 = 0 again; the frame is one the kernel completed.
    let reused = Int(d.load(as: UInt64.self))
    #expect(reused == addr || reused == Int(d.load(fromByteOffset: 16, as: UInt64.self)))
    #expect((f.umem + reused).load(fromByteOffset: 12, as: UInt16.self) == UInt16(0xDD86))
    // Too big for a frame: refused.
    let big = [UInt8](repeating: 0x45, count: 4096)
    #expect(egressd_xsk_tx_put(&f.x, 1, big, 4096) == 0)
}

@Test func steeringProgramPassesTheVerifier() throws {
    let map = egressd_bpf_map_create(UInt32(EGRESSD_BPF_MAP_HASH), 8, 4, 16, "egressd_test")
    try #require(map >= 0 || map == -EPERM || map == -ENOSYS, "map create: \(map)")
    guard map >= 0 else { return }   // not permitted to use BPF here: nothing to check
    defer { close(map) }
    let xsk = egressd_bpf_map_create(UInt32(EGRESSD_BPF_MAP_XSKMAP), 4, 4, 4, "egressd_test")
    guard xsk >= 0 else { return }   // no AF_XDP in this kernel
    defer { close(xsk) }
    let insns = UnsafeMutableRawPointer.allocate(byteCount: 128 * 8, alignment: 8)
    defer { insns.deallocate() }
    #expect(egressd_xdp_program(OpaquePointer(insns), 8, xsk, map, 3776, -1, nil) == -ENOSPC)
    var n = egressd_xdp_program(OpaquePointer(insns), 64, xsk, map, XDPAttachment.maxFrame, -1, nil)
    #expect(n == 38)
    var log0 = [CChar](repeating: 0, count: 65536)
    let prog0 = egressd_xdp_load(OpaquePointer(insns), n, &log0, 65536)
    #expect(prog0 >= 0, "verifier: \(String(cString: log0))")
    if prog0 >= 0 { close(prog0) }
    // With the spoke trie (and this interface's MAC): the longer program.
    let lpm = egressd_bpf_lpm_create(16, "egressd_test")
    #expect(lpm >= 0, "lpm create: \(lpm)")
    defer { if lpm >= 0 { close(lpm) } }
    let mac: [UInt8] = [0x02, 0x00, 0x5E, 0xF0, 0x00, 0x01]
    n = egressd_xdp_program(OpaquePointer(insns), 128, xsk, map, XDPAttachment.maxFrame, lpm, mac)
    #expect(n > 40 && n <= 128)
    var log = [CChar](repeating: 0, count: 65536)
    let prog = egressd_xdp_load(OpaquePointer(insns), n, &log, 65536)
    #expect(prog >= 0, "verifier: \(String(cString: log))")
    if prog >= 0 { close(prog) }
}
