import Packet

/// A cache's protocol state in one service group.
public enum CacheState: String, Equatable, Sendable {
    /// Heard a HERE_I_AM, sent I_SEE_YOU, waiting for the ReceiveID echo.
    case pending
    /// Two-way handshake complete: listed in the Router View, may receive traffic.
    case usable
    /// Gone (removed after silence); reported in actions only.
    case removed
}

/// Why a cache's state changed.
public enum CacheStateReason: String, Equatable, Sendable {
    case registered = "HERE_I_AM received"
    case receiveIDEchoed = "ReceiveID echoed: two-way handshake complete"
    case silent = "no HERE_I_AM for 3 x HERE_I_AM_T"
    case pendingExpired = "handshake not completed within 3 x HERE_I_AM_T"
    case failureDetected = "declared dead by failure detection: buckets fail open until reassigned"
    case recovered = "answers failure-detection probes again"
}

/// What the router asks its caller to do.
public enum WCCPRouterAction: Equatable, Sendable {
    /// Send `datagram` by UDP from port 2048 to `cache`:2048.
    case send(datagram: [UInt8], to: IPv4Address)
    /// The service's redirect table changed; install it in the engine.
    case assignmentChanged(serviceID: UInt8, table: RedirectTable)
    /// A cache entered `state` for `reason`.
    case cacheStateChanged(serviceID: UInt8, cache: IPv4Address, state: CacheState, reason: CacheStateReason)
}

/// Reasons a received datagram was dropped, each with a counter.
public enum WCCPDropReason: String, CaseIterable, Hashable, Sendable {
    case badVersion = "bad version"
    case badLength = "bad length"
    case malformed = "malformed or truncated"
    case unknownMessageType = "unknown message type"
    case unexpectedMessageType = "message type not accepted by a router"
    case unknownService = "service not configured"
    case authentication = "MD5 authentication failure"
    case securityOption = "security option mismatch"
    case groupListDenied = "denied by group-list"
    case serviceDefinitionConflict = "conflicting service definition"
    case unsupportedCapability = "unsupported capability choice"
    case badReceiveID = "bad ReceiveID"
    case notFromUsableCache = "sender is not a usable cache"
    case notDesignatedCache = "sender is not the designated cache"
    case staleAssignment = "stale assignment"
    case assignmentNotForThisRouter = "assignment does not list this router"
    case invalidAssignment = "assignment names unknown caches or wrong method"
    case tooManyCaches = "service group full (64 caches, pending included)"

    init(_ error: WCCPDecodeError) {
        switch error {
        case .badVersion: self = .badVersion
        case .badLength: self = .badLength
        case .unknownMessageType: self = .unknownMessageType
        case .truncated, .countTooLarge, .missingComponent, .duplicateComponent, .malformedComponent: self = .malformed
        case .digestMismatch: self = .authentication
        case .missingDigest, .unexpectedDigest: self = .securityOption
        }
    }
}

/// A cache as shown by `show ip wccp … detail`.
public struct WCCPCacheStatus: Equatable, Sendable {
    public var address: IPv4Address
    public var state: CacheState
    public var forwarding: PacketMethods
    public var assignment: AssignmentMethods
    public var packetReturn: PacketMethods
    public var weight: UInt16
    /// Hash buckets assigned (hash mode).
    public var buckets: [Int]
    /// Mask values assigned (mask mode).
    public var maskValues: Int
    public var firstSeen: Duration
    public var lastHeard: Duration
    /// Declared dead by fast failure detection: out of the view and the table.
    public var failed: Bool = false
}

/// A service group as shown by `show ip wccp`.
public struct WCCPServiceStatus: Equatable, Sendable {
    public var serviceID: UInt8
    /// Learned (dynamic) or well-known (standard) definition; nil before the first cache.
    public var definition: ServiceInfo?
    public var assignmentMethod: AssignmentMethods?
    public var memberChangeNumber: UInt32
    public var receiveID: UInt32
    public var assignmentKey: AssignmentKey
    public var designatedCache: IPv4Address?
    public var caches: [WCCPCacheStatus]
    /// Set while a membership change waits for a REDIRECT_ASSIGN.
    public var assignmentDeadline: Duration?
    /// Buckets or mask values of dead caches now served by the remaining caches (`failover`).
    public var failedOver: Int = 0
}
