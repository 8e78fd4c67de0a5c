// Frame construction for the generator: Ethernet + IPv4 + UDP, optionally wrapped in
// IPv4/GRE (what a Transit Gateway Connect peer sends). Pure functions over bytes.

/// A 48-bit Ethernet address.
struct MACAddress: Equatable, CustomStringConvertible {
    let bytes: [UInt8]

    /// Parses "aa:bb:cc:dd:ee:ff".
    init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }

    var description: String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}

/// An IPv4 address as four bytes in network order (the generator needs nothing more).
struct IPv4Bytes: Equatable {
    let bytes: [UInt8]

    /// Parses dotted-quad text ("10.0.1.1").
    init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, let byte = UInt8(part) else { return nil }
            bytes.append(byte)
        }
        self.bytes = bytes
    }
}

/// The outer header of GRE-encapsulated frames.
struct GREOuter: Equatable {
    /// Outer source (the Connect peer's address, i.e. the tunnel's `destination`).
    let source: IPv4Bytes
    /// Outer destination (the appliance's address, i.e. the tunnel's `source`).
    let destination: IPv4Bytes
}

/// What one generator run sends: every frame is the same except its UDP source port.
struct FrameSpec: Equatable {
    let sourceMAC: MACAddress
    let destinationMAC: MACAddress
    let innerSource: IPv4Bytes
    let innerDestination: IPv4Bytes
    /// Total length of the inner IPv4 packet (header included), 28...9000.
    let innerLength: Int
    /// Number of distinct UDP source ports (flows), starting at `firstSourcePort`.
    let flows: Int
    let firstSourcePort: UInt16
    let destinationPort: UInt16
    /// When set, each inner packet is wrapped in IPv4/GRE (protocol type 0x0800).
    let gre: GREOuter?

    /// Smallest inner packet: an IPv4 header and a UDP header.
    static let minimumInnerLength = 20 + 8
    static let maximumInnerLength = 9000
}

/// Why a frame specification cannot be built.
enum FrameSpecError: Error, CustomStringConvertible, Equatable {
    case innerLengthOutOfRange(Int)
    case flowCountOutOfRange(Int)

    var description: String {
        switch self {
        case .innerLengthOutOfRange(let length):
            return "inner packet length \(length) is outside \(FrameSpec.minimumInnerLength)...\(FrameSpec.maximumInnerLength)"
        case .flowCountOutOfRange(let flows):
            return "flow count \(flows) is outside 1...65535 or runs the UDP source port past 65535"
        }
    }
}

/// The Internet checksum (RFC 1071) of `bytes[range]`.
func internetChecksum(_ bytes: [UInt8], _ range: Range<Int>) -> UInt16 {
    var sum: UInt32 = 0
    var index = range.lowerBound
    while index + 1 < range.upperBound {
        sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
        index += 2
    }
    if index < range.upperBound { sum += UInt32(bytes[index]) << 8 }
    while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}

/// Appends a 20-byte IPv4 header (no options, DF clear, TTL 64) with its checksum.
private func appendIPv4Header(to frame: inout [UInt8], totalLength: Int, protocolNumber: UInt8,
                              source: IPv4Bytes, destination: IPv4Bytes) {
    let start = frame.count
    frame += [0x45, 0x00, UInt8(totalLength >> 8), UInt8(totalLength & 0xff),
              0x00, 0x00, 0x00, 0x00,          // identification, flags/fragment offset
              64, protocolNumber, 0x00, 0x00]  // TTL, protocol, checksum (filled below)
    frame += source.bytes
    frame += destination.bytes
    let checksum = internetChecksum(frame, start..<(start + 20))
    frame[start + 10] = UInt8(checksum >> 8)
    frame[start + 11] = UInt8(checksum & 0xff)
}

/// Builds the frames of `spec`, one per flow, ready to be written to an AF_PACKET socket.
func buildFrames(_ spec: FrameSpec) throws(FrameSpecError) -> [[UInt8]] {
    guard (FrameSpec.minimumInnerLength...FrameSpec.maximumInnerLength).contains(spec.innerLength) else {
        throw .innerLengthOutOfRange(spec.innerLength)
    }
    guard spec.flows >= 1, Int(spec.firstSourcePort) + spec.flows - 1 <= 65535 else {
        throw .flowCountOutOfRange(spec.flows)
    }
    var frames: [[UInt8]] = []
    frames.reserveCapacity(spec.flows)
    for flow in 0..<spec.flows {
        var frame = spec.destinationMAC.bytes + spec.sourceMAC.bytes + [0x08, 0x00]
        if let gre = spec.gre {
            appendIPv4Header(to: &frame, totalLength: 20 + 4 + spec.innerLength, protocolNumber: 47,
                             source: gre.source, destination: gre.destination)
            frame += [0x00, 0x00, 0x08, 0x00]  // GRE: no flags, version 0, protocol IPv4
        }
        appendIPv4Header(to: &frame, totalLength: spec.innerLength, protocolNumber: 17,
                         source: spec.innerSource, destination: spec.innerDestination)
        let sourcePort = spec.firstSourcePort + UInt16(flow)
        let udpLength = spec.innerLength - 20
        frame += [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xff),
                  UInt8(spec.destinationPort >> 8), UInt8(spec.destinationPort & 0xff),
                  UInt8(udpLength >> 8), UInt8(udpLength & 0xff),
                  0x00, 0x00]  // UDP checksum 0: "not computed", valid over IPv4
        // Payload: a recognisable counting pattern.
        for offset in 0..<(udpLength - 8) { frame.append(UInt8(truncatingIfNeeded: offset)) }
        frames.append(frame)
    }
    return frames
}

/// The latency probe's stamp at the start of the UDP payload: an 8-byte marker and the send
/// time in CLOCK_MONOTONIC nanoseconds (big-endian). eg-latency finds the marker in what it
/// receives, wherever the path put the packet (plain, GRE, GRE with a WCCP redirect header).
enum LatencyStamp {
    static let marker: [UInt8] = Array("EGLATNCY".utf8)
    static let length = 16

    /// Where the stamp goes in the frames of `spec`: after Ethernet, the optional outer
    /// IPv4 + GRE, the inner IPv4 and UDP headers.
    static func offset(in spec: FrameSpec) -> Int {
        14 + (spec.gre == nil ? 0 : 20 + 4) + 20 + 8
    }

    /// Writes the marker and `nanoseconds` at `pointer`.
    @inline(__always)
    static func write(_ nanoseconds: UInt64, at pointer: UnsafeMutableRawPointer) {
        marker.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: 8) }
        pointer.storeBytes(of: nanoseconds.bigEndian, toByteOffset: 8, as: UInt64.self)
    }
}
