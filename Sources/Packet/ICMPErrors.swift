// Building ICMP and ICMPv6 error messages about a packet the engine could not
// forward (time exceeded, fragmentation needed / packet too big), with the
// rules routers follow about when not to send one.

public enum ICMPErrors {
    /// RFC 1812 §4.3.2.3: an ICMPv4 error carries as much of the offending
    /// datagram as fits in 576 bytes.
    public static let maximumV4ErrorLength = 576

    /// RFC 1812 §4.3.2.7: no error about an ICMP error, a non-first fragment,
    /// or a packet whose source is not a unicast host address.
    @inlinable
    public static func mayReport(_ ip: IPv4Header) -> Bool {
        if ip.isNonFirstFragment { return false }
        let src = ip.source.value
        if src == 0 || src >> 24 == 127 || src >> 28 == 0xE || src == 0xFFFF_FFFF { return false }
        let dst = ip.destination.value
        if dst >> 28 == 0xE || dst == 0xFFFF_FFFF { return false }
        if ip.proto == IPProtocolNumber.icmp {
            let type = UnsafeRawPointer(ip.payload).u8(0)
            let informational = type == ICMPv4Type.echoRequest || type == ICMPv4Type.echoReply
                || type == 13 || type == 14 || type == 15 || type == 16 || type == 17 || type == 18
            if !informational { return false }
        }
        return true
    }

    /// Writes an IPv4 packet with an ICMP error about `offending` (an IPv4
    /// packet of `offendingLength` bytes) into `out`, and returns its length.
    /// `restOfHeader` is the second ICMP word (the next-hop MTU for
    /// "fragmentation needed", else 0).
    @inlinable
    public static func writeV4(into out: UnsafeMutableRawPointer, capacity: Int,
                               offending: UnsafeRawPointer, offendingLength: Int,
                               type: UInt8, code: UInt8, restOfHeader: UInt32,
                               source: IPv4Address) -> Int {
        let quoted = min(offendingLength, maximumV4ErrorLength - 28, capacity - 28)
        guard quoted >= 0 else { return 0 }
        let total = 28 + quoted
        let destination = IPv4Address(offending.u32(12))
        IPv4Header.write(into: out, totalLength: total, dontFragment: false, ttl: 64,
                         proto: IPProtocolNumber.icmp, tos: 0xC0, source: source, destination: destination)
        let icmp = out + 20
        icmp.setU8(type, 0)
        icmp.setU8(code, 1)
        icmp.setU16(0, 2)
        icmp.setU32(restOfHeader, 4)
        (icmp + 8).copyMemory(from: offending, byteCount: quoted)
        icmp.setU16(InternetChecksum.compute(UnsafeRawPointer(icmp), 8 + quoted), 2)
        return total
    }

    /// RFC 4443 §2.4 (e): no error about an ICMPv6 error, nor (except packet
    /// too big) about a packet sent to a multicast address; never about an
    /// unspecified or multicast source.
    @inlinable
    public static func mayReport(_ ip: IPv6Header, packetTooBig: Bool) -> Bool {
        let src = ip.source
        if src.high == 0 && (src.low == 0 || src.low == 1) { return false }
        if src.high >> 56 == 0xFF { return false }
        if !packetTooBig && ip.destination.high >> 56 == 0xFF { return false }
        if ip.nextHeader == IPProtocolNumber.icmpv6, ICMPv6Type.isError(UnsafeRawPointer(ip.payload).u8(0)) {
            return false
        }
        return true
    }

    /// Writes an IPv6 packet with an ICMPv6 error about `offending`, as much
    /// of it as fits in the IPv6 minimum MTU (RFC 4443 §2.4 (c)).
    @inlinable
    public static func writeV6(into out: UnsafeMutableRawPointer, capacity: Int,
                               offending: UnsafeRawPointer, offendingLength: Int,
                               type: UInt8, code: UInt8, restOfHeader: UInt32,
                               source: IPv6Address) -> Int {
        let quoted = min(offendingLength, IPv6Header.minimumMTU - 48, capacity - 48)
        guard quoted >= 0 else { return 0 }
        let destination = IPv6Address(high: offending.u64(8), low: offending.u64(16))
        IPv6Header.write(into: out, payloadLength: 8 + quoted, nextHeader: IPProtocolNumber.icmpv6,
                         hopLimit: 64, source: source, destination: destination)
        let icmp = out + 40
        icmp.setU8(type, 0)
        icmp.setU8(code, 1)
        icmp.setU16(0, 2)
        icmp.setU32(restOfHeader, 4)
        (icmp + 8).copyMemory(from: offending, byteCount: quoted)
        let pseudo = InternetChecksum.pseudoHeaderSum(source: source, destination: destination,
                                                      nextHeader: IPProtocolNumber.icmpv6, length: 8 + quoted)
        icmp.setU16(InternetChecksum.finish(InternetChecksum.partialSum(UnsafeRawPointer(icmp), 8 + quoted, initial: pseudo)), 2)
        return 48 + quoted
    }
}
