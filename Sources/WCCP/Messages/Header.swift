/// UDP port used by WCCPv2 on both ends.
public let wccpUDPPort: UInt16 = 2048

/// The four WCCPv2 message types (header Type field).
public enum WCCPMessageType: UInt32, Sendable, CustomStringConvertible {
    case hereIAm = 10
    case iSeeYou = 11
    case redirectAssign = 12
    case removalQuery = 13

    public var description: String {
        switch self {
        case .hereIAm: "HERE_I_AM"
        case .iSeeYou: "I_SEE_YOU"
        case .redirectAssign: "REDIRECT_ASSIGN"
        case .removalQuery: "REMOVAL_QUERY"
        }
    }
}

/// Header Version field: 0x0200 (WCCPv2) or 0x0201 (WCCPv2 revision 1).
public enum WCCPVersion: UInt16, Sendable {
    case v2 = 0x0200
    case v2rev1 = 0x0201
}

/// Component (TLV) type numbers; unknown numbers are representable and kept raw.
public struct ComponentType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let securityInfo = ComponentType(rawValue: 0)
    public static let serviceInfo = ComponentType(rawValue: 1)
    public static let routerIdentityInfo = ComponentType(rawValue: 2)
    public static let webCacheIdentityInfo = ComponentType(rawValue: 3)
    public static let routerViewInfo = ComponentType(rawValue: 4)
    public static let webCacheViewInfo = ComponentType(rawValue: 5)
    public static let assignmentInfo = ComponentType(rawValue: 6)
    public static let routerQueryInfo = ComponentType(rawValue: 7)
    public static let capabilitiesInfo = ComponentType(rawValue: 8)
    public static let alternateAssignment = ComponentType(rawValue: 13)
    public static let assignmentMap = ComponentType(rawValue: 14)
    public static let commandExtension = ComponentType(rawValue: 15)

    public var description: String {
        switch rawValue {
        case 0: "Security Info"
        case 1: "Service Info"
        case 2: "Router Identity Info"
        case 3: "Web-Cache Identity Info"
        case 4: "Router View Info"
        case 5: "Web-Cache View Info"
        case 6: "Assignment Info"
        case 7: "Router Query Info"
        case 8: "Capabilities Info"
        case 13: "Alternate Assignment"
        case 14: "Assignment Map"
        case 15: "Command Extension"
        default: "component \(rawValue)"
        }
    }
}

/// A component this codec does not interpret, kept verbatim (type and unpadded body).
public struct RawComponent: Equatable, Sendable {
    public var type: ComponentType
    public var body: [UInt8]
    public init(type: ComponentType, body: [UInt8]) { self.type = type; self.body = body }
}
