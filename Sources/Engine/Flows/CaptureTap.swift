// Packet capture taps (`capture NAME interface ...`): while a tap is set,
// workers copy the packets of the selected tunnel(s) (GRE received: before
// processing; sent into a tunnel: the queued encapsulation), outer or inner,
// up to `snapLength` bytes, into their own preallocated single-producer ring.
// A full ring drops the copy and counts it; the packet itself is never held
// up. The capture thread (Control) drains the rings, applies the BPF filter
// and writes the pcap file.

import Atomics
import Packet

/// One captured packet's slot header; the bytes follow in the ring's buffer.
public struct CapturedPacket: Sendable {
    public var seconds: UInt32
    public var microseconds: UInt32
    public var capturedLength: Int
    public var originalLength: Int
}

public final class CaptureRing: @unchecked Sendable {
    public let capacity: Int
    public let snapLength: Int
    let headers: UnsafeMutablePointer<CapturedPacket>
    let data: UnsafeMutableRawPointer
    let head = ManagedAtomic<Int>(0)
    let tail = ManagedAtomic<Int>(0)
    public let dropped = ManagedAtomic<UInt64>(0)

    public init(capacity: Int, snapLength: Int) {
        self.capacity = capacity
        self.snapLength = snapLength
        headers = .allocate(capacity: capacity)
        data = .allocate(byteCount: capacity * snapLength, alignment: 64)
    }

    deinit {
        headers.deallocate()
        data.deallocate()
    }

    /// Producer (one worker).
    @inline(__always)
    func push(_ p: UnsafeRawPointer, length: Int, seconds: UInt32, microseconds: UInt32) {
        let h = head.load(ordering: .relaxed)
        if h - tail.load(ordering: .acquiring) >= capacity {
            dropped.wrappingIncrement(ordering: .relaxed)
            return
        }
        let i = h % capacity
        let n = min(length, snapLength)
        (data + i * snapLength).copyMemory(from: p, byteCount: n)
        headers[i] = CapturedPacket(seconds: seconds, microseconds: microseconds, capturedLength: n, originalLength: length)
        head.store(h + 1, ordering: .releasing)
    }

    /// Consumer: calls `body` for each queued packet, then frees them.
    public func drain(_ body: (CapturedPacket, UnsafeRawPointer) -> Void) {
        let t = tail.load(ordering: .relaxed)
        let h = head.load(ordering: .acquiring)
        for k in t..<h {
            let i = k % capacity
            body(headers[i], UnsafeRawPointer(data + i * snapLength))
        }
        tail.store(h, ordering: .releasing)
    }
}

/// What to capture, and one ring per worker.
public final class CaptureTap: AtomicReference, @unchecked Sendable {
    /// The tunnel's remote outer address (its identity across snapshots); 0: every tunnel.
    public let remoteOuter: UInt32
    public let inner: Bool
    public let rings: [CaptureRing]

    public init(remoteOuter: UInt32, inner: Bool, workers: Int, ringSlots: Int = 1024, snapLength: Int = 2048) {
        self.remoteOuter = remoteOuter
        self.inner = inner
        rings = (0..<workers).map { _ in CaptureRing(capacity: ringSlots, snapLength: snapLength) }
    }

    /// A GRE packet as received (outer IPv4 + GRE + inner), before processing.
    @inline(__always)
    func received(_ p: UnsafeRawPointer, _ n: Int, worker: Int, seconds: UInt32, microseconds: UInt32) {
        guard n >= 24 else { return }
        if remoteOuter != 0 && p.u32(12) != remoteOuter { return }
        if !inner {
            rings[worker].push(p, length: n, seconds: seconds, microseconds: microseconds)
            return
        }
        let ihl = Int(p.u8(0) & 0x0F) * 4
        guard n >= ihl + 4 else { return }
        let flags = p.u16(ihl)
        let gre = 4 + (flags & 0x8000 != 0 ? 4 : 0) + (flags & 0x2000 != 0 ? 4 : 0) + (flags & 0x1000 != 0 ? 4 : 0)
        let start = ihl + gre
        guard n > start else { return }
        rings[worker].push(p + start, length: n - start, seconds: seconds, microseconds: microseconds)
    }

    /// An encapsulated packet queued for a tunnel (outer IPv4 + GRE + inner).
    @inline(__always)
    func sent(_ e: OutputEntry, view: ForwardingView, worker: Int, seconds: UInt32, microseconds: UInt32) {
        guard e.txTunnel >= 0 else { return }
        let t = view.tunnels[Int(e.txTunnel)]
        if remoteOuter != 0 && t.remoteOuter != remoteOuter { return }
        let skip = inner ? 20 + (t.hasKey ? 8 : 4) : 0
        guard e.length > skip else { return }
        rings[worker].push(UnsafeRawPointer(e.data) + skip, length: e.length - skip, seconds: seconds, microseconds: microseconds)
    }
}
