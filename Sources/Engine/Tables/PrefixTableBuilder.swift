// The control plane's master copy of a large prefix table (BGP's learned
// routes, up to a full table), updated in place as changes arrive, from which
// each snapshot's immutable `PrefixTable` is made by copying arrays.
//
// It has the same layout as `PrefixTable`: per prefix length one
// open-addressing table (linear probing, load at most 1/2), so a snapshot's
// table for a length is a memcpy of the master's (plus a constant added to
// the values), not a re-insert of every prefix. During a table load of a
// million prefixes, each change costs one insert here, and each publication
// a copy of about 16 MB instead of a million hash inserts. Removal is by
// backward shift (no tombstones), so the tables stay exactly as a fresh
// build of the same contents would probe.
//
// Not thread safe: one thread (the control thread) changes it and makes the
// snapshots' tables; those are immutable and shared with the workers.

import CPrefetch
import Packet

public final class PrefixTableBuilder<Key: PrefixKey>: @unchecked Sendable {
    /// One length's table: `capacity` slots (a power of two, or 0 when the length is unused).
    @usableFromInline struct Segment {
        @usableFromInline var keys: UnsafeMutablePointer<Key>?
        @usableFromInline var values: UnsafeMutablePointer<UInt32>?
        @usableFromInline var capacity = 0
        @usableFromInline var count = 0
        @usableFromInline init() {}
    }

    /// By prefix length (0...255).
    @usableFromInline let segments: UnsafeMutablePointer<Segment>
    /// Prefixes held.
    @inlinable public var count: Int { storedCount }
    @usableFromInline var storedCount = 0
    /// Smallest table of a length in use.
    @inlinable static var minimumCapacity: Int { 16 }

    public init() {
        segments = .allocate(capacity: 256)
        segments.initialize(repeating: Segment(), count: 256)
    }

    deinit {
        for l in 0..<256 {
            segments[l].keys?.deallocate()
            segments[l].values?.deallocate()
        }
        segments.deinitialize(count: 256)
        segments.deallocate()
    }

    // Inlinable: the control plane (another module) changes the master per learned prefix,
    // and unspecialized generic code would call the key's witnesses per probe.

