// IPFIX (RFC 7011) encoding of egressd's flow records: a pure codec. One
// template (ID 256) describes the record: the IPv4 5-tuple, the tunnel it
// arrived on (ingressInterface + interfaceName), packets and bytes, start
// and end (milliseconds since 1970), why the record ended, and the egress
// decision: forwardingStatus (RFC 7270) and ipNextHopIPv4Address (the WCCP
// cache when redirected, the next hop when forwarded), plus two
// enterprise-specific elements (PEN 32473, the documentation PEN of
// RFC 5612, until egressd has its own): egressDecision and wccpServiceId.
// Template 257 is the same record for IPv6 flows.

import Packet

/// One flow as exported.
public struct IPFIXFlowRecord: Equatable, Sendable {
    public enum Decision: UInt8, Sendable {
        case forwarded = 1      // to the next hop (or spoke to spoke)
        case redirected = 2     // to a WCCP cache
        case kernel = 3         // handed to the kernel
        case encapsulated = 4   // return traffic encapsulated into a tunnel
        case dropped = 5
    }
    /// RFC 5102 flowEndReason.
    public enum EndReason: UInt8, Sendable {
        case idleTimeout = 1, activeTimeout = 2, endOfFlow = 3, forcedEnd = 4, lackOfResources = 5
    }

    public var source: UInt32
    public var destination: UInt32
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var proto: UInt8
    public var tunnelIndex: UInt32
    public var tunnelName: String
    public var packets: UInt64
    public var bytes: UInt64
    public var startMilliseconds: UInt64
    public var endMilliseconds: UInt64
    public var endReason: EndReason
    public var decision: Decision
    /// Cache address (redirected) or next hop (forwarded); 0 when none.
    public var nextHop: UInt32
    /// WCCP service group when redirected; 0 otherwise (web-cache is 0 too: see `decision`).
    public var service: UInt8
    /// IPv6 flows: the addresses (then `source`/`destination` are unused).
    public var source6: IPv6Address? = nil
    public var destination6: IPv6Address? = nil

    public init(source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16, proto: UInt8,
                tunnelIndex: UInt32, tunnelName: String, packets: UInt64, bytes: UInt64,
                startMilliseconds: UInt64, endMilliseconds: UInt64, endReason: EndReason,
                decision: Decision, nextHop: UInt32, service: UInt8,
                source6: IPv6Address? = nil, destination6: IPv6Address? = nil) {
        self.source = source; self.destination = destination
        self.sourcePort = sourcePort; self.destinationPort = destinationPort; self.proto = proto
        self.tunnelIndex = tunnelIndex; self.tunnelName = tunnelName
        self.packets = packets; self.bytes = bytes
        self.startMilliseconds = startMilliseconds; self.endMilliseconds = endMilliseconds
        self.endReason = endReason; self.decision = decision; self.nextHop = nextHop; self.service = service
        self.source6 = source6; self.destination6 = destination6
    }

    /// RFC 7270 forwardingStatus: 64 forwarded (unknown), 128 dropped (unknown).
    var forwardingStatus: UInt8 { decision == .dropped ? 128 : 64 }
}

/// The exporter's encoder: keeps the sequence number (data records sent)
/// and turns records into IPFIX messages no larger than `maximumMessage`.
public struct IPFIXEncoder: Sendable {
    public static let version: UInt16 = 10
    public static let templateID: UInt16 = 256
    /// The same record with IPv6 addresses (sourceIPv6Address 27, destinationIPv6Address 28).
    public static let templateID6: UInt16 = 257
    public static let enterpriseNumber: UInt32 = 32473
    public static let variableLength: UInt16 = 65535

    /// (element ID, length, enterprise number or nil).
    public static let fields: [(UInt16, UInt16, UInt32?)] = [
        (8, 4, nil),     // sourceIPv4Address
        (12, 4, nil),    // destinationIPv4Address
        (7, 2, nil),     // sourceTransportPort
        (11, 2, nil),    // destinationTransportPort
        (4, 1, nil),     // protocolIdentifier
        (10, 4, nil),    // ingressInterface (the tunnel's index)
        (2, 8, nil),     // packetDeltaCount
        (1, 8, nil),     // octetDeltaCount
        (152, 8, nil),   // flowStartMilliseconds
        (153, 8, nil),   // flowEndMilliseconds
        (136, 1, nil),   // flowEndReason
        (89, 1, nil),    // forwardingStatus
        (15, 4, nil),    // ipNextHopIPv4Address
        (1, 1, enterpriseNumber),  // egressd: egressDecision
        (2, 1, enterpriseNumber),  // egressd: wccpServiceId
        (82, variableLength, nil), // interfaceName (the tunnel's name)
    ]

