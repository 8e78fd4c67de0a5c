// TUN offloads (IFF_VNET_HDR): the virtio_net_hdr that precedes every packet
// read from or written to such a TUN, user-space segmentation of the GSO
// super-packets the kernel hands over (TSO: TCP, USO: UDP), checksum
// completion for NEEDS_CSUM packets, and the reverse, coalescing consecutive
// TCP segments of one flow into one super-packet for the kernel (GRO).
//
// Pure functions over caller-owned buffers: no allocation, no I/O. The rules
// follow the virtio spec (5.1.6 "Device Operation", virtio_net_hdr) and what
// the kernel's tcp_gso_segment / tcp_gro_receive do.

/// The 10-byte virtio_net_hdr (legacy layout, no num_buffers). Multi-byte
/// fields are little-endian: TUN uses the host's order unless TUNSETVNETBE,
/// and egressd runs on little-endian hosts (x86-64, arm64).
public struct VirtioNetHeader: Equatable {
    public static let size = 10
    public static let needsChecksum: UInt8 = 1      // VIRTIO_NET_HDR_F_NEEDS_CSUM
    public static let dataValid: UInt8 = 2          // VIRTIO_NET_HDR_F_DATA_VALID
    public static let gsoNone: UInt8 = 0
    public static let gsoTCPv4: UInt8 = 1
    public static let gsoUDP: UInt8 = 3             // UFO: fragmentation, never asked for
    public static let gsoTCPv6: UInt8 = 4
    public static let gsoUDPL4: UInt8 = 5           // USO: UDP segmentation
    public static let gsoECN: UInt8 = 0x80

    public var flags: UInt8
    public var gsoType: UInt8
    public var headerLength: UInt16
    public var gsoSize: UInt16
    public var checksumStart: UInt16
    public var checksumOffset: UInt16

    @inlinable
    public init(flags: UInt8 = 0, gsoType: UInt8 = 0, headerLength: UInt16 = 0, gsoSize: UInt16 = 0,
                checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0) {
        self.flags = flags
        self.gsoType = gsoType
        self.headerLength = headerLength
        self.gsoSize = gsoSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
    }

