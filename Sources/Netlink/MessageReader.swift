import CMNL
import Packet

/// One netlink message inside a received datagram. `payload` points into the receive buffer
/// and is valid only until the next receive.
struct ReceivedMessage {
    var type: UInt16
    var flags: UInt16
    var sequence: UInt32
    var portID: UInt32
    /// The bytes after nlmsghdr.
    var payload: UnsafeRawBufferPointer
}

/// Calls `body` for every well-formed message in `datagram` (libmnl checks each length).
func forEachMessage<E: Error>(in datagram: UnsafeRawBufferPointer,
                              _ body: (ReceivedMessage) throws(E) -> Void) throws(E) {
    guard let base = datagram.baseAddress else { return }
    var remaining = Int32(clamping: datagram.count)
    var header: UnsafePointer<nlmsghdr>? = base.assumingMemoryBound(to: nlmsghdr.self)
    while let h = header, mnl_nlmsg_ok(h, remaining) {
        let length = Int(h.pointee.nlmsg_len)
        let headerSize = MemoryLayout<nlmsghdr>.size
        let payload = UnsafeRawBufferPointer(start: UnsafeRawPointer(h) + headerSize, count: length - headerSize)
        try body(ReceivedMessage(type: h.pointee.nlmsg_type, flags: h.pointee.nlmsg_flags,
                                 sequence: h.pointee.nlmsg_seq, portID: h.pointee.nlmsg_pid, payload: payload))
        header = UnsafePointer(mnl_nlmsg_next(h, &remaining))
    }
}

/// The attributes (type, payload) in a run of netlink attributes, walked with libmnl. Stops at
/// the first attribute whose length does not fit.
struct Attributes: Sequence {
    let bytes: UnsafeRawBufferPointer

    /// The attributes that follow a fixed header of `headerSize` bytes (rounded up to 4).
    init(_ payload: UnsafeRawBufferPointer, after headerSize: Int) {
        let offset = Swift.min((headerSize + 3) & ~3, payload.count)
        bytes = UnsafeRawBufferPointer(rebasing: payload[offset...])
    }

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    struct Iterator: IteratorProtocol {
        var current: UnsafePointer<nlattr>?
        var remaining: Int32

        mutating func next() -> (type: UInt16, payload: UnsafeRawBufferPointer)? {
            guard let attr = current, remaining > 0, mnl_attr_ok(attr, remaining) else { return nil }
            let payload = UnsafeRawBufferPointer(start: mnl_attr_get_payload(attr),
                                                 count: Int(mnl_attr_get_payload_len(attr)))
            let aligned = (Int32(attr.pointee.nla_len) + 3) & ~3
            remaining -= aligned
            current = remaining > 0 ? UnsafePointer(mnl_attr_next(attr)) : nil
            return (mnl_attr_get_type(attr), payload)
        }
    }

    func makeIterator() -> Iterator {
        Iterator(current: bytes.baseAddress?.assumingMemoryBound(to: nlattr.self), remaining: Int32(clamping: bytes.count))
    }
}

extension UnsafeRawBufferPointer {
    /// A fixed-size C struct at the start, or nil when the bytes are too short.
    func loadHeader<T: BitwiseCopyable>(_: T.Type) -> T? {
        count >= MemoryLayout<T>.size ? loadUnaligned(as: T.self) : nil
    }

    var u32: UInt32? { count >= 4 ? loadUnaligned(as: UInt32.self) : nil }
    var i32: Int32? { count >= 4 ? loadUnaligned(as: Int32.self) : nil }

    /// A NUL-terminated (or unterminated) string attribute.
    var string: String {
        let bytes = prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An address of `family`, or nil when the length does not match it.
    func ipAddress(family: UInt8) -> IPAddress? {
        switch (family, count) {
        case (Family.inet, 4):
            .v4(IPv4Address(self[0], self[1], self[2], self[3]))
        case (Family.inet6, 16):
            .v6(IPv6Address(bytes: self))
        default:
            nil
        }
    }
}

/// Builds the prefix `address/length`, nil when the length is out of range.
func makePrefix(_ address: IPAddress, length: UInt8) -> IPPrefix? {
    switch address {
    case .v4(let a): IPv4Prefix(a, length: Int(length)).map { .v4($0) }
    case .v6(let a): IPv6Prefix(a, length: Int(length)).map { .v6($0) }
    }
}

/// The all-zero address of a family, for routes without RTA_DST (default routes).
func zeroAddress(family: UInt8) -> IPAddress? {
    switch family {
    case Family.inet: .v4(.any)
    case Family.inet6: .v6(.any)
    default: nil
    }
}
