// Big-endian field access on raw packet memory. Every header view in this
// module is built on these few functions, so unaligned access and byte order
// are handled in one place.

extension UnsafeRawPointer {
    @inlinable @inline(__always)
    public func u8(_ offset: Int) -> UInt8 { load(fromByteOffset: offset, as: UInt8.self) }

    @inlinable @inline(__always)
    public func u16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable @inline(__always)
    public func u32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inlinable @inline(__always)
    public func u64(_ offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

extension UnsafeMutableRawPointer {
    @inlinable @inline(__always)
    public func setU8(_ value: UInt8, _ offset: Int) { storeBytes(of: value, toByteOffset: offset, as: UInt8.self) }

    @inlinable @inline(__always)
    public func setU16(_ value: UInt16, _ offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    @inlinable @inline(__always)
    public func setU32(_ value: UInt32, _ offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    @inlinable @inline(__always)
    public func setU64(_ value: UInt64, _ offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self)
    }
}
