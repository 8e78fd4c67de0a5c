// `dataplane workers N`, `dataplane batch-size N`, `dataplane io-backend tpacket|raw|afxdp`,
// `dataplane qdisc-bypass`, `dataplane worker cpus LIST`, `dataplane worker realtime`. The
// running config shows only what differs from the defaults (io-backend afxdp: `dataplane
// io-backend tpacket` appears when pinned).

/// Packet engine settings.
enum DataplaneCommands: CommandFamily {
    static func register(into registry: inout CommandRegistry) {
        let dataplane = CommandElement.keyword("dataplane", help: "Packet engine settings")
        let workers = CommandElement.keyword("workers", help: "Number of packet worker threads")
        let batch = CommandElement.keyword("batch-size", help: "Packets per receive/send batch")
        let workerCount = CommandElement.argument("count", range(DataplaneSettings.workersRange), help: "Worker threads")
        let batchSize = CommandElement.argument("size", range(DataplaneSettings.batchSizeRange), help: "Packets per batch")

        registry.config(.config, [dataplane, workers, workerCount]) { s, a throws(CommandFailure) in
            s.config.dataplane.workers = Int(try a.number("count"))
        }
        registry.config(.config, [.no, dataplane, workers, .optional([workerCount])]) { s, _ throws(CommandFailure) in
            s.config.dataplane.workers = DataplaneSettings().workers
        }
        registry.config(.config, [dataplane, batch, batchSize]) { s, a throws(CommandFailure) in
            s.config.dataplane.batchSize = Int(try a.number("size"))
        }
        registry.config(.config, [.no, dataplane, batch, .optional([batchSize])]) { s, _ throws(CommandFailure) in
            s.config.dataplane.batchSize = DataplaneSettings().batchSize
        }
        let io = CommandElement.keyword("io-backend", help: "How GRE enters and leaves the packet engine")
        let backends = CommandElement.choice(DataplaneIOBackend.allCases.map { [.keyword($0.rawValue, help: $0.help)] })
        registry.config(.config, [dataplane, io, backends]) { s, a throws(CommandFailure) in
            s.config.dataplane.ioBackend = DataplaneIOBackend.allCases.first { a.has($0.rawValue) } ?? DataplaneSettings().ioBackend
        }
        registry.config(.config, [.no, dataplane, io, .optional([backends])]) { s, _ throws(CommandFailure) in
            s.config.dataplane.ioBackend = DataplaneSettings().ioBackend
        }
        let bypass = CommandElement.keyword("qdisc-bypass", help: "Send straight to the driver (PACKET_QDISC_BYPASS; tcpdump on this host no longer sees it)")
        registry.config(.config, [dataplane, bypass]) { s, _ throws(CommandFailure) in
            s.config.dataplane.qdiscBypass = true
        }
        registry.config(.config, [.no, dataplane, bypass]) { s, _ throws(CommandFailure) in
            s.config.dataplane.qdiscBypass = false
        }
        let worker = CommandElement.keyword("worker", help: "Packet worker threads: placement and scheduling")
        let cpus = CommandElement.keyword("cpus", help: "CPUs the workers own; egressd's other threads run on the rest")
        let cpuList = CommandElement.argument("list", .word, help: "CPU list, e.g. 1 or 2-3,6 (as taskset -c)")
        registry.config(.config, [dataplane, worker, cpus, cpuList]) { s, a throws(CommandFailure) in
            guard let list = CPUList.parse(try a.string("list")) else {
                throw CommandFailure("not a CPU list (CPU numbers 0-\(CPUList.maxCPU), ranges as 2-3, separated by commas)", argument: "list")
            }
            s.config.dataplane.workerCPUs = list
        }
        registry.config(.config, [.no, dataplane, worker, cpus, .optional([cpuList])]) { s, _ throws(CommandFailure) in
            s.config.dataplane.workerCPUs = []
        }
        let realtime = CommandElement.keyword("realtime", help: "SCHED_FIFO priority 1 for the workers (needs CAP_SYS_NICE)")
        registry.config(.config, [dataplane, worker, realtime]) { s, _ throws(CommandFailure) in
            s.config.dataplane.workerRealtime = true
        }
        registry.config(.config, [.no, dataplane, worker, realtime]) { s, _ throws(CommandFailure) in
            s.config.dataplane.workerRealtime = false
        }
    }

    static func render(_ config: RunningConfig) -> [[String]] {
        let defaults = DataplaneSettings()
        var lines: [String] = []
        if config.dataplane.workers != defaults.workers { lines.append("dataplane workers \(config.dataplane.workers)") }
        if config.dataplane.batchSize != defaults.batchSize { lines.append("dataplane batch-size \(config.dataplane.batchSize)") }
        if config.dataplane.ioBackend != defaults.ioBackend { lines.append("dataplane io-backend \(config.dataplane.ioBackend.rawValue)") }
        if config.dataplane.qdiscBypass { lines.append("dataplane qdisc-bypass") }
        if !config.dataplane.workerCPUs.isEmpty { lines.append("dataplane worker cpus \(CPUList.format(config.dataplane.workerCPUs))") }
        if config.dataplane.workerRealtime { lines.append("dataplane worker realtime") }
        return [lines]
    }

    private static func range(_ r: ClosedRange<Int>) -> ArgumentKind {
        .range(UInt64(r.lowerBound)...UInt64(r.upperBound))
    }
}
