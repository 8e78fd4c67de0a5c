// The IPFIX exporter (RFC 7011 over UDP): every second, on the control
// thread, drains the workers' flow rings, turns the slots into records
// (monotonic times to wall-clock milliseconds, tunnel index to name) and
// sends them to each collector, the template first and again every
// `template timeout-rate` minutes. Started, changed and stopped by apply().

import Commands
import Engine
import NIOCore
import NIOPosix
import Observability
import Packet
#if canImport(Glibc)
import Glibc
#endif

final class FlowExporter: @unchecked Sendable {
    let eventLoop: EventLoop
    var settings: FlowExportConfig
    var channel: Channel?
    var timer: RepeatedTask?
    /// One encoder per collector: each is its own transport session, with its own sequence numbers.
    var encoders: [FlowExportConfig.Destination: IPFIXEncoder] = [:]
    var lastTemplate: [FlowExportConfig.Destination: UInt64] = [:]
    var exported: UInt64 = 0
    var sendErrors: UInt64 = 0
    let engine: Engine
    /// The tunnels' names and interface indexes (for ingressInterface), from the appliance.
    let tunnelInfo: () -> [(name: String, ifindex: Int32)]
    let record: (String) -> Void

    init(eventLoop: EventLoop, settings: FlowExportConfig, engine: Engine,
         tunnelInfo: @escaping () -> [(name: String, ifindex: Int32)], record: @escaping (String) -> Void) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.engine = engine
        self.tunnelInfo = tunnelInfo
        self.record = record
    }

    func start() {
        DatagramBootstrap(group: eventLoop).bind(host: "0.0.0.0", port: 0).whenComplete { [self] result in
            switch result {
            case .success(let c):
                channel = c
                apply(settings)
                timer = eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] _ in self?.tick() }
                record("flow export to \(settings.destinations.sorted().map { "\($0.address):\($0.port)" }.joined(separator: ", "))")
            case .failure(let e):
                record("flow export not started: cannot open a UDP socket: \(e)")
            }
        }
    }

    func apply(_ s: FlowExportConfig) {
        settings = s
        engine.setFlowTimeouts(active: s.activeTimeoutMinutes * 60, inactive: s.inactiveTimeoutSeconds)
        lastTemplate = lastTemplate.filter { s.destinations.contains($0.key) }
        encoders = encoders.filter { s.destinations.contains($0.key) }
    }

    func stop() {
        engine.setFlowTimeouts(active: nil, inactive: settings.inactiveTimeoutSeconds)
        timer?.cancel()
        timer = nil
        tick()          // what the workers expired so far still goes out
        channel?.close(promise: nil)
        channel = nil
    }

    static func clock(_ id: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(id, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    func tick() {
        guard let channel else { return }
        let slots = engine.flowRings.flatMap { $0.drain() }
        let nowMono = Self.clock(CLOCK_MONOTONIC), nowReal = Self.clock(CLOCK_REALTIME)
        let tunnels = tunnelInfo()
        func wallMs(_ mono: UInt64) -> UInt64 { (nowReal &- (nowMono &- mono)) / 1_000_000 }
        let records = slots.map { s -> IPFIXFlowRecord in
            let t = Int(s.tunnel) < tunnels.count ? tunnels[Int(s.tunnel)] : (name: "?", ifindex: 0)
            return IPFIXFlowRecord(source: s.source, destination: s.destination, sourcePort: s.sourcePort,
                                   destinationPort: s.destinationPort, proto: s.proto, tunnelIndex: UInt32(max(0, t.ifindex)),
                                   tunnelName: t.name, packets: s.packets, bytes: s.bytes,
                                   startMilliseconds: wallMs(s.first), endMilliseconds: wallMs(s.last),
                                   endReason: IPFIXFlowRecord.EndReason(rawValue: s.endReason) ?? .forcedEnd,
                                   decision: IPFIXFlowRecord.Decision(rawValue: s.decision) ?? .forwarded,
                                   nextHop: s.nextHop, service: s.service,
                                   source6: s.isIPv6 ? s.source6 : nil, destination6: s.isIPv6 ? s.destination6 : nil)
        }.filter { $0.packets > 0 }
        let exportTime = UInt32(truncatingIfNeeded: nowReal / 1_000_000_000)
        let refresh = UInt64(settings.templateTimeoutMinutes) * 60_000_000_000
        for d in settings.destinations.sorted() {
            let needTemplate = lastTemplate[d].map { nowMono &- $0 >= refresh } ?? true
            guard needTemplate || !records.isEmpty else { continue }
            if needTemplate { lastTemplate[d] = nowMono }
            var enc = encoders[d] ?? IPFIXEncoder(observationDomain: 1)
            let messages = enc.messages(records, exportTime: exportTime, withTemplate: needTemplate)
            encoders[d] = enc
            guard let address = try? SocketAddress(ipAddress: d.address.description, port: Int(d.port)) else { continue }
            for m in messages {
                var buffer = channel.allocator.buffer(capacity: m.count)
                buffer.writeBytes(m)
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer)).whenFailure { [weak self] _ in
                    self?.sendErrors += 1
                }
            }
        }
        exported &+= UInt64(records.count)
    }
}

extension Appliance {
    /// Starts, reconfigures or stops IPFIX export to match `config.flowExport`.
    func applyFlowExport() {
        let wanted = config.flowExport
        if wanted.destinations.isEmpty {
            if let e = flowExporter {
                e.stop()
                flowExporter = nil
                record("flow export stopped")
            }
            return
        }
        if let e = flowExporter {
            if e.settings != wanted {
                e.apply(wanted)
                record("flow export reconfigured")
            }
            return
        }
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else {
            record("flow export not started: apply must run on the control thread's event loop")
            return
        }
        let e = FlowExporter(eventLoop: loop, settings: wanted, engine: engine,
                             tunnelInfo: { [weak self] in
                                 guard let self else { return [] }
                                 // The engine's tunnel indexes are positions in its snapshot (sorted by name).
                                 return self.engine.snapshot.tunnelSpecs.map { ($0.name, self.tunnels[$0.name]?.interfaceIndex ?? 0) }
                             },
                             record: { [weak self] event in self?.record(event, ["subsystem": "flow-export"]) })
        flowExporter = e
        e.start()
    }

    func stopFlowExport() {
        flowExporter?.stop()
        flowExporter = nil
    }
}
