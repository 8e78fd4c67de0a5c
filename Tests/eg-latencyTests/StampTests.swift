import Testing
@testable import eg_latency

/// A frame with `prefix` bytes before a stamp of `nanoseconds`, then `suffix` bytes.
private func frame(prefix: Int, nanoseconds: UInt64, suffix: Int = 20) -> [UInt8] {
    var bytes = [UInt8](repeating: 0x45, count: prefix) + LatencyStamp.marker
    for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: nanoseconds >> UInt64(shift))) }
    return bytes + [UInt8](repeating: 0, count: suffix)
}

@Test func findsTheStampWhereverThePathPutIt() {
    // Plain (14 + 20 + 8), GRE (+ 24), WCCP GRE (+ 4 redirect header).
    for prefix in [42, 66, 70] {
        let bytes = frame(prefix: prefix, nanoseconds: 0x0102_0304_0506_0708)
        #expect(bytes.withUnsafeBytes { LatencyStamp.find(in: $0) } == 0x0102_0304_0506_0708)
    }
}

@Test func noStampInShortForeignOrCutFrames() {
    let foreign = [UInt8](repeating: 0x45, count: 100) + Array("EGLATNCX".utf8) + [UInt8](repeating: 1, count: 8)
    #expect(foreign.withUnsafeBytes { LatencyStamp.find(in: $0) } == nil)
    let cut = Array(frame(prefix: 42, nanoseconds: 7, suffix: 0).prefix(42 + 12))
    #expect(cut.withUnsafeBytes { LatencyStamp.find(in: $0) } == nil)
    // Beyond the search window: not looked at.
    let deep = frame(prefix: LatencyStamp.searchWindow, nanoseconds: 7)
    #expect(deep.withUnsafeBytes { LatencyStamp.find(in: $0) } == nil)
    #expect([UInt8]().withUnsafeBytes { LatencyStamp.find(in: $0) } == nil)
}

@Test func latencyIsReceiveMinusSend() {
    #expect(latencyNanoseconds(stamp: 1_000, received: 1_250) == 250)
    #expect(latencyNanoseconds(stamp: 1_000, received: 1_000) == 0)
    #expect(latencyNanoseconds(stamp: 2_000, received: 1_000) == nil)
}

@Test func kernelReceiveTimeMovesToTheMonotonicClock() {
    // Received 40 us ago on the wall clock: 40 us before "now" on the monotonic clock,
    // whatever the two clocks' offset.
    #expect(monotonicArrival(kernelRealtime: 1_700_000_000_000_000_000, realtimeNow: 1_700_000_000_000_040_000,
                             monotonicNow: 5_000_000) == 4_960_000)
    // A receive time after "now" (the wall clock stepped back) counts as now, not the future.
    #expect(monotonicArrival(kernelRealtime: 2_000, realtimeNow: 1_000, monotonicNow: 9_000) == 9_000)
    #expect(monotonicArrival(kernelRealtime: 0, realtimeNow: 10_000, monotonicNow: 5_000) == 0)
}

/// The message a command line is refused with (nil: accepted).
private func refusal(_ arguments: [String]) -> String? {
    do { _ = try Options.parse(arguments); return nil } catch { return Options.message(for: error) }
}

@Test func parsesOptions() throws {
    let options = try Options.parse(["--interface", "d0", "--duration", "3", "--skip", "0.5"])
    #expect(options.interface == "d0" && options.duration == 3 && options.skip == 0.5)
    let defaults = try Options.parse(["--interface", "d0"])
    #expect(defaults.duration == 5 && defaults.skip == 1)
    #expect(refusal(["--duration", "3"])?.contains("--interface") == true)
    #expect(refusal(["--interface", "d0", "--duration", "1", "--skip", "2"])?.contains("--duration must be longer than --skip") == true)
    #expect(refusal(["--interface", "d0", "--duration", "x"])?.contains("'x'") == true)
    #expect(refusal(["--interface", "d0", "--skip", "-1"]) != nil)
    #expect(refusal(["--interface", "d0", "--frobnicate"]) != nil)
}
