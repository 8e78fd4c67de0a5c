import Testing
@testable import BGP

// The planned-stop sequence (graceful-shutdown drain) and the start-up hold
// (update-delay): pure values, time given as input.

@Suite struct GracefulShutdownTests {
    @Test func withoutDrainTimeAStopCeasesAtOnce() {
        var g = GracefulShutdown(drainTime: nil)
        let r1 = g.stopRequested(at: .seconds(5))
        #expect(r1 == [.ceaseAndExit(message: "egressd stopping")])
        #expect(g.phase == .stopped)
        // Nothing more happens after that.
        let r2 = g.stopRequested(at: .seconds(6))
        #expect(r2.isEmpty)
        let r3 = g.drainTimerExpired(at: .seconds(7))
        #expect(r3.isEmpty)
        var zero = GracefulShutdown(drainTime: .zero)
        let r4 = zero.stopRequested(at: .zero)
        #expect(r4 == [.ceaseAndExit(message: GracefulShutdown.message)])
    }

    @Test func withdrawFirstThenDrainThenCease() {
        var g = GracefulShutdown(drainTime: .seconds(10))
        #expect(g.remaining(at: .zero) == nil && !g.isDraining)
        let r5 = g.stopRequested(at: .seconds(100))
        #expect(r5 == [.withdrawAll, .armDrainTimer(.seconds(10))])
        #expect(g.isDraining && g.phase == .draining(since: .seconds(100), until: .seconds(110)))
        #expect(g.remaining(at: .seconds(103)) == .seconds(7))
        // A timer that fires early is re-armed for the rest, and nothing is sent yet.
        let r6 = g.drainTimerExpired(at: .seconds(109))
        #expect(r6 == [.armDrainTimer(.seconds(1))])
        #expect(g.isDraining)
        let r7 = g.drainTimerExpired(at: .seconds(110))
        #expect(r7 == [.ceaseAndExit(message: "egressd stopping")])
        #expect(g.phase == .stopped && g.remaining(at: .seconds(111)) == nil)
        let r8 = g.drainTimerExpired(at: .seconds(120))
        #expect(r8.isEmpty)
    }

    @Test func aSecondStopRequestEndsTheDrainAtOnce() {
        var g = GracefulShutdown(drainTime: .seconds(30))
        _ = g.stopRequested(at: .seconds(1))
        let r9 = g.stopRequested(at: .seconds(2))
        #expect(r9 == [.ceaseAndExit(message: GracefulShutdown.message)])
        // The drain timer that was armed finds nothing to do.
        let r10 = g.drainTimerExpired(at: .seconds(31))
        #expect(r10.isEmpty)
    }

    @Test func changingTheDrainTimeDuringADrainKeepsItsEnd() {
        var g = GracefulShutdown(drainTime: .seconds(10))
        _ = g.stopRequested(at: .zero)
        g.drainTime = .seconds(60)  // a reload meanwhile
        let r11 = g.drainTimerExpired(at: .seconds(10))
        #expect(r11 == [.ceaseAndExit(message: GracefulShutdown.message)])
    }
}

@Suite struct UpdateDelayTests {
    @Test func holdsUntilEverythingIsReady() {
        var u = UpdateDelay(delay: .seconds(30), startedAt: .seconds(2))
        #expect(u.isHolding && u.remaining(at: .seconds(12)) == .seconds(20))
        let r12 = u.evaluate(at: .seconds(3), waitingFor: ["neighbor 10.0.0.1", "WCCP service web-cache assignment"])
        #expect(!r12)
        #expect(u.waitingFor.count == 2)
        let r13 = u.evaluate(at: .seconds(5), waitingFor: ["WCCP service web-cache assignment"])
        #expect(!r13)
        #expect(u.isHolding)
        let r14 = u.evaluate(at: .milliseconds(9500), waitingFor: [])
        #expect(r14)
        #expect(!u.isHolding && u.releasedAt == .milliseconds(9500))
        #expect(u.releaseReason == "converged after 7.5 s")
        #expect(u.remaining(at: .seconds(10)) == nil)
    }

