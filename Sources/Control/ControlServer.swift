// The shell's server side: a UNIX stream socket (mode 0660) on which egsh
// sends command lines; each connection is a ShellSession with its own mode.
// Every request runs on the server's single event loop thread, so commands,
// reloads and the appliance's state never race.

import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

public final class ControlServer: @unchecked Sendable {
    public typealias Executor = @Sendable (String) -> (output: String, ok: Bool)

    let group: MultiThreadedEventLoopGroup
    public var eventLoop: EventLoop { group.next() }
    var channel: Channel?
    /// Bounds (docs/architecture.md, "Bounded queues"): open shell connections, and the
    /// responses a connection may leave unread before it is closed.
    public static let maximumSessions = 64
    static let maximumUnreadOutput = 16 << 20
    /// Open connections; touched only on the server's event loop.
    private var openSessions = 0
    /// Connections refused because `maximumSessions` were open.
    public private(set) var sessionsRefused: UInt64 = 0
    /// Connections closed because their unread output passed `maximumUnreadOutput`.
    public private(set) var outputOverflows: UInt64 = 0

    public init() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Binds `path` (replacing a stale socket file) and serves shell
    /// sessions: `makeSession` is called on the control thread for each
    /// connection, whose requests then all go to that session.
    public func start(path: String, group owner: gid_t? = nil,
                      makeSession: @escaping @Sendable () -> ShellSession) throws {
        try start(path: path, group: owner) { () -> (String) -> ShellResponse in
            let session = makeSession()
            return { session.handle($0) }
        }
    }

    /// Binds `path` and answers every line with `execute` (no session state).
    public func start(path: String, group owner: gid_t? = nil, execute: @escaping Executor) throws {
        try start(path: path, group: owner) { () -> (String) -> ShellResponse in
            { raw in
                let (output, ok) = execute(raw.trimmedLine())
                return ShellResponse(ok ? .ok : .error, output)
            }
        }
    }

    private func start(path: String, group owner: gid_t?,
                       handlers: @escaping @Sendable () -> (String) -> ShellResponse) throws {
        let dir = path.split(separator: "/").dropLast().joined(separator: "/")
        if !dir.isEmpty { mkdir("/" + dir, 0o755) }
        // A socket a live daemon answers on is not stale: never take it over.
        if Self.answers(path) {
            throw ControlServerError("another egressd is running on \(path): stop it, or give this one another --socket")
        }
        unlink(path)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    guard openSessions < Self.maximumSessions else {
                        sessionsRefused += 1
                        var out = channel.allocator.buffer(capacity: 64)
                        out.writeBytes(ShellProtocol.encodeResponse(ok: false, output: "% Too many shell sessions (\(Self.maximumSessions))\n"))
                        channel.writeAndFlush(out).whenComplete { _ in channel.close(promise: nil) }
                        return
                    }
                    openSessions += 1
                    channel.closeFuture.whenComplete { [self] _ in openSessions -= 1 }
                    try channel.pipeline.syncOperations.addHandler(CommandLineHandler(handle: handlers()) { [self] in
                        outputOverflows += 1
                    })
                }
            }
        do {
            channel = try bootstrap.bind(unixDomainSocketPath: path).wait()
        } catch {
            throw ControlServerError("\(error): make the directory writable by the user egressd runs as, or give another --socket")
        }
        // Owner and group may use the shell; the group is --socket-group.
        if let owner, chown(path, getuid(), owner) != 0 {
            throw ControlServerError("cannot give \(path) to group \(owner): \(String(cString: strerror(errno)))")
        }
        chmod(path, 0o660)
    }

    /// Whether something accepts connections on the UNIX socket `path`.
    public static func answers(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    /// Runs `body` on the control thread every `seconds`, from now on.
    public func every(seconds: Int64, _ body: @escaping @Sendable () -> Void) {
        eventLoop.scheduleRepeatedTask(initialDelay: .seconds(seconds), delay: .seconds(seconds)) { _ in body() }
    }

    /// Runs `body` on the control thread and waits for it.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        try eventLoop.submit(body).wait()
    }

    public func stop() {
        try? channel?.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// Splits the byte stream into lines and answers each with a framed response.
final class CommandLineHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let handle: (String) -> ShellResponse
    /// Called when the connection is closed for leaving too much output unread.
    let overflow: () -> Void
    var pending: [UInt8] = []
    static let maxLine = 64 * 1024

    init(handle: @escaping (String) -> ShellResponse, overflow: @escaping () -> Void = {}) {
        self.handle = handle
        self.overflow = overflow
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if let bytes = buffer.readBytes(length: buffer.readableBytes) { pending += bytes }
        while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
            // A client that sends commands but does not read the answers: bounded, then closed.
            if let unread = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes),
               unread > ControlServer.maximumUnreadOutput {
                overflow()
                pending = []
                context.close(promise: nil)
                return
            }
            let line = String(decoding: pending[..<nl], as: UTF8.self)
            pending.removeSubrange(...nl)
            let response = handle(line)
            var out = context.channel.allocator.buffer(capacity: response.output.utf8.count + 16)
            out.writeBytes(ShellProtocol.encodeResponse(response))
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
        if pending.count > Self.maxLine {
            var out = context.channel.allocator.buffer(capacity: 64)
            out.writeBytes(ShellProtocol.encodeResponse(ok: false, output: "% Line too long\n"))
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
            pending = []
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

/// The control socket could not be set up.
public struct ControlServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

extension String {
    /// The line without leading and trailing blanks and CR.
    public func trimmedLine() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s.removeLast() }
        return String(s)
    }
}
