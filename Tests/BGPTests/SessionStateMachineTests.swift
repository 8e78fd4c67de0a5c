// Session FSM: two machines against each other with a fake clock, plus the
// single-machine corner cases (unexpected messages, timers, backoff, GR).

import Testing
@testable import BGP
import Packet

@Suite struct SessionStateMachineTests {
    /// Both sides up: the TGW stand-in passive-ish (started first), the appliance connecting.
    static func established(dripFeed: Bool = false, _ a: BGPSessionConfiguration = applianceConfig(),
                            _ b: BGPSessionConfiguration = tgwConfig()) -> SessionHarness {
        var h = SessionHarness(a, b)
        h.dripFeed = dripFeed
        h.send(.manualStart, to: 1)
        h.send(.manualStart, to: 0)
        return h
    }

    @Test(arguments: [false, true]) func twoMachinesEstablishAndNegotiate(dripFeed: Bool) {
        let h = Self.established(dripFeed: dripFeed)
        #expect(h.state(0) == .established)
        #expect(h.state(1) == .established)
        guard let n = h.sides[0].fsm.negotiated else { Issue.record("not negotiated"); return }
        #expect(n.holdTime == 30)          // min(30, 90)
        #expect(n.keepaliveTime == 10)     // min(10, 30 / 3)
        #expect(h.sides[1].fsm.negotiated?.keepaliveTime == 10)   // min(30, 30 / 3)
        #expect(n.fourOctetAS)
        #expect(n.families == [.ipv4Unicast, .ipv6Unicast])
        #expect(n.routeRefresh && n.enhancedRouteRefresh)
        #expect(n.peerGracefulRestart?.restartTime == 120)
        #expect(n.peerIdentifier == addr4("169.254.6.2"))
        #expect(h.sides[0].log.contains(.established(n)))
        // OpenSent waits with the large hold time; then keepalive and hold timers run.
        #expect(h.sides[0].timers[.hold] == .seconds(30))
        #expect(h.sides[0].timers[.keepalive].map { $0 >= .milliseconds(7500) && $0 <= .seconds(10) } == true)
    }

    @Test func keepalivesKeepTheSessionUp() {
        var h = Self.established()
        h.advance(by: .seconds(600))
        #expect(h.state(0) == .established && h.state(1) == .established)
        let keepalives = h.sent(by: 0).filter { $0 == .keepalive }.count
        // One per 7.5...10 s with jitter over 600 s, plus the one confirming the OPEN.
        #expect((61...81).contains(keepalives))
    }

    @Test func holdTimerExpiresWhenThePeerGoesSilent() {
        var h = Self.established()
        h.blackHoled = 1
        h.advance(by: .seconds(29))
        #expect(h.state(0) == .established)
        h.advance(by: .seconds(2))
        #expect(h.state(0) == .idle)
        let sent = h.sent(by: 0).last
        #expect(sent == .notification(.holdTimerExpired))
        #expect(hexString(sent!.encoded()) == notificationHeader(21) + "0400")
        // The TGW side received it.
        #expect(h.sides[1].received.last == .notification(.holdTimerExpired))
        #expect(h.sides[0].log.contains(.sessionDown(.notificationSent(.holdTimerExpired), retainRoutesFor: 120)))
    }

    @Test func holdTimeZeroMeansNoKeepalives() {
        var a = applianceConfig(); a.holdTime = 0
        var h = Self.established(a)
        #expect(h.sides[0].fsm.negotiated?.holdTime == 0)
        #expect(h.sides[0].timers[.hold] == nil && h.sides[0].timers[.keepalive] == nil)
        h.advance(by: .seconds(3600))
        #expect(h.state(0) == .established && h.state(1) == .established)
        #expect(h.sent(by: 0).filter { $0 == .keepalive }.count == 1)
    }

