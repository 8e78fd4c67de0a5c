import Testing
@testable import Control

/// The pure track state machine: time is an input.
@Suite struct TrackStateTests {
    @Test func startsDownAndFollowsProbesWithoutDelays() {
        var t = TrackState()
        #expect(!t.isUp)
        #expect(t.probe(succeeded: false, at: .seconds(0)) == nil)
        #expect(t.probe(succeeded: true, roundTrip: .milliseconds(3), at: .seconds(1)) == .wentUp)
        #expect(t.isUp && t.lastRoundTrip == .milliseconds(3))
        #expect(t.probe(succeeded: true, at: .seconds(2)) == nil)
        #expect(t.probe(succeeded: false, at: .seconds(3)) == .wentDown)
        #expect(!t.isUp && t.changes == 2 && t.probes == 4 && t.failures == 2 && t.lastChange == .seconds(3))
    }

    @Test func delaysNeedTheNewResultToPersist() {
        var t = TrackState(upDelay: .seconds(5), downDelay: .seconds(3))
        #expect(t.probe(succeeded: true, at: .seconds(10)) == nil)
        #expect(t.probe(succeeded: true, at: .seconds(14)) == nil)
        #expect(t.probe(succeeded: true, at: .seconds(15)) == .wentUp)
        // A failure then a success: the pending down is cancelled.
        #expect(t.probe(succeeded: false, at: .seconds(16)) == nil)
        #expect(t.disagreeingSince == .seconds(16))
        #expect(t.probe(succeeded: true, at: .seconds(17)) == nil)
        #expect(t.disagreeingSince == nil)
        // Failures for 3 s: down, counted from the first failure.
        #expect(t.probe(succeeded: false, at: .seconds(20)) == nil)
        #expect(t.probe(succeeded: false, at: .seconds(22)) == nil)
        #expect(t.probe(succeeded: false, at: .seconds(23)) == .wentDown)
        #expect(t.changes == 2)
    }

    @Test func resetTakesItDownAtOnce() {
        var t = TrackState(upDelay: .zero, downDelay: .seconds(60))
        _ = t.probe(succeeded: true, at: .seconds(1))
        #expect(t.reset(at: .seconds(2)) == .wentDown)
        #expect(t.reset(at: .seconds(3)) == nil)
        #expect(!t.isUp)
    }
}
