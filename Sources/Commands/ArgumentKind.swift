import Packet

// Typed arguments of the grammar. Each kind knows its placeholder (what `?`
// shows), how to read a word into a value, and why a word is refused, so the
// matcher can say "prefix length must be 0-32" instead of only pointing.

/// The type of a command argument.
public enum ArgumentKind: Hashable, Sendable {
    /// A.B.C.D
    case ipv4Address
    /// A.B.C.D/M (host bits kept; the command decides whether they are allowed).
    case ipv4Prefix
    /// X:X::X:X
    case ipv6Address
    /// X:X::X:X/M (host bits kept).
    case ipv6Prefix
    /// An unsigned integer within a range, shown as <lo-hi>.
    case range(ClosedRange<UInt64>)
    /// A BGP AS number: 1-4294967295, or asdot "1.10".
    case asNumber
    /// Any single word.
    case word
    /// A Linux interface name: 1-15 characters, no '/', ':' or whitespace.
    case interfaceName
    /// The rest of the line, spaces included.
    case line

    /// What `?` and error messages show for the argument.
    public var placeholder: String {
        switch self {
        case .ipv4Address: "A.B.C.D"
        case .ipv4Prefix: "A.B.C.D/M"
        case .ipv6Address: "X:X::X:X"
        case .ipv6Prefix: "X:X::X:X/M"
        case .range(let r): "<\(r.lowerBound)-\(r.upperBound)>"
        case .asNumber: "ASNUM"
        case .word: "WORD"
        case .interfaceName: "IFNAME"
        case .line: "LINE"
        }
    }

    /// Generic kinds accept almost any word; a typed kind that accepts the
    /// same word is the better match (`10.0.2.1` is an address, not a name).
    var isGeneric: Bool {
        switch self {
        case .word, .interfaceName, .line: true
        default: false
        }
    }

    /// Reads `text` as this kind: the value, or why it is not one.
    public func parse(_ text: String) -> Result<ArgumentValue, ArgumentRejection> {
        func reject(_ why: String) -> Result<ArgumentValue, ArgumentRejection> {
            .failure(ArgumentRejection(reason: why))
        }
        switch self {
        case .ipv4Address:
            guard let a = IPv4Address(text) else { return reject("'\(text)' is not an IPv4 address (A.B.C.D)") }
            return .success(.ipv4Address(a))
        case .ipv6Address:
            guard text.contains(":"), let a = IPv6Address(text) else {
                return reject("'\(text)' is not an IPv6 address (X:X::X:X)")
            }
            return .success(.ipv6Address(a))
        case .ipv4Prefix:
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, IPv4Address(parts[0]) != nil else {
                return reject("'\(text)' is not an IPv4 prefix (A.B.C.D/M)")
            }
            guard let p = IPv4InterfaceAddress(text) else { return reject("prefix length must be 0-32 in '\(text)'") }
            return .success(.ipv4Prefix(p))
        case .ipv6Prefix:
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0].contains(":"), IPv6Address(parts[0]) != nil else {
                return reject("'\(text)' is not an IPv6 prefix (X:X::X:X/M)")
            }
            guard let p = IPv6InterfaceAddress(text) else { return reject("prefix length must be 0-128 in '\(text)'") }
            return .success(.ipv6Prefix(p))
        case .range(let r):
            guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                return reject("'\(text)' is not a number")
            }
            guard let n = UInt64(text), r.contains(n) else {
                return reject("\(text) is out of range \(r.lowerBound)-\(r.upperBound)")
            }
            return .success(.number(n))
        case .asNumber:
            if let n = Self.parseASNumber(text) { return .success(.number(n)) }
            return reject("'\(text)' is not an AS number (1-4294967295 or asdot 1-65535.0-65535)")
        case .word:
            return .success(.word(text))
        case .interfaceName:
            if let why = Self.interfaceNameProblem(text) { return reject(why) }
            return .success(.word(text))
        case .line:
            return .success(.word(text))
        }
    }

    /// Whether `text` could still grow into a valid value: used by completion
    /// for a half-typed last word.
    func couldStart(_ text: String) -> Bool {
        if case .success = parse(text) { return true }
        let allowed: (Character) -> Bool
        switch self {
        case .ipv4Address: allowed = { $0.isASCII && ($0.isNumber || $0 == ".") }
        case .ipv4Prefix: allowed = { $0.isASCII && ($0.isNumber || $0 == "." || $0 == "/") }
        case .ipv6Address: allowed = { $0.isASCII && ($0.isHexDigit || $0 == ":" || $0 == ".") }
        case .ipv6Prefix: allowed = { $0.isASCII && ($0.isHexDigit || $0 == ":" || $0 == "." || $0 == "/") }
        case .range, .asNumber: allowed = { $0.isASCII && ($0.isNumber || $0 == ".") }
        case .word, .interfaceName, .line: return true
        }
        return text.allSatisfy(allowed)
    }

    /// "65000" or asdot "1.10" (= 65546). Zero is not a valid AS.
    static func parseASNumber(_ text: String) -> UInt64? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { return nil }
        switch parts.count {
        case 1:
            guard let n = UInt64(parts[0]), (1...UInt64(UInt32.max)).contains(n) else { return nil }
            return n
        case 2:
            guard let high = UInt64(parts[0]), let low = UInt64(parts[1]),
                  high <= 0xFFFF, low <= 0xFFFF, high << 16 | low != 0 else { return nil }
            return high << 16 | low
        default:
            return nil
        }
    }

    /// Linux's dev_valid_name rules; nil when the name is acceptable.
    static func interfaceNameProblem(_ name: String) -> String? {
        if name.isEmpty || name.utf8.count > 15 { return "interface name '\(name)' must be 1-15 characters" }
        if name == "." || name == ".." { return "'\(name)' is not a valid interface name" }
        if name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace || !$0.isASCII || $0.asciiValue! < 0x21 }) {
            return "interface name '\(name)' must not contain '/', ':', spaces or non-ASCII characters"
        }
        return nil
    }
}

/// A parsed argument value.
public enum ArgumentValue: Hashable, Sendable {
    case ipv4Address(IPv4Address)
    case ipv4Prefix(IPv4InterfaceAddress)
    case ipv6Address(IPv6Address)
    case ipv6Prefix(IPv6InterfaceAddress)
    case number(UInt64)
    case word(String)
}

/// Why a word is not a value of an argument kind.
public struct ArgumentRejection: Error, Hashable, Sendable {
    /// A sentence fragment for the operator ("prefix length must be 0-32 in '10.0.0.0/33'").
    public var reason: String
}
