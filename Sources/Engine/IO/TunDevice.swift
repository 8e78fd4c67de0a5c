// A TUN interface with one queue per worker (IFF_MULTI_QUEUE), so every
// worker reads and writes its own descriptor. The interface exists as long
// as one queue is open: dropping the last reference removes it.
//
// Every queue is opened with IFF_VNET_HDR: each packet read or written is
// preceded by a 10-byte virtio_net_hdr (Packet/Offload.swift), and the
// device offers the offloads the kernel accepts (TUNSETOFFLOAD, probed:
// checksum, TSO4/6, USO4/6 on Linux 6.2+). The kernel then hands the
// workers GSO super-packets of up to 64 KiB, which they segment, and
// accepts the super-packets their coalescing builds (Worker.swift).

import CEgressSys
#if canImport(Glibc)
import Glibc
#endif

public final class TunDevice: @unchecked Sendable {
    public let name: String
    public let queues: [Int32]
    /// The TUN_F_* offloads the kernel accepted (0: none, plain packets with a virtio header).
    public let offloads: UInt32

    public init(name: String, queues count: Int) throws {
        var fds: [Int32] = []
        var accepted: UInt32 = 0
        for _ in 0..<max(1, count) {
            var o: UInt32 = 0
            let fd = egressd_tun_open_offload(name, 1, &o)
            accepted = o
            if fd < 0 {
                for f in fds { close(f) }
                throw EngineError("create TUN \(name)", errno: -fd, hint: EngineError.hint(for: -fd))
            }
            fds.append(fd)
        }
        self.name = name
        queues = fds
        offloads = accepted
        // The default queue of 500 packets overflows in bursts while a
        // worker is busy with a batch; a longer one absorbs them.
        _ = egressd_set_txqueuelen(name, Self.queueLength)
    }

    public static let queueLength: Int32 = 4096

    /// TUN_F_* bits (linux/if_tun.h) and their names, for `show` output and logs.
    public static let offloadNames: [(UInt32, String)] = [(0x01, "csum"), (0x02, "tso4"), (0x04, "tso6"), (0x20, "uso4"), (0x40, "uso6")]

    /// The accepted offloads by name, e.g. "csum tso4 tso6 uso4 uso6", or "none".
    public var offloadDescription: String {
        let names = Self.offloadNames.filter { offloads & $0.0 != 0 }.map(\.1)
        return names.isEmpty ? "none" : names.joined(separator: " ")
    }

    deinit {
        for fd in queues { close(fd) }
    }
}
