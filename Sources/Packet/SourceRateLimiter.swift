// Per-source rate limits for control packets (WCCP datagrams, BGP connection
// attempts): a token bucket per source address in a fixed-size table, so that
// a flood from one source costs bounded CPU and memory and does not starve
// the others. Pure: time is an input.
//
// Memory is fixed at creation (`capacity` slots). A source's slot is found by
// hashing and probing at most `probeLimit` slots; a slot whose bucket has
// refilled completely is free again (the source has been quiet long enough to
// forget it). When no slot is free, the packet is charged to one shared
// overflow bucket, so spoofing many sources buys no more than that bucket's rate.

public struct SourceRateLimiter: Sendable {
    /// Tokens (packets) per second a source earns, and the most it can save.
    public let rate: Double
    public let burst: Double
    public let capacity: Int
    static let probeLimit = 8

    private var keys: [UInt64]
    private var tokens: [Double]
    /// Nanoseconds of the last refill; -1: empty slot.
    private var stamps: [Int64]
    private var overflowTokens: Double
    private var overflowStamp: Int64 = -1
    /// Packets refused, in total and those charged to the overflow bucket.
    public private(set) var dropped: UInt64 = 0
    public private(set) var droppedOverflow: UInt64 = 0

    public init(rate: Double, burst: Double, capacity: Int = 1024) {
        precondition(rate > 0 && burst >= 1 && capacity > 0)
        self.rate = rate; self.burst = burst; self.capacity = capacity
        keys = Array(repeating: 0, count: capacity)
        tokens = Array(repeating: 0, count: capacity)
        stamps = Array(repeating: -1, count: capacity)
        overflowTokens = burst
    }

    /// Number of sources that have a slot now.
    public func trackedSources(now: Duration) -> Int {
        let t = Self.nanoseconds(now)
        return (0..<capacity).filter { stamps[$0] >= 0 && !refilled($0, t) }.count
    }

    /// Takes one token for `source` at time `now`; false: over its rate, drop it.
    public mutating func allow(_ source: UInt64, now: Duration) -> Bool {
        let t = Self.nanoseconds(now)
        let start = Int(truncatingIfNeeded: Self.mix(source) % UInt64(capacity))
        var free: Int?
        for i in 0..<min(Self.probeLimit, capacity) {
            let slot = (start + i) % capacity
            if stamps[slot] >= 0, keys[slot] == source {
                return take(slot, t)
            }
            if free == nil, stamps[slot] < 0 || refilled(slot, t) { free = slot }
        }
        if let slot = free {
            keys[slot] = source; tokens[slot] = burst; stamps[slot] = t
            return take(slot, t)
        }
        overflowTokens = min(burst, overflowTokens + elapsed(since: overflowStamp, t) * rate)
        overflowStamp = t
        guard overflowTokens >= 1 else { dropped += 1; droppedOverflow += 1; return false }
        overflowTokens -= 1
        return true
    }

    private mutating func take(_ slot: Int, _ t: Int64) -> Bool {
        tokens[slot] = min(burst, tokens[slot] + elapsed(since: stamps[slot], t) * rate)
        stamps[slot] = max(stamps[slot], t)
        guard tokens[slot] >= 1 else { dropped += 1; return false }
        tokens[slot] -= 1
        return true
    }

    private func refilled(_ slot: Int, _ t: Int64) -> Bool {
        tokens[slot] + elapsed(since: stamps[slot], t) * rate >= burst
    }

    private func elapsed(since stamp: Int64, _ t: Int64) -> Double {
        stamp < 0 || t <= stamp ? 0 : Double(t - stamp) / 1e9
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, a) = d.components
        return s &* 1_000_000_000 &+ a / 1_000_000_000
    }

    /// SplitMix64's finaliser: spreads addresses that differ in few bits.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
