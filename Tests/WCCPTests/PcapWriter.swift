import Packet

/// Writes classic libpcap files (Ethernet link type) with WCCP payloads in IPv4/UDP 2048 → 2048.
struct PcapWriter {
    private(set) var bytes: [UInt8] = []

    init() {
        // Global header, little-endian: magic, v2.4, tz 0, sigfigs 0, snaplen 65535, linktype 1 (Ethernet).
        le32(0xA1B2_C3D4); le16(2); le16(4); le32(0); le32(0); le32(65535); le32(1)
    }

    private mutating func le16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    private mutating func le32(_ v: UInt32) { bytes += (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// Appends one frame carrying `payload` from `src` to `dst`, UDP port 2048 on both ends.
    mutating func append(payload: [UInt8], src: IPv4Address, dst: IPv4Address, second: UInt32) {
        var frame: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]
        let udpLength = 8 + payload.count
        let totalLength = 20 + udpLength
        var ipHeader: [UInt8] = [0x45, 0, UInt8(totalLength >> 8), UInt8(totalLength & 0xFF), 0, 1, 0, 0, 64, 17, 0, 0]
        ipHeader += src.bytes + dst.bytes
        var sum: UInt32 = 0
        for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(ipHeader[i]) << 8 | UInt32(ipHeader[i + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        ipHeader[10] = UInt8(checksum >> 8); ipHeader[11] = UInt8(checksum & 0xFF)
        frame += ipHeader
        frame += [0x08, 0x00, 0x08, 0x00, UInt8(udpLength >> 8), UInt8(udpLength & 0xFF), 0, 0]  // checksum 0 = none
        frame += payload
        le32(second); le32(0); le32(UInt32(frame.count)); le32(UInt32(frame.count))
        bytes += frame
    }
}
