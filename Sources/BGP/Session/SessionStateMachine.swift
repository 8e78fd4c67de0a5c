// The RFC 4271 §8 finite state machine of one BGP connection, as a value:
// events in, actions out. No sockets, no clock: timers are actions, their
// expiry is an event, and jitter comes from a seeded generator owned by the
// machine, so tests drive it deterministically.

import Packet

/// One peer's session FSM.
public struct BGPSessionStateMachine: Sendable {
    public let configuration: BGPSessionConfiguration
    public private(set) var state: BGPSessionState = .idle
    /// Set once the peer's OPEN was accepted; cleared when the session goes down.
    public private(set) var negotiated: NegotiatedSession?
    /// The peer's OPEN as received (also needed by the edge for collision resolution).
    public private(set) var peerOpen: BGPOpen?
    /// Failures since the last stable session; sets the idle hold backoff.
    public private(set) var consecutiveFailures = 0
    /// Whether the operator has the neighbour enabled.
    public private(set) var enabled = false
    private var random: SplitMix64
    /// An automatic restart is scheduled by the idle hold timer.
    private var waitingForIdleHold = false

    public init(configuration: BGPSessionConfiguration, randomSeed: UInt64) {
        self.configuration = configuration
        self.random = SplitMix64(seed: randomSeed)
    }

    /// How to decode this peer's UPDATEs now (the negotiated context once known).
    public var decodingContext: UpdateDecodingContext {
        negotiated?.decodingContext
            ?? UpdateDecodingContext(fourOctetAS: true, localAS: configuration.localAS, peerAS: configuration.peerAS,
                                     families: Set(configuration.families))
    }

