import Packet
@testable import WCCP

/// Bytes from a hex string; whitespace and "|" separators are ignored.
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { $0.isHexDigit }
    var out: [UInt8] = []
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(i, offsetBy: 2)
        out.append(UInt8(digits[i..<j], radix: 16)!)
        i = j
    }
    return out
}

func ip(_ s: String) -> IPv4Address { IPv4Address(s)! }

/// Squid 5.7's HERE_I_AM (hash/gre/gre, standard 0, no security, cache 10.77.0.2, router 10.77.0.1,
/// weight 10000) exactly as captured in /work/shared/references/squid-wccp.md §2.
let squidHereIAmHash = hex("""
    00 00 00 0a 02 00 00 88  00 00 00 04 00 00 00 00
    00 01 00 18 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    00 03 00 2c 0a 4d 00 02 00 00 00 00
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    27 10 00 00
    00 05 00 14 00 00 00 01 00 00 00 01 0a 4d 00 01 00 00 00 00 00 00 00 00
    00 08 00 18 00 01 00 04 00 00 00 01 00 02 00 04 00 00 00 01 00 03 00 04 00 00 00 01
    """)

/// The I_SEE_YOU that the corrected Squid accepted (squid-wccp.md §4), 168-byte payload.
let squidAcceptedISeeYou = hex("""
    00 00 00 0b 02 00 00 a0  00 00 00 04 00 00 00 00
    00 01 00 18 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    00 02 00 14 0a 4d 00 01 00 00 00 01 0a 4d 00 01 00 00 00 01 0a 4d 00 02
    00 04 00 44 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 01 0a 4d 00 01 00 00 00 01
    0a 4d 00 02 00 00 00 00
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
    27 10 00 00
    00 08 00 18 00 01 00 04 00 00 00 03 00 02 00 04 00 00 00 03 00 03 00 04 00 00 00 03
    """)

/// A HERE_I_AM built the way Squid 5.7's wccp2Init builds it (squid-wccp.md §2): Web-Cache View change
/// number 1, one router element {router, echoed ReceiveID}, no caches, a 3-element Capabilities component.
func squidHereIAm(cache: IPv4Address, router: IPv4Address, echo receiveID: UInt32 = 0,
                  service: ServiceInfo = .webCache, mask: Bool = false, forwarding: PacketMethods = .gre,
                  packetReturn: PacketMethods = .gre, weight: UInt16 = 10000, md5: Bool = false) -> HereIAm {
    let identity: WebCacheIdentityElement = mask
        ? WebCacheIdentityElement(cacheIP: cache, flags: WebCacheIdentityElement.flagMaskData,
                                  data: .mask(sets: [MaskValueSet(mask: MaskFields(dstIP: 0x1741), values: [])], weight: 0, status: 0))
        : .hash(cache, weight: weight)
    return HereIAm(security: md5 ? .md5Unsigned : .none, service: service, identity: identity,
                   view: WebCacheViewInfo(changeNumber: 1, routers: [RouterIDElement(routerIP: router, receiveID: receiveID)], caches: []),
                   capabilities: [.forwarding(forwarding), .assignment(mask ? .mask : .hash), .packetReturn(packetReturn)])
}

/// Squid's default hash assignment without weights: bucket i → cache index i % n (wccp2AssignBuckets).
func squidHashBuckets(cacheCount n: Int) -> [UInt8] {
    (0..<256).map { UInt8($0 % n) }
}

/// Squid's default mask assignment: the 64 sub-masks of 0x1741 ascending, round-robin over `caches`.
func squidMaskSet(caches: [IPv4Address], onDstIP: Bool = true) -> MaskValueSet {
    let mask: UInt32 = 0x1741
    let values = (0...mask).filter { $0 & mask == $0 }
    let elements = values.enumerated().map { i, v in
        MaskValueElement(value: onDstIP ? MaskFields(dstIP: v) : MaskFields(srcIP: v), cacheIP: caches[i % caches.count])
    }
    return MaskValueSet(mask: onDstIP ? MaskFields(dstIP: mask) : MaskFields(srcIP: mask), values: elements)
}

