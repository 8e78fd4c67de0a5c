// A tracked object's state as a pure value: probe results in (with the time
// they were taken), state changes out. IOS semantics: the object starts down;
// a result that disagrees with the state starts the delay of that direction
// (`delay down`, `delay up`), and the state flips once results have kept
// disagreeing for that long; one agreeing result cancels the pending change.
// No clock is read here: time is an input, so tests drive it directly.

import Commands

/// One `track N` object.
public struct TrackState: Equatable, Sendable {
    public enum Change: Equatable, Sendable { case wentUp, wentDown }

    public private(set) var isUp = false
    /// When results started disagreeing with the state (nil: they agree).
    public private(set) var disagreeingSince: Duration?
    public private(set) var changes = 0
    public private(set) var lastChange: Duration?
    /// The last probe: its time, whether it succeeded, its round trip.
    public private(set) var lastProbe: Duration?
    public private(set) var lastSucceeded = false
    public private(set) var lastRoundTrip: Duration?
    public private(set) var probes = 0
    public private(set) var failures = 0

    public var upDelay: Duration
    public var downDelay: Duration

    public init(upDelay: Duration = .zero, downDelay: Duration = .zero) {
        self.upDelay = upDelay; self.downDelay = downDelay
    }

    /// Feeds one probe result taken at `now` (time since any fixed origin).
    public mutating func probe(succeeded: Bool, roundTrip: Duration? = nil, at now: Duration) -> Change? {
        probes += 1
        if !succeeded { failures += 1 }
        lastProbe = now
        lastSucceeded = succeeded
        lastRoundTrip = succeeded ? roundTrip : nil
        guard succeeded != isUp else {
            disagreeingSince = nil
            return nil
        }
        let since = disagreeingSince ?? now
        disagreeingSince = since
        guard now - since >= (succeeded ? upDelay : downDelay) else { return nil }
        isUp = succeeded
        disagreeingSince = nil
        changes += 1
        lastChange = now
        return succeeded ? .wentUp : .wentDown
    }

    /// The object's operation went away (or lost its target): down at once.
    public mutating func reset(at now: Duration) -> Change? {
        disagreeingSince = nil
        guard isUp else { return nil }
        isUp = false
        changes += 1
        lastChange = now
        return .wentDown
    }
}
