import Crypto

/// A WCCP service password: only the first 8 octets count, NUL-padded to exactly 8.
public struct WCCPPassword: Equatable, Sendable {
    /// The 8 octets that enter the digest.
    public let key: [UInt8]

    public init(_ text: String) {
        var k = Array(text.utf8.prefix(8))
        while k.count < 8 { k.append(0) }
        key = k
    }
}

/// MD5 signing and verification of whole WCCP datagrams (draft-wilson §5.6.1).
public enum WCCPSecurity {
    /// Offset of the 16 digest bytes, if the datagram has an MD5 Security component (found by walking TLV headers).
    static func digestOffset(_ bytes: [UInt8]) -> (option: UInt32, offset: Int)? {
        guard bytes.count >= 8 else { return nil }
        let end = min(bytes.count, 8 + (Int(bytes[6]) << 8 | Int(bytes[7])))
        var at = 8
        while at + 4 <= end {
            let type = Int(bytes[at]) << 8 | Int(bytes[at + 1])
            let length = Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            if type == 0 {
                guard length >= 4, at + 8 <= end else { return nil }
                let option = UInt32(bytes[at + 4]) << 24 | UInt32(bytes[at + 5]) << 16
                    | UInt32(bytes[at + 6]) << 8 | UInt32(bytes[at + 7])
                guard option != 1 || (length >= 20 && at + 24 <= end) else { return nil }
                return (option, at + 8)
            }
            at += 4 + length + (4 - length % 4) % 4
        }
        return nil
    }

    /// MD5(password8 || message with the digest bytes zeroed); the message is the header plus its Length.
    static func digest(_ bytes: [UInt8], digestAt offset: Int, password: WCCPPassword) -> [UInt8] {
        let end = min(bytes.count, 8 + (Int(bytes[6]) << 8 | Int(bytes[7])))
        var copy = Array(bytes[0..<end])
        for i in offset..<(offset + 16) { copy[i] = 0 }
        var md5 = Insecure.MD5()
        md5.update(data: password.key)
        md5.update(data: copy)
        return Array(md5.finalize())
    }

    /// Fills in the digest of an encoded datagram whose Security component is MD5.
    public static func sign(_ bytes: inout [UInt8], password: WCCPPassword) {
        guard let (option, offset) = digestOffset(bytes), option == 1 else { return }
        let d = digest(bytes, digestAt: offset, password: password)
        bytes.replaceSubrange(offset..<(offset + 16), with: d)
    }

    /// Checks a datagram's security against `password` (nil = option none expected).
    public static func verify(_ bytes: [UInt8], password: WCCPPassword?) throws(WCCPDecodeError) {
        guard let (option, offset) = digestOffset(bytes) else {
            let type = bytes.count >= 4 ? WCCPMessageType(rawValue: UInt32(bytes[3])) : nil
            throw .missingComponent(type ?? .hereIAm, .securityInfo)
        }
        switch (option, password) {
        case (0, nil): return
        case (0, _?): throw .missingDigest
        case (1, nil): throw .unexpectedDigest
        case (1, let password?):
            let expected = digest(bytes, digestAt: offset, password: password)
            var diff: UInt8 = 0  // constant-time compare
            for i in 0..<16 { diff |= expected[i] ^ bytes[offset + i] }
            if diff != 0 { throw .digestMismatch }
        default: throw .malformedComponent(.securityInfo, "unknown security option \(option)")
        }
    }
}
