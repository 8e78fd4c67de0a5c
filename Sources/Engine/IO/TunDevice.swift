// A TUN interface with one queue per worker (IFF_MULTI_QUEUE), so every
// worker reads and writes its own descriptor. The interface exists as long
// as one queue is open: dropping the last reference removes it.

import CEgressSys
#if canImport(Glibc)
import Glibc
#endif

public final class TunDevice: @unchecked Sendable {
    public let name: String
    public let queues: [Int32]

    public init(name: String, queues count: Int) throws {
        var fds: [Int32] = []
        for _ in 0..<max(1, count) {
            let fd = egressd_tun_open(name, 1)
            if fd < 0 {
                for f in fds { close(f) }
                throw EngineError("create TUN \(name)", errno: -fd, hint: EngineError.hint(for: -fd))
            }
            fds.append(fd)
        }
        self.name = name
        queues = fds
        // The default queue of 500 packets overflows in bursts while a
        // worker is busy with a batch; a longer one absorbs them.
        _ = egressd_set_txqueuelen(name, Self.queueLength)
    }

    public static let queueLength: Int32 = 4096

    deinit {
        for fd in queues { close(fd) }
    }
}
