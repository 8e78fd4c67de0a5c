// IP addresses and prefixes as small value types shared by every module.
// Addresses are kept in host byte order so that masks and comparisons are
// plain integer operations; the wire order is applied only when reading or
// writing packet bytes.

/// An IPv4 address, host byte order.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    @inlinable public init(_ value: UInt32) { self.value = value }

    @inlinable public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text ("192.0.2.1"). Rejects leading zeros beyond
    /// a single "0", empty octets and values above 255.
    public init?(_ text: some StringProtocol) {
        var result: UInt32 = 0
        var octets = 0
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII),
                  !(part.count > 1 && part.first == "0"),
                  let octet = UInt8(part) else { return nil }
            result = result << 8 | UInt32(octet)
            octets += 1
        }
        guard octets == 4 else { return nil }
        value = result
    }

    public static let any = IPv4Address(0)

    @inlinable public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    /// The four octets in network order.
    public var bytes: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}

/// An IPv6 address as two 64-bit halves, host byte order within each half.
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    @inlinable public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// From 16 bytes in network order.
    public init(bytes: some Collection<UInt8>) {
        precondition(bytes.count == 16, "an IPv6 address has 16 bytes")
        var h: UInt64 = 0
        var l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        high = h
        low = l
    }

    /// Parses RFC 4291 text, including "::" compression and an embedded
    /// dotted-quad tail ("::ffff:192.0.2.1").
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII }) else { return nil }
        var groups: [UInt16] = []
        var tail: [UInt16] = []
        // Split on "::" by hand: the Packet module stays free of Foundation.
        var halves: [String] = []
        if let r = s.firstRange(of: "::") {
            halves = [String(s[..<r.lowerBound]), String(s[r.upperBound...])]
            guard !halves[1].contains("::") else { return nil }
        } else {
            halves = [s]
        }

        func parseGroups(_ part: String, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, f) in fields.enumerated() {
                if allowV4Tail, i == fields.count - 1, f.contains(".") {
                    guard let v4 = IPv4Address(f) else { return nil }
                    out.append(UInt16(v4.value >> 16))
                    out.append(UInt16(v4.value & 0xFFFF))
                    continue
                }
                guard !f.isEmpty, f.count <= 4, let g = UInt16(f, radix: 16) else { return nil }
                out.append(g)
            }
            return out
        }

        if halves.count == 2 {
            guard let g = parseGroups(halves[0], allowV4Tail: false),
                  let t = parseGroups(halves[1], allowV4Tail: true),
                  g.count + t.count <= 7 else { return nil }
            groups = g
            tail = t
            groups += Array(repeating: 0, count: 8 - g.count - t.count) + tail
        } else {
            guard let g = parseGroups(halves[0], allowV4Tail: true), g.count == 8 else { return nil }
            groups = g
        }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for i in 0..<4 { h = h << 16 | UInt64(groups[i]) }
        for i in 4..<8 { l = l << 16 | UInt64(groups[i]) }
        high = h
        low = l
    }

    public static let any = IPv6Address(high: 0, low: 0)

    @inlinable public static func < (a: IPv6Address, b: IPv6Address) -> Bool {
        a.high != b.high ? a.high < b.high : a.low < b.low
    }

    /// The 16 bytes in network order.
    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
    }

    /// RFC 5952 canonical text: lower case, longest run of two or more zero
    /// groups compressed (the first such run on a tie).
    public var description: String {
        let groups: [UInt16] = (0..<4).map { UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64($0))) }
            + (0..<4).map { UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64($0))) }
        var bestStart = -1, bestLen = 0, runStart = -1
        for i in 0...8 {
            if i < 8, groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                let len = i - runStart
                if len > bestLen, len >= 2 { bestStart = runStart; bestLen = len }
                runStart = -1
            }
        }
        func hex(_ r: Range<Int>) -> String { r.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
    }
}

/// Either family.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public init?(_ text: some StringProtocol) {
        if let a = IPv4Address(text) { self = .v4(a) } else if let a = IPv6Address(text) { self = .v6(a) } else { return nil }
    }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }
}

