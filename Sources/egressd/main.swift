// egressd: the daemon. Wiring only: read the config, start the appliance
// (engine, tunnels, routes) and the shell server, and handle signals
// (SIGHUP reloads the config file, SIGTERM/SIGINT stop cleanly, after the BGP
// graceful-shutdown drain when one is configured; a second signal stops at once).

import ArgumentParser
import Commands
import Control
import Dispatch
import Engine
import Logging
import Observability
#if canImport(Glibc)
import Glibc
#endif

@main
struct EgressDaemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "egressd",
        abstract: "User-space egress appliance: GRE toward Transit Gateway Connect peers, ECMP, BGP, WCCPv2.")

    @Option(name: .long, help: "Configuration file.")
    var config: String = "/etc/egressd/egressd.conf"

    @Option(name: .long, help: "UNIX socket for egsh.")
    var socket: String = ShellProtocol.defaultSocketPath

    @Option(name: .long, help: "Group allowed to use the shell socket (mode 0660); default: root's.")
    var socketGroup: String?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Flag(name: .long, help: "Check the configuration file and exit.")
    var check = false

    @Option(name: .long, help: "Run as this user (name or uid) after start-up; capabilities kept: NET_ADMIN, NET_RAW, NET_BIND_SERVICE.")
    var user: String?

    @Option(name: .long, help: "Run as this group (name or gid); default: the user's primary group.")
    var group: String?

    @Flag(name: .long, help: "Keep all capabilities of the starting user (debugging only).")
    var keepCapabilities = false

    mutating func run() throws {
        let parsed: RunningConfig
        if access(config, R_OK) != 0 {
            let reason = String(cString: strerror(errno))
            let what = errno == ENOENT ? "create it (configs/lab/ has examples) or give --config PATH"
                : "make it readable by the user egressd starts as, or give --config PATH"
            printError("egressd: cannot read the configuration file \(config) (\(reason)): \(what)")
            throw ExitCode(1)
        }
        switch ConfigFile.load(path: config) {
        case .success(let c): parsed = c
        case .failure(let message):
            // --check shows the line and a caret; a start-up failure is one line.
            let lines = message.description.split(separator: "\n", omittingEmptySubsequences: false)
            let text = lines.count > 1 ? " in '\(lines[1].trimmingPrefix(while: { $0 == " " }))'" : ""
            printError(check ? "egressd: \(message)"
                : "egressd: \(lines.first ?? "")\(text): fix the file (egressd --check --config \(config) shows where)")
            throw ExitCode(1)
        }
        // Thread placement (`dataplane worker cpus`): checked against the CPUs this process
        // was started on; the threads that exist now (and so those they make: the control
        // plane's) go to the CPUs the workers do not own.
        let placement: ThreadPlacement.Plan?
        do {
            placement = try ThreadPlacement.plan(workerCPUs: parsed.dataplane.workerCPUs, allowed: ThreadPlacement.allowedAtStart)
        } catch {
            printError("egressd: \(config): \(error)")
            throw ExitCode(1)
        }
        if check {
            print("\(config): configuration OK")
            return
        }
        if let placement { ThreadPlacement.confine(to: placement.controlCPUs) }
        guard let level = Logger.Level(rawValue: logLevel) else {
            printError("egressd: unknown log level \(logLevel) (use trace, debug, info, notice, warning, error or critical)")
            throw ExitCode(1)
        }
        // stderr for journald, and the recent records for `show logging`.
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return MultiplexLogHandler([h, RingLogHandler(label: label, level: min(level, .info))])
        }
        let logger = Logger(label: "egressd")
        if !keepCapabilities {
            do {
                var drop = try PrivilegeDrop(user: user, group: group, socketGroup: socketGroup.map(Self.groupID))
                if parsed.dataplane.ioBackend == .afxdp { drop.extra = PrivilegeDrop.xdpCapabilities }
                if parsed.dataplane.workerRealtime { drop.extra |= PrivilegeDrop.realtimeCapabilities }
                try drop.apply()
            } catch {
                printError("egressd: \(error)")
                throw ExitCode(1)
            }
        }
        if ControlServer.answers(socket) {
            printError("egressd: another egressd is running on \(socket): stop it, or give this one another --socket")
            throw ExitCode(1)
        }
        let server = ControlServer()
        let appliance: Appliance
        do {
            appliance = try server.run { try Appliance(config: parsed, logger: logger) }
        } catch {
            printError("egressd: cannot start: \(error)")
            server.stop()
            throw ExitCode(1)
        }
        appliance.metricsRegistry.bootstrapMetricsSystem()
        appliance.controlServer = server
        let configPath = config
        do {
            let group = try socketGroup.map(Self.groupID)
            let store = ConfigFileStore(path: configPath)
            try server.start(path: socket, group: group) { ShellSession(backend: appliance, configFile: store) }
        } catch {
            printError("egressd: cannot listen on \(socket): \(error)")
            _ = try? server.run { appliance.shutdown() }
            server.stop()
            throw ExitCode(1)
        }
        // Next-hop MACs appear, move and expire: follow them.
        server.every(seconds: 5) { appliance.refreshAdjacencies() }
        logger.info("egressd \(Appliance.version) ready", metadata: ["config": "\(configPath)", "socket": "\(socket)"])

        signal(SIGHUP, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let queue = DispatchQueue(label: "egressd.signals")
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: queue)
        hup.setEventHandler {
            server.eventLoop.execute {
                switch ConfigFile.load(path: configPath) {
                case .success(let c):
                    do {
                        try appliance.apply(c)
                        logger.info("configuration reloaded", metadata: ["config": "\(configPath)"])
                    } catch {
                        logger.error("reload failed: \(error)")
                    }
                case .failure(let message):
                    logger.error("reload rejected, running configuration unchanged: \(message)")
                }
            }
        }
        hup.resume()
        let socketPath = socket
        let stop: @Sendable () -> Void = {
            logger.info("stopping")
            _ = try? server.run { appliance.shutdown() }
            // The Cease NOTIFICATIONs were written on the control loop; let them leave
            // (and the connections close) before the process goes.
            usleep(200_000)
            server.stop()
            unlink(socketPath)
            Glibc.exit(0)
        }
        // With `bgp graceful-shutdown drain-time` the first SIGTERM/SIGINT withdraws our
        // routes and drains; the appliance calls back when it is time to stop (drain over,
        // or a second signal). Without it, the first signal stops at once.
        let requestStop: @Sendable () -> Void = {
            server.eventLoop.execute {
                appliance.requestStop { queue.async(execute: stop) }
            }
        }
        let term = DispatchSource.makeSignalSource(signal: SIGTERM, queue: queue)
        term.setEventHandler(handler: requestStop)
        term.resume()
        let int = DispatchSource.makeSignalSource(signal: SIGINT, queue: queue)
        int.setEventHandler(handler: requestStop)
        int.resume()
        withExtendedLifetime((hup, term, int)) { dispatchMain() }
    }
}

extension EgressDaemon {
    /// The id of group `name` (or a numeric id), for --socket-group.
    static func groupID(_ name: String) throws -> gid_t {
        if let entry = getgrnam(name) { return entry.pointee.gr_gid }
        if let number = gid_t(name) { return number }
        throw ValidationError("unknown group '\(name)' for --socket-group")
    }
}

/// Writes a line to standard error (unbuffered; safe from any thread).
func printError(_ s: String) {
    let bytes = Array((s + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
}
