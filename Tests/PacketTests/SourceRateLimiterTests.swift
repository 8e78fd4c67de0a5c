import Testing
@testable import Packet

@Suite struct SourceRateLimiterTests {
    @Test func aFloodFromOneSourceGetsItsRateAndOthersAreUntouched() {
        var limiter = SourceRateLimiter(rate: 10, burst: 20, capacity: 64)
        var allowed = 0
        // 10 000 datagrams in one second from one source.
        for i in 0..<10_000 where limiter.allow(1, now: .milliseconds(i / 10)) { allowed += 1 }
        #expect(allowed >= 20 && allowed <= 30)   // the burst plus about one second's rate
        // A well-behaved source in the same second still gets through.
        let other = limiter.allow(2, now: .milliseconds(999))
        #expect(other)
        #expect(limiter.dropped == UInt64(10_000 - allowed))
    }

    @Test func tokensComeBackWithTime() {
        var limiter = SourceRateLimiter(rate: 2, burst: 2, capacity: 8)
        var seen: [Bool] = []
        for ms in [0, 0, 0, 400, 500, 0] { seen.append(limiter.allow(7, now: .milliseconds(ms))) }
        // Two from the burst, none until half a second has earned one, none for time going backwards.
        #expect(seen == [true, true, false, false, true, false])
    }

    @Test func manySpoofedSourcesShareTheOverflowBucket() {
        var limiter = SourceRateLimiter(rate: 1, burst: 4, capacity: 16)
        var allowed = 0
        // 100 000 distinct sources at one instant: memory stays at 16 slots, and once the slots
        // are taken only the overflow bucket's burst gets through.
        for s in 0..<100_000 where limiter.allow(UInt64(s) << 8, now: .seconds(1)) { allowed += 1 }
        #expect(allowed <= 16 + 4)
        #expect(limiter.droppedOverflow > 0)
        #expect(limiter.trackedSources(now: .seconds(1)) <= 16)
    }

    @Test func quietSourcesAreForgotten() {
        var limiter = SourceRateLimiter(rate: 1, burst: 1, capacity: 4)
        var first = 0, later = 0
        for s in 0..<4 where limiter.allow(UInt64(s), now: .zero) { first += 1 }
        #expect(first >= 1)
        // After a full refill every slot is free again for new sources.
        #expect(limiter.trackedSources(now: .seconds(2)) == 0)
        for s in 10..<14 where limiter.allow(UInt64(s), now: .seconds(2)) { later += 1 }
        #expect(later >= 1)
    }
}
