// NLRI encoding (RFC 4271 §4.3, RFC 4760 §5): a length in bits followed by
// the fewest octets holding that many bits. Used by the UPDATE's withdrawn
// routes and NLRI fields and by MP_REACH/MP_UNREACH.

import Packet

/// Why an NLRI field failed to decode; mapped to 3/1 or 3/10 by the caller.
enum NLRIError: Error {
    /// A prefix's octets run past the field (BIRD sends 3/1).
    case truncated
    /// A prefix length above the family's maximum (3/10).
    case lengthTooLong
}

enum NLRI {
    static func encode(_ p: IPv4Prefix, into out: inout [UInt8]) {
        out.append(p.length)
        let bytes = (Int(p.length) + 7) / 8
        let v = p.address.value
        for i in 0..<bytes { out.append(UInt8(v >> (24 - 8 * UInt32(i)) & 0xFF)) }
    }

    static func encode(_ p: IPv6Prefix, into out: inout [UInt8]) {
        out.append(p.length)
        let bytes = (Int(p.length) + 7) / 8
        for i in 0..<bytes {
            let word = i < 8 ? p.address.high : p.address.low
            out.append(UInt8(word >> (56 - 8 * UInt64(i % 8)) & 0xFF))
        }
    }

    static func decodeIPv4(_ field: ArraySlice<UInt8>) throws(NLRIError) -> [IPv4Prefix] {
        var result: [IPv4Prefix] = []
        result.reserveCapacity(field.count / 4)
        var i = field.startIndex
        while i < field.endIndex {
            let length = Int(field[i])
            guard length <= 32 else { throw .lengthTooLong }
            let bytes = (length + 7) / 8
            guard field.endIndex - i - 1 >= bytes else { throw .truncated }
            var v: UInt32 = 0
            for k in 0..<bytes { v |= UInt32(field[i + 1 + k]) << (24 - 8 * UInt32(k)) }
            // Host bits past the length are ignored (masked), as BIRD and FRR do.
            result.append(IPv4Prefix(IPv4Address(v), length: length)!)
            i += 1 + bytes
        }
        return result
    }

    static func decodeIPv6(_ field: ArraySlice<UInt8>) throws(NLRIError) -> [IPv6Prefix] {
        var result: [IPv6Prefix] = []
        var i = field.startIndex
        while i < field.endIndex {
            let length = Int(field[i])
            guard length <= 128 else { throw .lengthTooLong }
            let bytes = (length + 7) / 8
            guard field.endIndex - i - 1 >= bytes else { throw .truncated }
            var high: UInt64 = 0, low: UInt64 = 0
            for k in 0..<bytes {
                let b = UInt64(field[i + 1 + k])
                if k < 8 { high |= b << (56 - 8 * UInt64(k)) } else { low |= b << (56 - 8 * UInt64(k - 8)) }
            }
            result.append(IPv6Prefix(IPv6Address(high: high, low: low), length: length)!)
            i += 1 + bytes
        }
        return result
    }
}

extension NLRIError {
    /// The NOTIFICATION BIRD sends for this NLRI error.
    var notification: BGPNotification {
        switch self {
        case .truncated: .malformedAttributeList
        case .lengthTooLong: .invalidNetworkField
        }
    }
}
