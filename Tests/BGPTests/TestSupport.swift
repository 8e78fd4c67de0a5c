// Helpers shared by the BGP tests: hex fixtures, message building, a
// deterministic random source.

import Testing
@testable import BGP
import Packet

/// Bytes from a hex string (whitespace ignored).
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    precondition(digits.count % 2 == 0, "odd hex fixture")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// Hex string of bytes, for readable failures.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

let marker = [UInt8](repeating: 0xFF, count: 16)

/// A whole message frame around a body.
func frame(type: UInt8, body: [UInt8]) -> [UInt8] {
    let length = 19 + body.count
    return marker + [UInt8(length >> 8), UInt8(length & 0xFF), type] + body
}

/// An UPDATE frame from raw withdrawn, attribute and NLRI fields.
func updateFrame(withdrawn: [UInt8] = [], attributes: [UInt8], nlri: [UInt8] = []) -> [UInt8] {
    frame(type: 2, body: [UInt8(withdrawn.count >> 8), UInt8(withdrawn.count & 0xFF)] + withdrawn
          + [UInt8(attributes.count >> 8), UInt8(attributes.count & 0xFF)] + attributes + nlri)
}

func prefix4(_ s: String) -> IPv4Prefix { IPv4Prefix(s)! }
func prefix6(_ s: String) -> IPv6Prefix { IPv6Prefix(s)! }
func addr4(_ s: String) -> IPv4Address { IPv4Address(s)! }
func addr6(_ s: String) -> IPv6Address { IPv6Address(s)! }

/// Context of an eBGP session from AS 64512 (the Transit Gateway) to us, AS 65000.
let ebgpContext = UpdateDecodingContext(fourOctetAS: true, localAS: 65000, peerAS: 64512)

/// Decodes a frame, returning the message or the NOTIFICATION it provoked.
func decode(_ bytes: [UInt8], _ context: UpdateDecodingContext = ebgpContext) -> Result<InboundMessage, BGPNotification> {
    Result { () throws(BGPNotification) -> InboundMessage in try InboundMessage.decode(frame: bytes[...], context: context) }
}

/// Decodes an UPDATE frame that must not reset the session.
func receivedUpdate(_ bytes: [UInt8], _ context: UpdateDecodingContext = ebgpContext,
                    sourceLocation: SourceLocation = #_sourceLocation) -> ReceivedUpdate? {
    switch decode(bytes, context) {
    case .success(.update(let u)): return u
    case .success(let other):
        Issue.record("expected an UPDATE, got \(other)", sourceLocation: sourceLocation); return nil
    case .failure(let n):
        Issue.record("unexpected NOTIFICATION \(n)", sourceLocation: sourceLocation); return nil
    }
}

/// The NOTIFICATION a frame provokes, as the exact bytes we would send.
func notificationBytes(for bytes: [UInt8], _ context: UpdateDecodingContext = ebgpContext,
                       sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    switch decode(bytes, context) {
    case .success(let m):
        Issue.record("expected a NOTIFICATION, decoded \(m)", sourceLocation: sourceLocation); return nil
    case .failure(let n):
        return hexString(BGPMessage.notification(n).encoded())
    }
}

/// The header of a NOTIFICATION of `bodyLength` octets after the type, as hex.
func notificationHeader(_ totalLength: Int) -> String {
    String(repeating: "ff", count: 16) + hexString([UInt8(totalLength >> 8), UInt8(totalLength & 0xFF), 3])
}


// Well-formed attribute fragments for crafting UPDATEs (4-octet AS session).
let originIGP: [UInt8] = [0x40, 1, 1, 0]
let asPath64512: [UInt8] = [0x40, 2, 6, 2, 1, 0, 0, 0xFC, 0x00]
let nextHop169: [UInt8] = [0x40, 3, 4, 169, 254, 6, 2]
/// NLRI 10.99.0.0/24, the probe route of bgp-peers.md.
let nlri10_99: [UInt8] = [24, 10, 99, 0]
