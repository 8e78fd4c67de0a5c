/// Why a WCCP datagram was rejected by the codec or the security check.
public enum WCCPDecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes than a field needs; the string names the field.
    case truncated(String)
    /// Header version is neither 0x0200 nor 0x0201.
    case badVersion(UInt16)
    /// Header type is not 10...13.
    case unknownMessageType(UInt32)
    /// Header length exceeds the datagram, or a component length exceeds the message.
    case badLength(declared: Int, available: Int)
    /// An element count that cannot fit in the bytes that remain.
    case countTooLarge(String, count: UInt32, remaining: Int)
    /// A component the message type requires is absent.
    case missingComponent(WCCPMessageType, ComponentType)
    /// A component that may appear once appeared twice.
    case duplicateComponent(ComponentType)
    /// A component whose content breaks the format.
    case malformedComponent(ComponentType, String)
    /// MD5 is configured but the message carries security option "none".
    case missingDigest
    /// The message carries an MD5 digest but no password is configured.
    case unexpectedDigest
    /// The MD5 digest does not match the configured password.
    case digestMismatch

    public var description: String {
        switch self {
        case .truncated(let what): "truncated: \(what)"
        case .badVersion(let v): "bad WCCP version 0x\(String(v, radix: 16))"
        case .unknownMessageType(let t): "unknown WCCP message type \(t)"
        case .badLength(let d, let a): "bad length: declared \(d), available \(a)"
        case .countTooLarge(let what, let c, let r): "count \(c) for \(what) cannot fit in \(r) remaining bytes"
        case .missingComponent(let m, let c): "\(m) is missing its \(c) component"
        case .duplicateComponent(let c): "duplicate \(c) component"
        case .malformedComponent(let c, let why): "malformed \(c) component: \(why)"
        case .missingDigest: "MD5 security required but message has security option none"
        case .unexpectedDigest: "message is MD5-signed but no password is configured"
        case .digestMismatch: "MD5 digest does not match (wrong password or altered message)"
        }
    }
}