    @Test func theDelayBoundsTheHold() {
        var u = UpdateDelay(delay: .seconds(30), startedAt: .zero)
        let r15 = u.evaluate(at: .milliseconds(29_999), waitingFor: ["neighbor 10.0.0.1"])
        #expect(!r15)
        let r16 = u.evaluate(at: .seconds(30), waitingFor: ["neighbor 10.0.0.1"])
        #expect(r16)
        #expect(u.releaseReason == "update-delay of 30 s expired, still waiting for neighbor 10.0.0.1")
    }

    @Test func onceReleasedItStaysReleased() {
        var u = UpdateDelay(delay: .seconds(5), startedAt: .zero)
        let r17 = u.evaluate(at: .seconds(1), waitingFor: [])
        #expect(r17)
        // A session that goes down later does not hold our routes again, and no second release is reported.
        let r18 = u.evaluate(at: .seconds(2), waitingFor: ["neighbor 10.0.0.1"])
        #expect(!r18)
        #expect(!u.isHolding && u.releasedAt == .seconds(1))
    }
}

@Suite struct InitialRoutesTests {
    private let both: Set<AddressFamily> = [.ipv4Unicast, .ipv6Unicast]

    @Test func completeWhenEveryNegotiatedFamilyHasItsEndOfRIB() {
        var r = InitialRoutes()
        let early = r.endOfRIBReceived(.ipv4Unicast)
        #expect(!r.complete && !early)  // not Established: ignored
        r.established(families: both, peerHasGracefulRestart: true)
        #expect(!r.complete && r.missing == [.ipv4Unicast, .ipv6Unicast])
        let step1 = r.endOfRIBReceived(.ipv6Unicast)
        #expect(step1)
        let step2 = r.endOfRIBReceived(.ipv6Unicast)
        #expect(!step2)  // a second marker is no news
        let step3 = r.endOfRIBReceived(AddressFamily(afi: 1, safi: 128))
        #expect(!step3)  // not negotiated
        #expect(!r.complete && r.missing == [.ipv4Unicast])
        // The peer promised End-of-RIB: its keepalives do not stand in for it.
        let step4 = r.keepaliveReceived()
        #expect(!step4)
        #expect(!r.complete)
        let step5 = r.endOfRIBReceived(.ipv4Unicast)
        #expect(step5)
        #expect(r.complete && r.missing.isEmpty && !r.implicitEndOfRIB)
    }

    @Test func aPeerWithoutGracefulRestartCompletesAtItsFirstKeepaliveAfterAnUpdate() {
        var r = InitialRoutes()
        r.established(families: [.ipv4Unicast], peerHasGracefulRestart: false)
        #expect(!r.complete)
        // FRR's first KEEPALIVE can precede its routes (coalesce time): it proves nothing yet.
        let early = r.keepaliveReceived()
        #expect(!early && !r.complete)
        r.updateArrived()
        #expect(!r.complete)
        let step6 = r.keepaliveReceived()
        #expect(step6)
        #expect(r.complete && r.implicitEndOfRIB)
        let step7 = r.keepaliveReceived()
        #expect(!step7)  // only the first one reports
        // It may still send the marker; that is recorded too.
        let step8 = r.endOfRIBReceived(.ipv4Unicast)
        #expect(step8)
        #expect(r.complete)
        // A new session starts over.
        r.established(families: [.ipv4Unicast], peerHasGracefulRestart: false)
        #expect(!r.updateReceived && !r.implicitEndOfRIB && !r.complete)
    }

    @Test func resetWhenTheSessionGoesDownOrComesUpAgain() {
        var r = InitialRoutes()
        r.established(families: [.ipv4Unicast], peerHasGracefulRestart: true)
        r.endOfRIBReceived(.ipv4Unicast)
        #expect(r.complete)
        r.down()
        #expect(r == InitialRoutes() && !r.complete)
        let afterDown = r.keepaliveReceived()
        #expect(!afterDown)
        r.established(families: [.ipv4Unicast], peerHasGracefulRestart: true)
        #expect(!r.complete && r.endOfRIB.isEmpty)
    }
}

