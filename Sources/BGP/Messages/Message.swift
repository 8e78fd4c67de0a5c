// The BGP message header (RFC 4271 §4.1) and the message types, encoded to
// and decoded from whole frames (marker, length, type, body).

import Packet

/// Message type codes.
public enum MessageType {
    public static let open: UInt8 = 1
    public static let update: UInt8 = 2
    public static let notification: UInt8 = 3
    public static let keepalive: UInt8 = 4
    public static let routeRefresh: UInt8 = 5
}

/// A message to send (or as decoded, with UPDATE error handling applied by `InboundMessage`).
public enum BGPMessage: Hashable, Sendable {
    case open(BGPOpen)
    case update(BGPUpdate)
    case notification(BGPNotification)
    case keepalive
    case routeRefresh(BGPRouteRefresh)

    /// Header length; also the smallest message.
    public static let headerLength = 19
    /// Largest message without RFC 8654 extended messages.
    public static let maximumLength = 4096

    public var type: UInt8 {
        switch self {
        case .open: MessageType.open
        case .update: MessageType.update
        case .notification: MessageType.notification
        case .keepalive: MessageType.keepalive
        case .routeRefresh: MessageType.routeRefresh
        }
    }

    /// Appends the whole message. `fourOctetAS` selects the AS size of UPDATE attributes.
    /// An UPDATE that would exceed 4096 octets is the caller's error (split NLRI before encoding).
    public func encode(fourOctetAS: Bool = true, into out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0xFF, count: 16))
        out.appendU16(0)
        out.append(type)
        switch self {
        case .open(let o): o.encodeBody(into: &out)
        case .update(let u): u.encodeBody(fourOctetAS: fourOctetAS, into: &out)
        case .notification(let n): n.encodeBody(into: &out)
        case .keepalive: break
        case .routeRefresh(let rr):
            out.appendU16(rr.family.afi); out.append(rr.subtype); out.append(rr.family.safi)
        }
        out.setU16(UInt16(truncatingIfNeeded: out.count - start), at: start + 16)
    }

    /// The whole message as a new array.
    public func encoded(fourOctetAS: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        encode(fourOctetAS: fourOctetAS, into: &out)
        return out
    }

    /// Checks marker and length field of a header (first 19 octets). Returns the length.
    static func checkHeader(_ header: ArraySlice<UInt8>) throws(BGPNotification) -> Int {
        let s = header.startIndex
        for i in 0..<16 where header[s + i] != 0xFF { throw .badMarker }
        let length = UInt16(header[s + 16]) << 8 | UInt16(header[s + 17])
        guard (headerLength...maximumLength).contains(Int(length)) else { throw .badLength(length) }
        return Int(length)
    }
}

/// A received message. UPDATEs come with their RFC 7606 verdict.
public enum InboundMessage: Hashable, Sendable {
    case open(BGPOpen)
    case update(ReceivedUpdate)
    case notification(BGPNotification)
    case keepalive
    case routeRefresh(BGPRouteRefresh)

    /// Decodes one whole frame (as `BGPFrameDecoder` yields). OPENs are
    /// decoded without session context; UPDATEs need the negotiated context.
    /// Throws the NOTIFICATION to send when the frame is unacceptable.
    public static func decode(frame: ArraySlice<UInt8>, context: UpdateDecodingContext) throws(BGPNotification) -> InboundMessage {
        guard frame.count >= BGPMessage.headerLength else { throw .badLength(UInt16(truncatingIfNeeded: frame.count)) }
        let length = try BGPMessage.checkHeader(frame.prefix(BGPMessage.headerLength))
        guard length == frame.count else { throw .badLength(UInt16(length)) }
        let type = frame[frame.startIndex + 18]
        let body = frame.dropFirst(BGPMessage.headerLength)
        // Per-type minimum and exact lengths (RFC 4271 §6.1): 1/2 with the length field.
        let badLength = BGPNotification.badLength(UInt16(length))
        switch type {
        case MessageType.open:
            guard length >= 29 else { throw badLength }
            return .open(try BGPOpen.decodeBody(body))
        case MessageType.update:
            guard length >= 23 else { throw badLength }
            return .update(try UpdateDecoder.decode(body: body, context: context))
        case MessageType.notification:
            guard length >= 21 else { throw badLength }
            return .notification(BGPNotification.decodeBody(body))
        case MessageType.keepalive:
            guard length == 19 else { throw badLength }
            return .keepalive
        case MessageType.routeRefresh:
            // RFC 7313 §5: a wrong-sized ROUTE-REFRESH is 7/1 Invalid Message Length.
            guard length == 23 else { throw BGPNotification(code: 7, subcode: 1, data: Array(frame)) }
            let s = body.startIndex
            var rr = BGPRouteRefresh(family: AddressFamily(afi: UInt16(body[s]) << 8 | UInt16(body[s + 1]), safi: body[s + 3]))
            rr.subtype = body[s + 2]
            return .routeRefresh(rr)
        default:
            throw .badType(type)
        }
    }
}
