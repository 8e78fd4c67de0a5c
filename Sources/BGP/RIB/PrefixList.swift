// Import policy: IOS/FRR-style prefix lists (permit/deny, ge/le), evaluated
// first match wins, implicit deny at the end.

import Packet

/// One prefix-list line.
public struct PrefixListEntry: Hashable, Sendable {
    public enum Action: Hashable, Sendable { case permit, deny }
    public var action: Action
    public var prefix: IPPrefix
    /// Minimum length matched (`ge`); nil: exactly the prefix length unless `le` is set.
    public var greaterOrEqual: UInt8?
    /// Maximum length matched (`le`).
    public var lessOrEqual: UInt8?

    public init(_ action: Action, _ prefix: IPPrefix, ge: UInt8? = nil, le: UInt8? = nil) {
        self.action = action; self.prefix = prefix; self.greaterOrEqual = ge; self.lessOrEqual = le
    }

    /// IOS semantics: the route must fall inside `prefix`, and its length must be in
    /// [ge ?? len, le ?? (ge != nil ? max : len)].
    func matches(_ route: IPPrefix) -> Bool {
        let (inside, routeLength, baseLength, maxLength): (Bool, UInt8, UInt8, UInt8)
        switch (prefix, route) {
        case (.v4(let p), .v4(let r)):
            (inside, routeLength, baseLength, maxLength) = (r.length >= p.length && p.contains(r.address), r.length, p.length, 32)
        case (.v6(let p), .v6(let r)):
            (inside, routeLength, baseLength, maxLength) = (r.length >= p.length && p.contains(r.address), r.length, p.length, 128)
        default:
            return false
        }
        guard inside else { return false }
        let low = greaterOrEqual ?? baseLength
        let high = lessOrEqual ?? (greaterOrEqual != nil ? maxLength : baseLength)
        return routeLength >= low && routeLength <= high
    }
}

/// An ordered prefix list.
public struct PrefixList: Hashable, Sendable {
    public var name: String
    public var entries: [PrefixListEntry]

    public init(name: String, entries: [PrefixListEntry]) { self.name = name; self.entries = entries }

    /// First matching entry decides; no match denies.
    public func permits(_ route: IPPrefix) -> Bool {
        for e in entries where e.matches(route) { return e.action == .permit }
        return false
    }
}

/// What a peer's routes must pass to enter the RIB.
public enum ImportPolicy: Hashable, Sendable {
    /// No policy configured: RFC 8212 denies everything from eBGP peers, accepts from iBGP.
    case none
    /// Accept everything (an explicit `permit all`).
    case acceptAll
    case prefixList(PrefixList)

    func permits(_ route: IPPrefix, fromEBGP: Bool) -> Bool {
        switch self {
        case .none: !fromEBGP
        case .acceptAll: true
        case .prefixList(let list): list.permits(route)
        }
    }
}

/// `neighbor X maximum-prefix N [threshold] [warning-only]`.
public struct MaximumPrefix: Hashable, Sendable {
    public var limit: Int
    /// Percentage of `limit` at which a warning is raised (FRR default 75).
    public var warningThresholdPercent: Int
    /// Tear the session down when exceeded (otherwise only warn).
    public var teardown: Bool

    public init(limit: Int, warningThresholdPercent: Int = 75, teardown: Bool = true) {
        self.limit = limit; self.warningThresholdPercent = warningThresholdPercent; self.teardown = teardown
    }
}