    public var observationDomain: UInt32
    public var maximumMessage: Int
    public private(set) var sequence: UInt32 = 0

    public init(observationDomain: UInt32 = 0, maximumMessage: Int = 1400) {
        self.observationDomain = observationDomain
        self.maximumMessage = maximumMessage
    }

    /// The IPv6 template's fields: the IPv4 addresses replaced by IPv6 ones.
    public static var fields6: [(UInt16, UInt16, UInt32?)] {
        fields.map { (f: (UInt16, UInt16, UInt32?)) -> (UInt16, UInt16, UInt32?) in
            if f.2 == nil && f.0 == 8 { return (27, 16, nil) }
            if f.2 == nil && f.0 == 12 { return (28, 16, nil) }
            return f
        }
    }

    /// The template set (ID 2) with both template records (IPv4: 256, IPv6: 257).
    public static func templateSet() -> [UInt8] {
        var body: [UInt8] = []
        for (tid, list) in [(templateID, fields), (templateID6, fields6)] {
            body.put16(tid)
            body.put16(UInt16(list.count))
            for (id, length, pen) in list {
                body.put16(pen == nil ? id : id | 0x8000)
                body.put16(length)
                if let pen { body.put32(pen) }
            }
        }
        var set: [UInt8] = []
        set.put16(2)
        set.put16(UInt16(4 + body.count))
        return set + body
    }

    static func encode(_ r: IPFIXFlowRecord) -> [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(96)
        if let s6 = r.source6, let d6 = r.destination6 {
            b.put64(s6.high); b.put64(s6.low); b.put64(d6.high); b.put64(d6.low)
        } else {
            b.put32(r.source); b.put32(r.destination)
        }
        b.put16(r.sourcePort); b.put16(r.destinationPort)
        b.append(r.proto)
        b.put32(r.tunnelIndex)
        b.put64(r.packets); b.put64(r.bytes)
        b.put64(r.startMilliseconds); b.put64(r.endMilliseconds)
        b.append(r.endReason.rawValue)
        b.append(r.forwardingStatus)
        b.put32(r.nextHop)
        b.append(r.decision.rawValue)
        b.append(r.service)
        let name = Array(r.tunnelName.utf8.prefix(254))
        b.append(UInt8(name.count))
        b += name
        return b
    }

    /// Messages carrying `records` (and, when `withTemplate`, the template
    /// set first), each at most `maximumMessage` bytes. `exportTime`:
    /// seconds since 1970.
    public mutating func messages(_ records: [IPFIXFlowRecord], exportTime: UInt32, withTemplate: Bool) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var pendingTemplate = withTemplate
        var i = 0
        repeat {
            var sets: [UInt8] = []
            if pendingTemplate { sets += Self.templateSet(); pendingTemplate = false }
            var count: UInt32 = 0
            // Consecutive records of one template share a data set.
            var setTemplate: UInt16 = 0
            var data: [UInt8] = []
            func closeSet() {
                guard !data.isEmpty else { return }
                sets.put16(setTemplate)
                sets.put16(UInt16(4 + data.count))
                sets += data
                data = []
            }
            while i < records.count {
                let tid = records[i].source6 != nil && records[i].destination6 != nil ? Self.templateID6 : Self.templateID
                let rec = Self.encode(records[i])
                let newSet = tid != setTemplate || data.isEmpty
                if 16 + sets.count + (data.isEmpty ? 0 : 4 + data.count) + (newSet ? 4 : 0) + rec.count > maximumMessage && count > 0 { break }
                if tid != setTemplate { closeSet(); setTemplate = tid }
                data += rec
                count += 1
                i += 1
            }
            closeSet()
            if sets.isEmpty { break }
            var m: [UInt8] = []
            m.put16(Self.version)
            m.put16(UInt16(16 + sets.count))
            m.put32(exportTime)
            m.put32(sequence)          // data records sent before this message
            m.put32(observationDomain)
            out.append(m + sets)
            sequence &+= count
        } while i < records.count
        return out
    }
}

extension Array where Element == UInt8 {
    mutating func put16(_ v: UInt16) { append(UInt8(v >> 8)); append(UInt8(v & 0xFF)) }
    mutating func put32(_ v: UInt32) { put16(UInt16(v >> 16)); put16(UInt16(v & 0xFFFF)) }
    mutating func put64(_ v: UInt64) { put32(UInt32(v >> 32)); put32(UInt32(v & 0xFFFF_FFFF)) }
}
