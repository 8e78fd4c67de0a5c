import CMNL
import Glibc
import Packet

/// Writes one netlink request into a caller-owned buffer with libmnl. Every write is checked
/// against the room left; a request that does not fit sets `overflowed` instead of writing
/// past the end.
struct MessageWriter {
    /// The message being written (at the start of the buffer).
    let header: UnsafeMutablePointer<nlmsghdr>
    /// Bytes available from `header` to the end of the buffer.
    let capacity: Int
    /// True once any write did not fit.
    private(set) var overflowed = false

    /// Starts a message of `type` at `buffer`, which must have room for at least 16 bytes.
    init(buffer: UnsafeMutableRawPointer, capacity: Int, type: UInt16, flags: UInt16, sequence: UInt32) {
        header = mnl_nlmsg_put_header(buffer)
        header.pointee.nlmsg_type = type
        header.pointee.nlmsg_flags = flags
        header.pointee.nlmsg_seq = sequence
        self.capacity = capacity
    }

    /// The bytes written so far, header included.
    var length: Int { Int(header.pointee.nlmsg_len) }

    /// Appends the fixed family header (rtmsg, ifinfomsg, ...) that follows nlmsghdr.
    mutating func putFamilyHeader<T: BitwiseCopyable>(_ value: T) {
        guard let room = reserve(MemoryLayout<T>.size) else { return }
        room.storeBytes(of: value, as: T.self)
    }

    /// Appends `size` zeroed bytes (4-byte aligned) at the end of the message and returns them,
    /// or nil (and `overflowed`) when they do not fit.
    mutating func reserve(_ size: Int) -> UnsafeMutableRawPointer? {
        guard length + ((size + 3) & ~3) <= capacity else {
            overflowed = true
            return nil
        }
        return mnl_nlmsg_put_extra_header(header, size)
    }

    /// The end of the message: where the next write goes.
    var tail: UnsafeMutableRawPointer { mnl_nlmsg_get_payload_tail(header) }

    mutating func put(_ type: UInt16, bytes: [UInt8]) {
        let before = length
        let fitted = bytes.withUnsafeBytes { mnl_attr_put_check(header, capacity, type, $0.count, $0.baseAddress) }
        if fitted { zeroPadding(from: before + MemoryLayout<nlattr>.size + bytes.count) } else { overflowed = true }
    }

    mutating func put(_ type: UInt16, u32 value: UInt32) {
        if !mnl_attr_put_u32_check(header, capacity, type, value) { overflowed = true }
    }

    mutating func put(_ type: UInt16, string: String) {
        let before = length
        if mnl_attr_put_strz_check(header, capacity, type, string) {
            zeroPadding(from: before + MemoryLayout<nlattr>.size + string.utf8.count + 1)
        } else {
            overflowed = true
        }
    }

    /// libmnl 1.0.4 leaves an attribute's alignment padding as it found it; zero it so a
    /// request's bytes depend only on its content.
    private func zeroPadding(from offset: Int) {
        if offset < length { (UnsafeMutableRawPointer(header) + offset).initializeMemory(as: UInt8.self, repeating: 0, count: length - offset) }
    }

    /// An address attribute: 4 or 16 bytes in network order.
    mutating func put(_ type: UInt16, address: IPAddress) {
        put(type, bytes: address.networkBytes)
    }

    /// Opens an attribute whose payload is written by the calls that follow; close it with
    /// `endAttribute`. Unlike libmnl's nest_start this does not set NLA_F_NESTED: RTA_MULTIPATH
    /// holds rtnexthop structs, not attributes, and iproute2 sends it without the flag.
    mutating func beginAttribute(_ type: UInt16) -> UnsafeMutableRawPointer? {
        guard let start = reserve(MemoryLayout<nlattr>.size) else { return nil }
        start.storeBytes(of: type, toByteOffset: 2, as: UInt16.self)
        return start
    }

    /// Sets the length of an attribute opened with `beginAttribute` to cover what was written.
    mutating func endAttribute(_ start: UnsafeMutableRawPointer?) {
        guard let start else { return }
        start.storeBytes(of: UInt16(truncatingIfNeeded: tail - start), toByteOffset: 0, as: UInt16.self)
    }

    /// Writes a whole request into a fresh buffer and returns its bytes (for tests and for
    /// one-off requests).
    static func encode(capacity: Int = 8192, type: UInt16, flags: UInt16, sequence: UInt32,
                       _ body: (inout MessageWriter) throws(NetlinkError) -> Void) throws(NetlinkError) -> [UInt8] {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        defer { buffer.deallocate() }
        var writer = MessageWriter(buffer: buffer, capacity: capacity, type: type, flags: flags, sequence: sequence)
        try body(&writer)
        if writer.overflowed {
            throw NetlinkError(operation: MessageType.name(type), errno: EMSGSIZE, detail: "request larger than \(capacity) bytes")
        }
        return Array(UnsafeRawBufferPointer(start: buffer, count: writer.length))
    }
}

extension IPAddress {
    /// The address in network byte order, as netlink attributes carry it.
    var networkBytes: [UInt8] {
        switch self {
        case .v4(let a): a.bytes
        case .v6(let a): a.bytes
        }
    }

    /// AF_INET or AF_INET6.
    var netlinkFamily: UInt8 {
        switch self {
        case .v4: Family.inet
        case .v6: Family.inet6
        }
    }
}

extension IPPrefix {
    /// The network address of the prefix.
    var networkAddress: IPAddress {
        switch self {
        case .v4(let p): .v4(p.address)
        case .v6(let p): .v6(p.address)
        }
    }

    var length: UInt8 {
        switch self {
        case .v4(let p): p.length
        case .v6(let p): p.length
        }
    }

    var netlinkFamily: UInt8 { networkAddress.netlinkFamily }
}