    @Test func badPeerASIsRefusedWithBackoff() {
        var b = tgwConfig(); b.peerAS = 65001     // the TGW expects another AS
        var h = SessionHarness(applianceConfig(), b)
        h.send(.manualStart, to: 1)
        h.send(.manualStart, to: 0)
        #expect(h.state(0) == .idle && h.state(1) == .idle)
        #expect(h.sent(by: 1).last == .notification(.badPeerAS))
        #expect(hexString(BGPMessage.notification(.badPeerAS).encoded()) == notificationHeader(21) + "0202")
        #expect(h.sides[0].received.last == .notification(.badPeerAS))
        // Each failure doubles the wait: 5, 10, 20, 40, 80, 120 (cap) seconds, jittered by 0.75...1.
        var waits: [Duration] = []
        var s = BGPSessionStateMachine(configuration: applianceConfig(), randomSeed: 7)
        _ = s.handle(.manualStart)
        for _ in 0..<7 {
            _ = s.handle(.tcpConnectionAcknowledged)
            let actions = s.handle(.message(.notification(.badPeerAS)))
            for case .startTimer(.idleHold, let d) in actions { waits.append(d) }
            _ = s.handle(.timerExpired(.idleHold))
        }
        let bases: [Double] = [5, 10, 20, 40, 80, 120, 120]
        #expect(waits.count == 7)
        for (w, base) in zip(waits, bases) {
            #expect(w >= .milliseconds(Int(base * 750)) && w <= .seconds(Int(base)), "\(w) vs \(base)")
        }
        // A stable session forgets the failures.
        _ = s.handle(.tcpConnectionAcknowledged)
        _ = s.handle(.message(.open(tgwConfig().open)))
        _ = s.handle(.message(.keepalive))
        #expect(s.state == .established && s.consecutiveFailures == 7)
        _ = s.handle(.timerExpired(.dampingReset))
        #expect(s.consecutiveFailures == 0)
    }

    @Test func noCommonFamilyIsUnsupportedCapability() {
        var a = applianceConfig(); a.families = [.ipv6Unicast]
        var b = tgwConfig(); b.families = [.ipv4Unicast]
        var h = SessionHarness(a, b)
        h.send(.manualStart, to: 1)
        h.send(.manualStart, to: 0)
        // The first to read the other's OPEN refuses with 2/7 listing what it requires.
        let refusal = h.sent(by: 0).compactMap { if case .notification(let n) = $0 { n } else { nil } }.first
            ?? h.sent(by: 1).compactMap { if case .notification(let n) = $0 { n } else { nil } }.first
        #expect(refusal?.code == 2 && refusal?.subcode == 7)
        #expect(refusal?.data == [1, 4, 0, 2, 0, 1] || refusal?.data == [1, 4, 0, 1, 0, 1])
    }

    @Test func unexpectedMessagesUseRFC6608Subcodes() {
        var s = BGPSessionStateMachine(configuration: applianceConfig(), randomSeed: 1)
        _ = s.handle(.manualStart)
        _ = s.handle(.tcpConnectionAcknowledged)
        #expect(s.state == .openSent)
        #expect(s.handle(.message(.keepalive)).contains(.send(.notification(BGPNotification(code: 5, subcode: 1)))))

        var c = BGPSessionStateMachine(configuration: applianceConfig(), randomSeed: 1)
        _ = c.handle(.manualStart); _ = c.handle(.tcpConnectionAcknowledged)
        _ = c.handle(.message(.open(tgwConfig().open)))
        #expect(c.state == .openConfirm)
        let update = InboundMessage.update(ReceivedUpdate(update: BGPUpdate(), verdict: .accept, discarded: []))
        #expect(c.handle(.message(update)).contains(.send(.notification(BGPNotification(code: 5, subcode: 2)))))

        var e = BGPSessionStateMachine(configuration: applianceConfig(), randomSeed: 1)
        _ = e.handle(.manualStart); _ = e.handle(.tcpConnectionAcknowledged)
        _ = e.handle(.message(.open(tgwConfig().open))); _ = e.handle(.message(.keepalive))
        #expect(e.state == .established)
        let actions = e.handle(.message(.open(tgwConfig().open)))
        #expect(actions.first == .send(.notification(BGPNotification(code: 5, subcode: 3))))
        #expect(hexString(BGPMessage.notification(BGPNotification(code: 5, subcode: 3)).encoded()) == notificationHeader(21) + "0503")
        #expect(e.state == .idle)
    }

    @Test func updatesAreDeliveredAndRestartHold() {
        var h = Self.established()
        let update = BGPUpdate(attributes: PathAttributes(origin: .igp, asPath: ASPath(sequence: [64512]),
                                                          nextHop: addr4("169.254.6.2")), nlri: [prefix4("10.0.0.0/16")])
        // Decoded with the context the machine negotiated, as the edge does.
        let bytes = BGPMessage.update(update).encoded()
        guard let m = try? InboundMessage.decode(frame: bytes[...], context: h.sides[0].fsm.decodingContext) else {
            Issue.record("decode"); return
        }
        h.advance(by: .seconds(5))
        h.send(.message(m), to: 0)
        guard case .deliver(let r)? = h.sides[0].log.last else { Issue.record("not delivered"); return }
        #expect(r.routeChanges.announcedV4 == [prefix4("10.0.0.0/16")])
        #expect(h.sides[0].timers[.hold] == h.now + .seconds(30))
    }

