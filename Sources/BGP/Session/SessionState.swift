// The six states of the RFC 4271 §8 FSM, as shown to operators.

/// A BGP session's FSM state.
public enum BGPSessionState: String, Hashable, Sendable, CustomStringConvertible {
    case idle = "Idle"
    case connect = "Connect"
    case active = "Active"
    case openSent = "OpenSent"
    case openConfirm = "OpenConfirm"
    case established = "Established"

    public var description: String { rawValue }
}
