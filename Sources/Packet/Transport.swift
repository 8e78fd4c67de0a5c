// UDP, TCP and ICMP/ICMPv6 headers: the fields the engine reads (ports for
// flow hashing and redirect matching, TCP flags and options for MSS clamping).

public struct UDPHeader {
    public static let length = 8
    public let base: UnsafeMutableRawPointer
    @inlinable public init(_ base: UnsafeMutableRawPointer) { self.base = base }
    @inlinable public var sourcePort: UInt16 { UnsafeRawPointer(base).u16(0) }
    @inlinable public var destinationPort: UInt16 { UnsafeRawPointer(base).u16(2) }
    @inlinable public var length: Int { Int(UnsafeRawPointer(base).u16(4)) }
    @inlinable public var checksum: UInt16 { UnsafeRawPointer(base).u16(6) }
}

public struct TCPHeader {
    public static let minimumLength = 20
    public static let fin: UInt8 = 0x01
    public static let syn: UInt8 = 0x02
    public static let rst: UInt8 = 0x04
    public static let ack: UInt8 = 0x10

    public let base: UnsafeMutableRawPointer
    @inlinable public init(_ base: UnsafeMutableRawPointer) { self.base = base }
    @inlinable var raw: UnsafeRawPointer { UnsafeRawPointer(base) }
    @inlinable public var sourcePort: UInt16 { raw.u16(0) }
    @inlinable public var destinationPort: UInt16 { raw.u16(2) }
    @inlinable public var sequence: UInt32 { raw.u32(4) }
    @inlinable public var acknowledgment: UInt32 { raw.u32(8) }
    @inlinable public var headerLength: Int { Int(raw.u8(12) >> 4) * 4 }
    @inlinable public var flags: UInt8 { raw.u8(13) }
    @inlinable public var window: UInt16 { raw.u16(14) }
    @inlinable public var checksum: UInt16 {
        get { raw.u16(16) }
        nonmutating set { base.setU16(newValue, 16) }
    }

    /// Lowers the MSS option of a SYN to at most `maximum`, patching the
    /// checksum incrementally. Returns the MSS found (nil when the segment
    /// has none or its options are malformed). `available` bounds the read.
    @inlinable @discardableResult
    public func clampMSS(to maximum: UInt16, available: Int) -> UInt16? {
        let hl = headerLength
        guard hl >= Self.minimumLength, hl <= available else { return nil }
        var i = Self.minimumLength
        while i < hl {
            let kind = raw.u8(i)
            if kind == 0 { return nil }              // end of options
            if kind == 1 { i += 1; continue }        // no-op
            guard i + 1 < hl else { return nil }
            let len = Int(raw.u8(i + 1))
            guard len >= 2, i + len <= hl else { return nil }
            if kind == 2, len == 4 {
                let mss = raw.u16(i + 2)
                if mss > maximum {
                    // The option may sit at an odd offset: patch the checksum
                    // over the two 16-bit words the field spans.
                    if i & 1 == 0 {
                        checksum = InternetChecksum.update(checksum, old: mss, new: maximum)
                        base.setU16(maximum, i + 2)
                    } else {
                        let w0 = raw.u16(i + 1), w1 = raw.u16(i + 3)
                        base.setU16(maximum, i + 2)
                        var c = InternetChecksum.update(checksum, old: w0, new: raw.u16(i + 1))
                        c = InternetChecksum.update(c, old: w1, new: raw.u16(i + 3))
                        checksum = c
                    }
                }
                return mss
            }
            i += len
        }
        return nil
    }
}

public enum ICMPv4Type {
    public static let echoReply: UInt8 = 0
    public static let destinationUnreachable: UInt8 = 3
    public static let echoRequest: UInt8 = 8
    public static let timeExceeded: UInt8 = 11
    public static let parameterProblem: UInt8 = 12
    /// Destination unreachable codes.
    public static let codeNetUnreachable: UInt8 = 0
    public static let codeHostUnreachable: UInt8 = 1
    public static let codeFragmentationNeeded: UInt8 = 4
}

public enum ICMPv6Type {
    public static let destinationUnreachable: UInt8 = 1
    public static let packetTooBig: UInt8 = 2
    public static let timeExceeded: UInt8 = 3
    public static let parameterProblem: UInt8 = 4
    public static let echoRequest: UInt8 = 128
    public static let echoReply: UInt8 = 129
    /// Error messages are types 0-127 (RFC 4443 §2.1).
    @inlinable public static func isError(_ type: UInt8) -> Bool { type < 128 }
}

public struct ICMPHeader {
    public static let length = 8
    public let base: UnsafeMutableRawPointer
    @inlinable public init(_ base: UnsafeMutableRawPointer) { self.base = base }
    @inlinable public var type: UInt8 { UnsafeRawPointer(base).u8(0) }
    @inlinable public var code: UInt8 { UnsafeRawPointer(base).u8(1) }
    @inlinable public var checksum: UInt16 { UnsafeRawPointer(base).u16(2) }
    /// Bytes 4-7: identifier/sequence for echo, next-hop MTU for "fragmentation needed".
    @inlinable public var restOfHeader: UInt32 { UnsafeRawPointer(base).u32(4) }
}
