import Packet

/// HERE_I_AM (cache → router): the cache's identity, its view, and its capability choice.
public struct HereIAm: Equatable, Sendable {
    public var version: WCCPVersion = .v2
    public var security: SecurityInfo
    public var service: ServiceInfo
    public var identity: WebCacheIdentityElement
    public var view: WebCacheViewInfo
    /// nil = component absent (implies GRE forwarding, hash assignment, GRE return).
    public var capabilities: [Capability]?
    public var command: CommandExtension?
    public var unknownComponents: [RawComponent] = []

    public init(security: SecurityInfo, service: ServiceInfo, identity: WebCacheIdentityElement,
                view: WebCacheViewInfo, capabilities: [Capability]? = nil, command: CommandExtension? = nil) {
        self.security = security; self.service = service; self.identity = identity; self.view = view
        self.capabilities = capabilities; self.command = command
    }
}

/// Assignment carried in an I_SEE_YOU (optional; Squid ignores it).
public enum ISeeYouAssignment: Equatable, Sendable {
    case info(HashAssignment)
    case map([MaskValueSet])
}

/// I_SEE_YOU (router → cache): the router's identity, its view of the group, and its capabilities.
public struct ISeeYou: Equatable, Sendable {
    public var version: WCCPVersion = .v2
    public var security: SecurityInfo
    public var service: ServiceInfo
    public var identity: RouterIdentityInfo
    public var view: RouterViewInfo
    public var assignment: ISeeYouAssignment?
    public var capabilities: [Capability]?
    public var command: CommandExtension?
    public var unknownComponents: [RawComponent] = []

    public init(security: SecurityInfo, service: ServiceInfo, identity: RouterIdentityInfo, view: RouterViewInfo,
                assignment: ISeeYouAssignment? = nil, capabilities: [Capability]? = nil, command: CommandExtension? = nil) {
        self.security = security; self.service = service; self.identity = identity; self.view = view
        self.assignment = assignment; self.capabilities = capabilities; self.command = command
    }
}

/// The assignment carried in a REDIRECT_ASSIGN.
public enum RedirectAssignment: Equatable, Sendable {
    /// Assignment Info (component 6).
    case hash(HashAssignment)
    /// Alternate Assignment (component 13): hash, mask or a rev1 type.
    case alternate(AlternateAssignment)
}

/// REDIRECT_ASSIGN (designated cache → routers).
public struct RedirectAssign: Equatable, Sendable {
    public var version: WCCPVersion = .v2
    public var security: SecurityInfo
    public var service: ServiceInfo
    public var assignment: RedirectAssignment
    public var unknownComponents: [RawComponent] = []

    public init(security: SecurityInfo, service: ServiceInfo, assignment: RedirectAssignment) {
        self.security = security; self.service = service; self.assignment = assignment
    }
}

/// REMOVAL_QUERY (router → cache, unicast) after 2.5 × HERE_I_AM_T of silence.
public struct RemovalQuery: Equatable, Sendable {
    public var version: WCCPVersion = .v2
    public var security: SecurityInfo
    public var service: ServiceInfo
    public var query: RouterQueryInfo
    public var unknownComponents: [RawComponent] = []

    public init(security: SecurityInfo, service: ServiceInfo, query: RouterQueryInfo) {
        self.security = security; self.service = service; self.query = query
    }
}

/// Any WCCPv2 message.
public enum WCCPMessage: Equatable, Sendable {
    case hereIAm(HereIAm)
    case iSeeYou(ISeeYou)
    case redirectAssign(RedirectAssign)
    case removalQuery(RemovalQuery)

    public var type: WCCPMessageType {
        switch self {
        case .hereIAm: .hereIAm
        case .iSeeYou: .iSeeYou
        case .redirectAssign: .redirectAssign
        case .removalQuery: .removalQuery
        }
    }

    public var service: ServiceInfo {
        switch self {
        case .hereIAm(let m): m.service
        case .iSeeYou(let m): m.service
        case .redirectAssign(let m): m.service
        case .removalQuery(let m): m.service
        }
    }

    public var security: SecurityInfo {
        switch self {
        case .hereIAm(let m): m.security
        case .iSeeYou(let m): m.security
        case .redirectAssign(let m): m.security
        case .removalQuery(let m): m.security
        }
    }
}

/// The parsed components of one message before they are checked against the message type.
private struct ComponentBag {
    var security: SecurityInfo?
    var service: ServiceInfo?
    var routerIdentity: RouterIdentityInfo?
    var cacheIdentity: WebCacheIdentityElement?
    var routerView: RouterViewInfo?
    var cacheView: WebCacheViewInfo?
    var assignmentInfo: HashAssignment?
    var query: RouterQueryInfo?
    var capabilities: [Capability]?
    var alternate: AlternateAssignment?
    var assignmentMap: [MaskValueSet]?
    var command: CommandExtension?
    var unknown: [RawComponent] = []

