import CMNL
import Packet

/// Encoding and decoding of RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR bodies.
enum AddressMessage {
    /// Writes an address request. IPv4 gets IFA_LOCAL and IFA_ADDRESS (as `ip addr add` does);
    /// IPv6 gets IFA_F_NODAD so the address is usable at once instead of after DAD.
    static func write(_ address: IPAddress, prefixLength: UInt8, index: Int32, into w: inout MessageWriter) {
        var header = ifaddrmsg()
        header.ifa_family = address.netlinkFamily
        header.ifa_prefixlen = prefixLength
        header.ifa_index = UInt32(bitPattern: index)
        var flags: UInt32 = 0
        if case .v6 = address { flags = AddressAttribute.flagNoDAD }
        header.ifa_flags = UInt8(truncatingIfNeeded: flags)
        w.putFamilyHeader(header)
        if case .v4 = address { w.put(AddressAttribute.local, address: address) }
        w.put(AddressAttribute.address, address: address)
        if flags != 0 { w.put(AddressAttribute.flags, u32: flags) }
    }

    /// Writes an RTM_GETADDR dump request (all families).
    static func writeDump(into w: inout MessageWriter) {
        w.putFamilyHeader(ifaddrmsg())
    }

    /// Reads an RTM_NEWADDR body. For IPv4 the local address (IFA_LOCAL) is the interface's
    /// own; IFA_ADDRESS is the peer on point-to-point links.
    static func decode(_ payload: UnsafeRawBufferPointer) -> InterfaceAddress? {
        guard let header = payload.loadHeader(ifaddrmsg.self) else { return nil }
        var address: IPAddress?
        var local: IPAddress?
        var flags = UInt32(header.ifa_flags)
        for (type, value) in Attributes(payload, after: MemoryLayout<ifaddrmsg>.size) {
            switch type {
            case AddressAttribute.address: address = value.ipAddress(family: header.ifa_family)
            case AddressAttribute.local: local = value.ipAddress(family: header.ifa_family)
            case AddressAttribute.flags: flags = value.u32 ?? flags
            default: break
            }
        }
        guard let chosen = local ?? address else { return nil }
        return InterfaceAddress(interfaceIndex: Int32(bitPattern: header.ifa_index), address: chosen,
                                prefixLength: header.ifa_prefixlen, flags: flags)
    }
}
