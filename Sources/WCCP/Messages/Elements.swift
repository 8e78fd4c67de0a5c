import Packet

/// Router ID Element: a router's IP and the ReceiveID of its latest I_SEE_YOU.
public struct RouterIDElement: Equatable, Sendable {
    public var routerIP: IPv4Address
    public var receiveID: UInt32
    public init(routerIP: IPv4Address, receiveID: UInt32) { self.routerIP = routerIP; self.receiveID = receiveID }
}

/// Router Assignment Element: which router state an assignment was computed for.
public struct RouterAssignmentElement: Equatable, Sendable {
    public var routerIP: IPv4Address
    public var receiveID: UInt32
    public var changeNumber: UInt32
    public init(routerIP: IPv4Address, receiveID: UInt32, changeNumber: UInt32) {
        self.routerIP = routerIP; self.receiveID = receiveID; self.changeNumber = changeNumber
    }
}

/// Assignment Key: the designated cache's IP and its assignment change number.
public struct AssignmentKey: Equatable, Sendable {
    public var keyIP: IPv4Address
    public var changeNumber: UInt32
    public init(keyIP: IPv4Address, changeNumber: UInt32) { self.keyIP = keyIP; self.changeNumber = changeNumber }
    public static let none = AssignmentKey(keyIP: .any, changeNumber: 0)
}

/// The four packet fields a Mask Element or Value Element refers to.
public struct MaskFields: Hashable, Sendable {
    public var srcIP: UInt32
    public var dstIP: UInt32
    public var srcPort: UInt16
    public var dstPort: UInt16
    public init(srcIP: UInt32 = 0, dstIP: UInt32 = 0, srcPort: UInt16 = 0, dstPort: UInt16 = 0) {
        self.srcIP = srcIP; self.dstIP = dstIP; self.srcPort = srcPort; self.dstPort = dstPort
    }
    /// Field-wise AND.
    @inlinable public func masked(by m: MaskFields) -> MaskFields {
        MaskFields(srcIP: srcIP & m.srcIP, dstIP: dstIP & m.dstIP,
                   srcPort: srcPort & m.srcPort, dstPort: dstPort & m.dstPort)
    }
}

/// Value Element: packets whose masked fields equal `value` go to `cacheIP`.
public struct MaskValueElement: Equatable, Sendable {
    public var value: MaskFields
    public var cacheIP: IPv4Address
    public init(value: MaskFields, cacheIP: IPv4Address) { self.value = value; self.cacheIP = cacheIP }
}

/// Mask/Value Set: one mask and the values matched under it, in order.
public struct MaskValueSet: Equatable, Sendable {
    public var mask: MaskFields
    public var values: [MaskValueElement]
    public init(mask: MaskFields, values: [MaskValueElement]) { self.mask = mask; self.values = values }
}

/// Assignment data carried in a Web-Cache Identity Element, selected by its flags (bits 0x0006).
public enum CacheAssignmentData: Equatable, Sendable {
    /// 32-byte bucket bitmap (bucket n = byte n/8, bit n%8 from the LSB), weight, status.
    case hash(bucketBitmap: [UInt8], weight: UInt16, status: UInt16)
    /// Mask/value sets, weight, status.
    case mask(sets: [MaskValueSet], weight: UInt16, status: UInt16)
    /// Data types 2 (none) and 3 (extended): bytes kept verbatim; only valid as the last thing in a component.
    case other(bytes: [UInt8])
}

/// Web-Cache Identity Element: a cache's IP, hash revision, flags and assignment data.
public struct WebCacheIdentityElement: Equatable, Sendable {
    /// Flags bit 0x0001: "historical / no assignment" (U).
    public static let flagUnassigned: UInt16 = 0x0001
    /// Flags value for mask assignment data (data type 1 in bits 0x0006), as Squid sends it.
    public static let flagMaskData: UInt16 = 0x0002

    public var cacheIP: IPv4Address
    public var hashRevision: UInt16
    public var flags: UInt16
    public var data: CacheAssignmentData

    public init(cacheIP: IPv4Address, hashRevision: UInt16 = 0, flags: UInt16, data: CacheAssignmentData) {
        self.cacheIP = cacheIP; self.hashRevision = hashRevision; self.flags = flags; self.data = data
    }

    /// A hash-mode element with the given buckets set in its bitmap.
    public static func hash(_ ip: IPv4Address, buckets: some Sequence<Int> = [], weight: UInt16 = 0,
                            status: UInt16 = 0) -> WebCacheIdentityElement {
        var bitmap = [UInt8](repeating: 0, count: 32)
        for b in buckets where (0..<256).contains(b) { bitmap[b / 8] |= 1 << UInt8(b % 8) }
        return WebCacheIdentityElement(cacheIP: ip, flags: 0, data: .hash(bucketBitmap: bitmap, weight: weight, status: status))
    }

    /// Weight announced by the cache (0 when the data carries none).
    public var weight: UInt16 {
        switch data {
        case .hash(_, let w, _), .mask(_, let w, _): w
        case .other: 0
        }
    }

    /// Buckets set in a hash-mode bitmap.
    public var bitmapBuckets: [Int] {
        guard case .hash(let bitmap, _, _) = data, bitmap.count == 32 else { return [] }
        return (0..<256).filter { bitmap[$0 / 8] & (1 << UInt8($0 % 8)) != 0 }
    }
}

