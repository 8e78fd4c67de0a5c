// The latency stamp eg-trafgen --timestamps writes at the start of each frame's UDP payload:
// the 8-byte marker "EGLATNCY", then the send time in CLOCK_MONOTONIC nanoseconds
// (big-endian). Pure: finding it in a received frame and turning it into a latency.

enum LatencyStamp {
    static let marker: [UInt8] = Array("EGLATNCY".utf8)
    static let length = 16
    /// How far into a frame the receiver looks: Ethernet + outer IPv4 + GRE + WCCP redirect
    /// header + inner IPv4 with options + UDP leaves the stamp well inside this.
    static let searchWindow = 160

    /// The send time in the first stamp of `frame` (nil when there is none). The marker is
    /// searched for rather than expected at one offset, so the same receiver reads plain
    /// packets, GRE (decap's input, encap's output) and WCCP's GRE 0x883E.
    static func find(in frame: UnsafeRawBufferPointer) -> UInt64? {
        let end = min(frame.count, searchWindow) - length
        guard end >= 0 else { return nil }
        var offset = 0
        let first = marker[0]
        while offset <= end {
            if frame[offset] == first && matches(frame, at: offset) {
                var value: UInt64 = 0
                for i in 0..<8 { value = value << 8 | UInt64(frame[offset + 8 + i]) }
                return value
            }
            offset += 1
        }
        return nil
    }

    private static func matches(_ frame: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        for i in 1..<8 where frame[offset + i] != marker[i] { return false }
        return true
    }
}

/// One-way latency in nanoseconds from a stamp and the receive time; nil when the receive
/// time is before the stamp (a foreign marker: the clock is the same on both ends).
func latencyNanoseconds(stamp: UInt64, received: UInt64) -> UInt64? {
    received >= stamp ? received - stamp : nil
}

/// The kernel's receive timestamp (CLOCK_REALTIME: SO_TIMESTAMPNS has no monotonic form) on
/// the stamp's clock (CLOCK_MONOTONIC), through the offset between the two clocks read now:
/// read per frame, so a slewing or stepped wall clock costs nothing.
func monotonicArrival(kernelRealtime: UInt64, realtimeNow: UInt64, monotonicNow: UInt64) -> UInt64 {
    let age = realtimeNow >= kernelRealtime ? realtimeNow - kernelRealtime : 0
    return monotonicNow >= age ? monotonicNow - age : 0
}
