// What goes into the session FSM (RFC 4271 §8.1 events) and what comes out
// (actions the edge executes: sockets, timers, messages, RIB delivery).

import Packet

/// The FSM's timers. The edge arms a real timer per `startTimer` and feeds
/// `timerExpired` back; starting a running timer restarts it.
public enum BGPTimer: Hashable, Sendable, CaseIterable {
    case connectRetry
    case hold
    case keepalive
    /// Wait before an automatic restart after an error (doubles per failure).
    case idleHold
    /// Runs while Established; when it fires the restart backoff is forgotten.
    case dampingReset
}

/// Which side opened a TCP connection (for collision resolution).
public enum ConnectionDirection: Hashable, Sendable {
    case outbound
    case inbound
}

/// Inputs to the session FSM.
public enum BGPSessionEvent: Hashable, Sendable {
    /// Operator enables the neighbour (events 1/4/5).
    case manualStart
    /// The system starts the session (event 3/5: at boot, after configuration); unlike
    /// `manualStart` it keeps the restart backoff and waits for a pending idle hold timer.
    case automaticStart
    /// Operator disables it: send the NOTIFICATION (default Cease/Administrative Shutdown) and stay Idle (event 2).
    case manualStop(BGPNotification)
    /// Reset the session and come back automatically: admin reset, max-prefix teardown with restart.
    case reset(BGPNotification)
    /// Our outgoing connection is up (event 16).
    case tcpConnectionAcknowledged
    /// An incoming connection was accepted (event 17).
    case tcpConnectionConfirmed
    /// The connection failed or was closed by the peer (event 18).
    case tcpConnectionFails
    case timerExpired(BGPTimer)
    /// A message decoded with `decodingContext`.
    case message(InboundMessage)
    /// Decoding failed: this NOTIFICATION must be sent (events 21, 22, 28).
    case decodeError(BGPNotification)
    /// This connection lost the collision resolution (event 23): Cease 7.
    case collisionDump
}

/// Why an Established (or establishing) session went down.
public enum SessionDownReason: Hashable, Sendable, CustomStringConvertible {
    case notificationSent(BGPNotification)
    case notificationReceived(BGPNotification)
    case connectionLost

    public var description: String {
        switch self {
        case .notificationSent(let n): "sent \(n)"
        case .notificationReceived(let n): "received \(n)"
        case .connectionLost: "connection lost"
        }
    }
}

/// Outputs of the session FSM, executed by the edge in order.
public enum BGPSessionAction: Hashable, Sendable {
    /// Open a TCP connection to the peer.
    case connect
    case send(BGPMessage)
    /// Close the connection (after flushing anything sent before).
    case closeConnection
    case startTimer(BGPTimer, Duration)
    case stopTimer(BGPTimer)
    /// OPEN exchange completed.
    case established(NegotiatedSession)
    /// An UPDATE for the Adj-RIB-In.
    case deliver(ReceivedUpdate)
    /// The peer asks us to re-send our routes for a family.
    case routeRefreshRequested(BGPRouteRefresh)
    /// The session left Established. With `retainRoutesFor` set, graceful restart applies:
    /// mark the peer's routes stale for that many seconds instead of withdrawing them.
    case sessionDown(SessionDownReason, retainRoutesFor: UInt16?)
}
