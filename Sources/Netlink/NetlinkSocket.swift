import CMNL
import Glibc

/// One NETLINK_ROUTE socket (libmnl) and the exchanges over it: a request and its ack, a dump,
/// and a pipelined batch. Not thread safe; `RTNetlink` serialises calls.
final class NetlinkSocket {
    private let socket: OpaquePointer
    private let portID: UInt32
    private var sequence: UInt32
    /// Dumps arrive in datagrams of up to 32 KiB (more with large pages); 64 KiB is ample.
    /// (Allocated in `init` once nothing can throw any more: a throwing init runs no deinit,
    /// so buffers allocated before the throw would leak; LeakSanitizer found it.)
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    /// Requests are written here; a batch is sent once it passes `batchBytes`.
    private let sendBuffer: UnsafeMutableRawBufferPointer
    private let batchBytes = 64 * 1024
    /// Requests per batch, bounded so the acks (one small skb each, ~1 KiB of receive buffer
    /// apiece) never overflow the receive buffer: a lost ack would leave a request's fate unknown.
    private let batchMessages: Int

    /// Opens and binds the socket in the current network namespace, or in `namespace`
    /// (/run/netns/NAME, as `ip netns add` creates).
    init(namespace: String?) throws(NetlinkError) {
        let opened: OpaquePointer
        if let namespace {
            opened = try Self.inNamespace(namespace) { () throws(NetlinkError) in try Self.openSocket() }
        } else {
            opened = try Self.openSocket()
        }
        socket = opened
        receiveBuffer = .allocate(byteCount: 64 * 1024, alignment: 8)
        sendBuffer = .allocate(byteCount: 64 * 1024 + 8192, alignment: 8)
        portID = mnl_socket_get_portid(opened)
        sequence = UInt32(truncatingIfNeeded: time(nil))

        // A big receive buffer lets large batches be acked in one go; SO_RCVBUFFORCE passes
        // net.core.rmem_max when we have CAP_NET_ADMIN, plain SO_RCVBUF otherwise.
        let fd = mnl_socket_get_fd(opened)
        var wanted: Int32 = 4 * 1024 * 1024
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &wanted, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &wanted, socklen_t(MemoryLayout<Int32>.size))
        }
        var granted: Int32 = 0
        var grantedLength = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &grantedLength)
        batchMessages = max(16, min(1024, Int(granted) / 2048))

        // Receive timeout: a synchronous caller must never hang on a reply that will not come.
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // Acks without the echoed request (small), with the kernel's error text (readable).
        var on: Int32 = 1
        _ = mnl_socket_setsockopt(opened, ExtendedAck.capAckOption, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(opened, ExtendedAck.extAckOption, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Turns the kernel's strict checking of dump requests on or off (NETLINK_GET_STRICT_CHK);
    /// false when the kernel does not have it.
    @discardableResult
    func setStrictDumpCheck(_ on: Bool) -> Bool {
        var value: Int32 = on ? 1 : 0
        return mnl_socket_setsockopt(socket, ExtendedAck.strictCheckOption, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    deinit {
        mnl_socket_close(socket)
        receiveBuffer.deallocate()
        sendBuffer.deallocate()
    }

    private static func openSocket() throws(NetlinkError) -> OpaquePointer {
        // Close-on-exec: processes the daemon spawns must not inherit the routing socket.
        guard let s = mnl_socket_open2(NETLINK_ROUTE, Int32(SOCK_CLOEXEC.rawValue)) else {
            throw NetlinkError(operation: "open netlink socket", errno: Glibc.errno)
        }
        if mnl_socket_bind(s, 0, pid_t(MNL_SOCKET_AUTOPID)) < 0 {
            let code = Glibc.errno
            mnl_socket_close(s)
            throw NetlinkError(operation: "bind netlink socket", errno: code)
        }
        return s
    }

    /// Runs `body` with this thread switched into the named network namespace, then switches
    /// back. Sockets created inside stay in that namespace for their whole life.
    static func inNamespace<T>(_ name: String, _ body: () throws(NetlinkError) -> T) throws(NetlinkError) -> T {
        let operation = "enter netns \(name)"
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw NetlinkError(operation: operation, errno: EINVAL, detail: "not a namespace name")
        }
        let target = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw NetlinkError(operation: operation, errno: Glibc.errno) }
        defer { close(target) }
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else { throw NetlinkError(operation: operation, errno: Glibc.errno) }
        defer { close(original) }
        guard cmnl_setns(target, CMNL_CLONE_NEWNET) == 0 else {
            throw NetlinkError(operation: operation, errno: Glibc.errno)
        }
        let result: Result<T, NetlinkError>
        do throws(NetlinkError) { result = .success(try body()) } catch { result = .failure(error) }
        guard cmnl_setns(original, CMNL_CLONE_NEWNET) == 0 else {
            // Returning to a namespace we hold open cannot fail in practice; report it anyway.
            throw NetlinkError(operation: "return from netns \(name)", errno: Glibc.errno)
        }
        return try result.get()
    }

    private func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    private func send(_ bytes: UnsafeRawBufferPointer, operation: String) throws(NetlinkError) {
        if mnl_socket_sendto(socket, bytes.baseAddress, bytes.count) < 0 {
            throw NetlinkError(operation: operation, errno: Glibc.errno, detail: "sending the request")
        }
    }

    /// One datagram from the kernel; valid until the next call.
    private func receive(operation: String) throws(NetlinkError) -> UnsafeRawBufferPointer {
        let n = mnl_socket_recvfrom(socket, receiveBuffer.baseAddress, receiveBuffer.count)
        if n < 0 {
            let code = Glibc.errno
            if code == EAGAIN || code == EWOULDBLOCK {
                throw NetlinkError(operation: operation, errno: ETIMEDOUT, detail: "no reply from the kernel in 30 s")
            }
            if code == ENOBUFS {
                throw NetlinkError(operation: operation, errno: code, detail: "receive buffer overrun; replies were lost")
            }
            throw NetlinkError(operation: operation, errno: code, detail: "receiving the reply")
        }
        return UnsafeRawBufferPointer(start: receiveBuffer.baseAddress, count: n)
    }

    /// Writes one request (nlmsghdr with `sequence`, then what `build` adds) into the send buffer.
    private func write(type: UInt16, flags: UInt16, sequence: UInt32, operation: String,
                       _ build: (inout MessageWriter) throws(NetlinkError) -> Void) throws(NetlinkError) -> Int {
        var writer = MessageWriter(buffer: sendBuffer.baseAddress!, capacity: sendBuffer.count,
                                   type: type, flags: flags, sequence: sequence)
        try build(&writer)
        if writer.overflowed {
            throw NetlinkError(operation: operation, errno: EMSGSIZE, detail: "request larger than \(sendBuffer.count) bytes")
        }
        return writer.length
    }

    /// Sends one request (nlmsghdr with a new sequence number, `flags`, then what `build` adds)
    /// and hands each message of its answer to `handle` until `handle` says the answer is
    /// complete. Messages with another sequence number (stale replies of earlier requests) are
    /// skipped.
    private func exchange(type: UInt16, flags: UInt16, operation: String,
                          _ build: (inout MessageWriter) throws(NetlinkError) -> Void,
                          handle: (ReceivedMessage) -> Bool) throws(NetlinkError) {
        let seq = nextSequence()
        let length = try write(type: type, flags: flags, sequence: seq, operation: operation, build)
        try send(UnsafeRawBufferPointer(start: sendBuffer.baseAddress, count: length), operation: operation)
        var finished = false
        while !finished {
            let datagram = try receive(operation: operation)
            forEachMessage(in: datagram) { message in
                guard message.sequence == seq, !finished else { return }
                finished = handle(message)
            }
        }
    }

    /// Sends one request with NLM_F_ACK and waits for its ack. Messages that come before the
    /// ack (the answer of a GET) are passed to `reply`. A negative ack throws.
    func request(type: UInt16, flags: UInt16 = 0, operation: String,
                 _ build: (inout MessageWriter) throws(NetlinkError) -> Void,
                 reply: (ReceivedMessage) -> Void = { _ in }) throws(NetlinkError) {
        var failure: NetlinkError?
        try exchange(type: type, flags: NLMFlag.request | NLMFlag.ack | flags, operation: operation, build) { message in
            switch message.type {
            case MessageType.error:
                failure = Self.ackError(message, operation: operation)
                return true
            case MessageType.noop:
                return false
            case MessageType.done, MessageType.overrun:
                return true
            default:
                reply(message)
                return false
            }
        }
        if let failure { throw failure }
    }

    /// Sends a dump request and decodes every reply with `decode` until NLMSG_DONE. A dump the
    /// kernel marks inconsistent (the table changed underneath, NLM_F_DUMP_INTR) is retried.
    func dump<T>(type: UInt16, operation: String, _ build: (inout MessageWriter) -> Void,
                 decode: (ReceivedMessage) -> T?) throws(NetlinkError) -> [T] {
        for _ in 0..<5 {
            var items: [T] = []
            var interrupted = false
            var failure: NetlinkError?
            try exchange(type: type, flags: NLMFlag.request | NLMFlag.dump, operation: operation,
                         { w in build(&w) }) { message in
                if message.flags & NLMFlag.dumpInterrupted != 0 { interrupted = true }
                switch message.type {
                case MessageType.done:
                    // NLMSG_DONE carries an int: negative when the dump itself failed.
                    if let code = message.payload.i32, code < 0 {
                        failure = NetlinkError(operation: operation, errno: -code)
                    }
                    return true
                case MessageType.error:
                    failure = Self.ackError(message, operation: operation)
                    return true
                case MessageType.noop, MessageType.overrun:
                    return false
                default:
                    if let item = decode(message) { items.append(item) }
                    return false
                }
            }
            if let failure { throw failure }
            if !interrupted { return items }
        }
        throw NetlinkError(operation: operation, errno: EINTR, detail: "dump kept changing underneath; gave up after 5 tries")
    }

    /// Sends `count` requests pipelined: as many as fit in one batch go out in a single
    /// sendmsg, then their acks are collected, so N requests cost about N/batch round trips
    /// instead of N. Returns each request's result in order; throws only when the socket
    /// itself fails (then the fate of the requests in flight is unknown).
    func pipeline(count: Int, type: UInt16, flags: UInt16, operation: (Int) -> String,
                  _ build: (Int, inout MessageWriter) throws(NetlinkError) -> Void) throws(NetlinkError) -> [NetlinkError?] {
        var results = [NetlinkError?](repeating: nil, count: count)
        var inFlight: [Int] = []  // request indices, in sequence order starting at firstSequence
        var firstSequence: UInt32 = 0
        var used = 0
        let base = sendBuffer.baseAddress!

        func flush() throws(NetlinkError) {
            guard !inFlight.isEmpty else { return }
            let batchOperation = "\(MessageType.name(type)) batch of \(inFlight.count)"
            try send(UnsafeRawBufferPointer(start: base, count: used), operation: batchOperation)
            var acked = [Bool](repeating: false, count: inFlight.count)
            var remaining = inFlight.count
            while remaining > 0 {
                let datagram = try receive(operation: batchOperation)
                forEachMessage(in: datagram) { message in
                    guard message.type == MessageType.error else { return }
                    let slot = Int(message.sequence &- firstSequence)
                    guard slot < inFlight.count, !acked[slot] else { return }
                    acked[slot] = true
                    remaining -= 1
                    let index = inFlight[slot]
                    results[index] = Self.ackError(message, operation: operation(index))
                }
            }
            inFlight.removeAll(keepingCapacity: true)
            used = 0
        }

        var index = 0
        while index < count {
            let seq = nextSequence()
            if inFlight.isEmpty { firstSequence = seq }
            var writer = MessageWriter(buffer: base + used, capacity: sendBuffer.count - used, type: type,
                                       flags: NLMFlag.request | NLMFlag.ack | flags, sequence: seq)
            do throws(NetlinkError) {
                try build(index, &writer)
            } catch {
                sequence &-= 1  // nothing was queued under this number
                results[index] = error
                index += 1
                continue
            }
            if writer.overflowed {
                sequence &-= 1
                if inFlight.isEmpty {
                    results[index] = NetlinkError(operation: operation(index), errno: EMSGSIZE, detail: "request too large")
                    index += 1
                } else {
                    try flush()  // retry this request at the start of an empty buffer
                }
                continue
            }
            inFlight.append(index)
            used += (writer.length + 3) & ~3
            index += 1
            if used >= batchBytes || inFlight.count >= batchMessages { try flush() }
        }
        try flush()
        return results
    }

    /// The error an NLMSG_ERROR reports, nil for a positive ack. Reads the extended-ack message
    /// (NLMSGERR_ATTR_MSG) that follows the echoed request header.
    static func ackError(_ message: ReceivedMessage, operation: String) -> NetlinkError? {
        guard let code = message.payload.i32 else {
            return .invalid(operation, "truncated NLMSG_ERROR")
        }
        if code == 0 { return nil }
        var detail: String?
        if message.flags & NLMFlag.ackTLVs != 0 {
            // int error; struct nlmsghdr msg; [the request's payload unless NLM_F_CAPPED]; TLVs
            var skip = 4 + MemoryLayout<nlmsghdr>.size
            if message.flags & NLMFlag.capped == 0, message.payload.count >= skip {
                let echoedLength = Int(message.payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
                skip = 4 + max(echoedLength, MemoryLayout<nlmsghdr>.size)
            }
            if skip < message.payload.count {
                for (type, value) in Attributes(message.payload, after: skip) where type == ExtendedAck.message {
                    detail = value.string
                }
            }
        }
        return NetlinkError(operation: operation, errno: -code, detail: detail)
    }
}