    /// Feeds one event; returns the actions to execute in order.
    public mutating func handle(_ event: BGPSessionEvent) -> [BGPSessionAction] {
        switch (state, event) {
        // Operator control, any state.
        case (_, .manualStart):
            guard state == .idle else { return [] }
            enabled = true
            consecutiveFailures = 0
            waitingForIdleHold = false
            return [.stopTimer(.idleHold)] + start()
        case (_, .automaticStart):
            enabled = true
            guard state == .idle, !waitingForIdleHold else { return [] }
            return start()
        case (_, .manualStop(let n)):
            enabled = false
            return stop(sending: state == .idle ? nil : n, restart: false)
        case (.idle, .reset):
            return []
        case (_, .reset(let n)):
            return stop(sending: n, restart: true)

        // Idle: only the restart wait matters.
        case (.idle, .timerExpired(.idleHold)):
            waitingForIdleHold = false
            return enabled ? start() : []
        case (.idle, _):
            return []

        // Connect and Active: waiting for TCP.
        case (.connect, .timerExpired(.connectRetry)):
            return [.closeConnection, startConnectRetry(), .connect]
        case (.active, .timerExpired(.connectRetry)):
            if configuration.passive { return [startConnectRetry()] }
            state = .connect
            return [startConnectRetry(), .connect]
        case (.connect, .tcpConnectionAcknowledged), (.connect, .tcpConnectionConfirmed),
             (.active, .tcpConnectionAcknowledged), (.active, .tcpConnectionConfirmed):
            state = .openSent
            return [.stopTimer(.connectRetry), .send(.open(configuration.open)),
                    .startTimer(.hold, .seconds(Int(configuration.largeHoldTime)))]
        case (.connect, .tcpConnectionFails), (.active, .tcpConnectionFails):
            state = .active
            return [startConnectRetry()]
        case (.connect, .timerExpired), (.active, .timerExpired):
            // A stale expiry of a timer this state does not run (a race at the edge).
            return []
        case (.connect, _), (.active, _):
            // Anything else before a connection exists is an FSM error without a NOTIFICATION.
            return fail(notification: nil, reason: .connectionLost)

        // OpenSent: waiting for the peer's OPEN.
        case (.openSent, .message(.open(let open))):
            let negotiated: NegotiatedSession
            do {
                negotiated = try OpenNegotiation.negotiate(open, configuration: configuration)
            } catch {
                return fail(notification: error, reason: .notificationSent(error))
            }
            self.negotiated = negotiated
            self.peerOpen = open
            state = .openConfirm
            var actions: [BGPSessionAction] = [.stopTimer(.connectRetry), .send(.keepalive)]
            actions += armSessionTimers()
            return actions
        case (.openSent, .tcpConnectionFails):
            // RFC 4271: back to Active, listening, with the connect retry timer running.
            state = .active
            return [.closeConnection, .stopTimer(.hold), startConnectRetry()]

        // Timers and failures common to OpenSent, OpenConfirm and Established.
        case (_, .timerExpired(.hold)):
            return fail(notification: .holdTimerExpired, reason: .notificationSent(.holdTimerExpired))
        case (.openConfirm, .timerExpired(.keepalive)), (.established, .timerExpired(.keepalive)):
            return [.send(.keepalive), startKeepalive()]
        case (.established, .timerExpired(.dampingReset)):
            consecutiveFailures = 0
            return []
        case (_, .timerExpired):
            return []
        case (_, .tcpConnectionFails):
            return fail(notification: nil, reason: .connectionLost)
        case (_, .message(.notification(let n))):
            return fail(notification: nil, reason: .notificationReceived(n))
        case (_, .decodeError(let n)):
            return fail(notification: n, reason: .notificationSent(n))
        case (_, .collisionDump):
            let n = BGPNotification.cease(.connectionCollisionResolution)
            // Losing a collision is not the peer's fault: no backoff, but go down cleanly.
            let actions = stop(sending: n, restart: false)
            return actions
        case (.openSent, .tcpConnectionAcknowledged), (.openSent, .tcpConnectionConfirmed),
             (.openConfirm, .tcpConnectionAcknowledged), (.openConfirm, .tcpConnectionConfirmed),
             (.established, .tcpConnectionAcknowledged), (.established, .tcpConnectionConfirmed):
            // A second connection is the edge's collision to resolve; this one is unaffected.
            return []

        // OpenConfirm: waiting for the KEEPALIVE that confirms our OPEN.
        case (.openConfirm, .message(.keepalive)):
            state = .established
            guard let negotiated else { return fail(notification: .finiteStateMachineError(unexpectedIn: .openConfirm), reason: .connectionLost) }
            return restartHold() + [.startTimer(.dampingReset, .seconds(Int(configuration.dampingResetTime))),
                                    .established(negotiated)]

        // Established.
        case (.established, .message(.keepalive)):
            return restartHold()
        case (.established, .message(.update(let update))):
            return restartHold() + [.deliver(update)]
        case (.established, .message(.routeRefresh(let rr))):
            // RFC 2918 §4: ignore a refresh we did not agree to or for a family not negotiated.
            guard negotiated?.routeRefresh == true, negotiated?.families.contains(rr.family) == true else { return restartHold() }
            return restartHold() + [.routeRefreshRequested(rr)]

        // Any other message is unexpected in this state: RFC 6608 subcodes.
        case (.openSent, .message), (.openConfirm, .message), (.established, .message):
            let n = BGPNotification.finiteStateMachineError(unexpectedIn: state)
            return fail(notification: n, reason: .notificationSent(n))
        }
    }

    // MARK: helpers

    /// Idle -> Connect (active) or Active (passive).
    private mutating func start() -> [BGPSessionAction] {
        if configuration.passive {
            state = .active
            return [startConnectRetry()]
        }
        state = .connect
        return [startConnectRetry(), .connect]
    }

    /// Goes to Idle, sending `notification` if a connection exists, reporting the reason.
    /// With `restart`, an automatic start follows after the idle hold time.
    private mutating func stop(sending notification: BGPNotification?, restart: Bool) -> [BGPSessionAction] {
        let reason: SessionDownReason = notification.map { .notificationSent($0) } ?? .connectionLost
        return goIdle(notification: notification, reason: reason, backoff: false, restart: restart && enabled)
    }

    /// An error: go Idle and, if enabled, restart after a growing wait.
    private mutating func fail(notification: BGPNotification?, reason: SessionDownReason) -> [BGPSessionAction] {
        consecutiveFailures += 1
        return goIdle(notification: notification, reason: reason, backoff: true,
                      restart: enabled && configuration.automaticRestart)
    }

