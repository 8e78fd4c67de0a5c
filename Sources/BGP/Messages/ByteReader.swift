// A bounds-checked big-endian reader over a byte slice. Every decoder in this
// module reads through it, so a short read is one typed failure in one place
// and each caller maps it to the NOTIFICATION its context requires.

import Packet

/// Raised by `ByteReader` when fewer bytes remain than a field needs.
struct ShortRead: Error {}

/// Reads big-endian fields from an `ArraySlice<UInt8>` without copying.
struct ByteReader {
    private(set) var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }
    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    var remaining: Int { bytes.count }
    var isEmpty: Bool { bytes.isEmpty }

    mutating func u8() throws(ShortRead) -> UInt8 {
        guard let b = bytes.first else { throw ShortRead() }
        bytes = bytes.dropFirst()
        return b
    }

    mutating func u16() throws(ShortRead) -> UInt16 {
        guard bytes.count >= 2 else { throw ShortRead() }
        let i = bytes.startIndex
        let v = UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
        bytes = bytes.dropFirst(2)
        return v
    }

    mutating func u32() throws(ShortRead) -> UInt32 {
        guard bytes.count >= 4 else { throw ShortRead() }
        let i = bytes.startIndex
        let v = UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
        bytes = bytes.dropFirst(4)
        return v
    }

    mutating func take(_ count: Int) throws(ShortRead) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count >= count else { throw ShortRead() }
        let part = bytes.prefix(count)
        bytes = bytes.dropFirst(count)
        return part
    }

    mutating func rest() -> ArraySlice<UInt8> {
        let part = bytes
        bytes = bytes.suffix(0)
        return part
    }
}

extension Array where Element == UInt8 {
    mutating func appendU16(_ v: UInt16) { append(UInt8(v >> 8)); append(UInt8(v & 0xFF)) }
    mutating func appendU32(_ v: UInt32) {
        append(UInt8(v >> 24)); append(UInt8(v >> 16 & 0xFF)); append(UInt8(v >> 8 & 0xFF)); append(UInt8(v & 0xFF))
    }
    /// Writes a big-endian 16-bit value at `index` (for back-patched length fields).
    mutating func setU16(_ v: UInt16, at index: Int) { self[index] = UInt8(v >> 8); self[index + 1] = UInt8(v & 0xFF) }
}
