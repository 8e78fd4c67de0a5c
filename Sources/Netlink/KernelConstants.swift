// Netlink and rtnetlink ABI numbers (linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h,
// neighbour.h). Kept here under their kernel names because the C headers import them into
// Swift with a different type each (macros as Int32, enums as structs); these never change.
// Tests check a sample of them against the C headers.

/// nlmsghdr.nlmsg_flags bits.
enum NLMFlag {
    static let request: UInt16 = 0x1
    static let multi: UInt16 = 0x2
    static let ack: UInt16 = 0x4
    static let dumpInterrupted: UInt16 = 0x10
    static let dump: UInt16 = 0x300
    static let replace: UInt16 = 0x100
    static let exclusive: UInt16 = 0x200
    static let create: UInt16 = 0x400
    /// On NLMSG_ERROR: the echoed request was cut to its header (NETLINK_CAP_ACK).
    static let capped: UInt16 = 0x100
    /// On NLMSG_ERROR: extended-ack attributes follow the echoed request.
    static let ackTLVs: UInt16 = 0x200
}

/// nlmsghdr.nlmsg_type values.
enum MessageType {
    static let noop: UInt16 = 1
    static let error: UInt16 = 2
    static let done: UInt16 = 3
    static let overrun: UInt16 = 4
    static let newLink: UInt16 = 16
    static let getLink: UInt16 = 18
    static let newAddress: UInt16 = 20
    static let deleteAddress: UInt16 = 21
    static let getAddress: UInt16 = 22
    static let newRoute: UInt16 = 24
    static let deleteRoute: UInt16 = 25
    static let getRoute: UInt16 = 26
    static let newNeighbour: UInt16 = 28
    static let getNeighbour: UInt16 = 30

    /// The kernel's name for a message type, for error text ("RTM_NEWROUTE").
    static func name(_ type: UInt16) -> String {
        switch type {
        case newLink: "RTM_NEWLINK"
        case getLink: "RTM_GETLINK"
        case newAddress: "RTM_NEWADDR"
        case deleteAddress: "RTM_DELADDR"
        case getAddress: "RTM_GETADDR"
        case newRoute: "RTM_NEWROUTE"
        case deleteRoute: "RTM_DELROUTE"
        case getRoute: "RTM_GETROUTE"
        case newNeighbour: "RTM_NEWNEIGH"
        case getNeighbour: "RTM_GETNEIGH"
        default: "message type \(type)"
        }
    }
}

/// Link attributes (IFLA_*) and flags.
enum LinkAttribute {
    static let address: UInt16 = 1
    static let name: UInt16 = 3
    static let mtu: UInt16 = 4
    static let linkInfo: UInt16 = 18
    /// Inside IFLA_LINKINFO.
    static let infoKind: UInt16 = 1
    static let flagUp: UInt32 = 0x1
    static let flagLowerUp: UInt32 = 0x10000
}

/// Address attributes (IFA_*) and flags.
enum AddressAttribute {
    static let address: UInt16 = 1
    static let local: UInt16 = 2
    static let flags: UInt16 = 8
    static let flagNoDAD: UInt32 = 0x02
}

/// Route attributes (RTA_*), scopes and flags.
enum RouteAttribute {
    static let destination: UInt16 = 1
    static let outputInterface: UInt16 = 4
    static let gateway: UInt16 = 5
    static let priority: UInt16 = 6
    static let preferredSource: UInt16 = 7
    static let multipath: UInt16 = 9
    static let table: UInt16 = 15
    static let via: UInt16 = 18

    static let scopeUniverse: UInt8 = 0
    static let scopeLink: UInt8 = 253
    /// In a delete request: match any scope.
    static let scopeNowhere: UInt8 = 255
    /// rtm_flags: a cached clone, not a FIB entry.
    static let flagCloned: UInt32 = 0x200
    /// rtm_table value meaning "see RTA_TABLE" for tables above 255.
    static let tableCompat: UInt8 = 252
}

/// Neighbour attributes (NDA_*) and flags.
enum NeighbourAttribute {
    static let destination: UInt16 = 1
    static let linkLayerAddress: UInt16 = 2
    static let flagRouter: UInt8 = 0x80
}

/// Extended ack attributes (NLMSGERR_ATTR_*) and socket options.
enum ExtendedAck {
    static let message: UInt16 = 1
    static let solNetlink: Int32 = 270
    static let capAckOption: Int32 = 10
    static let extAckOption: Int32 = 11
    /// NETLINK_GET_STRICT_CHK (Linux 4.20): dump requests' headers are checked and their
    /// filters (a route dump's table, protocol, type) applied by the kernel.
    static let strictCheckOption: Int32 = 12
}

/// Address families as rtnetlink carries them in one byte.
enum Family {
    static let unspecified: UInt8 = 0
    static let inet: UInt8 = 2
    static let inet6: UInt8 = 10
}
