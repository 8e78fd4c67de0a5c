// One neighbour at the edge: its FSM, the connection the FSM drives, an
// inbound connection waiting for collision resolution (RFC 4271 §6.8), the
// FSM's timers armed on the event loop, and what we advertised. The FSM
// decides; this file only executes its actions and feeds back events.

import NIOCore
import NIOPosix
import Packet

/// A neighbour's session at the edge. Confined to the speaker's event loop.
final class PeerSession: @unchecked Sendable {
    unowned let speaker: BGPSpeaker
    private(set) var settings: BGPNeighborSettings
    private(set) var fsm: BGPSessionStateMachine
    /// The connection the FSM drives.
    private(set) var connection: BGPConnection?
    /// An inbound connection that arrived while `connection` was opening; it waits for its OPEN.
    private var candidate: BGPConnection?
    /// Increments per outbound attempt, so a late connect result of an abandoned attempt is dropped.
    private var connectAttempt = 0
    private var connecting = false
    private var timers: [BGPTimer: Scheduled<Void>] = [:]
    /// When each running timer expires, and when its scheduled task fires (no later).
    private var deadlines: [BGPTimer: NIODeadline] = [:]
    private var scheduledAt: [BGPTimer: NIODeadline] = [:]
    private var staleTimer: Scheduled<Void>?
    /// Our routes as last sent to the peer.
    private(set) var advertised: Set<IPPrefix> = []
    let ribPeer: PeerID

    // Counters for the shell.
    private(set) var messagesReceived = 0
    private(set) var messagesSent = 0
    /// UPDATE messages in and out (for the metrics endpoint).
    private(set) var updatesReceived = 0
    private(set) var updatesSent = 0
    private(set) var establishedAt: NIODeadline?
    private(set) var lastDownAt: NIODeadline?
    private(set) var establishedTransitions = 0
    /// Why the session last went down (or an error message was sent), as `show ip bgp neighbors` prints it.
    private(set) var lastError: String?
    /// The last failed connection attempt.
    private(set) var lastConnectError: String?
    /// Whether the peer's initial routes are in (End-of-RIB per family), for this session.
    private(set) var initialRoutes = InitialRoutes()

    init(speaker: BGPSpeaker, settings: BGPNeighborSettings, ribPeer: PeerID, seed: UInt64) {
        self.speaker = speaker
        self.settings = settings
        self.ribPeer = ribPeer
        fsm = BGPSessionStateMachine(configuration: settings.session, randomSeed: seed)
    }

    var state: BGPSessionState { fsm.state }
    var negotiated: NegotiatedSession? { fsm.negotiated }

    // MARK: operator control

    /// Starts the session unless the neighbour is shut down.
    func start() {
        guard !settings.shutdown else { return }
        handle(.automaticStart)
    }

    /// Stops the session, sending `notification`; it stays down until `start` or `clear`.
    func stop(_ notification: BGPNotification) {
        handle(.manualStop(notification))
        dropCandidate()
    }

    /// `clear ip bgp ADDR`: resets and restarts (also a neighbour stopped by max-prefix).
    func clear() {
        guard !settings.shutdown else { return }
        if fsm.enabled && fsm.state != .idle {
            handle(.reset(.cease(.administrativeReset)))
        } else {
            handle(.manualStart)
        }
    }

    /// `clear ip bgp ADDR soft`: re-send our routes and ask the peer for its own.
    func softClear() {
        guard state == .established, let n = negotiated else { return }
        for family in n.families.sorted() {
            advertised = advertised.filter { $0.family != family }
            if n.routeRefresh { send(.routeRefresh(BGPRouteRefresh(family: family))) }
        }
        syncAdvertisements()
    }