    /// The value of exactly this prefix, or nil.
    @inlinable
    public func value(_ key: Key, length: UInt8) -> UInt32? {
        let seg = segments[Int(length)]
        guard let keys = seg.keys, let values = seg.values else { return nil }
        let key = key.masked(length), mask = seg.capacity - 1
        var slot = Int(truncatingIfNeeded: key.slotHash(length)) & mask
        while values[slot] != noRouteIndex {
            if keys[slot] == key { return values[slot] }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// Starts loading the home slot of a prefix into the cache (a hint with no other effect):
    /// a batch of changes prefetches a few ahead, so that their cache misses overlap.
    @inlinable @inline(__always)
    public func prefetch(_ key: Key, length: UInt8) {
        let seg = segments[Int(length)]
        guard let keys = seg.keys, let values = seg.values else { return }
        let slot = Int(truncatingIfNeeded: key.masked(length).slotHash(length)) & (seg.capacity - 1)
        egressd_prefetch_write(keys + slot)
        egressd_prefetch_write(values + slot)
    }

    /// Sets the value of a prefix (`value` must not be `noRouteIndex`); returns the previous one.
    @inlinable @discardableResult
    public func update(_ key: Key, length: UInt8, value: UInt32) -> UInt32? {
        precondition(value != noRouteIndex, "noRouteIndex marks an empty slot")
        let l = Int(length)
        if (segments[l].count + 1) * 2 > segments[l].capacity {
            resize(l, to: max(Self.minimumCapacity, segments[l].capacity * 2))
        }
        let seg = segments[l]
        let keys = seg.keys!, values = seg.values!
        let key = key.masked(length), mask = seg.capacity - 1
        var slot = Int(truncatingIfNeeded: key.slotHash(length)) & mask
        while values[slot] != noRouteIndex {
            if keys[slot] == key {
                let old = values[slot]
                values[slot] = value
                return old
            }
            slot = (slot + 1) & mask
        }
        keys[slot] = key
        values[slot] = value
        segments[l].count += 1
        storedCount += 1
        return nil
    }

    /// Removes a prefix; returns its value, or nil when it was not there.
    @inlinable @discardableResult
    public func remove(_ key: Key, length: UInt8) -> UInt32? {
        let l = Int(length)
        let seg = segments[l]
        guard let keys = seg.keys, let values = seg.values else { return nil }
        let key = key.masked(length), mask = seg.capacity - 1
        var slot = Int(truncatingIfNeeded: key.slotHash(length)) & mask
        while true {
            if values[slot] == noRouteIndex { return nil }
            if keys[slot] == key { break }
            slot = (slot + 1) & mask
        }
        let old = values[slot]
        // Backward shift: move up each later entry of the run whose home slot is not in
        // (hole, its slot], so every entry stays reachable from its home slot.
        var hole = slot, next = slot
        while true {
            next = (next + 1) & mask
            if values[next] == noRouteIndex { break }
            let home = Int(truncatingIfNeeded: keys[next].slotHash(length)) & mask
            let stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
            if stays { continue }
            keys[hole] = keys[next]
            values[hole] = values[next]
            hole = next
        }
        keys[hole] = .zero
        values[hole] = noRouteIndex
        segments[l].count -= 1
        storedCount -= 1
        // A withdrawn table gives its memory back.
        let left = segments[l].count
        if left == 0 {
            resize(l, to: 0)
        } else if seg.capacity > Self.minimumCapacity && left * 8 < seg.capacity {
            resize(l, to: max(Self.minimumCapacity, seg.capacity / 4))
        }
        return old
    }

    /// Every prefix with its value (unordered).
    @inlinable
    public func forEach(_ body: (_ key: Key, _ length: UInt8, _ value: UInt32) -> Void) {
        for l in 0..<256 {
            let seg = segments[l]
            guard let keys = seg.keys, let values = seg.values else { continue }
            for s in 0..<seg.capacity where values[s] != noRouteIndex { body(keys[s], UInt8(l), values[s]) }
        }
    }

    /// Rehashes length `l`'s table into `capacity` slots (0: drop it).
    @inlinable
    func resize(_ l: Int, to capacity: Int) {
        let old = segments[l]
        var seg = Segment()
        if capacity > 0 {
            let keys = UnsafeMutablePointer<Key>.allocate(capacity: capacity)
            let values = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
            keys.initialize(repeating: .zero, count: capacity)
            values.initialize(repeating: noRouteIndex, count: capacity)
            if let oldKeys = old.keys, let oldValues = old.values {
                Self.insertAll(from: oldKeys, oldValues, capacity: old.capacity, length: UInt8(l),
                               into: keys, values, mask: capacity - 1, adding: 0)
            }
            seg.keys = keys
            seg.values = values
            seg.capacity = capacity
            seg.count = old.count
        }
        old.keys?.deallocate()
        old.values?.deallocate()
        segments[l] = seg
    }

    /// Inserts every entry of one table into another (of another size), adding `offset` to the values.
    @inlinable
    static func insertAll(from keys: UnsafeMutablePointer<Key>, _ values: UnsafeMutablePointer<UInt32>, capacity: Int,
                                  length: UInt8, into newKeys: UnsafeMutablePointer<Key>, _ newValues: UnsafeMutablePointer<UInt32>,
                                  mask: Int, adding offset: UInt32) {
        for s in 0..<capacity where values[s] != noRouteIndex {
            let key = keys[s]
            var slot = Int(truncatingIfNeeded: key.slotHash(length)) & mask
            while newValues[slot] != noRouteIndex { slot = (slot + 1) & mask }
            newKeys[slot] = key
            newValues[slot] = values[s] &+ offset
        }
    }

    /// An immutable table of this one's prefixes, each value plus `valueOffset`, and then
    /// `extras` (distinct prefixes, which win over a prefix of this table that they repeat).
    /// Returns it and how many of this table's prefixes the extras replaced.
    /// Each length's table is copied as it is (its capacity, its slots), so this costs about
    /// one pass over the arrays; a length that the extras would fill past half is rehashed.
    public func table(offsetBy valueOffset: UInt32, adding extras: [(key: Key, length: UInt8, value: UInt32)])
        -> (table: PrefixTable<Key>, replaced: Int) {
        var extraCount = [Int](repeating: 0, count: 256)
        for e in extras { extraCount[Int(e.length)] += 1 }
        var lengths: [UInt8] = []
        var capacities: [Int] = []
        for l in stride(from: 255, through: 0, by: -1) where segments[l].count > 0 || extraCount[l] > 0 {
            var cap = segments[l].capacity
            let wanted = (segments[l].count + extraCount[l]) * 2
            if cap < wanted {
                cap = 4
                while cap < wanted { cap <<= 1 }
            }
            lengths.append(UInt8(l))
            capacities.append(cap)
        }
        let total = max(1, capacities.reduce(0, +))
        let n = max(1, lengths.count)
        let lengthsP = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: n)
        let masks = UnsafeMutablePointer<Int>.allocate(capacity: n)
        let keys = UnsafeMutablePointer<Key>.allocate(capacity: total)
        let values = UnsafeMutablePointer<UInt32>.allocate(capacity: total)
        var position = [Int](repeating: -1, count: 256)
        var offset = 0
        for (i, l) in lengths.enumerated() {
            let seg = segments[Int(l)]
            let cap = capacities[i]
            lengthsP[i] = l
            offsets[i] = offset
            masks[i] = cap - 1
            position[Int(l)] = i
            let k = keys + offset, v = values + offset
            if let sk = seg.keys, let sv = seg.values, seg.capacity == cap {
                // The same slots: copy, shifting the values.
                k.initialize(from: sk, count: cap)
                if valueOffset == 0 {
                    v.initialize(from: sv, count: cap)
                } else {
                    for s in 0..<cap {
                        let x = sv[s]
                        (v + s).initialize(to: x == noRouteIndex ? x : x &+ valueOffset)
                    }
                }
            } else {
                k.initialize(repeating: .zero, count: cap)
                v.initialize(repeating: noRouteIndex, count: cap)
                if let sk = seg.keys, let sv = seg.values {
                    Self.insertAll(from: sk, sv, capacity: seg.capacity, length: l, into: k, v, mask: cap - 1, adding: valueOffset)
                }
            }
            offset += cap
        }
        var replaced = 0
        for e in extras {
            let i = position[Int(e.length)]
            let key = e.key.masked(e.length)
            let base = offsets[i], mask = masks[i]
            var slot = Int(truncatingIfNeeded: key.slotHash(e.length)) & mask
            while values[base + slot] != noRouteIndex && keys[base + slot] != key { slot = (slot + 1) & mask }
            if values[base + slot] == noRouteIndex { keys[base + slot] = key } else if value(key, length: e.length) != nil { replaced += 1 }
            values[base + slot] = e.value
        }
        let view = PrefixTable<Key>.View(lengthCount: lengths.count, lengths: lengthsP, offsets: offsets, masks: masks,
                                         keys: keys, values: values)
        return (PrefixTable(owning: view), replaced)
    }
}