    @Test func routeRefreshOnlyWhenNegotiated() {
        var h = Self.established()
        h.send(.message(.routeRefresh(BGPRouteRefresh(family: .ipv6Unicast))), to: 0)
        #expect(h.sides[0].log.last == .routeRefreshRequested(BGPRouteRefresh(family: .ipv6Unicast)))
        var a = applianceConfig(); a.routeRefresh = false
        var h2 = Self.established(a)
        let before = h2.sides[0].log.count
        h2.send(.message(.routeRefresh(BGPRouteRefresh(family: .ipv4Unicast))), to: 0)
        #expect(!h2.sides[0].log[before...].contains { if case .routeRefreshRequested = $0 { true } else { false } })
        #expect(h2.state(0) == .established)
    }

    @Test func manualStopSendsAdministrativeShutdownAndPeerRestarts() {
        var h = Self.established()
        h.send(.manualStop(.administrativeShutdown(message: "maintenance")), to: 0)
        #expect(h.state(0) == .idle && h.state(1) == .idle)
        #expect(h.sides[1].received.last == .notification(.administrativeShutdown(message: "maintenance")))
        // Shutdown is a hard stop: no graceful restart retention on either side.
        #expect(h.sides[0].log.contains(.sessionDown(.notificationSent(.administrativeShutdown(message: "maintenance")), retainRoutesFor: nil)))
        #expect(h.sides[1].log.contains(.sessionDown(.notificationReceived(.administrativeShutdown(message: "maintenance")), retainRoutesFor: nil)))
        // We stay down; the peer retries after its idle hold time and ends up waiting in Active/Connect.
        #expect(h.sides[0].timers[.idleHold] == nil)
        #expect(h.sides[1].timers[.idleHold] != nil)
        h.advance(by: .seconds(60))
        #expect(h.state(0) == .idle)
        #expect([.connect, .active].contains(h.state(1)))
        // Re-enabled: both come back.
        h.send(.manualStart, to: 0)
        #expect(h.state(0) == .established && h.state(1) == .established)
    }

    @Test func connectionLossRetainsRoutesWithGracefulRestart() {
        var h = Self.established()
        h.send(.tcpConnectionFails, to: 0)
        #expect(h.sides[0].log.contains(.sessionDown(.connectionLost, retainRoutesFor: 120)))
        var noGR = tgwConfig(); noGR.gracefulRestartTime = nil
        var h2 = Self.established(applianceConfig(), noGR)
        h2.send(.tcpConnectionFails, to: 0)
        #expect(h2.sides[0].log.contains(.sessionDown(.connectionLost, retainRoutesFor: nil)))
    }

    @Test func decodeErrorInEstablishedSendsTheNotification() {
        var h = Self.established()
        h.send(.decodeError(.malformedAttributeList), to: 0)
        #expect(h.state(0) == .idle)
        #expect(h.sides[1].received.last == .notification(.malformedAttributeList))
    }

    @Test func resetComesBackAutomatically() {
        var h = Self.established()
        h.send(.reset(.cease(.administrativeReset)), to: 0)
        #expect(h.sides[1].received.last == .notification(.cease(.administrativeReset)))
        h.advance(by: .seconds(30))
        #expect(h.state(0) == .established && h.state(1) == .established)
    }

    @Test func connectRetryWithJitterWhenThePeerIsAbsent() {
        var h = SessionHarness(applianceConfig(), tgwConfig())
        h.send(.manualStart, to: 0)      // peer never started: connection refused
        #expect(h.state(0) == .active)
        let retries = h.sides[0].log.compactMap { if case .startTimer(.connectRetry, let d) = $0 { d } else { nil } }
        #expect(retries.count == 2)
        #expect(retries.allSatisfy { $0 >= .milliseconds(22500) && $0 <= .seconds(30) })
        h.advance(by: .seconds(31))
        #expect(h.sides[0].log.filter { $0 == .connect }.count == 2)
        // Once the peer listens, the next retry connects.
        h.send(.manualStart, to: 1)
        h.advance(by: .seconds(60))
        #expect(h.state(0) == .established)
        // Same seed, same jitter: the machine is deterministic.
        var x = BGPSessionStateMachine(configuration: applianceConfig(), randomSeed: 99)
        var y = BGPSessionStateMachine(configuration: applianceConfig(), randomSeed: 99)
        #expect(x.handle(.manualStart) == y.handle(.manualStart))
    }