    /// Applies new settings that do not need a reset (advertisements, policy, shutdown).
    func update(_ new: BGPNeighborSettings) {
        let old = settings
        settings = new
        if new.shutdown != old.shutdown {
            if new.shutdown { stop(.administrativeShutdown()) } else { handle(.manualStart) }
        }
        if new.importPolicy != old.importPolicy || new.maximumPrefix != old.maximumPrefix || new.keepReceived != old.keepReceived {
            speaker.updateRIBPeer(self)
            if state == .established, old.keepReceived && new.keepReceived {
                // Soft reconfiguration inbound: the routes as received are here; re-apply locally.
                speaker.reapplyImportPolicy(self)
            } else if state == .established, let n = negotiated, n.routeRefresh {
                // Routes refused before may pass now: ask the peer to send them again.
                for family in n.families.sorted() { send(.routeRefresh(BGPRouteRefresh(family: family))) }
            }
        }
        if new.advertised != old.advertised || new.extraPrepends != old.extraPrepends || new.nextHopV6 != old.nextHopV6 {
            if new.extraPrepends != old.extraPrepends || new.nextHopV6 != old.nextHopV6 { advertised = [] }
            syncAdvertisements()
        }
    }

    // MARK: connections

    /// An accepted connection from this peer's address.
    func accept(_ incoming: BGPConnection) {
        guard !settings.shutdown, fsm.enabled else { return incoming.close() }
        switch state {
        case .idle:
            // Waiting out an error backoff: the peer will try again.
            incoming.close()
        case .connect, .active:
            abandonOutboundAttempt()
            bind(incoming)
            handle(.tcpConnectionConfirmed)
        case .openSent, .openConfirm:
            // A collision: decide when this connection's OPEN shows the peer's identifier.
            dropCandidate()
            candidate = incoming
            incoming.onBytes = { [unowned self] in self.candidateBytes() }
            incoming.onClose = { [unowned self] in if self.candidate === incoming { self.candidate = nil } }
            incoming.onBytes?()
        case .established:
            // RFC 4271 §6.8: an Established session always wins.
            incoming.send(BGPMessage.notification(.cease(.connectionCollisionResolution)).encoded())
            incoming.close()
        }
    }

    private func candidateBytes() {
        guard let c = candidate else { return }
        let frame: ArraySlice<UInt8>?
        do { frame = try c.decoder.nextFrame() } catch { return dropCandidate() }
        guard let frame else { return }
        guard case .open(let open)? = try? InboundMessage.decode(frame: frame, context: fsm.decodingContext) else {
            return dropCandidate()
        }
        let survivor = collisionSurvivor(localIdentifier: settings.session.routerID, remoteIdentifier: open.bgpIdentifier)
        guard let current = connection, current.direction != survivor else {
            // The existing connection wins.
            c.send(BGPMessage.notification(.cease(.connectionCollisionResolution)).encoded())
            return dropCandidate()
        }
        // The new connection wins: the FSM drops the old one, then runs on the new one.
        candidate = nil
        handle(.collisionDump)
        bind(c)
        handle(.automaticStart)
        handle(.tcpConnectionConfirmed)
        messagesReceived += 1
        handle(.message(.open(open)))
        processFrames()
    }

    private func dropCandidate() {
        candidate?.close()
        candidate = nil
    }

    private func abandonOutboundAttempt() {
        connectAttempt += 1
        connecting = false
    }

    /// Makes `c` the connection the FSM drives.
    private func bind(_ c: BGPConnection) {
        connection = c
        c.onBytes = { [unowned self] in self.processFrames() }
        c.onClose = { [unowned self] in
            guard self.connection === c else { return }
            if c.sendOverflowed { lastError = "the peer left more than 64 MB of our messages unread: connection dropped" }
            self.connection = nil
            self.handle(.tcpConnectionFails)
        }
    }

    /// Decodes and feeds every whole message received on the bound connection.
    private func processFrames() {
        while let c = connection, !c.isClosed {
            let frame: ArraySlice<UInt8>?
            do {
                frame = try c.decoder.nextFrame()
            } catch {
                lastError = "received a corrupt header: \(error)"
                return handle(.decodeError(error))
            }
            guard let frame else { return }
            messagesReceived += 1
            if frame.count > 18, frame[frame.startIndex + 18] == 2 { updatesReceived += 1 }  // type 2: UPDATE
            do {
                let message = try InboundMessage.decode(frame: frame, context: fsm.decodingContext)
                let wasEstablished = state == .established
                handle(.message(message))
                if case .keepalive = message, wasEstablished, state == .established, initialRoutes.keepaliveReceived() {
                    speaker.initialRoutesComplete(self, "first KEEPALIVE after its UPDATEs taken as End-of-RIB (no graceful restart capability)")
                }
            } catch {
                lastError = "sent \(error)"
                handle(.decodeError(error))
            }
        }
    }

