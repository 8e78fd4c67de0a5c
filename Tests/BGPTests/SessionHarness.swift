// Drives two session FSMs against each other through encoded bytes, with a
// fake clock that fires the timers they arm (as swift-nio-ssh's state
// machine tests drive a client and a server). No sockets, no real time.

import Testing
@testable import BGP
import Packet

struct SessionHarness {
    struct Side {
        var fsm: BGPSessionStateMachine
        /// Armed timers and their deadlines on the fake clock.
        var timers: [BGPTimer: Duration] = [:]
        var decoder = BGPFrameDecoder()
        /// Every action executed, in order.
        var log: [BGPSessionAction] = []
        /// Every message received.
        var received: [InboundMessage] = []
    }

    var sides: [Side]
    var now: Duration = .zero
    var connected = false
    /// Feed received bytes one at a time (swift-nio-ssh's "dripFeed").
    var dripFeed = false
    /// While set, bytes from this side are lost (a black hole), to expire the other's hold timer.
    var blackHoled: Int?
    private var pending: [(to: Int, event: BGPSessionEvent)] = []

    init(_ a: BGPSessionConfiguration, _ b: BGPSessionConfiguration, seeds: (UInt64, UInt64) = (1, 2)) {
        sides = [Side(fsm: BGPSessionStateMachine(configuration: a, randomSeed: seeds.0)),
                 Side(fsm: BGPSessionStateMachine(configuration: b, randomSeed: seeds.1))]
    }

    func state(_ i: Int) -> BGPSessionState { sides[i].fsm.state }

    mutating func send(_ event: BGPSessionEvent, to i: Int) {
        pending.append((i, event))
        drain()
    }

    /// Moves the clock forward, firing due timers in deadline order.
    mutating func advance(by interval: Duration) {
        let end = now + interval
        while true {
            var next: (side: Int, timer: BGPTimer, at: Duration)?
            for i in 0..<2 {
                for (t, at) in sides[i].timers where at <= end && (next == nil || at < next!.at) { next = (i, t, at) }
            }
            guard let fire = next else { break }
            now = fire.at
            sides[fire.side].timers[fire.timer] = nil
            send(.timerExpired(fire.timer), to: fire.side)
        }
        now = end
    }

    private mutating func drain() {
        while !pending.isEmpty {
            let (i, event) = pending.removeFirst()
            let actions = sides[i].fsm.handle(event)
            for action in actions { execute(action, from: i) }
        }
    }

    private mutating func execute(_ action: BGPSessionAction, from i: Int) {
        sides[i].log.append(action)
        let other = 1 - i
        switch action {
        case .connect:
            // The peer accepts only when it is waiting for a connection.
            if !connected, [.connect, .active].contains(state(other)) {
                connected = true
                pending.append((i, .tcpConnectionAcknowledged))
                pending.append((other, .tcpConnectionConfirmed))
            } else if !connected {
                pending.append((i, .tcpConnectionFails))
            }
        case .send(let message):
            guard connected, blackHoled != i else { return }
            let bytes = message.encoded(fourOctetAS: sides[i].fsm.negotiated?.fourOctetAS ?? true)
            let chunks = dripFeed ? bytes.map { [$0] } : [bytes]
            for chunk in chunks {
                sides[other].decoder.append(chunk)
                do {
                    while let frame = try sides[other].decoder.nextFrame() {
                        let event: BGPSessionEvent
                        do {
                            let m = try InboundMessage.decode(frame: frame, context: sides[other].fsm.decodingContext)
                            sides[other].received.append(m)
                            event = .message(m)
                        } catch {
                            event = .decodeError(error)
                        }
                        pending.append((other, event))
                    }
                } catch {
                    pending.append((other, .decodeError(error)))
                }
            }
        case .closeConnection:
            if connected {
                connected = false
                sides[0].decoder = BGPFrameDecoder(); sides[1].decoder = BGPFrameDecoder()
                pending.append((other, .tcpConnectionFails))
            }
        case .startTimer(let t, let d):
            sides[i].timers[t] = now + d
        case .stopTimer(let t):
            sides[i].timers[t] = nil
        case .established, .deliver, .routeRefreshRequested, .sessionDown:
            break
        }
    }

    /// Messages side `i` sent, in order.
    func sent(by i: Int) -> [BGPMessage] {
        sides[i].log.compactMap { if case .send(let m) = $0 { m } else { nil } }
    }
}

/// Our appliance (AS 65000) and the Transit Gateway stand-in (AS 64512).
func applianceConfig() -> BGPSessionConfiguration {
    BGPSessionConfiguration(localAS: 65000, peerAS: 64512, routerID: addr4("10.0.1.10"))
}

func tgwConfig() -> BGPSessionConfiguration {
    var c = BGPSessionConfiguration(localAS: 64512, peerAS: 65000, routerID: addr4("169.254.6.2"))
    c.holdTime = 90
    c.keepaliveTime = 30
    return c
}
