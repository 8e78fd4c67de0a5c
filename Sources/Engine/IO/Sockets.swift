// The sockets a worker uses: GRE in, IPv4 and IPv6 out (raw, header
// included). GRE in is a raw IPPROTO_GRE socket when there is one worker
// (one copy per packet in the kernel), and AF_PACKET sockets in a fanout
// group when there are several (raw sockets cannot share out packets; the
// process then also keeps a GRE "sink" so the kernel sends no ICMP).

import CEgressSys
#if canImport(Glibc)
import Glibc
#endif

enum Sockets {
    static func greReceive(fanoutGroup: UInt16) throws -> Int32 {
        let fd = egressd_gre_packet_socket(fanoutGroup, 8 << 20)
        if fd < 0 { throw EngineError("open GRE packet socket", errno: -fd, hint: EngineError.hint(for: -fd)) }
        return fd
    }

    static func greRaw() throws -> Int32 {
        let fd = egressd_gre_raw_socket(8 << 20)
        if fd < 0 { throw EngineError("open GRE raw socket", errno: -fd, hint: EngineError.hint(for: -fd)) }
        return fd
    }

    static func l2Send(qdiscBypass: Bool) throws -> Int32 {
        let fd = egressd_l2_send_socket(8 << 20, qdiscBypass ? 1 : 0)
        if fd < 0 { throw EngineError("open L2 send socket", errno: -fd, hint: EngineError.hint(for: -fd)) }
        return fd
    }

    static func greSink() throws -> Int32 {
        let fd = egressd_gre_sink_socket()
        if fd < 0 { throw EngineError("open GRE sink socket", errno: -fd, hint: EngineError.hint(for: -fd)) }
        return fd
    }

    static func rawSend(family: Int32) throws -> Int32 {
        let fd = egressd_raw_send_socket(family, 8 << 20)
        if fd < 0 { throw EngineError("open raw send socket", errno: -fd, hint: EngineError.hint(for: -fd)) }
        return fd
    }
}