    private func connect() {
        guard connection == nil, !connecting else { return }
        connectAttempt += 1
        connecting = true
        let attempt = connectAttempt
        let ttl = settings.ttl
        let address = settings.address
        let current = settings
        let bootstrap = ClientBootstrap(group: speaker.eventLoop)
            .connectTimeout(.seconds(Int64(max(1, settings.session.connectRetryTime / 2))))
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .channelOption(ttlOption(for: address), value: SocketOptionValue(ttl))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BGPChannelHandler())
                }.flatMap {
                    // The MD5 key must be on the socket before its SYN leaves.
                    SocketSecurity.protect(channel, current)
                }
            }
        let future: EventLoopFuture<Channel>
        do {
            let remote = try address.socketAddress(port: settings.port)
            if let source = settings.updateSource {
                future = bootstrap.bind(to: try source.socketAddress(port: 0)).connect(to: remote)
            } else {
                future = bootstrap.connect(to: remote)
            }
        } catch {
            speaker.eventLoop.execute { [self] in connectFailed(attempt, error) }
            return
        }
        future.whenComplete { [self] result in
            switch result {
            case .success(let channel):
                let c = BGPConnection(channel: channel, direction: .outbound)
                let handler = try? channel.pipeline.syncOperations.handler(type: BGPChannelHandler.self)
                guard attempt == connectAttempt, connection == nil else {
                    c.close()
                    return
                }
                connecting = false
                bind(c)
                handle(.tcpConnectionAcknowledged)
                // Bytes that arrived before this point are delivered now, after the FSM knows the connection.
                handler?.attach(c)
            case .failure(let error):
                connectFailed(attempt, error)
            }
        }
    }

    private func connectFailed(_ attempt: Int, _ error: Error) {
        guard attempt == connectAttempt else { return }
        connecting = false
        lastConnectError = "\(error)"
        handle(.tcpConnectionFails)
    }

    // MARK: the FSM

    /// Feeds an event and executes the resulting actions in order.
    func handle(_ event: BGPSessionEvent) {
        let before = fsm.state
        let actions = fsm.handle(event)
        for action in actions { perform(action) }
        if fsm.state != before { speaker.report("neighbor \(settings.address) \(before) -> \(fsm.state)") }
    }

    private func perform(_ action: BGPSessionAction) {
        switch action {
        case .connect:
            connect()
        case .send(let message):
            if case .notification(let n) = message { lastError = "sent \(n)" }
            send(message)
        case .closeConnection:
            abandonOutboundAttempt()
            connection?.close()
            connection = nil
        case .startTimer(let timer, let duration):
            let deadline = NIODeadline.now() + duration.timeAmount
            deadlines[timer] = deadline
            // The hold timer restarts on every message (a table load is 100k of them): a task
            // already due no later than the new deadline is kept and, when it fires early,
            // re-armed for the rest, instead of a cancel and a new task per message.
            if let scheduled = scheduledAt[timer], timers[timer] != nil, scheduled <= deadline { return }
            arm(timer, at: deadline)
        case .stopTimer(let timer):
            timers.removeValue(forKey: timer)?.cancel()
            deadlines[timer] = nil
            scheduledAt[timer] = nil
        case .established(let n):
            establishedAt = .now()
            establishedTransitions += 1
            staleTimer?.cancel()
            staleTimer = nil
            initialRoutes.established(families: n.families, peerHasGracefulRestart: n.peerGracefulRestart != nil)
            speaker.sessionEstablished(self, n)
            advertised = []
            syncAdvertisements()
            // End-of-RIB after the initial advertisement (RFC 4724 §2).
            for family in n.families.sorted() { send(.update(.endOfRIB(family))) }
        case .deliver(let update):
            speaker.deliver(update, from: self)
            initialRoutes.updateArrived()
            if let family = update.update.endOfRIB, initialRoutes.endOfRIBReceived(family) {
                speaker.initialRoutesComplete(self, "End-of-RIB received for \(family)")
            }
        case .routeRefreshRequested(let rr):
            advertised = advertised.filter { $0.family != rr.family }
            syncAdvertisements()
            send(.update(.endOfRIB(rr.family)))
        case .sessionDown(let reason, let retain):
            establishedAt = nil
            initialRoutes.down()
            lastDownAt = .now()
            lastError = reason.description
            advertised = []
            speaker.sessionDown(self, reason: reason, retainFor: retain)
            if let retain {
                staleTimer?.cancel()
                staleTimer = speaker.eventLoop.scheduleTask(in: .seconds(Int64(retain))) { [self] in
                    staleTimer = nil
                    speaker.sweepStale(self)
                }
            }
        }
    }

    /// Schedules `timer`'s task for `deadline`; when it fires before the timer's current
    /// deadline (restarted meanwhile), it re-arms for the rest.
    private func arm(_ timer: BGPTimer, at deadline: NIODeadline) {
        timers[timer]?.cancel()
        scheduledAt[timer] = deadline
        timers[timer] = speaker.eventLoop.scheduleTask(deadline: deadline) { [self] in
            timers[timer] = nil
            scheduledAt[timer] = nil
            guard let due = deadlines[timer] else { return }
            if due > NIODeadline.now() { return arm(timer, at: due) }
            deadlines[timer] = nil
            handle(.timerExpired(timer))
        }
    }

    func send(_ message: BGPMessage) {
        guard let c = connection else { return }
        c.send(message.encoded(fourOctetAS: negotiated?.fourOctetAS ?? true))
        messagesSent += 1
        if case .update = message { updatesSent += 1 }
    }

    /// Sends what changed between what the peer has and what it should have.
    func syncAdvertisements() {
        guard state == .established, let n = negotiated else { return }
        let wanted = Set(settings.advertised.filter { n.families.contains($0.family) })
        let withdrawn = advertised.subtracting(wanted).sorted { $0.description < $1.description }
        let added = wanted.subtracting(advertised).sorted { $0.description < $1.description }
        var policy = OriginationPolicy(localAS: settings.session.localAS, extraPrepends: settings.extraPrepends, nextHopV4: nil)
        switch connection?.localAddress {
        case .v4(let a)?: policy.nextHopV4 = a; policy.nextHopV6 = settings.nextHopV6
        case .v6(let a)?: policy.nextHopV6 = a
        case nil: return
        }
        for u in OutboundUpdateBuilder.withdraw(withdrawn) { send(.update(u)) }
        for u in OutboundUpdateBuilder.announce(added, policy: policy, fourOctetAS: n.fourOctetAS) { send(.update(u)) }
        // A prefix without a usable next hop is not sent, so it is not counted as advertised.
        advertised = wanted.filter { p in
            switch p {
            case .v4: policy.nextHopV4 != nil
            case .v6: policy.nextHopV6 != nil
            }
        }
    }

    /// Stops everything (neighbour removed or speaker stopped).
    func teardown(_ notification: BGPNotification) {
        stop(notification)
        for t in timers.values { t.cancel() }
        timers = [:]
        deadlines = [:]
        scheduledAt = [:]
        staleTimer?.cancel()
        staleTimer = nil
        abandonOutboundAttempt()
        connection?.close()
        connection = nil
    }
}

extension IPPrefix {
    /// The BGP address family of the prefix.
    var family: AddressFamily {
        switch self {
        case .v4: .ipv4Unicast
        case .v6: .ipv6Unicast
        }
    }
}

extension Duration {
    /// The same span for NIO's scheduler.
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// IP_TTL (IPv4) or IPV6_UNICAST_HOPS: the TTL of our segments, which is how eBGP
/// single hop vs multihop is enforced on our side.
func ttlOption(for address: IPAddress) -> ChannelOptions.Types.SocketOption {
    switch address {
    case .v4: ChannelOptions.Types.SocketOption(level: .ip, name: NIOBSDSocket.Option(rawValue: 2))  // IP_TTL
    case .v6: ChannelOptions.Types.SocketOption(level: .ipv6, name: NIOBSDSocket.Option(rawValue: 16))  // IPV6_UNICAST_HOPS
    }
}
