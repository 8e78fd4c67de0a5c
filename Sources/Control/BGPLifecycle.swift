// The appliance's side of `bgp graceful-shutdown drain-time` and `bgp update-delay`:
// the pure state machines (BGP/Session/PlannedShutdown.swift) get their inputs
// here (stop requests from the daemon's signal handler, BGP session changes,
// WCCP assignments, timers on the control loop) and their actions are executed
// here: holding back or withdrawing our routes is re-applying BGP with
// `holdsAdvertisements` set, which withdraws through the sessions' normal
// advertisement sync, so sessions and learned routes (the return path) stay.

import BGP
import Commands
import NIOCore
import NIOPosix

/// Planned-stop and update-delay state; owned by the appliance, used on the control thread only.
final class BGPLifecycle: @unchecked Sendable {
    var shutdown = GracefulShutdown(drainTime: nil)
    /// Present from the start of the speaker until released (then kept for `show`).
    var updateDelay: UpdateDelay?
    var updateDelayTimer: Scheduled<Void>?
    var drainTimer: Scheduled<Void>?
    /// Whether an update-delay evaluation is queued on the loop.
    var evaluationQueued = false
    /// How the daemon exits once the Cease is out (set by `requestStop`).
    var exit: (() -> Void)?

    /// Whether our routes are held back (start-up hold or drain).
    var holdsAdvertisements: Bool {
        shutdown.phase != .running || updateDelay?.isHolding == true
    }
}

extension Appliance {
    /// Time on the appliance's clock (the state machines' input).
    var lifecycleNow: Duration { ContinuousClock.now - startedAt }

    // MARK: graceful shutdown

    /// A planned stop (SIGTERM/SIGINT). With `bgp graceful-shutdown drain-time` the first
    /// request withdraws our routes and keeps forwarding for the drain time before `exit`
    /// runs; a second request, or no drain time, runs `exit` at once. Call on the control thread;
    /// `exit` is called there too and must not wait for the control thread.
    public func requestStop(exit: @escaping () -> Void) {
        bgpLifecycle.exit = exit
        performShutdown(bgpLifecycle.shutdown.stopRequested(at: lifecycleNow))
    }

    /// Whether a graceful-shutdown drain is running.
    public var isDraining: Bool { bgpLifecycle.shutdown.isDraining }

    private func performShutdown(_ actions: [GracefulShutdown.Action]) {
        for action in actions {
            switch action {
            case .withdrawAll:
                bgpLifecycle.updateDelayTimer?.cancel()
                let seconds = bgpLifecycle.shutdown.drainTime?.components.seconds ?? 0
                record("bgp graceful-shutdown: withdrawing our routes from every peer, forwarding for \(seconds) s more")
                applyBGP()
            case .armDrainTimer(let d):
                bgpLifecycle.drainTimer?.cancel()
                guard let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? bgpSpeaker?.eventLoop else { continue }
                bgpLifecycle.drainTimer = loop.scheduleTask(in: Self.timeAmount(d)) { [weak self] in
                    guard let self else { return }
                    self.bgpLifecycle.drainTimer = nil
                    self.performShutdown(self.bgpLifecycle.shutdown.drainTimerExpired(at: self.lifecycleNow))
                }
            case .ceaseAndExit(let message):
                bgpLifecycle.drainTimer?.cancel()
                bgpLifecycle.drainTimer = nil
                record("stopping: Cease (Administrative Shutdown, \"\(message)\") to every BGP peer")
                bgpLifecycle.exit?()
            }
        }
    }

    // MARK: update-delay

