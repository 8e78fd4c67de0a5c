// eg-latency: the receiving half of the latency probe of `scripts/bench.sh latency`.
// eg-trafgen --timestamps sends stamped frames at a fixed rate on one side of the rig; this
// reads them on the other side (same machine, same CLOCK_MONOTONIC) and prints percentiles.
// The receive time is the kernel's (SO_TIMESTAMPNS: when the frame reached the receiving
// interface), so this receiver's own wake-up is not in the figure: on a small machine it
// shares a core with the sender and its wake-ups cost milliseconds. The wake-up is printed
// apart (receiver_wakeup_*). The bench still reports egressd's *added* latency as the
// difference to the kernel's forwarding.
import CEgressSys
import Glibc
import Histogram

func exitWithMessage(_ message: String, status: Int32) -> Never {
    let line = Array((message + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(status)
}

func nanoseconds(_ clock: clockid_t) -> UInt64 {
    var time = timespec()
    clock_gettime(clock, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
}

func monotonicNanoseconds() -> UInt64 { nanoseconds(CLOCK_MONOTONIC) }

/// The wall clock and the monotonic clock read as one instant: the monotonic reads bracket the
/// wall-clock read, retried while a preemption stretches the bracket past 2 us.
func clockPair() -> (realtime: UInt64, monotonic: UInt64) {
    var pair = (realtime: UInt64(0), monotonic: UInt64(0))
    for _ in 0..<4 {
        let before = monotonicNanoseconds()
        let realtime = nanoseconds(CLOCK_REALTIME)
        let after = monotonicNanoseconds()
        pair = (realtime, before + (after - before) / 2)
        if after - before <= 2_000 { break }
    }
    return pair
}

func fail(_ call: String) -> Never {
    exitWithMessage("eg-latency: \(call): \(String(cString: strerror(errno)))", status: 1)
}

let options: Options
do {
    options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    exitWithMessage("eg-latency: \(Options.fullMessage(for: error))", status: 2)
}

let ethernetProtocolAll: UInt16 = 0x0003  // ETH_P_ALL
let index = if_nametoindex(options.interface)
guard index != 0 else { fail("if_nametoindex(\(options.interface))") }
let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(ethernetProtocolAll.bigEndian))
guard fd >= 0 else { fail("socket(AF_PACKET)") }
// A deep receive queue (root: past rmem_max), so a late wake-up delays frames, not drops them.
var bufferBytes: Int32 = 8 << 20
if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufferBytes, socklen_t(MemoryLayout<Int32>.size)) != 0 {
    _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufferBytes, socklen_t(MemoryLayout<Int32>.size))
}
var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
    fail("setsockopt(SO_RCVTIMEO)")
}
var address = sockaddr_ll()
address.sll_family = UInt16(AF_PACKET)
address.sll_protocol = ethernetProtocolAll.bigEndian
address.sll_ifindex = Int32(index)
let bound = withUnsafePointer(to: &address) { pointer in
    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_ll>.size)) }
}
guard bound == 0 else { fail("bind(\(options.interface))") }
let kernelTimestamps = egressd_enable_receive_timestamps(fd) == 0

// Up to 10 s in nanoseconds at 3 significant digits: 1 us resolution up to 1 ms.
var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000,
                                  numberOfSignificantValueDigits: .three)
var wakeups = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000,
                                numberOfSignificantValueDigits: .three)
var untimestamped: UInt64 = 0
let start = monotonicNanoseconds()
let countFrom = start + UInt64(options.skip * 1e9)
let end = start + UInt64(options.duration * 1e9)
var received: UInt64 = 0
var stamped: UInt64 = 0
var early: UInt64 = 0
var foreign: UInt64 = 0
let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: LatencyStamp.searchWindow, alignment: 8)
defer { buffer.deallocate() }
while true {
    // Only the head of each frame is copied: the stamp is near the front.
    var kernelRealtime: UInt64 = 0
    let length = egressd_recv_timestamped(fd, buffer.baseAddress, buffer.count, &kernelRealtime)
    let now = monotonicNanoseconds()
    if length < 0 {
        if -length != EAGAIN && -length != EWOULDBLOCK && -length != EINTR { errno = Int32(-length); fail("recv") }
    } else {
        received += 1
        var arrival = now
        if kernelRealtime != 0 {
            let clocks = clockPair()
            arrival = monotonicArrival(kernelRealtime: kernelRealtime, realtimeNow: clocks.realtime, monotonicNow: clocks.monotonic)
            _ = wakeups.record(max(now &- min(arrival, now), 1))
        } else {
            untimestamped += 1
        }
        if let stamp = LatencyStamp.find(in: UnsafeRawBufferPointer(rebasing: buffer[0..<length])) {
            if stamp < countFrom {
                early += 1
            } else if let latency = latencyNanoseconds(stamp: stamp, received: arrival) {
                stamped += 1
                _ = histogram.record(max(latency, 1))
            } else {
                foreign += 1
            }
        }
    }
    if now >= end { break }
}
var stats = tpacket_stats()
var statsLength = socklen_t(MemoryLayout<tpacket_stats>.size)
let drops = getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &statsLength) == 0 ? Int(stats.tp_drops) : -1
close(fd)

func microseconds(_ nanoseconds: UInt64) -> String {
    let tenths = (nanoseconds + 50) / 100
    return "\(tenths / 10).\(tenths % 10)"
}
print("received_frames: \(received)")
print("stamped_frames: \(stamped)")
print("warmup_frames: \(early)")
print("foreign_stamps: \(foreign)")
print("receiver_drops: \(drops)")
print("kernel_timestamps: \(kernelTimestamps ? "on" : "off")")
print("untimestamped_frames: \(untimestamped)")
if wakeups.totalCount > 0 {
    print("receiver_wakeup_p50_us: \(microseconds(wakeups.valueAtPercentile(50)))")
    print("receiver_wakeup_p99_us: \(microseconds(wakeups.valueAtPercentile(99)))")
}
if stamped > 0 {
    print("latency_p50_us: \(microseconds(histogram.valueAtPercentile(50)))")
    print("latency_p90_us: \(microseconds(histogram.valueAtPercentile(90)))")
    print("latency_p99_us: \(microseconds(histogram.valueAtPercentile(99)))")
    print("latency_p999_us: \(microseconds(histogram.valueAtPercentile(99.9)))")
    print("latency_max_us: \(microseconds(histogram.max))")
} else {
    exitWithMessage("eg-latency: no stamped frame received on \(options.interface)", status: 1)
}