@Suite struct UpdateDelayGateTests {
    private func neighbor(_ a: String, established: Bool = true, eor: [AddressFamily] = [.ipv4Unicast],
                          families: Set<AddressFamily> = [.ipv4Unicast], inactive: Bool = false) -> UpdateDelayNeighbor {
        var r = InitialRoutes()
        if established {
            r.established(families: families, peerHasGracefulRestart: true)
            for f in eor { r.endOfRIBReceived(f) }
        }
        return UpdateDelayNeighbor(address: a, inactive: inactive, initialRoutes: r)
    }

    @Test func establishedIsNotEnoughWithoutEndOfRIB() {
        let p = UpdateDelay.pending(neighbors: [neighbor("10.0.0.1", eor: []), neighbor("10.0.0.2")],
                                    unassignedServices: [], routes: LearnedRouteHandOver())
        #expect(p == ["neighbor 10.0.0.1 End-of-RIB (IPv4 Unicast)"])
        let both = UpdateDelay.pending(neighbors: [neighbor("10.0.0.3", eor: [.ipv4Unicast], families: [.ipv4Unicast, .ipv6Unicast])],
                                       unassignedServices: [], routes: LearnedRouteHandOver())
        #expect(both == ["neighbor 10.0.0.3 End-of-RIB (IPv6 Unicast)"])
    }

    @Test func waitsInOrderForSessionsEndOfRIBServicesAndTheRoutesHandOver() {
        let routes = LearnedRouteHandOver(speakerHolding: true, engineBehind: true, kernelBehind: 2)
        let p = UpdateDelay.pending(neighbors: [neighbor("10.0.0.1", established: false), neighbor("10.0.0.2", eor: []),
                                                neighbor("10.0.0.9", established: false, inactive: true)],
                                    unassignedServices: ["WCCP service web-cache assignment"], routes: routes)
        #expect(p == ["neighbor 10.0.0.1", "neighbor 10.0.0.2 End-of-RIB (IPv4 Unicast)", "WCCP service web-cache assignment",
                      "learned routes from BGP", "learned routes into the forwarding table",
                      "learned routes into the kernel (2 changes)"])
    }

    @Test func releasesOnlyWhenTheKernelHasCaughtUpAndTheDelayStillBounds() {
        var u = UpdateDelay(delay: .seconds(60), startedAt: .zero)
        let ready = [neighbor("10.0.0.1"), neighbor("10.0.0.2")]
        let r1 = u.evaluate(at: .seconds(2), waitingFor: UpdateDelay.pending(neighbors: ready, unassignedServices: [],
                                                                             routes: LearnedRouteHandOver(kernelBehind: 1)))
        #expect(!r1 && u.waitingFor == ["learned routes into the kernel (1 changes)"])
        let r2 = u.evaluate(at: .seconds(3), waitingFor: UpdateDelay.pending(neighbors: ready, unassignedServices: [],
                                                                             routes: LearnedRouteHandOver()))
        #expect(r2 && u.releaseReason == "converged after 3 s")
        // A peer that never sends End-of-RIB holds us no longer than the delay.
        var v = UpdateDelay(delay: .seconds(60), startedAt: .zero)
        let silent = UpdateDelay.pending(neighbors: [neighbor("10.0.0.1", eor: [])], unassignedServices: [], routes: LearnedRouteHandOver())
        let step9 = v.evaluate(at: .seconds(59), waitingFor: silent)
        #expect(!step9)
        let step10 = v.evaluate(at: .seconds(60), waitingFor: silent)
        #expect(step10)
        #expect(v.releaseReason == "update-delay of 60 s expired, still waiting for neighbor 10.0.0.1 End-of-RIB (IPv4 Unicast)")
    }
}
