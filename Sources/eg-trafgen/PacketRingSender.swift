// Sends prebuilt frames through an AF_PACKET TPACKET_V2 transmit ring on one interface,
// bypassing the qdisc: the cheapest way to push packets into a veth from user space
// without kernel pktgen (this kernel has none).
import CEgressSys
import Glibc

/// A failed system call while setting up or using the ring.
struct SystemCallError: Error, CustomStringConvertible {
    let call: String
    let errno: Int32

    var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// How many frames a run handed to the kernel.
struct SendReport {
    /// Frames the kernel took from the ring (transmitted or dropped by the device).
    let sent: UInt64
    /// Seconds from the first to the last submission.
    let elapsed: Double
}

/// An AF_PACKET socket bound to one interface with a mapped TPACKET_V2 TX ring.
final class PacketRingSender {
    private static let ethernetProtocolAll: UInt16 = 0x0003  // ETH_P_ALL (not imported)
    // Slot status words as the header's UInt32 field type.
    private static let statusAvailable = UInt32(TP_STATUS_AVAILABLE)
    private static let statusSendRequest = UInt32(TP_STATUS_SEND_REQUEST)
    /// Bytes per ring slot: header (32) + largest frame, rounded to a power of two.
    private let slotSize: Int
    private let slotCount: Int
    private let socket: Int32
    private let ring: UnsafeMutableRawPointer
    private let ringLength: Int
    /// Where frame data starts inside a slot (TPACKET2_HDRLEN - sizeof(sockaddr_ll)).
    private let dataOffset: Int

    /// Opens the socket on `interface` and maps a ring large enough for `largestFrame`.
    init(interface: String, largestFrame: Int, slotCount: Int = 1024) throws(SystemCallError) {
        let headerLength = (MemoryLayout<tpacket2_hdr>.size + 15) & ~15  // TPACKET_ALIGN
        dataOffset = headerLength
        var size = 256
        while size < headerLength + largestFrame { size *= 2 }
        slotSize = size

        let index = if_nametoindex(interface)
        guard index != 0 else { throw SystemCallError(call: "if_nametoindex(\(interface))", errno: Glibc.errno) }
        // Protocol 0: the socket receives nothing, it only sends.
        let fd = Glibc.socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemCallError(call: "socket(AF_PACKET)", errno: Glibc.errno) }
        socket = fd
        func fail(_ call: String) -> SystemCallError {
            let error = SystemCallError(call: call, errno: Glibc.errno)
            close(fd)
            return error
        }

