// Two pieces of session-level policy around the appliance's own start and stop,
// as plain values driven by events and a clock (time is an input; no I/O):
//
// * `GracefulShutdown`: a planned stop with `bgp graceful-shutdown drain-time`.
//   In the spirit of RFC 8326, but the Transit Gateway does not act on the
//   GRACEFUL_SHUTDOWN community, so we withdraw instead: withdraw every route
//   we advertise, keep forwarding for the drain time (the peer's ECMP moves
//   the flows to the other appliances), then Cease with Administrative
//   Shutdown and an RFC 9003 shutdown communication. A second stop request
//   ends the drain at once.
// * `UpdateDelay`: `bgp update-delay` (FRR/NX-OS). After start our routes are
//   held back until everything the appliance waits for is ready (neighbours
//   Established, WCCP assignments in) or the delay has passed, so that a
//   restarted appliance attracts flows only when its redirect state is back.

/// The planned-stop sequence. Feed it stop requests and drain-timer expiries; execute its actions.
public struct GracefulShutdown: Sendable, Equatable {
    /// The shutdown communication sent with the Cease.
    public static let message = "egressd stopping"

    public enum Phase: Sendable, Equatable {
        /// Normal operation.
        case running
        /// Routes withdrawn, still forwarding until `until`.
        case draining(since: Duration, until: Duration)
        /// Cease sent (or being sent); the process exits.
        case stopped
    }

    public enum Action: Sendable, Equatable {
        /// Withdraw every route we advertise, from every peer; keep the sessions and forwarding.
        case withdrawAll
        /// Call `drainTimerExpired` after this long.
        case armDrainTimer(Duration)
        /// Send Cease / Administrative Shutdown with `message` to every peer, then exit.
        case ceaseAndExit(message: String)
    }

    /// How long to drain; nil or zero: a stop request ceases at once.
    public var drainTime: Duration?
    public private(set) var phase: Phase = .running

    public init(drainTime: Duration?) { self.drainTime = drainTime }

    public var isDraining: Bool { if case .draining = phase { true } else { false } }

    /// SIGTERM / SIGINT (or any planned stop) at `now`.
    public mutating func stopRequested(at now: Duration) -> [Action] {
        switch phase {
        case .running:
            guard let drain = drainTime, drain > .zero else {
                phase = .stopped
                return [.ceaseAndExit(message: Self.message)]
            }
            phase = .draining(since: now, until: now + drain)
            return [.withdrawAll, .armDrainTimer(drain)]
        case .draining:
            // The operator does not want to wait.
            phase = .stopped
            return [.ceaseAndExit(message: Self.message)]
        case .stopped:
            return []
        }
    }

    /// The drain timer fired at `now` (possibly early: it is re-armed for the rest).
    public mutating func drainTimerExpired(at now: Duration) -> [Action] {
        guard case .draining(_, let until) = phase else { return [] }
        if now < until { return [.armDrainTimer(until - now)] }
        phase = .stopped
        return [.ceaseAndExit(message: Self.message)]
    }

    /// Time left in the drain (nil when not draining).
    public func remaining(at now: Duration) -> Duration? {
        guard case .draining(_, let until) = phase else { return nil }
        return max(.zero, until - now)
    }
}

/// `bgp update-delay`: holds our advertisements after start until converged or the delay passed.
/// Once released it stays released (it only applies to the start).
public struct UpdateDelay: Sendable, Equatable {
    public let delay: Duration
    public let startedAt: Duration
    /// When and why the hold ended; nil while holding.
    public private(set) var releasedAt: Duration?
    public private(set) var releaseReason: String?
    /// What the last evaluation still waited for.
    public private(set) var waitingFor: [String] = []

    public init(delay: Duration, startedAt: Duration) {
        self.delay = delay
        self.startedAt = startedAt
    }

    /// Whether our routes are held back.
    public var isHolding: Bool { releasedAt == nil }

    /// Evaluates at `now` with what is still not ready (empty: converged). Returns true when the
    /// hold ends with this call, so that the caller advertises.
    public mutating func evaluate(at now: Duration, waitingFor pending: [String]) -> Bool {
        guard releasedAt == nil else { return false }
        waitingFor = pending
        if pending.isEmpty {
            releasedAt = now
            releaseReason = "converged after \(Self.seconds(now - startedAt))"
            return true
        }
        if now - startedAt >= delay {
            releasedAt = now
            releaseReason = "update-delay of \(Self.seconds(delay)) expired, still waiting for " + pending.joined(separator: ", ")
            return true
        }
        return false
    }

    /// Time until the delay expires (nil once released).
    public func remaining(at now: Duration) -> Duration? {
        guard releasedAt == nil else { return nil }
        return max(.zero, startedAt + delay - now)
    }

    /// "2.5 s".
    static func seconds(_ d: Duration) -> String {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms / 1000).\(ms % 1000 / 100) s"
    }
}
