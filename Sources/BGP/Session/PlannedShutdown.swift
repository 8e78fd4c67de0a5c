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

/// Whether a session has received its peer's initial routes (RFC 4724 §2 End-of-RIB), per
/// session and reset when the session goes down. A peer that announced the graceful restart
/// capability promised End-of-RIB for every family; one that did not may never send it, so for
/// it the first KEEPALIVE after an UPDATE in this session counts as an implicit End-of-RIB.
/// (FRR's update-delay takes the first KEEPALIVE after Established; but FRR 8.4 with
/// `bgp graceful-restart-disable` announces its routes only after its coalesce time, 1 s by
/// default, which can come after its first KEEPALIVE, and then does send End-of-RIB: a KEEPALIVE
/// before any UPDATE proves nothing.) TCP keeps order: whatever the peer queued before that
/// KEEPALIVE has arrived. A peer that sends neither holds `bgp update-delay` until it expires.
public struct InitialRoutes: Sendable, Equatable {
    /// The negotiated families (empty while not Established).
    public private(set) var families: Set<AddressFamily> = []
    /// Families whose End-of-RIB arrived in this session.
    public private(set) var endOfRIB: Set<AddressFamily> = []
    /// The peer sent the graceful restart capability (so End-of-RIB is to be expected).
    public private(set) var promisesEndOfRIB = false
    /// A KEEPALIVE arrived after an UPDATE, from a peer that promised no End-of-RIB.
    public private(set) var implicitEndOfRIB = false
    /// An UPDATE (routes, withdrawals or End-of-RIB) arrived in this session.
    public private(set) var updateReceived = false
    public private(set) var established = false

    public init() {}

    /// The session reached Established with these families.
    public mutating func established(families: Set<AddressFamily>, peerHasGracefulRestart: Bool) {
        self = InitialRoutes()
        self.families = families
        promisesEndOfRIB = peerHasGracefulRestart
        established = true
    }

    /// The session went down: nothing received counts any more.
    public mutating func down() { self = InitialRoutes() }

    /// An End-of-RIB marker arrived. Returns true the first time for a negotiated family.
    @discardableResult
    public mutating func endOfRIBReceived(_ family: AddressFamily) -> Bool {
        guard established, families.contains(family) else { return false }
        return endOfRIB.insert(family).inserted
    }

    /// An UPDATE arrived while Established.
    public mutating func updateArrived() {
        if established { updateReceived = true }
    }

    /// A KEEPALIVE arrived while Established. Returns true when it completes the initial
    /// routes (the peer promised no End-of-RIB, an UPDATE came before, and this is the first such).
    @discardableResult
    public mutating func keepaliveReceived() -> Bool {
        guard established, !promisesEndOfRIB, updateReceived, !implicitEndOfRIB, !complete else { return false }
        implicitEndOfRIB = true
        return true
    }

    /// The families still without End-of-RIB (empty once complete).
    public var missing: [AddressFamily] {
        guard !implicitEndOfRIB else { return [] }
        return families.subtracting(endOfRIB).sorted()
    }

    /// Established and every negotiated family's initial routes are in.
    public var complete: Bool { established && missing.isEmpty }
}

/// One neighbour as `bgp update-delay` sees it (plain values from the session).
public struct UpdateDelayNeighbor: Sendable, Equatable {
    public var address: String
    /// Shut down or stopped (max-prefix): not waited for.
    public var inactive: Bool
    public var initialRoutes: InitialRoutes

    public init(address: String, inactive: Bool, initialRoutes: InitialRoutes) {
        self.address = address
        self.inactive = inactive
        self.initialRoutes = initialRoutes
    }
}

/// How far the learned routes got on their way from the sessions to forwarding.
public struct LearnedRouteHandOver: Sendable, Equatable {
    /// Changes the speaker still coalesces before handing them over.
    public var speakerHolding: Bool
    /// The engine's table does not have the latest changes yet.
    public var engineBehind: Bool
    /// Route changes not yet written into the kernel.
    public var kernelBehind: Int

    public init(speakerHolding: Bool = false, engineBehind: Bool = false, kernelBehind: Int = 0) {
        self.speakerHolding = speakerHolding
        self.engineBehind = engineBehind
        self.kernelBehind = kernelBehind
    }
}

extension UpdateDelay {
    /// What the start-up hold still waits for, in order: neighbours not Established, Established
    /// neighbours without End-of-RIB (explicit, or implicit for peers without graceful restart)
    /// for a negotiated family, WCCP services without an assignment (`unassignedServices`,
    /// already named), then the learned routes received so far on their way into the engine
    /// and the kernel. Empty: converged. Pure; the caller gathers the values.
    public static func pending(neighbors: [UpdateDelayNeighbor], unassignedServices: [String],
                               routes: LearnedRouteHandOver) -> [String] {
        var out: [String] = []
        for n in neighbors where !n.inactive {
            if !n.initialRoutes.established {
                out.append("neighbor \(n.address)")
            } else if !n.initialRoutes.complete {
                out.append("neighbor \(n.address) End-of-RIB (" + n.initialRoutes.missing.map(\.description).joined(separator: ", ") + ")")
            }
        }
        out += unassignedServices
        if routes.speakerHolding { out.append("learned routes from BGP") }
        if routes.engineBehind { out.append("learned routes into the forwarding table") }
        if routes.kernelBehind > 0 { out.append("learned routes into the kernel (\(routes.kernelBehind) changes)") }
        return out
    }
}
