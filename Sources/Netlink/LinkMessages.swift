import CMNL
import Packet

/// Encoding and decoding of RTM_GETLINK / RTM_NEWLINK bodies.
enum LinkMessage {
    /// Writes an RTM_GETLINK for one link, by index or (index 0) by name.
    static func writeGet(index: Int32, name: String?, into w: inout MessageWriter) {
        var header = ifinfomsg()
        header.ifi_index = index
        w.putFamilyHeader(header)
        if let name { w.put(LinkAttribute.name, string: name) }
    }

    /// Writes an RTM_GETLINK dump request.
    static func writeDump(into w: inout MessageWriter) {
        w.putFamilyHeader(ifinfomsg())
    }

    /// Writes an RTM_NEWLINK that changes only what is given: the IFF_UP flag and/or the MTU.
    static func writeSet(index: Int32, up: Bool?, mtu: Int?, into w: inout MessageWriter) {
        var header = ifinfomsg()
        header.ifi_index = index
        if let up {
            header.ifi_change = LinkAttribute.flagUp  // only IFF_UP is touched
            header.ifi_flags = up ? LinkAttribute.flagUp : 0
        }
        w.putFamilyHeader(header)
        if let mtu { w.put(LinkAttribute.mtu, u32: UInt32(clamping: mtu)) }
    }

    /// Reads an RTM_NEWLINK body.
    static func decode(_ payload: UnsafeRawBufferPointer) -> LinkInfo? {
        guard let header = payload.loadHeader(ifinfomsg.self) else { return nil }
        var link = LinkInfo(index: header.ifi_index, name: "", mtu: 0,
                            isUp: header.ifi_flags & LinkAttribute.flagUp != 0,
                            hasCarrier: header.ifi_flags & LinkAttribute.flagLowerUp != 0,
                            flags: header.ifi_flags)
        for (type, value) in Attributes(payload, after: MemoryLayout<ifinfomsg>.size) {
            switch type {
            case LinkAttribute.name: link.name = value.string
            case LinkAttribute.mtu: link.mtu = Int(value.u32 ?? 0)
            case LinkAttribute.address: link.macAddress = value.isEmpty ? nil : Array(value)
            case LinkAttribute.linkInfo:
                for (infoType, info) in Attributes(value) where infoType == LinkAttribute.infoKind {
                    link.kind = info.string
                }
            default: break
            }
        }
        return link
    }
}
