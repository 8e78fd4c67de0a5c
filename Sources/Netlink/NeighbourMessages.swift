import CMNL
import Packet

/// Encoding and decoding of RTM_GETNEIGH / RTM_NEWNEIGH bodies.
enum NeighbourMessage {
    /// Writes an RTM_GETNEIGH dump request (all families).
    static func writeDump(into w: inout MessageWriter) {
        w.putFamilyHeader(ndmsg())
    }

    /// Reads an RTM_NEWNEIGH body; nil for non-IP families (bridge FDB entries).
    static func decode(_ payload: UnsafeRawBufferPointer) -> Neighbour? {
        guard let header = payload.loadHeader(ndmsg.self) else { return nil }
        var address: IPAddress?
        var mac: [UInt8]?
        for (type, value) in Attributes(payload, after: MemoryLayout<ndmsg>.size) {
            switch type {
            case NeighbourAttribute.destination: address = value.ipAddress(family: header.ndm_family)
            case NeighbourAttribute.linkLayerAddress: mac = value.isEmpty ? nil : Array(value)
            default: break
            }
        }
        guard let address else { return nil }
        return Neighbour(interfaceIndex: header.ndm_ifindex, address: address, macAddress: mac,
                         state: NeighbourState(rawValue: header.ndm_state),
                         isRouter: header.ndm_flags & NeighbourAttribute.flagRouter != 0)
    }
}
