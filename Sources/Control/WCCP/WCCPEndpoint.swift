// The WCCPv2 router's UDP endpoint: the I/O edge around the pure WCCPRouter.
// Datagrams from caches go to `receive`, a repeating 500 ms task calls `tick`,
// `.send` actions leave as unicast datagrams, and every assignment or cache
// change rebuilds the engine's redirect services through `hooks.install`.
// Everything runs on one event loop (the control thread), so no locks.
//
// Receive path, bounded per source before any parsing:
//  * the shared socket (routerID:2048, unconnected) has a 4 MB receive buffer and is drained
//    with recvmmsg, up to 256 datagrams per event-loop pass;
//  * every cache that sent a valid HERE_I_AM gets a socket of its own, bound to the same
//    address and connected to the cache's address and port: the kernel delivers that cache's
//    datagrams to it (a connected UDP socket outranks the unconnected one), so a flood from any
//    other source can fill only the shared queue, never a known cache's (at most
//    `maximumCacheSockets`; closed when the cache leaves every group);
//  * each datagram's source is checked against the per-source rate limit before its bytes
//    are copied out of the channel's buffer.
// Drops by reason: `rateLimited` here, the kernel's per-socket drop counts (queue full) in
// `socketDrops()`, decode/security/protocol drops in the router.

#if canImport(Glibc)
import Glibc
#endif
import Commands
import Engine
import Foundation
import NIOCore
import NIOPosix
import Packet
import WCCP

/// What the endpoint needs from the appliance.
struct WCCPEndpointHooks {
    /// Replaces the engine's redirect services.
    var install: ([RedirectServiceSpec]) -> Void
    /// Notes a state change for `show logging`.
    var record: (String) -> Void
    /// The L2 path to a cache (interface and MAC), or nil while its neighbour entry is unresolved.
    var resolveL2: (IPv4Address) -> RedirectMethod?
}

/// Per-service counters that `clear ip wccp` zeroes: the engine's, plus dropped messages.
struct WCCPServiceCounters: Equatable {
    var engine: [UInt64]
    var drops: [WCCPDropReason: UInt64]
}

final class WCCPEndpoint: @unchecked Sendable {
    /// Port of both ends (draft-wilson §4.1); tests use other ports.
    static let wccpPort = 2048
    /// Timer period: half the fastest removal we care about (< 2 s with 500 ms hellos).
    static let tickInterval = TimeAmount.milliseconds(500)

    let eventLoop: EventLoop
    let routerID: IPv4Address
    let listenPort: Int
    let cachePort: Int
    let hooks: WCCPEndpointHooks
    private(set) var settings: WCCPConfig
    private(set) var accessLists: [String: AccessListConfig]
    private(set) var router: WCCPRouter
    /// The REDIRECT_ASSIGN each service's table was compiled from.
    private var accepted: [UInt8: AcceptedAssignment] = [:]
    /// Drops by service (messages that decoded far enough to name one).
    private(set) var serviceDrops: [UInt8: [WCCPDropReason: UInt64]] = [:]
    /// The services last installed in the engine.
    private(set) var installed: [RedirectServiceSpec] = []
    /// Caches asked to forward by L2 whose MAC is not known yet.
    private var unresolvedL2: Set<IPv4Address> = []
    private var channel: Channel?
    /// Connected sockets of known caches (see the file comment), by cache address.
    private var cacheChannels: [IPv4Address: Channel] = [:]
    /// Caches whose connected socket is being set up.
    private var cacheChannelsPending: Set<IPv4Address> = []
    /// Bound on connected cache sockets (32 caches per service, a few services).
    static let maximumCacheSockets = 128
    /// Receive buffer of each socket (the kernel doubles it; root may exceed rmem_max).
    static let receiveBufferBytes = 4 << 20
    /// Datagrams per recvmmsg, and the room for each (WCCP messages are far smaller; larger is dropped).
    static let vectorReadCount = 32
    static let maximumDatagram = 8192
    private var timer: RepeatedTask?
    /// Fast failure detection (`ip wccp failure-detection`): nil when not configured.
    private(set) var health: CacheHealthMonitor?
    private var healthTimer: RepeatedTask?
    /// Raw ICMP socket for data-path evidence (`failure-detection ... data-path`), nil when off.
    private var icmpChannel: Channel?
    private var icmpStarting = false
    /// ICMP messages read, and those that were data-path evidence against a cache.
    private(set) var icmpRead: UInt64 = 0
    private(set) var icmpEvidence: UInt64 = 0
    private let epoch = ContinuousClock.now
    /// Per-source limit on datagrams, checked before any decoding: a cache sends a
    /// HERE_I_AM per service every 10 s (500 ms at the fastest timers), so 20 per
    /// second with a burst of 40 leaves room for many services; a flood costs a
    /// hash probe per datagram and fixed memory (Packet/SourceRateLimiter).
    private var limiter = SourceRateLimiter(rate: WCCPEndpoint.sourceRate, burst: 2 * WCCPEndpoint.sourceRate, capacity: 1024)
    static let sourceRate = 20.0
    /// Datagrams dropped by that limit.
    private(set) var rateLimited: UInt64 = 0
    /// Counter values at the last `clear ip wccp`, by service.
    var baseline: [UInt8: WCCPServiceCounters] = [:]

