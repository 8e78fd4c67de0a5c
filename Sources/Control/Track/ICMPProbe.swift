// The I/O edge of `ip sla icmp-echo`: one ICMP echo request on a raw socket,
// then wait up to the timeout for the matching reply (identifier, sequence,
// source). Blocking; run on a thread pool, never on the event loop.

import Glibc
import Packet

enum ICMPProbe {
    /// Sends one echo to `target` and waits for its reply. Returns the round trip, or nil.
    static func echo(to target: IPv4Address, from source: IPv4Address?, identifier: UInt16, sequence: UInt16,
                     timeout: Duration) -> Duration? {
        let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_ICMP))
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = source.value.bigEndian
            let rc = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { return nil }
        }
        // Echo request: type 8, code 0, checksum, identifier, sequence, 16 bytes of payload.
        var packet: [UInt8] = [8, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xFF), UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        packet += Array("egressd ip sla  ".utf8)
        let sum = checksum(packet)
        packet[2] = UInt8(sum >> 8); packet[3] = UInt8(sum & 0xFF)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_addr.s_addr = target.value.bigEndian
        let start = ContinuousClock.now
        let sent = packet.withUnsafeBytes { bytes in
            withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard sent == packet.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 1500)
        while true {
            let left = timeout - (ContinuousClock.now - start)
            guard left > .zero else { return nil }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            guard poll(&pfd, 1, ms) > 0 else { continue }
            var from = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = buffer.withUnsafeMutableBytes { b in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &length) }
                }
            }
            // A raw ICMP socket receives the IPv4 header too.
            guard n >= 28, UInt32(bigEndian: from.sin_addr.s_addr) == target.value else { continue }
            let ihl = Int(buffer[0] & 0x0F) * 4
            guard n >= ihl + 8, buffer[ihl] == 0, buffer[ihl + 1] == 0,
                  UInt16(buffer[ihl + 4]) << 8 | UInt16(buffer[ihl + 5]) == identifier,
                  UInt16(buffer[ihl + 6]) << 8 | UInt16(buffer[ihl + 7]) == sequence else { continue }
            return ContinuousClock.now - start
        }
    }

    static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
