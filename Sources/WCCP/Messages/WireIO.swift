import Packet

/// A bounds-checked big-endian reader over a byte array; every read throws instead of trapping.
struct WireReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.offset = start
        self.end = min(end ?? bytes.count, bytes.count)
    }

    var remaining: Int { end - offset }

    /// Fails with `.truncated` unless `count` more bytes are available.
    func require(_ count: Int, _ context: String) throws(WCCPDecodeError) {
        if count < 0 || count > remaining { throw .truncated(context) }
    }

    mutating func u8(_ context: String) throws(WCCPDecodeError) -> UInt8 {
        try require(1, context)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16(_ context: String) throws(WCCPDecodeError) -> UInt16 {
        try require(2, context)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32(_ context: String) throws(WCCPDecodeError) -> UInt32 {
        try require(4, context)
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    mutating func ipv4(_ context: String) throws(WCCPDecodeError) -> IPv4Address {
        IPv4Address(try u32(context))
    }

    mutating func raw(_ count: Int, _ context: String) throws(WCCPDecodeError) -> [UInt8] {
        try require(count, context)
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func skip(_ count: Int, _ context: String) throws(WCCPDecodeError) {
        try require(count, context)
        offset += count
    }

    /// Reads an element count and checks that `count * minimumElementSize` bytes remain,
    /// so hostile counts never drive large allocations or long loops.
    mutating func count(minimumElementSize: Int, _ context: String) throws(WCCPDecodeError) -> Int {
        let announced = try u32(context)
        let count = Int(announced)
        if count > remaining / max(minimumElementSize, 1) {
            throw .countTooLarge(context, count: announced, remaining: remaining)
        }
        return count
    }

    /// A reader over the next `count` bytes; this reader skips past them.
    mutating func subReader(_ count: Int, _ context: String) throws(WCCPDecodeError) -> WireReader {
        try require(count, context)
        let sub = WireReader(bytes, from: offset, to: offset + count)
        offset += count
        return sub
    }
}

/// An appending big-endian writer.
struct WireWriter {
    private(set) var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(256) }

    var count: Int { bytes.count }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(truncatingIfNeeded: v)) }
    mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(v >> 24)); bytes.append(UInt8(truncatingIfNeeded: v >> 16))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8)); bytes.append(UInt8(truncatingIfNeeded: v))
    }
    mutating func ipv4(_ a: IPv4Address) { u32(a.value) }
    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    /// Overwrites a big-endian 16-bit value at `offset` (for lengths known only afterwards).
    mutating func patchU16(_ v: UInt16, at offset: Int) {
        bytes[offset] = UInt8(v >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: v)
    }

    /// Writes a `type | length | body` TLV, the body produced by `body`, padded to 4 octets.
    /// Length counts the body without the 4-byte TLV header and without padding.
    mutating func tlv(_ type: UInt16, _ body: (inout WireWriter) -> Void) {
        u16(type)
        let lengthAt = bytes.count
        u16(0)
        let start = bytes.count
        body(&self)
        let length = bytes.count - start
        patchU16(UInt16(truncatingIfNeeded: length), at: lengthAt)
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
}
