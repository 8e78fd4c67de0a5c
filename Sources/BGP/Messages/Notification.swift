// NOTIFICATION messages (RFC 4271 §4.5) and the names of their codes for
// logs. A decoding or protocol error anywhere in the module is expressed as
// the exact NOTIFICATION to send, so the error is the message.

import Packet

/// A BGP NOTIFICATION: error code, subcode and data. Also thrown as the error
/// of every check whose failure resets the session.
public struct BGPNotification: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: UInt8
    public var subcode: UInt8
    public var data: [UInt8]

    public init(code: UInt8, subcode: UInt8, data: [UInt8] = []) {
        self.code = code
        self.subcode = subcode
        self.data = data
    }

    /// Error codes (RFC 4271 §4.5, RFC 7313).
    public enum Code {
        public static let messageHeader: UInt8 = 1
        public static let openMessage: UInt8 = 2
        public static let updateMessage: UInt8 = 3
        public static let holdTimerExpired: UInt8 = 4
        public static let finiteStateMachine: UInt8 = 5
        public static let cease: UInt8 = 6
        public static let routeRefresh: UInt8 = 7
    }

    // MARK: message header errors (code 1)

    /// 1/1 Connection Not Synchronized (marker not all ones).
    public static let badMarker = BGPNotification(code: 1, subcode: 1)
    /// 1/2 Bad Message Length; data is the offending length field.
    public static func badLength(_ length: UInt16) -> BGPNotification {
        BGPNotification(code: 1, subcode: 2, data: [UInt8(length >> 8), UInt8(length & 0xFF)])
    }
    /// 1/3 Bad Message Type; data is the offending type octet.
    public static func badType(_ type: UInt8) -> BGPNotification { BGPNotification(code: 1, subcode: 3, data: [type]) }

    // MARK: OPEN errors (code 2)

    /// 2/0 malformed OPEN without a more specific subcode.
    public static let malformedOpen = BGPNotification(code: 2, subcode: 0)
    /// 2/1 Unsupported Version Number; data is the highest version we support (4).
    public static let unsupportedVersion = BGPNotification(code: 2, subcode: 1, data: [0, 4])
    /// 2/2 Bad Peer AS.
    public static let badPeerAS = BGPNotification(code: 2, subcode: 2)
    /// 2/3 Bad BGP Identifier.
    public static let badBGPIdentifier = BGPNotification(code: 2, subcode: 3)
    /// 2/4 Unsupported Optional Parameter; data is the parameter as received.
    public static func unsupportedOptionalParameter(_ parameter: [UInt8] = []) -> BGPNotification {
        BGPNotification(code: 2, subcode: 4, data: parameter)
    }
    /// 2/6 Unacceptable Hold Time.
    public static let unacceptableHoldTime = BGPNotification(code: 2, subcode: 6)
    /// 2/7 Unsupported Capability (RFC 5492); data lists the capabilities we require.
    public static func unsupportedCapability(_ capabilities: [UInt8]) -> BGPNotification {
        BGPNotification(code: 2, subcode: 7, data: capabilities)
    }

    // MARK: UPDATE errors (code 3)

    /// 3/1 Malformed Attribute List.
    public static let malformedAttributeList = BGPNotification(code: 3, subcode: 1)
    /// 3/4 Attribute Flags Error; data is the attribute (RFC 4271 §6.3), for an
    /// attribute whose errors reset the session (MP_REACH/MP_UNREACH, RFC 7606 §3 c).
    public static func attributeFlagsError(_ attribute: [UInt8]) -> BGPNotification {
        BGPNotification(code: 3, subcode: 4, data: attribute)
    }
    /// 3/9 Optional Attribute Error; data is the attribute.
    public static func optionalAttributeError(_ attribute: [UInt8] = []) -> BGPNotification {
        BGPNotification(code: 3, subcode: 9, data: attribute)
    }
    /// 3/10 Invalid Network Field.
    public static let invalidNetworkField = BGPNotification(code: 3, subcode: 10)

    // MARK: timers, FSM, cease

    /// 4/0 Hold Timer Expired.
    public static let holdTimerExpired = BGPNotification(code: 4, subcode: 0)
    /// 5/1..3 (RFC 6608): an unexpected message in OpenSent, OpenConfirm or Established.
    public static func finiteStateMachineError(unexpectedIn state: BGPSessionState) -> BGPNotification {
        switch state {
        case .openSent: BGPNotification(code: 5, subcode: 1)
        case .openConfirm: BGPNotification(code: 5, subcode: 2)
        case .established: BGPNotification(code: 5, subcode: 3)
        default: BGPNotification(code: 5, subcode: 0)
        }
    }
    /// 6/n Cease with one of the RFC 4486 subcodes.
    public static func cease(_ reason: CeaseReason, data: [UInt8] = []) -> BGPNotification {
        BGPNotification(code: 6, subcode: reason.rawValue, data: data)
    }
    /// 6/2 Administrative Shutdown with an RFC 9003 shutdown communication.
    public static func administrativeShutdown(message: String = "") -> BGPNotification {
        let text = Array(message.utf8.prefix(255))
        return BGPNotification(code: 6, subcode: 2, data: text.isEmpty ? [] : [UInt8(text.count)] + text)
    }
    /// 6/1 Maximum Number of Prefixes Reached; data is AFI, SAFI and the limit (RFC 4486 §4).
    public static func maximumPrefixesReached(_ family: AddressFamily, limit: UInt32) -> BGPNotification {
        var data: [UInt8] = []
        data.appendU16(family.afi); data.append(family.safi); data.appendU32(limit)
        return BGPNotification(code: 6, subcode: 1, data: data)
    }

    /// The name of the code for logs ("UPDATE Message Error").
    public var codeName: String {
        switch code {
        case 1: "Message Header Error"
        case 2: "OPEN Message Error"
        case 3: "UPDATE Message Error"
        case 4: "Hold Timer Expired"
        case 5: "Finite State Machine Error"
        case 6: "Cease"
        case 7: "ROUTE-REFRESH Message Error"
        default: "Unknown Error \(code)"
        }
    }

    /// The name of the subcode for logs ("Malformed Attribute List").
    public var subcodeName: String {
        let names: [UInt8: [UInt8: String]] = [
            1: [1: "Connection Not Synchronized", 2: "Bad Message Length", 3: "Bad Message Type"],
            2: [1: "Unsupported Version Number", 2: "Bad Peer AS", 3: "Bad BGP Identifier",
                4: "Unsupported Optional Parameter", 6: "Unacceptable Hold Time",
                7: "Unsupported Capability", 11: "Role Mismatch"],
            3: [1: "Malformed Attribute List", 2: "Unrecognized Well-known Attribute",
                3: "Missing Well-known Attribute", 4: "Attribute Flags Error", 5: "Attribute Length Error",
                6: "Invalid ORIGIN Attribute", 8: "Invalid NEXT_HOP Attribute", 9: "Optional Attribute Error",
                10: "Invalid Network Field", 11: "Malformed AS_PATH"],
            5: [1: "Receive Unexpected Message in OpenSent State",
                2: "Receive Unexpected Message in OpenConfirm State",
                3: "Receive Unexpected Message in Established State"],
            6: Dictionary(uniqueKeysWithValues: CeaseReason.allCases.map { ($0.rawValue, $0.name) }),
            7: [1: "Invalid Message Length"],
        ]
        if subcode == 0 { return "Unspecific" }
        return names[code]?[subcode] ?? "Subcode \(subcode)"
    }

    public var description: String {
        var text = "\(code)/\(subcode) \(codeName): \(subcodeName)"
        if code == 6, subcode == 2 || subcode == 4, let count = data.first, data.count == Int(count) + 1, count > 0 {
            text += " \"\(String(decoding: data.dropFirst(), as: UTF8.self))\""
        } else if !data.isEmpty {
            text += " data " + data.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        }
        return text
    }

    func encodeBody(into out: inout [UInt8]) {
        out.append(code); out.append(subcode); out.append(contentsOf: data)
    }

    static func decodeBody(_ body: ArraySlice<UInt8>) -> BGPNotification {
        // The header check guarantees at least two octets.
        let s = body.startIndex
        return BGPNotification(code: body[s], subcode: body[s + 1], data: Array(body.dropFirst(2)))
    }
}

/// Cease subcodes (RFC 4486, RFC 8203/9003).
public enum CeaseReason: UInt8, CaseIterable, Sendable {
    case maximumPrefixesReached = 1
    case administrativeShutdown = 2
    case peerDeconfigured = 3
    case administrativeReset = 4
    case connectionRejected = 5
    case otherConfigurationChange = 6
    case connectionCollisionResolution = 7
    case outOfResources = 8
    case hardReset = 9

    /// The RFC's name for logs.
    public var name: String {
        switch self {
        case .maximumPrefixesReached: "Maximum Number of Prefixes Reached"
        case .administrativeShutdown: "Administrative Shutdown"
        case .peerDeconfigured: "Peer De-configured"
        case .administrativeReset: "Administrative Reset"
        case .connectionRejected: "Connection Rejected"
        case .otherConfigurationChange: "Other Configuration Change"
        case .connectionCollisionResolution: "Connection Collision Resolution"
        case .outOfResources: "Out of Resources"
        case .hardReset: "Hard Reset"
        }
    }
}