    init(eventLoop: EventLoop, settings: WCCPConfig, accessLists: [String: AccessListConfig], routerID: IPv4Address,
         listenPort: Int = WCCPEndpoint.wccpPort, cachePort: Int = WCCPEndpoint.wccpPort,
         hooks: WCCPEndpointHooks) throws(WCCPConfigError) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.accessLists = accessLists
        self.routerID = routerID
        self.listenPort = listenPort
        self.cachePort = cachePort
        self.hooks = hooks
        router = WCCPRouter(config: try WCCPTranslation.routerConfig(settings, routerID: routerID))
        health = WCCPTranslation.healthConfig(settings).map(CacheHealthMonitor.init)
    }

    /// Monotonic time since the endpoint started.
    var now: Duration { ContinuousClock.now - epoch }

    /// Binds UDP `listenPort` on the router-id (asynchronously: this runs on the loop's own
    /// thread) and starts the timer. A bind failure is recorded; the endpoint stays idle.
    func start() {
        bootstrap().bind(host: routerID.description, port: listenPort).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                self.channel = channel
                hooks.record("wccp: listening on \(routerID):\(listenPort), \(settings.services.count) service(s)")
            case .failure(let error):
                hooks.record("wccp: cannot bind UDP \(routerID):\(listenPort): \(error)")
            }
        }
        timer = eventLoop.scheduleRepeatedTask(initialDelay: Self.tickInterval, delay: Self.tickInterval) { [weak self] _ in
            self?.tick()
        }
        startHealthTimer()
        install()
    }

    /// A UDP socket on the WCCP port (shared with the other sockets of the endpoint), drained
    /// with recvmmsg into a large receive buffer.
    private func bootstrap() -> DatagramBootstrap {
        DatagramBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: SocketOptionValue(Self.receiveBufferBytes))
            .channelOption(ChannelOptions.datagramVectorReadMessageCount, value: Self.vectorReadCount)
            // A vector read splits the receive buffer evenly among its messages: room for the largest
            // datagram each (a longer one would arrive truncated and fail to decode).
            .channelOption(ChannelOptions.recvAllocator,
                           value: FixedSizeRecvByteBufferAllocator(capacity: Self.vectorReadCount * Self.maximumDatagram))
            .channelOption(ChannelOptions.maxMessagesPerRead, value: 8)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    // Root may go past net.core.rmem_max (SO_RCVBUFFORCE); otherwise SO_RCVBUF's cap stands.
                    if let socket = try? channel.syncOptions?.getOption(ChannelOptions.socketOption(.so_rcvbuf)),
                       socket < SocketOptionValue(Self.receiveBufferBytes) {
                        _ = try? channel.syncOptions?.setOption(ChannelOptions.socketOption(.init(rawValue: SO_RCVBUFFORCE)),
                                                                value: SocketOptionValue(Self.receiveBufferBytes))
                    }
                    try channel.pipeline.syncOperations.addHandler(WCCPDatagramHandler(endpoint: self))
                }
            }
    }

    /// Gives a cache that just sent a valid HERE_I_AM from `port` a connected socket of its own.
    private func openCacheSocket(_ cache: IPv4Address, port: Int) {
        guard channel != nil, cacheChannels[cache] == nil, !cacheChannelsPending.contains(cache),
              cacheChannels.count + cacheChannelsPending.count < Self.maximumCacheSockets,
              let remote = try? SocketAddress(ipAddress: cache.description, port: port) else { return }
        cacheChannelsPending.insert(cache)
        bootstrap().bind(host: routerID.description, port: listenPort)
            .flatMap { channel in channel.connect(to: remote).map { channel }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            } }
            .hop(to: eventLoop)
            .whenComplete { [self] result in
                cacheChannelsPending.remove(cache)
                switch result {
                case .success(let channel):
                    // The cache may have left, or the endpoint stopped, while this was set up.
                    if self.channel == nil || !router.knownCaches.contains(cache) || cacheChannels[cache] != nil {
                        channel.close(promise: nil)
                    } else {
                        cacheChannels[cache] = channel
                    }
                case .failure(let error):
                    hooks.record("wccp: cannot open a socket for cache \(cache): \(error)")
                }
            }
    }

    /// Closes the sockets of caches that left every group.
    private func closeStaleCacheSockets() {
        let known = router.knownCaches
        for (cache, channel) in cacheChannels where !known.contains(cache) {
            channel.close(promise: nil)
            cacheChannels[cache] = nil
        }
    }

    /// Number of caches with a socket of their own.
    var cacheSocketCount: Int { cacheChannels.count }

    /// Datagrams the kernel dropped on this endpoint's sockets (receive queue full), from
    /// /proc/self/net/udp (this network namespace): the shared socket's, and the caches' sockets'.
    func socketDrops() -> (shared: UInt64, caches: UInt64) {
        guard let text = try? String(contentsOfFile: "/proc/self/net/udp", encoding: .utf8) else { return (0, 0) }
        return Self.socketDrops(procNetUDP: text, address: routerID, port: listenPort)
    }

    /// Parses /proc/net/udp: sockets bound to `address`:`port`; the last column is the drop count,
    /// a remote address of 00000000:0000 marks the unconnected (shared) socket.
    static func socketDrops(procNetUDP text: String, address: IPv4Address, port: Int) -> (shared: UInt64, caches: UInt64) {
        // The kernel prints the address as the raw network-order word in host (little-endian) order.
        let local = String(format: "%08X:%04X", address.value.byteSwapped, port)
        var shared: UInt64 = 0, caches: UInt64 = 0
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 13, f[1] == local, let drops = UInt64(f[f.count - 1]) else { continue }
            if f[2] == "00000000:0000" { shared += drops } else { caches += drops }
        }
        return (shared, caches)
    }

    /// The failure-detection timer: a quarter of the probe interval (at least 10 ms), so probes
    /// leave on time and a timeout is seen within that much of its deadline.
    private func startHealthTimer() {
        healthTimer?.cancel()
        healthTimer = nil
        updateICMP()
        guard health != nil, let detection = settings.failureDetection else { return }
        let period = TimeAmount.milliseconds(Int64(max(10, detection.intervalMilliseconds / 4)))
        healthTimer = eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { [weak self] _ in
            self?.healthTick()
        }
    }

    /// Opens or closes the raw ICMP socket as `failure-detection ... data-path` asks.
    private func updateICMP() {
        let wanted = health != nil && settings.failureDetection?.dataPath == true && timer != nil
        if !wanted {
            icmpChannel?.close(promise: nil)
            icmpChannel = nil
            return
        }
        guard icmpChannel == nil, !icmpStarting else { return }
        icmpStarting = true
        NIORawSocketBootstrap(group: eventLoop)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WCCPICMPHandler(endpoint: self))
                }
            }
            .bind(host: routerID.description, ipProtocol: NIOIPProtocol(rawValue: 1))
            .hop(to: eventLoop)
            .whenComplete { [self] result in
                icmpStarting = false
                switch result {
                case .success(let channel):
                    if settings.failureDetection?.dataPath == true, health != nil, timer != nil {
                        icmpChannel = channel
                    } else {
                        channel.close(promise: nil)
                    }
                case .failure(let error):
                    hooks.record("wccp: cannot open the ICMP socket for data-path failure detection: \(error)")
                }
            }
    }

    /// One ICMP message (IP header included): data-path evidence when a cache refused a redirect.
    func receiveICMP(_ bytes: [UInt8]) {
        icmpRead += 1
        guard var monitor = health,
              let cache = CacheDataPathEvidence.refusingCache(icmp: bytes, caches: router.registeredCaches) else { return }
        icmpEvidence += 1
        let actions = monitor.dataPath(cache, .refused, now: now)
        health = monitor
        performHealth(actions)
    }

    /// Closes the socket, stops the timer and withdraws the services from the engine.
    func stop() {
        timer?.cancel()
        timer = nil
        healthTimer?.cancel()
        healthTimer = nil
        icmpChannel?.close(promise: nil)
        icmpChannel = nil
        channel?.close(promise: nil)
        channel = nil
        for c in cacheChannels.values { c.close(promise: nil) }
        cacheChannels = [:]
        hooks.install([])
    }

    /// Applies new settings in place: access lists at once; service groups
    /// whose definition changed (or that were added or removed) start over,
    /// the others keep their caches and assignment. Returns false only when
    /// the translation fails (the caller then rebuilds the endpoint).
    func reconfigure(_ new: WCCPConfig, accessLists lists: [String: AccessListConfig]) -> Bool {
        guard let wanted = try? WCCPTranslation.routerConfig(new, routerID: routerID) else { return false }
        settings = new
        accessLists = lists
        if wanted != router.config {
            // Untouched service groups keep their caches and assignment.
            let kept = Set(wanted.services.filter { s in router.config.services.contains(s) }.map(\.serviceID))
            accepted = accepted.filter { kept.contains($0.key) }
            perform(router.reconfigure(wanted))
        }
        let wantedHealth = WCCPTranslation.healthConfig(new)
        if wantedHealth != health?.config {
            if let config = wantedHealth, var monitor = health {
                monitor.reconfigure(config)
                health = monitor
            } else if let config = wantedHealth {
                health = CacheHealthMonitor(config: config)
            } else {
                // Detection off: every cache it had declared dead comes back.
                health = nil
                for ip in router.registeredCaches.sorted() { perform(router.setCacheFailed(ip, failed: false, now: now)) }
            }
            startHealthTimer()
        }
        updateICMP()
        install()
        return true
    }

    // MARK: Fast failure detection

    /// Probes due caches, declares silent ones dead.
    func healthTick() {
        guard var monitor = health else { return }
        let time = now
        monitor.track(router.registeredCaches, now: time)
        let actions = monitor.tick(now: time)
        health = monitor
        performHealth(actions)
    }

    private func performHealth(_ actions: [CacheHealthAction]) {
        for action in actions {
            switch action {
            case .probe(let ip):
                probe(ip)
            case .down(let ip, let reason):
                let failover = settings.services.values.contains { $0.failover }
                hooks.record("wccp: cache \(ip) declared dead (\(reason.rawValue)); its buckets "
                             + (failover ? "go to the remaining caches (failover) or fail open" : "fail open") + " until reassigned")
                perform(router.setCacheFailed(ip, failed: true, now: now))
            case .up(let ip):
                hooks.record("wccp: cache \(ip) answers again")
                perform(router.setCacheFailed(ip, failed: false, now: now))
            }
        }
    }

    /// One TCP connect to the cache's proxy port; refused (RST, host unreachable) or answered.
    private func probe(_ ip: IPv4Address) {
        guard health != nil, let detection = settings.failureDetection,
              let address = try? SocketAddress(ipAddress: ip.description, port: Int(detection.tcpPort)) else { return }
        let timeout = TimeAmount.milliseconds(Int64(detection.timeoutMilliseconds))
        ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .connect(to: address)
            .hop(to: eventLoop)
            .whenComplete { [weak self] result in
                guard let self else { return }
                let outcome: CacheProbeResult
                switch result {
                case .success(let channel):
                    channel.close(promise: nil)
                    outcome = .answered
                case .failure(let error):
                    outcome = Self.probeOutcome(error)
                }
                guard var monitor = self.health else { return }
                let actions = monitor.probeResult(ip, outcome, now: self.now)
                self.health = monitor
                self.performHealth(actions)
            }
    }

    /// A refused connect or an unreachable host is an active "dead" answer; a timeout is not.
    static func probeOutcome(_ error: Error) -> CacheProbeResult {
        if let io = error as? IOError, [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ECONNRESET].contains(io.errnoCode) {
            return .refused
        }
        return .noAnswer
    }

    // MARK: Events

    /// The per-source budget, checked before a datagram's bytes are even copied: false drops it (counted).
    func admit(_ source: IPv4Address) -> Bool {
        guard limiter.allow(UInt64(source.value), now: now) else {
            rateLimited += 1
            return false
        }
        return true
    }

    /// One datagram from `source` (its port: `sourcePort`, when it came from a socket).
    func receive(_ datagram: [UInt8], from source: IPv4Address, sourcePort: Int? = nil) {
        guard admit(source) else { return }
        receiveAdmitted(datagram, from: source, sourcePort: sourcePort)
    }

    /// One datagram that passed `admit`.
    func receiveAdmitted(_ datagram: [UInt8], from source: IPv4Address, sourcePort: Int? = nil) {
        let before = router.drops
        let (settings, lists) = (self.settings, self.accessLists)
        let actions = router.receive(datagram, from: source, now: now) { id, cache in
            WCCPTranslation.groupListPermits(settings, accessLists: lists, serviceID: id, cache: cache)
        }
        let message = try? WCCPMessage.decode(datagram)
        if case .hereIAm(let hia)? = message, router.drops == before {
            if var monitor = health {
                monitor.evidence(from: hia.identity.cacheIP, now: now)
                health = monitor
            }
            if let sourcePort, hia.identity.cacheIP == source { openCacheSocket(source, port: sourcePort) }
        }
        if let id = message?.service.serviceID {
            for (reason, count) in router.drops where count != before[reason, default: 0] {
                serviceDrops[id, default: [:]][reason, default: 0] += count - before[reason, default: 0]
            }
        }
        // Remember the assignment the router compiled its table from.
        if case .redirectAssign(let ra)? = message, router.drops == before {
            switch ra.assignment {
            case .hash(let h), .alternate(.hash(let h)): accepted[ra.service.serviceID] = .hash(h)
            case .alternate(.mask(let m)): accepted[ra.service.serviceID] = .mask(m)
            case .alternate(.other): break
            }
        }
        perform(actions)
    }

    /// Timers: removal queries, removals, assignment deadlines; retries unresolved L2 caches.
    func tick() {
        let actions = router.tick(now: now)
        perform(actions)
        closeStaleCacheSockets()
        if !unresolvedL2.isEmpty, !actions.contains(where: Self.changesEngine) { install() }
    }

    private static func changesEngine(_ action: WCCPRouterAction) -> Bool {
        if case .send = action { return false }
        return true
    }

    private func perform(_ actions: [WCCPRouterAction]) {
        var changed = false
        for action in actions {
            switch action {
            case .send(let datagram, let to):
                send(datagram, to: to, port: cachePort)
            case .assignmentChanged(let id, let table):
                changed = true
                hooks.record("wccp: service \(id) assignment changed: \(table.caches.count) cache(s)")
            case .cacheStateChanged(let id, let cache, let state, let reason):
                changed = true
                hooks.record("wccp: service \(id) cache \(cache) \(state.rawValue): \(reason.rawValue)")
            }
        }
        if changed { install() }
    }

    private func send(_ bytes: [UInt8], to address: IPv4Address, port: Int) {
        guard let channel, let remote = try? SocketAddress(ipAddress: address.description, port: port) else { return }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: buffer), promise: nil)
    }

    // MARK: Engine

    /// The engine's services from the router's current state.
    func serviceSpecs() -> [RedirectServiceSpec] {
        var unresolved: Set<IPv4Address> = []
        let specs = router.status().compactMap { status -> RedirectServiceSpec? in
            let redirectList = settings.services[status.serviceID]?.redirectList.map { WCCPTranslation.accessRules(accessLists[$0]) }
            return WCCPTranslation.serviceSpec(status: status, table: router.table(serviceID: status.serviceID),
                                               accepted: accepted[status.serviceID], redirectList: redirectList,
                                               failover: settings.services[status.serviceID]?.failover ?? false) { [self] cache in
                guard cache.forwarding == .l2 else { return .gre(source: routerID) }
                if let l2 = hooks.resolveL2(cache.address) { return l2 }
                unresolved.insert(cache.address)
                return nil
            }
        }
        // Any datagram makes the kernel resolve the cache's MAC; the discard port ignores it.
        for cache in unresolved { send([], to: cache, port: 9) }
        unresolvedL2 = unresolved
        return specs
    }

    private func install() {
        let specs = serviceSpecs()
        guard specs != installed else { return }
        installed = specs
        hooks.install(specs)
    }
}

/// Hands ICMP messages from the raw socket to the endpoint (on the same event loop).
final class WCCPICMPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let endpoint: WCCPEndpoint
    init(endpoint: WCCPEndpoint) { self.endpoint = endpoint }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data).data
        endpoint.receiveICMP(buffer.readBytes(length: min(buffer.readableBytes, 128)) ?? [])
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {}
}

/// Hands datagrams from the socket to the endpoint (on the same event loop).
final class WCCPDatagramHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let endpoint: WCCPEndpoint
    init(endpoint: WCCPEndpoint) { self.endpoint = endpoint }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let text = envelope.remoteAddress.ipAddress, let source = IPv4Address(text) else { return }
        // The per-source budget first: a flood costs a hash probe per datagram, no copy, no decode.
        guard endpoint.admit(source) else { return }
        var buffer = envelope.data
        endpoint.receiveAdmitted(buffer.readBytes(length: buffer.readableBytes) ?? [], from: source,
                                 sourcePort: envelope.remoteAddress.port)
    }

    /// ICMP port unreachable from a cache surfaces here; the protocol's timers handle dead caches.
    func errorCaught(context: ChannelHandlerContext, error: Error) {}
}