/// An IPv4 prefix. The address is always stored masked to the length.
public struct IPv4Prefix: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let address: IPv4Address
    public let length: UInt8

    @inlinable public static func mask(_ length: UInt8) -> UInt32 {
        length == 0 ? 0 : UInt32.max << (32 - UInt32(length))
    }

    public init?(_ address: IPv4Address, length: Int) {
        guard (0...32).contains(length) else { return nil }
        self.length = UInt8(length)
        self.address = IPv4Address(address.value & Self.mask(UInt8(length)))
    }

    /// Parses "A.B.C.D/M". `strict` rejects host bits set (as a network
    /// statement would); without it they are masked off.
    public init?(_ text: some StringProtocol, strict: Bool = false) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv4Address(parts[0]),
              parts[1].allSatisfy(\.isASCII), let len = Int(parts[1]), (0...32).contains(len) else { return nil }
        if strict, a.value & ~Self.mask(UInt8(len)) != 0 { return nil }
        self.init(a, length: len)
    }

    @inlinable public func contains(_ a: IPv4Address) -> Bool {
        a.value & Self.mask(length) == address.value
    }

    public static func < (a: IPv4Prefix, b: IPv4Prefix) -> Bool {
        a.address != b.address ? a.address < b.address : a.length < b.length
    }

    public var description: String { "\(address)/\(length)" }
}

/// An IPv6 prefix. The address is always stored masked to the length.
public struct IPv6Prefix: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let address: IPv6Address
    public let length: UInt8

    @inlinable public static func masks(_ length: UInt8) -> (high: UInt64, low: UInt64) {
        let l = UInt64(length)
        let high: UInt64 = l == 0 ? 0 : (l >= 64 ? .max : UInt64.max << (64 - l))
        let low: UInt64 = l <= 64 ? 0 : (l >= 128 ? .max : UInt64.max << (128 - l))
        return (high, low)
    }

    public init?(_ address: IPv6Address, length: Int) {
        guard (0...128).contains(length) else { return nil }
        self.length = UInt8(length)
        let m = Self.masks(UInt8(length))
        self.address = IPv6Address(high: address.high & m.high, low: address.low & m.low)
    }

    public init?(_ text: some StringProtocol, strict: Bool = false) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv6Address(parts[0]),
              parts[1].allSatisfy(\.isASCII), let len = Int(parts[1]), (0...128).contains(len) else { return nil }
        let m = Self.masks(UInt8(len))
        if strict, a.high & ~m.high != 0 || a.low & ~m.low != 0 { return nil }
        self.init(a, length: len)
    }

    @inlinable public func contains(_ a: IPv6Address) -> Bool {
        let m = Self.masks(length)
        return a.high & m.high == address.high && a.low & m.low == address.low
    }

    public static func < (a: IPv6Prefix, b: IPv6Prefix) -> Bool {
        a.address != b.address ? a.address < b.address : a.length < b.length
    }

    public var description: String { "\(address)/\(length)" }
}

/// Either family.
public enum IPPrefix: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Prefix)
    case v6(IPv6Prefix)

    public init?(_ text: some StringProtocol, strict: Bool = false) {
        if let p = IPv4Prefix(text, strict: strict) { self = .v4(p) } else if let p = IPv6Prefix(text, strict: strict) { self = .v6(p) } else { return nil }
    }

    public var description: String {
        switch self {
        case .v4(let p): p.description
        case .v6(let p): p.description
        }
    }
}

/// An interface address: the address itself and the length of its subnet
/// ("169.254.6.1/29"), host bits kept.
public struct IPv4InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    public let address: IPv4Address
    public let length: UInt8

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv4Address(parts[0]),
              parts[1].allSatisfy(\.isASCII), let len = UInt8(parts[1]), len <= 32 else { return nil }
        address = a
        length = len
    }

    public init(address: IPv4Address, length: UInt8) {
        self.address = address
        self.length = length
    }

    public var subnet: IPv4Prefix { IPv4Prefix(address, length: Int(length))! }
    public var description: String { "\(address)/\(length)" }
}

/// An IPv6 interface address ("fd00::1/125").
public struct IPv6InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    public let address: IPv6Address
    public let length: UInt8

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv6Address(parts[0]),
              parts[1].allSatisfy(\.isASCII), let len = UInt8(parts[1]), len <= 128 else { return nil }
        address = a
        length = len
    }

    public init(address: IPv6Address, length: UInt8) {
        self.address = address
        self.length = length
    }

    public var subnet: IPv6Prefix { IPv6Prefix(address, length: Int(length))! }
    public var description: String { "\(address)/\(length)" }
}