        var version = Int32(TPACKET_V2.rawValue)
        guard setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw fail("setsockopt(PACKET_VERSION)")
        }
        var bypass: Int32 = 1
        guard setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &bypass, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw fail("setsockopt(PACKET_QDISC_BYPASS)")
        }
        // Skip (rather than stall on) a frame the kernel cannot send; main checks the MTU first.
        var skipMalformed: Int32 = 1
        guard setsockopt(fd, SOL_PACKET, PACKET_LOSS, &skipMalformed, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw fail("setsockopt(PACKET_LOSS)")
        }
        let blockSize = max(slotSize, 65536)
        let slotsPerBlock = blockSize / slotSize
        let blockCount = (slotCount + slotsPerBlock - 1) / slotsPerBlock
        var request = tpacket_req(tp_block_size: UInt32(blockSize), tp_block_nr: UInt32(blockCount),
                                  tp_frame_size: UInt32(slotSize), tp_frame_nr: UInt32(blockCount * slotsPerBlock))
        guard setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &request, socklen_t(MemoryLayout<tpacket_req>.size)) == 0 else {
            throw fail("setsockopt(PACKET_TX_RING)")
        }
        self.slotCount = blockCount * slotsPerBlock
        ringLength = blockSize * blockCount
        guard let mapped = mmap(nil, ringLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
              mapped != MAP_FAILED else {
            throw fail("mmap(TX ring)")
        }
        ring = mapped

        var address = sockaddr_ll()
        address.sll_family = UInt16(AF_PACKET)
        address.sll_protocol = Self.ethernetProtocolAll.bigEndian
        address.sll_ifindex = Int32(index)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_ll>.size))
            }
        }
        guard bound == 0 else {
            let error = SystemCallError(call: "bind(\(interface))", errno: Glibc.errno)
            munmap(ring, ringLength)
            close(fd)
            throw error
        }
    }

    deinit {
        munmap(ring, ringLength)
        close(socket)
    }

    private func header(_ slot: Int) -> UnsafeMutablePointer<tpacket2_hdr> {
        (ring + slot * slotSize).assumingMemoryBound(to: tpacket2_hdr.self)
    }

    /// Sends `frames` round-robin for `duration` seconds, at most `packetsPerSecond`
    /// (0 = as fast as the kernel takes them), handing `batch` slots to the kernel per call.
    /// With `stampOffset`, each frame gets a latency stamp (`LatencyStamp`) there just before
    /// it is handed to the kernel.
    func run(frames: [[UInt8]], duration: Double, packetsPerSecond: Double, batch: Int,
             stampOffset: Int? = nil) -> SendReport {
        // Slot i always carries frame i % frames.count when the ring is a multiple of the
        // frame count, so the frames are copied once and the loop only flips status words.
        let prefilled = slotCount % frames.count == 0
        if prefilled {
            for slot in 0..<slotCount { fill(slot: slot, with: frames[slot % frames.count]) }
        }
        var outstanding = 0  // slots handed to the kernel and not yet seen back
        var nextSlot = 0
        var oldestSlot = 0
        var submitted: UInt64 = 0
        let start = monotonicSeconds()
        let end = start + duration
        var now = start
        while now < end {
            // Reclaim the slots the kernel has finished with (it frees them in order).
            while outstanding > 0 && header(oldestSlot).pointee.tp_status == Self.statusAvailable {
                oldestSlot = (oldestSlot + 1) % slotCount
                outstanding -= 1
            }
            var quota = min(batch, slotCount - outstanding)
            if packetsPerSecond > 0 {
                let due = Int((now - start) * packetsPerSecond) - Int(submitted)
                quota = min(quota, max(due, 0))
            }
            for _ in 0..<quota {
                let frame = frames[Int(submitted % UInt64(frames.count))]
                if !prefilled { fill(slot: nextSlot, with: frame) }
                if let stampOffset {
                    LatencyStamp.write(monotonicNanoseconds(), at: ring + nextSlot * slotSize + dataOffset + stampOffset)
                }
                header(nextSlot).pointee.tp_len = UInt32(frame.count)
                header(nextSlot).pointee.tp_status = Self.statusSendRequest
                nextSlot = (nextSlot + 1) % slotCount
                outstanding += 1
                submitted += 1
            }
            // EAGAIN/ENOBUFS only mean the device is busy: the slots stay queued.
            _ = send(socket, nil, 0, Int32(MSG_DONTWAIT))
            if quota == 0 {
                if packetsPerSecond > 0 {
                    // Sleep until the next frame is due (not longer: a paced probe must not burst).
                    let next = start + Double(submitted + 1) / packetsPerSecond
                    let wait = Int((next - monotonicSeconds()) * 1e6)
                    if wait > 0 { usleep(UInt32(min(wait, 1000))) }
                } else {
                    sched_yield()
                }
            }
            now = monotonicSeconds()
        }
        let elapsed = now - start
        // Give the kernel a moment to take what is queued; what it never took was not sent.
        let drainEnd = now + 0.2
        var untaken = outstanding
        while untaken > 0 && monotonicSeconds() < drainEnd {
            _ = send(socket, nil, 0, Int32(MSG_DONTWAIT))
            untaken = (0..<outstanding).reduce(0) { count, offset in
                let slot = (oldestSlot + offset) % slotCount
                return count + (header(slot).pointee.tp_status == Self.statusSendRequest ? 1 : 0)
            }
            if untaken > 0 { usleep(1000) }
        }
        return SendReport(sent: submitted - UInt64(untaken), elapsed: elapsed)
    }

    private func fill(slot: Int, with frame: [UInt8]) {
        frame.withUnsafeBytes { bytes in
            (ring + slot * slotSize + dataOffset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
    }
}

/// Nanoseconds on the monotonic clock (the latency stamp's clock).
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