    @inlinable
    public init(reading p: UnsafeRawPointer) {
        @inline(__always) func le16(_ o: Int) -> UInt16 { UInt16(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
        self.init(flags: p.u8(0), gsoType: p.u8(1), headerLength: le16(2), gsoSize: le16(4),
                  checksumStart: le16(6), checksumOffset: le16(8))
    }

    @inlinable
    public func write(to p: UnsafeMutableRawPointer) {
        p.setU8(flags, 0)
        p.setU8(gsoType, 1)
        p.storeBytes(of: headerLength.littleEndian, toByteOffset: 2, as: UInt16.self)
        p.storeBytes(of: gsoSize.littleEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: checksumStart.littleEndian, toByteOffset: 6, as: UInt16.self)
        p.storeBytes(of: checksumOffset.littleEndian, toByteOffset: 8, as: UInt16.self)
    }
}

/// A GSO super-packet checked and measured: what `segment` needs.
public struct GSOPlan: Equatable {
    public let isIPv6: Bool
    public let isUDP: Bool
    public let ipHeaderLength: Int
    public let transportHeaderLength: Int
    /// Payload bytes per segment (virtio gso_size: the MSS for TCP).
    public let segmentSize: Int
    /// Transport payload of the whole super-packet.
    public let payloadLength: Int

    @inlinable
    public init(isIPv6: Bool, isUDP: Bool, ipHeaderLength: Int, transportHeaderLength: Int, segmentSize: Int, payloadLength: Int) {
        self.isIPv6 = isIPv6
        self.isUDP = isUDP
        self.ipHeaderLength = ipHeaderLength
        self.transportHeaderLength = transportHeaderLength
        self.segmentSize = segmentSize
        self.payloadLength = payloadLength
    }

    @inlinable public var headersLength: Int { ipHeaderLength + transportHeaderLength }
    @inlinable public var count: Int { (payloadLength + segmentSize - 1) / segmentSize }
}

public enum Offload {
    public static let tcpPSH: UInt8 = 0x08
    public static let tcpCWR: UInt8 = 0x80

    /// Why a packet from a TUN with offloads was refused (counted bad-inner).
    public enum Failure: Error, Equatable {
        case truncated, badIPHeader, badTransportHeader, unsupportedGSO, badChecksumRange
    }

    /// Checks a GSO super-packet (`p`, `n` bytes after the virtio header) and
    /// says how it is cut. One segment is a valid plan (a GSO packet that
    /// happens to fit in one MSS).
    @inlinable
    public static func plan(_ p: UnsafeRawPointer, _ n: Int, header h: VirtioNetHeader) -> Result<GSOPlan, Failure> {
        let type = h.gsoType & ~VirtioNetHeader.gsoECN
        guard type == VirtioNetHeader.gsoTCPv4 || type == VirtioNetHeader.gsoTCPv6 || type == VirtioNetHeader.gsoUDPL4 else {
            return .failure(.unsupportedGSO)
        }
        guard h.gsoSize > 0 else { return .failure(.unsupportedGSO) }
        guard n >= 1 else { return .failure(.truncated) }
        let version = p.u8(0) >> 4
        let ipHL: Int
        let total: Int
        let proto: UInt8
        if version == 4 {
            guard type != VirtioNetHeader.gsoTCPv6, n >= IPv4Header.minimumLength else { return .failure(.badIPHeader) }
            ipHL = Int(p.u8(0) & 0x0F) * 4
            total = Int(p.u16(2))
            // A fragment (MF or an offset) cannot be segmented.
            guard ipHL >= 20, total >= ipHL, total <= n, p.u16(6) & 0x3FFF == 0 else { return .failure(.badIPHeader) }
            proto = p.u8(9)
        } else if version == 6 {
            guard type != VirtioNetHeader.gsoTCPv4, n >= IPv6Header.length else { return .failure(.badIPHeader) }
            ipHL = IPv6Header.length
            total = IPv6Header.length + Int(p.u16(4))
            // Extension headers before the transport header are not segmented here.
            guard total <= n else { return .failure(.badIPHeader) }
            proto = p.u8(6)
        } else {
            return .failure(.badIPHeader)
        }
        let udp = type == VirtioNetHeader.gsoUDPL4
        guard proto == (udp ? IPProtocolNumber.udp : IPProtocolNumber.tcp) else { return .failure(.badTransportHeader) }
        let thl: Int
        if udp {
            thl = UDPHeader.length
            guard total >= ipHL + thl else { return .failure(.badTransportHeader) }
        } else {
            guard total >= ipHL + TCPHeader.minimumLength else { return .failure(.badTransportHeader) }
            thl = Int(p.u8(ipHL + 12) >> 4) * 4
            guard thl >= TCPHeader.minimumLength, ipHL + thl <= total else { return .failure(.badTransportHeader) }
        }
        let payload = total - ipHL - thl
        guard payload > 0 else { return .failure(.badTransportHeader) }
        return .success(GSOPlan(isIPv6: version == 6, isUDP: udp, ipHeaderLength: ipHL, transportHeaderLength: thl,
                                segmentSize: Int(h.gsoSize), payloadLength: payload))
    }

    /// Writes segment `k` (0..<plan.count) of the super-packet `p` into
    /// `dst` (room for headersLength + segmentSize bytes) as a complete
    /// packet: IP total length / payload length, IPv4 identification + k and
    /// header checksum, TCP sequence number + k·MSS, FIN and PSH only on the
    /// last segment, CWR only on the first, UDP length, and the transport
    /// checksum computed in full. Returns the segment's length.
    @inlinable
    public static func segment(_ k: Int, of p: UnsafeRawPointer, plan: GSOPlan, into dst: UnsafeMutableRawPointer) -> Int {
        let hl = plan.headersLength
        let offset = k * plan.segmentSize
        let len = min(plan.segmentSize, plan.payloadLength - offset)
        dst.copyMemory(from: p, byteCount: hl)
        (dst + hl).copyMemory(from: p + hl + offset, byteCount: len)
        let ipHL = plan.ipHeaderLength
        let transportLength = plan.transportHeaderLength + len
        let sum: UInt64
        let proto = plan.isUDP ? IPProtocolNumber.udp : IPProtocolNumber.tcp
        if plan.isIPv6 {
            dst.setU16(UInt16(truncatingIfNeeded: transportLength), 4)
            let ip = IPv6Header(dst)
            sum = InternetChecksum.pseudoHeaderSum(source: ip.source, destination: ip.destination, nextHeader: proto, length: transportLength)
        } else {
            dst.setU16(UInt16(truncatingIfNeeded: hl + len), 2)
            dst.setU16(p.u16(4) &+ UInt16(truncatingIfNeeded: k), 4)
            dst.setU16(0, 10)
            dst.setU16(InternetChecksum.compute(UnsafeRawPointer(dst), ipHL), 10)
            sum = InternetChecksum.pseudoHeaderSum(source: IPv4Address(dst.u32r(12)), destination: IPv4Address(dst.u32r(16)),
                                                   protocol: proto, length: transportLength)
        }
        let t = dst + ipHL
        let checksumAt: Int
        if plan.isUDP {
            t.setU16(UInt16(truncatingIfNeeded: transportLength), 4)
            checksumAt = 6
        } else {
            t.setU32(p.u32(ipHL + 4) &+ UInt32(truncatingIfNeeded: offset), 4)
            var flags = p.u8(ipHL + 13)
            if k != plan.count - 1 { flags &= ~(TCPHeader.fin | Offload.tcpPSH) }
            if k != 0 { flags &= ~Offload.tcpCWR }
            t.setU8(flags, 13)
            checksumAt = 16
        }
        t.setU16(0, checksumAt)
        let c = InternetChecksum.finish(InternetChecksum.partialSum(UnsafeRawPointer(t), transportLength, initial: sum))
        t.setU16(InternetChecksum.transportField(c, isUDP: plan.isUDP), checksumAt)
        return hl + len
    }

    /// Completes a NEEDS_CSUM packet's checksum (virtio: the 16-bit field at
    /// csum_start + csum_offset holds the pseudo-header sum; the checksum
    /// covers csum_start to the end). The field at offset 6 is UDP's (TCP's is
    /// at 16): only there does a computed 0 go out as 0xFFFF (`transportField`).
    /// Fails when the range is outside the packet.
    @inlinable
    public static func completeChecksum(_ p: UnsafeMutableRawPointer, _ n: Int, header h: VirtioNetHeader) -> Result<Void, Failure> {
        let start = Int(h.checksumStart)
        let at = start + Int(h.checksumOffset)
        guard start < n, at + 2 <= n else { return .failure(.badChecksumRange) }
        let c = InternetChecksum.finish(InternetChecksum.partialSum(UnsafeRawPointer(p + start), n - start))
        p.setU16(InternetChecksum.transportField(c, isUDP: h.checksumOffset == 6), at)
        return .success(())
    }
}

extension UnsafeMutableRawPointer {
    @inlinable @inline(__always)
    func u32r(_ offset: Int) -> UInt32 { UnsafeRawPointer(self).u32(offset) }
    @inlinable @inline(__always)
    func u16r(_ offset: Int) -> UInt16 { UnsafeRawPointer(self).u16(offset) }
}

/// Coalesces consecutive TCP segments of one flow into one GSO super-packet
/// in its buffer (`VirtioNetHeader.size` bytes of header, then the packet).
/// Segments merge when they have the same addresses, ports, IP TTL/TOS (IPv4:
/// no options, not a fragment; IPv6: TCP right after the fixed header), TCP
/// header length and identical option bytes (timestamps included, as the
/// kernel's GRO), the same acknowledgment number, flags ACK only (PSH allowed
/// on the last), contiguous sequence numbers, a valid checksum, every segment
/// but the last exactly the first's payload size, and at most 65535 bytes in
/// all. The window of the last segment is kept.
public struct TCPCoalescer {
    public let buffer: UnsafeMutableRawPointer
    public let capacity: Int
    /// Segments in the buffer (0: empty).
    public private(set) var segments = 0
    /// Bytes of the packet after the virtio header.
    public private(set) var length = 0
    var ipHL = 0
    var tcpHL = 0
    var gsoSize = 0
    var lastPayload = 0
    var nextSequence: UInt32 = 0
    var closed = false

    /// Largest packet (IPv4 total length, IPv6 payload length + 40).
    public static let maximumLength = 65535

    /// `buffer` holds at least `capacity` bytes; it must be at least
    /// VirtioNetHeader.size + 65535 for full-size super-packets.
    public init(buffer: UnsafeMutableRawPointer, capacity: Int) {
        self.buffer = buffer
        self.capacity = capacity
    }

    var packet: UnsafeMutableRawPointer { buffer + VirtioNetHeader.size }

    /// The TCP segment's header lengths and payload if it may take part in
    /// coalescing, else nil (not TCP, flags other than ACK/PSH, no payload,
    /// IP options, fragment, bad checksum).
    static func candidate(_ p: UnsafeRawPointer, _ n: Int) -> (ipHL: Int, tcpHL: Int, payload: Int)? {
        guard n >= 40 else { return nil }
        let version = p.u8(0) >> 4
        let ipHL: Int
        let total: Int
        let sum: UInt64
        if version == 4 {
            guard p.u8(0) == 0x45, p.u8(9) == IPProtocolNumber.tcp, p.u16(6) & 0x3FFF == 0 else { return nil }
            ipHL = 20
            total = Int(p.u16(2))
            guard total <= n, total >= 40 else { return nil }
            sum = InternetChecksum.pseudoHeaderSum(source: IPv4Address(p.u32(12)), destination: IPv4Address(p.u32(16)),
                                                   protocol: IPProtocolNumber.tcp, length: total - 20)
        } else if version == 6 {
            guard n >= 60, p.u8(6) == IPProtocolNumber.tcp else { return nil }
            ipHL = 40
            total = 40 + Int(p.u16(4))
            guard total <= n, total >= 60 else { return nil }
            sum = InternetChecksum.pseudoHeaderSum(source: IPv6Address(high: p.u64(8), low: p.u64(16)),
                                                   destination: IPv6Address(high: p.u64(24), low: p.u64(32)),
                                                   nextHeader: IPProtocolNumber.tcp, length: total - 40)
        } else {
            return nil
        }
        let tcpHL = Int(p.u8(ipHL + 12) >> 4) * 4
        guard tcpHL >= 20, ipHL + tcpHL < total else { return nil }
        let flags = p.u8(ipHL + 13)
        guard flags & ~Offload.tcpPSH == TCPHeader.ack else { return nil }
        guard InternetChecksum.finish(InternetChecksum.partialSum(p + ipHL, total - ipHL, initial: sum)) == 0 else { return nil }
        return (ipHL, tcpHL, total - ipHL - tcpHL)
    }

    /// Starts a new super-packet with `p` (copied). False when `p` cannot be
    /// coalesced (the caller sends it as it is); the buffer is then empty.
    public mutating func start(_ p: UnsafeRawPointer, _ n: Int) -> Bool {
        reset()
        guard let c = Self.candidate(p, n), VirtioNetHeader.size + c.ipHL + c.tcpHL + c.payload <= capacity else { return false }
        let total = c.ipHL + c.tcpHL + c.payload
        packet.copyMemory(from: p, byteCount: total)
        segments = 1
        length = total
        ipHL = c.ipHL
        tcpHL = c.tcpHL
        gsoSize = c.payload
        lastPayload = c.payload
        nextSequence = p.u32(c.ipHL + 4) &+ UInt32(c.payload)
        closed = p.u8(c.ipHL + 13) & Offload.tcpPSH != 0
        return true
    }

    /// Appends `p` if it continues the super-packet (see the type's rules).
    public mutating func append(_ p: UnsafeRawPointer, _ n: Int) -> Bool {
        guard segments > 0, !closed, lastPayload == gsoSize else { return false }
        guard let c = Self.candidate(p, n), c.ipHL == ipHL, c.tcpHL == tcpHL, c.payload <= gsoSize else { return false }
        guard length + c.payload <= Self.maximumLength, VirtioNetHeader.size + length + c.payload <= capacity else { return false }
        let q = UnsafeRawPointer(packet)
        if ipHL == 20 {
            // Version/IHL/TOS, TTL/protocol, addresses; DF alike.
            guard p.u16(0) == q.u16(0), p.u16(8) == q.u16(8), p.u64(12) == q.u64(12), p.u16(6) == q.u16(6) else { return false }
        } else {
            // Version/traffic class/flow label, next header/hop limit, addresses.
            guard p.u32(0) == q.u32(0), p.u16(6) == q.u16(6), p.u64(8) == q.u64(8), p.u64(16) == q.u64(16),
                  p.u64(24) == q.u64(24), p.u64(32) == q.u64(32) else { return false }
        }
        let t = ipHL
        guard p.u32(t) == q.u32(t), p.u32(t + 4) == nextSequence, p.u32(t + 8) == q.u32(t + 8) else { return false }
        var o = 20
        while o < tcpHL {
            guard p.u32(t + o) == q.u32(t + o) else { return false }
            o += 4
        }
        (packet + length).copyMemory(from: p + ipHL + tcpHL, byteCount: c.payload)
        length += c.payload
        segments += 1
        lastPayload = c.payload
        nextSequence = nextSequence &+ UInt32(c.payload)
        // The newest window; PSH closes the super-packet (and is kept).
        packet.setU16(p.u16(t + 14), t + 14)
        if p.u8(t + 13) & Offload.tcpPSH != 0 {
            packet.setU8(q.u8(t + 13) | Offload.tcpPSH, t + 13)
            closed = true
        }
        return true
    }

    /// Completes the super-packet for the kernel: IP lengths and IPv4
    /// header checksum, the TCP checksum field set to the pseudo-header sum
    /// (NEEDS_CSUM, as the kernel expects of a GSO packet), and the virtio
    /// header in front. Returns the bytes to write (header + packet) starting
    /// at `buffer`. Only for two or more segments.
    public mutating func finish() -> Int {
        let p = packet
        let tcpLength = length - ipHL
        let sum: UInt64
        let type: UInt8
        if ipHL == 20 {
            p.setU16(UInt16(truncatingIfNeeded: length), 2)
            p.setU16(0, 10)
            p.setU16(InternetChecksum.compute(UnsafeRawPointer(p), 20), 10)
            sum = InternetChecksum.pseudoHeaderSum(source: IPv4Address(p.u32r(12)), destination: IPv4Address(p.u32r(16)),
                                                   protocol: IPProtocolNumber.tcp, length: tcpLength)
            type = VirtioNetHeader.gsoTCPv4
        } else {
            p.setU16(UInt16(truncatingIfNeeded: tcpLength), 4)
            let q = UnsafeRawPointer(p)
            sum = InternetChecksum.pseudoHeaderSum(source: IPv6Address(high: q.u64(8), low: q.u64(16)),
                                                   destination: IPv6Address(high: q.u64(24), low: q.u64(32)),
                                                   nextHeader: IPProtocolNumber.tcp, length: tcpLength)
            type = VirtioNetHeader.gsoTCPv6
        }
        // Not inverted: the device (the kernel) finishes it per segment.
        p.setU16(~InternetChecksum.finish(sum), ipHL + 16)
        VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: type, headerLength: UInt16(ipHL + tcpHL),
                        gsoSize: UInt16(gsoSize), checksumStart: UInt16(ipHL), checksumOffset: 16).write(to: buffer)
        return VirtioNetHeader.size + length
    }

    public mutating func reset() {
        segments = 0
        length = 0
        closed = false
    }
}
