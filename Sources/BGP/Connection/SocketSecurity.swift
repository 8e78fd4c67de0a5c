// Transport protection of a session, set on its sockets: TCP MD5 signatures
// (RFC 2385, Linux TCP_MD5SIG: a key per peer address, on the listening
// socket and on each connecting one) and GTSM (RFC 5082: we send with TTL
// 255 and the kernel drops segments that arrive with a TTL below 256 - hops,
// IP_MINTTL / IPV6_MINHOPCOUNT).

import NIOCore
import Packet

/// `struct tcp_md5sig` of linux/tcp.h: 128-byte sockaddr_storage, flags, prefix length,
/// key length, interface index, 80-byte key (216 bytes).
struct TCPMD5Signature: Sendable {
    static let maximumKeyLength = 80

    var address: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                  UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var flags: UInt8 = 0
    var prefixLength: UInt8 = 0
    var keyLength: UInt16 = 0
    var interfaceIndex: Int32 = 0
    var key: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    /// The key for `peer`; an empty key removes it.
    init(peer: IPAddress, key text: String) {
        withUnsafeMutableBytes(of: &address) { a in
            switch peer {
            case .v4(let v4):
                a.storeBytes(of: UInt16(2), toByteOffset: 0, as: UInt16.self)  // AF_INET, host order
                a.storeBytes(of: v4.value.bigEndian, toByteOffset: 4, as: UInt32.self)
            case .v6(let v6):
                a.storeBytes(of: UInt16(10), toByteOffset: 0, as: UInt16.self)  // AF_INET6
                a.storeBytes(of: v6.high.bigEndian, toByteOffset: 8, as: UInt64.self)
                a.storeBytes(of: v6.low.bigEndian, toByteOffset: 16, as: UInt64.self)
            }
        }
        let bytes = Array(text.utf8.prefix(Self.maximumKeyLength))
        keyLength = UInt16(bytes.count)
        withUnsafeMutableBytes(of: &key) { k in
            for (i, b) in bytes.enumerated() { k[i] = b }
        }
    }
}

enum SocketSecurity {
    static let tcpMD5SIG: Int32 = 14           // TCP_MD5SIG
    static let ipMinTTL: Int32 = 21            // IP_MINTTL
    static let ipv6MinHopCount: Int32 = 73     // IPV6_MINHOPCOUNT

    /// Sets (or with nil/empty removes) the MD5 key for `peer` on `channel`'s socket.
    static func setPassword(_ channel: Channel, peer: IPAddress, _ password: String?) -> EventLoopFuture<Void> {
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        return provider.unsafeSetSocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: tcpMD5SIG),
                                              value: TCPMD5Signature(peer: peer, key: password ?? ""))
    }

    /// GTSM: segments from `peer` with a TTL (hop limit) below 256 - hops are dropped by the kernel.
    static func setMinimumTTL(_ channel: Channel, peer: IPAddress, hops: Int) -> EventLoopFuture<Void> {
        let minimum = SocketOptionValue(max(1, 256 - hops))
        switch peer {
        case .v4:
            return channel.setOption(ChannelOptions.Types.SocketOption(level: .ip, name: NIOBSDSocket.Option(rawValue: ipMinTTL)), value: minimum)
        case .v6:
            return channel.setOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: NIOBSDSocket.Option(rawValue: ipv6MinHopCount)), value: minimum)
        }
    }

    /// Both, as a session's settings ask.
    static func protect(_ channel: Channel, _ settings: BGPNeighborSettings) -> EventLoopFuture<Void> {
        var f = channel.eventLoop.makeSucceededVoidFuture()
        if let password = settings.password {
            f = f.flatMap { setPassword(channel, peer: settings.address, password) }
        }
        if let hops = settings.ttlSecurityHops {
            f = f.flatMap { setMinimumTTL(channel, peer: settings.address, hops: hops) }
        }
        return f
    }
}

extension IPAddress {
    var isV6: Bool { if case .v6 = self { true } else { false } }
}