    /// Starts the start-up hold when `bgp update-delay` is configured (the speaker is being created).
    func startUpdateDelay(_ seconds: Int?) {
        bgpLifecycle.updateDelayTimer?.cancel()
        bgpLifecycle.updateDelayTimer = nil
        guard let seconds, bgpLifecycle.shutdown.phase == .running else {
            bgpLifecycle.updateDelay = nil
            return
        }
        bgpLifecycle.updateDelay = UpdateDelay(delay: .seconds(seconds), startedAt: lifecycleNow)
        record("bgp update-delay: holding our routes until every neighbor is Established with its End-of-RIB, every WCCP service has its assignment and the learned routes are in the forwarding table and the kernel, at most \(seconds) s")
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return }
        armUpdateDelayTimer(loop, in: .seconds(Int64(seconds)))
    }

    private func armUpdateDelayTimer(_ loop: EventLoop, in delay: TimeAmount) {
        bgpLifecycle.updateDelayTimer = loop.scheduleTask(in: delay) { [weak self] in
            guard let self else { return }
            self.bgpLifecycle.updateDelayTimer = nil
            self.evaluateUpdateDelay()
            // Fired a hair before the delay by the other clock: try again shortly.
            if self.bgpLifecycle.updateDelay?.isHolding == true { self.armUpdateDelayTimer(loop, in: .milliseconds(100)) }
        }
    }

    /// A session changed state or the WCCP assignments changed: re-check the hold on the
    /// next loop turn (not inside the speaker's or endpoint's own callback).
    func updateDelayInputChanged() {
        guard bgpLifecycle.updateDelay?.isHolding == true, !bgpLifecycle.evaluationQueued,
              let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return }
        bgpLifecycle.evaluationQueued = true
        loop.execute { [weak self] in
            self?.bgpLifecycle.evaluationQueued = false
            self?.evaluateUpdateDelay()
        }
    }

    /// Ends the hold when converged or expired, and advertises.
    func evaluateUpdateDelay() {
        guard var gate = bgpLifecycle.updateDelay, gate.isHolding else { return }
        let released = gate.evaluate(at: lifecycleNow, waitingFor: updateDelayPending())
        bgpLifecycle.updateDelay = gate
        guard released else { return }
        bgpLifecycle.updateDelayTimer?.cancel()
        bgpLifecycle.updateDelayTimer = nil
        record("bgp update-delay: \(gate.releaseReason ?? "released"); advertising our routes")
        applyBGP()
    }

    /// What the start-up hold still waits for (UpdateDelay.pending): neighbours not Established
    /// (and not shut down), Established ones without End-of-RIB, WCCP services without an
    /// assignment from their caches, learned routes not yet in the engine's table and the kernel.
    func updateDelayPending() -> [String] {
        let neighbors = (bgpSpeaker?.peerStatus() ?? []).map { p in
            UpdateDelayNeighbor(address: p.address.description, inactive: p.shutdown || !p.enabled, initialRoutes: p.initialRoutes)
        }
        var unassigned: [String] = []
        if wccpEndpoint != nil {
            for id in config.wccp.services.keys.sorted() {
                let assigned = redirectServices.contains { $0.serviceID == id && !$0.caches.isEmpty }
                if !assigned { unassigned.append("WCCP service \(config.wccp.services[id]?.name ?? String(id)) assignment") }
            }
        }
        return UpdateDelay.pending(neighbors: neighbors, unassignedServices: unassigned, routes: learnedRouteHandOver())
    }

    /// Where the learned routes received so far are on their way to forwarding.
    func learnedRouteHandOver() -> LearnedRouteHandOver {
        var h = LearnedRouteHandOver(speakerHolding: bgpSpeaker?.holdsUnpublishedRoutes ?? false)
        if let table = learned {
            h.engineBehind = table.engineSequence != table.changeSequence
            h.kernelBehind = table.kernel?.behind ?? 0
        }
        return h
    }

    // MARK: show

    /// Lines for `show ip bgp summary` and their JSON form (empty in normal operation).
    func lifecycleStatus() -> (lines: [String], json: [(String, JSON)]) {
        let now = lifecycleNow
        var lines: [String] = [], json: [(String, JSON)] = []
        if let left = bgpLifecycle.shutdown.remaining(at: now) {
            lines.append("Graceful shutdown: draining, routes withdrawn from all peers, Cease in \(left.components.seconds) s")
            json.append(("gracefulShutdown", .object([("state", .string("draining")),
                                                      ("remainingMsec", BGPShowFormat.milliseconds(left))])))
        } else if bgpLifecycle.shutdown.phase == .stopped {
            lines.append("Graceful shutdown: stopping")
            json.append(("gracefulShutdown", .object([("state", .string("stopping"))])))
        }
        if let gate = bgpLifecycle.updateDelay {
            if let left = gate.remaining(at: now) {
                let waiting = updateDelayPending()
                lines.append("Update delay: holding our routes, \(left.components.seconds) s left; waiting for "
                             + (waiting.isEmpty ? "nothing" : waiting.joined(separator: ", ")))
                json.append(("updateDelay", .object([("state", .string("holding")), ("remainingMsec", BGPShowFormat.milliseconds(left)),
                                                     ("waitingFor", .array(waiting.map { .string($0) }))])))
            } else {
                json.append(("updateDelay", .object([("state", .string("released")),
                                                     ("reason", gate.releaseReason.map { .string($0) } ?? .null)])))
            }
        }
        return (lines, json)
    }

    static func timeAmount(_ d: Duration) -> TimeAmount {
        let (s, atto) = d.components
        return .nanoseconds(s * 1_000_000_000 + atto / 1_000_000_000)
    }
}