// MARK: - Element codecs

extension MaskFields {
    static func decodeMask(_ r: inout WireReader) throws(WCCPDecodeError) -> MaskFields {
        MaskFields(srcIP: try r.u32("mask element"), dstIP: try r.u32("mask element"),
                   srcPort: try r.u16("mask element"), dstPort: try r.u16("mask element"))
    }
    func encode(_ w: inout WireWriter) { w.u32(srcIP); w.u32(dstIP); w.u16(srcPort); w.u16(dstPort) }
}

extension MaskValueSet {
    static func decode(_ r: inout WireReader) throws(WCCPDecodeError) -> MaskValueSet {
        let mask = try MaskFields.decodeMask(&r)
        let n = try r.count(minimumElementSize: 16, "value elements")
        var values: [MaskValueElement] = []
        values.reserveCapacity(n)
        for _ in 0..<n {
            let v = try MaskFields.decodeMask(&r)
            values.append(MaskValueElement(value: v, cacheIP: try r.ipv4("value element cache IP")))
        }
        return MaskValueSet(mask: mask, values: values)
    }
    func encode(_ w: inout WireWriter) {
        mask.encode(&w)
        w.u32(UInt32(values.count))
        for v in values { v.value.encode(&w); w.ipv4(v.cacheIP) }
    }

    static func decodeList(_ r: inout WireReader) throws(WCCPDecodeError) -> [MaskValueSet] {
        let n = try r.count(minimumElementSize: 16, "mask/value sets")
        var sets: [MaskValueSet] = []
        for _ in 0..<n { sets.append(try decode(&r)) }
        return sets
    }
    static func encodeList(_ sets: [MaskValueSet], _ w: inout WireWriter) {
        w.u32(UInt32(sets.count))
        for s in sets { s.encode(&w) }
    }
}

extension RouterAssignmentElement {
    static func decodeList(_ r: inout WireReader) throws(WCCPDecodeError) -> [RouterAssignmentElement] {
        let n = try r.count(minimumElementSize: 12, "router assignment elements")
        var out: [RouterAssignmentElement] = []
        for _ in 0..<n {
            out.append(RouterAssignmentElement(routerIP: try r.ipv4("router IP"), receiveID: try r.u32("receive ID"),
                                               changeNumber: try r.u32("change number")))
        }
        return out
    }
    static func encodeList(_ list: [RouterAssignmentElement], _ w: inout WireWriter) {
        w.u32(UInt32(list.count))
        for e in list { w.ipv4(e.routerIP); w.u32(e.receiveID); w.u32(e.changeNumber) }
    }
}

extension AssignmentKey {
    static func decode(_ r: inout WireReader) throws(WCCPDecodeError) -> AssignmentKey {
        AssignmentKey(keyIP: try r.ipv4("assignment key IP"), changeNumber: try r.u32("assignment key change number"))
    }
    func encode(_ w: inout WireWriter) { w.ipv4(keyIP); w.u32(changeNumber) }
}

func decodeIPv4List(_ r: inout WireReader, _ context: String) throws(WCCPDecodeError) -> [IPv4Address] {
    let n = try r.count(minimumElementSize: 4, context)
    var out: [IPv4Address] = []
    out.reserveCapacity(n)
    for _ in 0..<n { out.append(try r.ipv4(context)) }
    return out
}

func encodeIPv4List(_ list: [IPv4Address], _ w: inout WireWriter) {
    w.u32(UInt32(list.count))
    for a in list { w.ipv4(a) }
}

extension WebCacheIdentityElement {
    /// Decodes one element. `lastInComponent` allows data types 2/3, whose length is unknown, to take the rest.
    static func decode(_ r: inout WireReader, lastInComponent: Bool) throws(WCCPDecodeError) -> WebCacheIdentityElement {
        let ip = try r.ipv4("web-cache IP")
        let rev = try r.u16("hash revision")
        let flags = try r.u16("web-cache flags")
        let data: CacheAssignmentData
        switch (flags >> 1) & 0x3 {
        case 0:
            let bitmap = try r.raw(32, "bucket bitmap")
            data = .hash(bucketBitmap: bitmap, weight: try r.u16("weight"), status: try r.u16("status"))
        case 1:
            let sets = try MaskValueSet.decodeList(&r)
            data = .mask(sets: sets, weight: try r.u16("weight"), status: try r.u16("status"))
        default:
            guard lastInComponent else {
                throw .malformedComponent(.routerViewInfo, "web-cache element with undelimited data type \((flags >> 1) & 3)")
            }
            data = .other(bytes: try r.raw(r.remaining, "web-cache data"))
        }
        return WebCacheIdentityElement(cacheIP: ip, hashRevision: rev, flags: flags, data: data)
    }

    func encode(_ w: inout WireWriter) {
        w.ipv4(cacheIP); w.u16(hashRevision); w.u16(flags)
        switch data {
        case .hash(let bitmap, let weight, let status):
            var b = Array(bitmap.prefix(32))
            while b.count < 32 { b.append(0) }
            w.raw(b); w.u16(weight); w.u16(status)
        case .mask(let sets, let weight, let status):
            MaskValueSet.encodeList(sets, &w); w.u16(weight); w.u16(status)
        case .other(let bytes):
            w.raw(bytes)
        }
    }
}