    func required<T>(_ value: T?, _ message: WCCPMessageType, _ type: ComponentType) throws(WCCPDecodeError) -> T {
        guard let value else { throw .missingComponent(message, type) }
        return value
    }
}

/// Stores a decoded component once; a second occurrence is an error.
private func setOnce<T>(_ slot: inout T?, _ value: T, _ type: ComponentType) throws(WCCPDecodeError) {
    if slot != nil { throw .duplicateComponent(type) }
    slot = value
}

extension WCCPMessage {
    /// Decodes a datagram (UDP payload) without checking its MD5 digest; never traps on hostile input.
    public static func decode(_ bytes: [UInt8]) throws(WCCPDecodeError) -> WCCPMessage {
        var r = WireReader(bytes)
        let rawType = try r.u32("message header")
        let rawVersion = try r.u16("message header")
        let length = Int(try r.u16("message header"))
        guard let version = WCCPVersion(rawValue: rawVersion) else { throw .badVersion(rawVersion) }
        guard let type = WCCPMessageType(rawValue: rawType) else { throw .unknownMessageType(rawType) }
        guard length <= r.remaining else { throw .badLength(declared: length, available: r.remaining) }
        var body = try r.subReader(length, "message body")

        var bag = ComponentBag()
        while body.remaining > 0 {
            let ctype = ComponentType(rawValue: try body.u16("component header"))
            let clen = Int(try body.u16("component header"))
            guard clen <= body.remaining else { throw .badLength(declared: clen, available: body.remaining) }
            var c = try body.subReader(clen, "component body")
            // Components are padded to 4 octets; tolerate a missing pad on the last one.
            try body.skip(min((4 - clen % 4) % 4, body.remaining), "component padding")
            do {
                switch ctype {
                case .securityInfo: try setOnce(&bag.security, try SecurityInfo.decode(&c), ctype)
                case .serviceInfo: try setOnce(&bag.service, try ServiceInfo.decode(&c), ctype)
                case .routerIdentityInfo: try setOnce(&bag.routerIdentity, try RouterIdentityInfo.decode(&c), ctype)
                case .webCacheIdentityInfo:
                    try setOnce(&bag.cacheIdentity, try WebCacheIdentityElement.decode(&c, lastInComponent: true), ctype)
                case .routerViewInfo: try setOnce(&bag.routerView, try RouterViewInfo.decode(&c), ctype)
                case .webCacheViewInfo: try setOnce(&bag.cacheView, try WebCacheViewInfo.decode(&c), ctype)
                case .assignmentInfo: try setOnce(&bag.assignmentInfo, try HashAssignment.decode(&c), ctype)
                case .routerQueryInfo: try setOnce(&bag.query, try RouterQueryInfo.decode(&c), ctype)
                case .capabilitiesInfo: try setOnce(&bag.capabilities, try Capability.decodeList(&c), ctype)
                case .alternateAssignment: try setOnce(&bag.alternate, try AlternateAssignment.decode(&c), ctype)
                case .assignmentMap: try setOnce(&bag.assignmentMap, try MaskValueSet.decodeList(&c), ctype)
                case .commandExtension: try setOnce(&bag.command, try CommandExtension.decode(&c), ctype)
                default: bag.unknown.append(RawComponent(type: ctype, body: try c.raw(c.remaining, "component body")))
                }
            } catch {
                switch error {
                case .truncated(let what), .countTooLarge(let what, _, _):
                    throw .malformedComponent(ctype, "\(what) runs past the component's \(clen) bytes")
                case .badLength(let d, let a):
                    throw .malformedComponent(ctype, "inner length \(d) exceeds \(a) remaining bytes")
                default: throw error
                }
            }
        }

        let security = try bag.required(bag.security, type, .securityInfo)
        let service = try bag.required(bag.service, type, .serviceInfo)
        switch type {
        case .hereIAm:
            var m = HereIAm(security: security, service: service,
                            identity: try bag.required(bag.cacheIdentity, type, .webCacheIdentityInfo),
                            view: try bag.required(bag.cacheView, type, .webCacheViewInfo),
                            capabilities: bag.capabilities, command: bag.command)
            m.version = version; m.unknownComponents = bag.unknown
            return .hereIAm(m)
        case .iSeeYou:
            if bag.assignmentInfo != nil && bag.assignmentMap != nil {
                throw .malformedComponent(.assignmentMap, "I_SEE_YOU carries both Assignment Info and Assignment Map")
            }
            let assignment: ISeeYouAssignment? = bag.assignmentInfo.map { .info($0) } ?? bag.assignmentMap.map { .map($0) }
            var m = ISeeYou(security: security, service: service,
                            identity: try bag.required(bag.routerIdentity, type, .routerIdentityInfo),
                            view: try bag.required(bag.routerView, type, .routerViewInfo),
                            assignment: assignment, capabilities: bag.capabilities, command: bag.command)
            m.version = version; m.unknownComponents = bag.unknown
            return .iSeeYou(m)
        case .redirectAssign:
            let assignment: RedirectAssignment
            switch (bag.assignmentInfo, bag.alternate) {
            case (let info?, nil): assignment = .hash(info)
            case (nil, let alt?): assignment = .alternate(alt)
            case (nil, nil): throw .missingComponent(type, .assignmentInfo)
            case (_?, _?): throw .malformedComponent(.alternateAssignment, "REDIRECT_ASSIGN carries both Assignment Info and Alternate Assignment")
            }
            var m = RedirectAssign(security: security, service: service, assignment: assignment)
            m.version = version; m.unknownComponents = bag.unknown
            return .redirectAssign(m)
        case .removalQuery:
            var m = RemovalQuery(security: security, service: service,
                                 query: try bag.required(bag.query, type, .routerQueryInfo))
            m.version = version; m.unknownComponents = bag.unknown
            return .removalQuery(m)
        }
    }