    private mutating func goIdle(notification: BGPNotification?, reason: SessionDownReason,
                                 backoff: Bool, restart: Bool) -> [BGPSessionAction] {
        let wasEstablished = state == .established
        let hadConnection = state == .openSent || state == .openConfirm || state == .established
        var actions: [BGPSessionAction] = []
        if let notification, hadConnection { actions.append(.send(.notification(notification))) }
        if state != .idle { actions.append(.closeConnection) }
        actions += BGPTimer.allCases.filter { $0 != .idleHold }.map { .stopTimer($0) }
        if wasEstablished {
            actions.append(.sessionDown(reason, retainRoutesFor: gracefulRestartRetention(for: reason)))
        }
        state = .idle
        negotiated = nil
        peerOpen = nil
        if restart {
            let wait = backoff ? idleHoldSeconds() : Double(configuration.idleHoldTime)
            actions.append(.startTimer(.idleHold, jittered(seconds: wait)))
            waitingForIdleHold = true
        } else {
            actions.append(.stopTimer(.idleHold))
            waitingForIdleHold = false
        }
        return actions
    }

    /// RFC 4724 / 8538: keep a GR-capable peer's routes (stale) when the session
    /// drops without an explicit hard stop.
    private func gracefulRestartRetention(for reason: SessionDownReason) -> UInt16? {
        guard let gr = negotiated?.peerGracefulRestart, configuration.gracefulRestartTime != nil else { return nil }
        switch reason {
        case .connectionLost:
            return gr.restartTime
        case .notificationSent(let n), .notificationReceived(let n):
            // RFC 8538: with N bits on both sides (ours is always set) a NOTIFICATION keeps
            // the routes, except Hard Reset and an operator's shutdown or deconfiguration.
            guard gr.notification else { return nil }
            let hardStops: Set<UInt8> = [CeaseReason.hardReset.rawValue, CeaseReason.administrativeShutdown.rawValue,
                                         CeaseReason.peerDeconfigured.rawValue]
            if n.code == BGPNotification.Code.cease, hardStops.contains(n.subcode) { return nil }
            return gr.restartTime
        }
    }

    private func idleHoldSeconds() -> Double {
        let base = Double(configuration.idleHoldTime)
        let doubled = base * Double(1 << min(max(consecutiveFailures - 1, 0), 16))
        return min(doubled, Double(configuration.maximumIdleHoldTime))
    }

    private mutating func armSessionTimers() -> [BGPSessionAction] {
        guard let n = negotiated, n.holdTime > 0 else { return [.stopTimer(.hold), .stopTimer(.keepalive)] }
        return [.startTimer(.hold, .seconds(Int(n.holdTime))), startKeepalive()]
    }

    private func restartHold() -> [BGPSessionAction] {
        guard let n = negotiated, n.holdTime > 0 else { return [] }
        return [.startTimer(.hold, .seconds(Int(n.holdTime)))]
    }

    private mutating func startKeepalive() -> BGPSessionAction {
        .startTimer(.keepalive, jittered(seconds: Double(negotiated?.keepaliveTime ?? configuration.keepaliveTime)))
    }

    private mutating func startConnectRetry() -> BGPSessionAction {
        .startTimer(.connectRetry, jittered(seconds: Double(configuration.connectRetryTime)))
    }

    /// RFC 4271 §10: jitter by a random factor in 0.75...1.0.
    private mutating func jittered(seconds: Double) -> Duration {
        let factor = Double.random(in: 0.75...1.0, using: &random)
        return .milliseconds(Int(seconds * factor * 1000 + 0.5))
    }
}

/// Which connection survives a collision (RFC 4271 §6.8): the one opened by
/// the side with the higher BGP identifier.
public func collisionSurvivor(localIdentifier: IPv4Address, remoteIdentifier: IPv4Address) -> ConnectionDirection {
    localIdentifier.value > remoteIdentifier.value ? .outbound : .inbound
}