    @Test func automaticStartWaitsForThePendingIdleHold() {
        var t = BGPSessionStateMachine(configuration: applianceConfig(), randomSeed: 5)
        let started = t.handle(.automaticStart)
        #expect(t.state == .connect && started.contains(.connect))
        _ = t.handle(.tcpConnectionAcknowledged)
        _ = t.handle(.decodeError(.badMarker))
        #expect(t.state == .idle && t.consecutiveFailures == 1)
        // Restart already scheduled: another automatic start does nothing until the timer fires.
        #expect(t.handle(.automaticStart).isEmpty)
        #expect(t.handle(.timerExpired(.idleHold)).contains(.connect))
        #expect(t.consecutiveFailures == 1)
    }

    @Test func passiveSideNeverConnects() {
        var a = applianceConfig(); a.passive = true
        var h = SessionHarness(a, tgwConfig())
        h.send(.manualStart, to: 0)
        h.advance(by: .seconds(300))
        #expect(h.state(0) == .active)
        #expect(!h.sides[0].log.contains(.connect))
        h.send(.manualStart, to: 1)
        #expect(h.state(0) == .established)
    }

    @Test func collisionKeepsTheConnectionOfTheHigherIdentifier() {
        // 10.0.1.10 vs 169.254.6.2: the TGW's identifier is higher, so its connection (inbound for us) survives.
        #expect(collisionSurvivor(localIdentifier: addr4("10.0.1.10"), remoteIdentifier: addr4("169.254.6.2")) == .inbound)
        #expect(collisionSurvivor(localIdentifier: addr4("169.254.6.2"), remoteIdentifier: addr4("10.0.1.10")) == .outbound)
        // The losing connection's machine sends Cease/Connection Collision Resolution and closes.
        var loser = BGPSessionStateMachine(configuration: applianceConfig(), randomSeed: 3)
        _ = loser.handle(.manualStart); _ = loser.handle(.tcpConnectionAcknowledged)
        _ = loser.handle(.message(.open(tgwConfig().open)))
        let actions = loser.handle(.collisionDump)
        #expect(actions.prefix(2) == [.send(.notification(.cease(.connectionCollisionResolution))), .closeConnection])
        #expect(hexString(BGPMessage.notification(.cease(.connectionCollisionResolution)).encoded()) == notificationHeader(21) + "0607")
        #expect(loser.state == .idle)
    }

    @Test func twoOctetPeerGetsASTransAndDecodesWithTwoOctetContext() {
        var b = tgwConfig()
        b.localAS = 64512
        var a = applianceConfig(); a.localAS = 4_200_000_001
        b.peerAS = 4_200_000_001
        let h = Self.established(a, b)
        #expect(h.state(0) == .established)
        #expect(h.sides[1].fsm.negotiated?.peerAS == 4_200_000_001)
        // An OPEN without the 4-octet capability carrying AS_TRANS is a bad peer AS.
        var s = BGPSessionStateMachine(configuration: tgwConfig(), randomSeed: 1)
        _ = s.handle(.manualStart); _ = s.handle(.tcpConnectionAcknowledged)
        let old = BGPOpen(myAS: UInt16(asTrans), holdTime: 90, bgpIdentifier: addr4("10.0.1.10"), capabilities: [])
        #expect(s.handle(.message(.open(old))).contains(.send(.notification(.badPeerAS))))
        // A genuine 2-octet speaker negotiates 2-octet decoding and IPv4 unicast only.
        var t = BGPSessionStateMachine(configuration: tgwConfig(), randomSeed: 1)
        _ = t.handle(.manualStart); _ = t.handle(.tcpConnectionAcknowledged)
        _ = t.handle(.message(.open(BGPOpen(myAS: 65000, holdTime: 90, bgpIdentifier: addr4("10.0.1.10"), capabilities: []))))
        #expect(t.state == .openConfirm)
        #expect(t.decodingContext.fourOctetAS == false)
        #expect(t.decodingContext.families == [.ipv4Unicast])
    }
}