    /// Decodes a datagram and checks its security against `password` (nil = no security expected).
    public static func decode(_ bytes: [UInt8], password: WCCPPassword?) throws(WCCPDecodeError) -> WCCPMessage {
        let message = try decode(bytes)
        try WCCPSecurity.verify(bytes, password: password)
        return message
    }

    /// Encodes the message. With a password, the Security component is MD5 and the digest is computed;
    /// without one, the message's own Security component is written as it is.
    public func encode(password: WCCPPassword? = nil) -> [UInt8] {
        var w = WireWriter()
        let version: WCCPVersion
        switch self {
        case .hereIAm(let m): version = m.version
        case .iSeeYou(let m): version = m.version
        case .redirectAssign(let m): version = m.version
        case .removalQuery(let m): version = m.version
        }
        w.u32(type.rawValue); w.u16(version.rawValue); w.u16(0)
        let security = password == nil ? self.security : .md5Unsigned
        w.tlv(ComponentType.securityInfo.rawValue) { security.encode(&$0) }
        w.tlv(ComponentType.serviceInfo.rawValue) { service.encode(&$0) }
        var unknown: [RawComponent] = []
        switch self {
        case .hereIAm(let m):
            w.tlv(ComponentType.webCacheIdentityInfo.rawValue) { m.identity.encode(&$0) }
            w.tlv(ComponentType.webCacheViewInfo.rawValue) { m.view.encode(&$0) }
            if let caps = m.capabilities { w.tlv(ComponentType.capabilitiesInfo.rawValue) { Capability.encodeList(caps, &$0) } }
            if let cmd = m.command { w.tlv(ComponentType.commandExtension.rawValue) { cmd.encode(&$0) } }
            unknown = m.unknownComponents
        case .iSeeYou(let m):
            w.tlv(ComponentType.routerIdentityInfo.rawValue) { m.identity.encode(&$0) }
            w.tlv(ComponentType.routerViewInfo.rawValue) { m.view.encode(&$0) }
            switch m.assignment {
            case .info(let a)?: w.tlv(ComponentType.assignmentInfo.rawValue) { a.encode(&$0) }
            case .map(let sets)?: w.tlv(ComponentType.assignmentMap.rawValue) { MaskValueSet.encodeList(sets, &$0) }
            case nil: break
            }
            if let caps = m.capabilities { w.tlv(ComponentType.capabilitiesInfo.rawValue) { Capability.encodeList(caps, &$0) } }
            if let cmd = m.command { w.tlv(ComponentType.commandExtension.rawValue) { cmd.encode(&$0) } }
            unknown = m.unknownComponents
        case .redirectAssign(let m):
            switch m.assignment {
            case .hash(let a): w.tlv(ComponentType.assignmentInfo.rawValue) { a.encode(&$0) }
            case .alternate(let a): w.tlv(ComponentType.alternateAssignment.rawValue) { a.encode(&$0) }
            }
            unknown = m.unknownComponents
        case .removalQuery(let m):
            w.tlv(ComponentType.routerQueryInfo.rawValue) { m.query.encode(&$0) }
            unknown = m.unknownComponents
        }
        for c in unknown { w.tlv(c.type.rawValue) { $0.raw(c.body) } }
        w.patchU16(UInt16(truncatingIfNeeded: w.count - 8), at: 6)
        var bytes = w.bytes
        if let password { WCCPSecurity.sign(&bytes, password: password) }
        return bytes
    }
}
