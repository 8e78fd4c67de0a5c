import Testing
@testable import BGP

// The planned-stop sequence (graceful-shutdown drain) and the start-up hold
// (update-delay): pure values, time given as input.

@Suite struct GracefulShutdownTests {
    @Test func withoutDrainTimeAStopCeasesAtOnce() {
        var g = GracefulShutdown(drainTime: nil)
        #expect(g.stopRequested(at: .seconds(5)) == [.ceaseAndExit(message: "egressd stopping")])
        #expect(g.phase == .stopped)
        // Nothing more happens after that.
        #expect(g.stopRequested(at: .seconds(6)).isEmpty)
        #expect(g.drainTimerExpired(at: .seconds(7)).isEmpty)
        var zero = GracefulShutdown(drainTime: .zero)
        #expect(zero.stopRequested(at: .zero) == [.ceaseAndExit(message: GracefulShutdown.message)])
    }

    @Test func withdrawFirstThenDrainThenCease() {
        var g = GracefulShutdown(drainTime: .seconds(10))
        #expect(g.remaining(at: .zero) == nil && !g.isDraining)
        #expect(g.stopRequested(at: .seconds(100)) == [.withdrawAll, .armDrainTimer(.seconds(10))])
        #expect(g.isDraining && g.phase == .draining(since: .seconds(100), until: .seconds(110)))
        #expect(g.remaining(at: .seconds(103)) == .seconds(7))
        // A timer that fires early is re-armed for the rest, and nothing is sent yet.
        #expect(g.drainTimerExpired(at: .seconds(109)) == [.armDrainTimer(.seconds(1))])
        #expect(g.isDraining)
        #expect(g.drainTimerExpired(at: .seconds(110)) == [.ceaseAndExit(message: "egressd stopping")])
        #expect(g.phase == .stopped && g.remaining(at: .seconds(111)) == nil)
        #expect(g.drainTimerExpired(at: .seconds(120)).isEmpty)
    }

    @Test func aSecondStopRequestEndsTheDrainAtOnce() {
        var g = GracefulShutdown(drainTime: .seconds(30))
        _ = g.stopRequested(at: .seconds(1))
        #expect(g.stopRequested(at: .seconds(2)) == [.ceaseAndExit(message: GracefulShutdown.message)])
        // The drain timer that was armed finds nothing to do.
        #expect(g.drainTimerExpired(at: .seconds(31)).isEmpty)
    }

    @Test func changingTheDrainTimeDuringADrainKeepsItsEnd() {
        var g = GracefulShutdown(drainTime: .seconds(10))
        _ = g.stopRequested(at: .zero)
        g.drainTime = .seconds(60)  // a reload meanwhile
        #expect(g.drainTimerExpired(at: .seconds(10)) == [.ceaseAndExit(message: GracefulShutdown.message)])
    }
}

@Suite struct UpdateDelayTests {
    @Test func holdsUntilEverythingIsReady() {
        var u = UpdateDelay(delay: .seconds(30), startedAt: .seconds(2))
        #expect(u.isHolding && u.remaining(at: .seconds(12)) == .seconds(20))
        #expect(!u.evaluate(at: .seconds(3), waitingFor: ["neighbor 10.0.0.1", "WCCP service web-cache assignment"]))
        #expect(u.waitingFor.count == 2)
        #expect(!u.evaluate(at: .seconds(5), waitingFor: ["WCCP service web-cache assignment"]))
        #expect(u.isHolding)
        #expect(u.evaluate(at: .milliseconds(9500), waitingFor: []))
        #expect(!u.isHolding && u.releasedAt == .milliseconds(9500))
        #expect(u.releaseReason == "converged after 7.5 s")
        #expect(u.remaining(at: .seconds(10)) == nil)
    }

    @Test func theDelayBoundsTheHold() {
        var u = UpdateDelay(delay: .seconds(30), startedAt: .zero)
        #expect(!u.evaluate(at: .milliseconds(29_999), waitingFor: ["neighbor 10.0.0.1"]))
        #expect(u.evaluate(at: .seconds(30), waitingFor: ["neighbor 10.0.0.1"]))
        #expect(u.releaseReason == "update-delay of 30 s expired, still waiting for neighbor 10.0.0.1")
    }

    @Test func onceReleasedItStaysReleased() {
        var u = UpdateDelay(delay: .seconds(5), startedAt: .zero)
        #expect(u.evaluate(at: .seconds(1), waitingFor: []))
        // A session that goes down later does not hold our routes again, and no second release is reported.
        #expect(!u.evaluate(at: .seconds(2), waitingFor: ["neighbor 10.0.0.1"]))
        #expect(!u.isHolding && u.releasedAt == .seconds(1))
    }
}
