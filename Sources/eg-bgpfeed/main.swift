// eg-bgpfeed: the BGP benchmark's injector. Builds the whole feed first
// (Feed.swift), then connects to the receiver, opens an eBGP session, and
// right after Established writes every UPDATE and an End-of-RIB as fast as
// the receiver takes them. It prints when the session became Established
// and when the last byte was written (CLOCK_REALTIME, seconds), then keeps
// the session up (keepalives) until it is killed or the peer closes.
// The same binary and options feed egressd, BIRD and FRR alike.

import BGP
import Glibc
import Packet

/// A line on standard error (fd 2, unbuffered).
func complain(_ message: String) {
    let line = Array("eg-bgpfeed: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

func fail(_ message: String) -> Never {
    complain(message)
    exit(2)
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func say(_ line: String) {
    print(line)
    fflush(nil)
}

// MARK: socket

func makeSockaddr(_ a: IPv4Address, _ port: UInt16) -> sockaddr_in {
    var s = sockaddr_in()
    s.sin_family = sa_family_t(AF_INET)
    s.sin_port = port.bigEndian
    s.sin_addr.s_addr = a.value.bigEndian
    return s
}

/// Why a connection attempt ended before Established (the attempt is retried).
struct AttemptFailed: Error { let reason: String }



/// One TCP connection and its buffered input.
final class Connection {
    let fd: Int32
    private var pending: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 65536)

    init(to remote: IPv4Address, port: UInt16, from source: IPv4Address?) throws(AttemptFailed) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { fail("socket: \(String(cString: strerror(errno)))") }
        if let source {
            var local = makeSockaddr(source, 0)
            let rc = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard rc == 0 else { fail("bind \(source): \(String(cString: strerror(errno)))") }
        }
        var address = makeSockaddr(remote, port)
        let rc = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw AttemptFailed(reason: "connect \(remote):\(port): \(reason)")
        }
    }

    func writeAll(_ bytes: [UInt8]) throws(AttemptFailed) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw AttemptFailed(reason: "write: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Reads one whole message: its type and body. A NOTIFICATION or a close ends the attempt.
    func readMessage() throws(AttemptFailed) -> (type: UInt8, body: [UInt8]) {
        while true {
            if pending.count >= 19 {
                let length = Int(pending[16]) << 8 | Int(pending[17])
                guard length >= 19 && length <= 4096 else { fail("bad message length \(length) from the receiver") }
                if pending.count >= length {
                    let type = pending[18]
                    let body = Array(pending[19..<length])
                    pending.removeFirst(length)
                    if type == MessageType.notification {
                        throw AttemptFailed(reason: "NOTIFICATION \(body.first ?? 0)/\(body.dropFirst().first ?? 0) from the receiver")
                    }
                    return (type, body)
                }
            }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw AttemptFailed(reason: "the receiver closed the connection") }
            pending.append(contentsOf: chunk[0..<n])
        }
    }
}


func run() {
    // MARK: command line

    let command: Options
    do {
        command = try Options.parse(Array(CommandLine.arguments.dropFirst()))
    } catch {
        if Options.exitCode(for: error) == .success { print(Options.helpMessage()); exit(0) }
        fail(Options.fullMessage(for: error))
    }
    let options = command.feed
    let connectTo = command.connect, source = command.source, port = command.port
    let routerID = command.routerID, holdTime = command.hold, dryRun = command.dryRun

    // MARK: the feed, built before connecting

    let feed = FeedBuilder.build(options)
    var endOfRIB: [UInt8] = []
    BGPMessage.update(.endOfRIB(.ipv4Unicast)).encode(into: &endOfRIB)
    say("feed_prefixes: \(feed.prefixes.count)")
    say("feed_attribute_sets: \(feed.attributeSets)")
    say("feed_update_messages: \(feed.messages)")
    say("feed_bytes: \(feed.bytes.count)")
    if dryRun { exit(0) }
    guard let connectTo else { fail("--connect is required (or --dry-run)\n\(Options.usageString())") }

    // MARK: session

    signal(SIGPIPE, SIG_IGN)
    let open = BGPOpen(asNumber: options.localAS, holdTime: holdTime, bgpIdentifier: routerID ?? options.nextHop,
                       capabilities: [.multiprotocol(.ipv4Unicast), .routeRefresh])
    var keepalive: [UInt8] = []
    BGPMessage.keepalive.encode(into: &keepalive)

    /// Connects and runs OPEN/KEEPALIVE up to Established; returns the connection and the hold time.
    func establish() throws(AttemptFailed) -> (Connection, UInt16) {
        let c = try Connection(to: connectTo, port: port, from: source)
        do throws(AttemptFailed) {
            try c.writeAll(BGPMessage.open(open).encoded())
            let (type, body) = try c.readMessage()
            guard type == MessageType.open, body.count >= 9 else { throw AttemptFailed(reason: "expected OPEN, got message type \(type)") }
            let peerHold = UInt16(body[3]) << 8 | UInt16(body[4])
            try c.writeAll(keepalive)
            while try c.readMessage().type != MessageType.keepalive {}
            return (c, min(holdTime, peerHold))
        } catch {
            close(c.fd)
            throw error
        }
    }

    // The receiver may still be starting, or refuse us once while its own connect attempt
    // fails: retry for up to 60 s.
    var session: (Connection, UInt16)?
    let giveUp = now() + 60
    while session == nil {
        do {
            session = try establish()
        } catch {
            guard now() < giveUp else { fail("no session: \(error.reason)") }
            complain("\(error.reason); retrying")
            usleep(500_000)
        }
    }
    let (connection, hold) = session!
    say("established_at: \(now())")
    do {
        try connection.writeAll(feed.bytes)
        try connection.writeAll(endOfRIB)
    } catch {
        fail("while sending the feed: \(error.reason)")
    }
    say("sent_at: \(now())")

    // Keep the session: keepalives at a third of the hold time; read and drop what comes.
    let interval = hold == 0 ? 30.0 : Double(hold) / 3
    var nextKeepalive = now() + interval
    while true {
        var pfd = pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)
        let rc = poll(&pfd, 1, Int32(max(0, (nextKeepalive - now()) * 1000)))
        do {
            if rc > 0 { _ = try connection.readMessage() }
            if now() >= nextKeepalive {
                try connection.writeAll(keepalive)
                nextKeepalive = now() + interval
            }
        } catch {
            fail("session ended: \(error.reason)")
        }
    }

}

run()
