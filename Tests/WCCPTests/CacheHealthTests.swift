import Packet
import Testing
@testable import WCCP

private func ms(_ n: Int) -> Duration { .milliseconds(n) }

@Suite struct CacheHealthTests {
    let a = ip("10.77.0.2")
    let b = ip("10.77.0.3")
    let config = CacheHealthConfig(interval: .milliseconds(250), timeout: .milliseconds(1500))

    /// Probes leave once per interval per cache, never two in flight for one cache.
    @Test func probesOncePerIntervalAndNeverTwoInFlight() {
        var m = CacheHealthMonitor(config: config)
        m.track([a, b], now: ms(0))
        #expect(m.tick(now: ms(0)) == [.probe(a), .probe(b)])
        #expect(m.tick(now: ms(100)).isEmpty)
        #expect(m.tick(now: ms(250)).isEmpty)          // still in flight
        #expect(m.probeResult(a, .answered, now: ms(260)).isEmpty)
        #expect(m.tick(now: ms(260)) == [.probe(a)])   // due since 250, b still in flight
        #expect(m.status(a)?.probesSent == 2 && m.status(b)?.probesSent == 1)
    }

    /// Two refusals in a row: down at once, long before the timeout; one answer in between resets.
    @Test func refusalsDeclareDownImmediately() {
        var m = CacheHealthMonitor(config: config)
        m.track([a], now: ms(0))
        _ = m.tick(now: ms(0))
        #expect(m.probeResult(a, .refused, now: ms(5)).isEmpty)
        _ = m.tick(now: ms(250))
        #expect(m.probeResult(a, .answered, now: ms(255)).isEmpty)
        _ = m.tick(now: ms(500))
        #expect(m.probeResult(a, .refused, now: ms(505)).isEmpty)
        _ = m.tick(now: ms(750))
        #expect(m.probeResult(a, .refused, now: ms(755)) == [.down(a, reason: .refused)])
        #expect(m.isDown(a))
        #expect(m.status(a)?.downTransitions == 1)
    }

    /// No answer at all (packets dropped): down when the timeout passes, by tick alone.
    @Test func silenceDeclaresDownAtTheTimeout() {
        var m = CacheHealthMonitor(config: config)
        m.track([a], now: ms(0))
        _ = m.tick(now: ms(0))
        #expect(m.probeResult(a, .answered, now: ms(10)).isEmpty)
        var downAt: Int?
        var t = 250
        while t <= 3000 {
            let actions = m.tick(now: ms(t))
            if actions.contains(.down(a, reason: .timeout)) { downAt = t; break }
            t += 50
        }
        #expect(downAt == 1550)   // last good evidence at 10 ms + 1500 ms, seen at the next 50 ms tick
    }

    /// Evidence (a HERE_I_AM) counts as liveness while up; a down cache needs good probes to come back.
    @Test func evidenceAndRecovery() {
        var m = CacheHealthMonitor(config: CacheHealthConfig(interval: ms(250), timeout: ms(1500), successesToRecover: 2))
        m.track([a], now: ms(0))
        m.evidence(from: a, now: ms(1400))
        #expect(!m.tick(now: ms(1600)).contains(.down(a, reason: .timeout)))
        #expect(m.tick(now: ms(2900)).contains(.down(a, reason: .timeout)))
        m.evidence(from: a, now: ms(3000))                 // ignored while down
        #expect(m.isDown(a))
        #expect(m.probeResult(a, .answered, now: ms(3010)).isEmpty)
        #expect(m.probeResult(a, .answered, now: ms(3260)) == [.up(a)])
        #expect(!m.isDown(a))
    }

    /// Caches that leave the group are forgotten; rejoining starts healthy.
    @Test func trackForgetsAndRestarts() {
        var m = CacheHealthMonitor(config: config)
        m.track([a], now: ms(0))
        _ = m.tick(now: ms(2000))
        #expect(m.isDown(a))
        m.track([], now: ms(2100))
        #expect(m.status(a) == nil)
        m.track([a], now: ms(2200))
        #expect(!m.isDown(a))
        #expect(m.tick(now: ms(2200)) == [.probe(a)])
    }
}

@Suite struct RouterFailureTests {
    let cacheA = ip("10.77.0.2")
    let cacheB = ip("10.77.0.3")

