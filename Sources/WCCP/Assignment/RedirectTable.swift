import Packet

/// Where a redirected packet goes, with the bucket numbers for the GRE redirect header.
public struct RedirectDecision: Equatable, Sendable {
    /// Index into `RedirectTable.caches`.
    public var slot: Int
    /// Primary hash bucket (hash mode; 0 in mask mode).
    public var primaryBucket: UInt8
    /// Alternate hash bucket, when the alternate hash was used.
    public var alternateBucket: UInt8?
}

/// A compiled, read-only assignment the engine consults per packet without allocating.
public struct RedirectTable: Equatable, Sendable {
    /// Cache IPs by slot.
    public let caches: [IPv4Address]
    let mode: Mode
    /// Buckets (hash) or mask values given to a remaining cache because theirs is dead
    /// (`AssignmentFailover`); 0 when failing open or when all caches are healthy.
    public internal(set) var failedOver = 0

    enum Mode: Equatable, Sendable {
        case empty
        /// 256 entries: 0xFF unassigned; else slot in the low 7 bits, 0x80 = use alternate.
        case hash(buckets: [UInt8], flags: ServiceFlags)
        /// Mask/value sets in order, each compiled to a dictionary (first value wins).
        case mask([CompiledMaskSet])
    }

    struct CompiledMaskSet: Equatable, Sendable {
        var mask: MaskFields
        var slots: [MaskFields: Int]
    }

    /// A table that redirects nothing (fail open).
    public static let empty = RedirectTable(caches: [], mode: .empty)

    init(caches: [IPv4Address], mode: Mode) { self.caches = caches; self.mode = mode }

    /// Compiles a hash assignment: entries are indexes into `caches`; entries naming no cache
    /// (index out of range, or a cache in `excluded`) become unassigned.
    public init(hashBuckets: [UInt8], caches: [IPv4Address], flags: ServiceFlags, excluding excluded: Set<IPv4Address> = []) {
        var table = [UInt8](repeating: BucketEntry.unassigned, count: 256)
        for (i, e) in hashBuckets.prefix(256).enumerated() where e != BucketEntry.unassigned {
            let index = Int(e & BucketEntry.indexMask)
            if index < caches.count, !excluded.contains(caches[index]) { table[i] = e }
        }
        if table.allSatisfy({ $0 == BucketEntry.unassigned }) {
            self.init(caches: [], mode: .empty)
        } else {
            self.init(caches: caches, mode: .hash(buckets: table, flags: flags))
        }
    }

    /// Compiles mask/value sets; values for caches in `excluded` are dropped.
    public init(maskSets: [MaskValueSet], excluding excluded: Set<IPv4Address> = []) {
        var caches: [IPv4Address] = []
        var slotOf: [IPv4Address: Int] = [:]
        var compiled: [CompiledMaskSet] = []
        for set in maskSets {
            var slots: [MaskFields: Int] = [:]
            for v in set.values where !excluded.contains(v.cacheIP) {
                let key = v.value.masked(by: set.mask)
                // A value with bits outside its mask can never match.
                guard key == v.value, slots[key] == nil else { continue }
                let slot: Int
                if let s = slotOf[v.cacheIP] { slot = s } else {
                    slot = caches.count; slotOf[v.cacheIP] = slot; caches.append(v.cacheIP)
                }
                slots[key] = slot
            }
            if !slots.isEmpty { compiled.append(CompiledMaskSet(mask: set.mask, slots: slots)) }
        }
        self.init(caches: caches, mode: compiled.isEmpty ? .empty : .mask(compiled))
    }

    /// True when no packet is redirected.
    public var isEmpty: Bool { mode == .empty }

    /// The redirect decision for a packet, or nil to forward it normally.
    /// Packets from a cache of the group are never redirected (draft §4.10).
    public func lookup(srcIP: IPv4Address, dstIP: IPv4Address, srcPort: UInt16, dstPort: UInt16) -> RedirectDecision? {
        switch mode {
        case .empty:
            return nil
        case .hash(let buckets, let flags):
            if caches.contains(srcIP) { return nil }
            let primary = BucketHash.bucket(flags: flags, alternate: false, srcIP: srcIP.value, dstIP: dstIP.value,
                                            srcPort: srcPort, dstPort: dstPort)
            let entry = buckets[Int(primary)]
            if entry == BucketEntry.unassigned { return nil }
            if entry & BucketEntry.useAlternate == 0 {
                return RedirectDecision(slot: Int(entry & BucketEntry.indexMask), primaryBucket: primary, alternateBucket: nil)
            }
            let alternate = BucketHash.bucket(flags: flags, alternate: true, srcIP: srcIP.value, dstIP: dstIP.value,
                                              srcPort: srcPort, dstPort: dstPort)
            let altEntry = buckets[Int(alternate)]
            if altEntry == BucketEntry.unassigned { return nil }
            return RedirectDecision(slot: Int(altEntry & BucketEntry.indexMask), primaryBucket: primary, alternateBucket: alternate)
        case .mask(let sets):
            if caches.contains(srcIP) { return nil }
            let fields = MaskFields(srcIP: srcIP.value, dstIP: dstIP.value, srcPort: srcPort, dstPort: dstPort)
            for set in sets {
                if let slot = set.slots[fields.masked(by: set.mask)] {
                    return RedirectDecision(slot: slot, primaryBucket: 0, alternateBucket: nil)
                }
            }
            return nil
        }
    }

    /// The cache slot for a packet, or nil to forward it normally.
    @inlinable
    public func cacheSlot(srcIP: IPv4Address, dstIP: IPv4Address, srcPort: UInt16, dstPort: UInt16) -> Int? {
        lookup(srcIP: srcIP, dstIP: dstIP, srcPort: srcPort, dstPort: dstPort)?.slot
    }

    /// Hash buckets whose primary entry points at `slot` (for `show` output and Router View bitmaps).
    public func buckets(forSlot slot: Int) -> [Int] {
        guard case .hash(let buckets, _) = mode else { return [] }
        return (0..<256).filter { buckets[$0] != BucketEntry.unassigned && Int(buckets[$0] & BucketEntry.indexMask) == slot }
    }

    /// Number of mask values pointing at `slot`.
    public func maskValueCount(forSlot slot: Int) -> Int {
        guard case .mask(let sets) = mode else { return 0 }
        return sets.reduce(0) { $0 + $1.slots.values.filter { $0 == slot }.count }
    }
}