    /// Two caches with 128 buckets each; A is declared dead: only A's buckets fail open, B keeps its
    /// own, A leaves the Router View with a new change number, the designated cache (now B) may
    /// reassign, and an assignment naming A is refused. A answering again comes back the same way.
    @Test func deadCacheLeavesViewAndTableOnlyItsBucketsFailOpen() throws {
        var h = try RouterHarness()
        _ = h.hereIAm(cacheA, at: 0, echo: 0)
        _ = h.hereIAm(cacheB, at: 1, echo: 0)
        _ = h.hereIAm(cacheA, at: 10, echo: 1)
        _ = h.hereIAm(cacheB, at: 11, echo: 2)   // change 2, ReceiveID 4 to B
        let ra = HashAssignment(key: AssignmentKey(keyIP: cacheA, changeNumber: 1),
                                routers: [RouterAssignmentElement(routerIP: h.routerID, receiveID: 3, changeNumber: 2)],
                                caches: [cacheA, cacheB], buckets: squidHashBuckets(cacheCount: 2))
        let before = try #require(tables(h.redirectAssign(from: cacheA, at: 26, .hash(ra))).first)
        #expect(before.buckets(forSlot: 1).count == 128)

        var a = h.router.setCacheFailed(cacheA, failed: true, now: .seconds(27))
        #expect(a.contains(.cacheStateChanged(serviceID: 0, cache: cacheA, state: .usable, reason: .failureDetected)))
        let after = try #require(tables(a).first)
        #expect(after.buckets(forSlot: after.caches.firstIndex(of: cacheB)!) == before.buckets(forSlot: 1))
        #expect(after.caches.firstIndex(of: cacheA).map { after.buckets(forSlot: $0) }?.isEmpty ?? true)
        // A flow in one of A's buckets fails open, one in B's stays on B.
        #expect(after.cacheSlot(srcIP: ip("10.9.9.9"), dstIP: ip("10.1.2.3"), srcPort: 1, dstPort: 80) == nil)   // bucket 10 (A)
        #expect(after.cacheSlot(srcIP: ip("10.9.9.9"), dstIP: ip("10.1.2.2"), srcPort: 1, dstPort: 80)
            == after.caches.firstIndex(of: cacheB))
        let status = h.router.status()[0]
        #expect(status.memberChangeNumber == 3 && status.designatedCache == cacheB)
        #expect(status.caches.first { $0.address == cacheA }?.failed == true)
        // Idempotent.
        #expect(h.router.setCacheFailed(cacheA, failed: true, now: .seconds(27)).isEmpty)

        // B's next I_SEE_YOU lists only B, with the new change number.
        a = h.hereIAm(cacheB, at: 28, echo: 4)
        let isy = try #require(iSeeYou(a))
        #expect(isy.view.memberChangeNumber == 3 && isy.view.caches.map(\.cacheIP) == [cacheB])

        // An assignment still naming A is refused; B's reassignment over itself is taken.
        let staleRA = HashAssignment(key: AssignmentKey(keyIP: cacheB, changeNumber: 1),
                                     routers: [RouterAssignmentElement(routerIP: h.routerID, receiveID: 5, changeNumber: 3)],
                                     caches: [cacheA, cacheB], buckets: squidHashBuckets(cacheCount: 2))
        #expect(h.redirectAssign(from: cacheB, at: 36, .hash(staleRA)).isEmpty)
        var onlyB = staleRA
        onlyB.caches = [cacheB]
        onlyB.buckets = squidHashBuckets(cacheCount: 1)
        let reassigned = try #require(tables(h.redirectAssign(from: cacheB, at: 36, .hash(onlyB))).first)
        #expect(reassigned.caches == [cacheB] && reassigned.buckets(forSlot: 0).count == 256)

        // A is removed by the protocol later: no further change number (it already left the view).
        _ = h.hereIAm(cacheB, at: 31, echo: 5)
        _ = h.hereIAm(cacheB, at: 41, echo: 6)
        a = h.router.tick(now: .seconds(41))
        #expect(a.contains(.cacheStateChanged(serviceID: 0, cache: cacheA, state: .removed, reason: .silent)))
        #expect(h.router.status()[0].memberChangeNumber == 3)
    }

    @Test func recoveredCacheReturnsToTheView() throws {
        var h = try RouterHarness()
        _ = h.hereIAm(cacheA, at: 0, echo: 0)
        _ = h.hereIAm(cacheA, at: 10, echo: 1)
        _ = h.router.setCacheFailed(cacheA, failed: true, now: .seconds(12))
        #expect(h.router.status()[0].designatedCache == nil)
        let a = h.router.setCacheFailed(cacheA, failed: false, now: .seconds(13))
        #expect(a.contains(.cacheStateChanged(serviceID: 0, cache: cacheA, state: .usable, reason: .recovered)))
        #expect(h.router.status()[0].designatedCache == cacheA && h.router.status()[0].memberChangeNumber == 3)
        #expect(h.router.registeredCaches == [cacheA])
    }
}
