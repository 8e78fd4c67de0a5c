// A hash map from prefixes to small values for the RIB's per-prefix tables.
// Swift's Dictionary hashes with SipHash and a per-process seed, which was
// the largest single cost of loading a full table (a million prefixes, a few
// lookups each). Prefixes are fixed-size integers: a multiply-xorshift mix,
// open addressing with linear probing and backward-shift deletion (no
// tombstones) is enough. Each slot holds key, in-use mark and value together
// (one array of entries, not three arrays): a probe of a table far larger
// than the caches costs one cache miss, not three, and a lookup-or-insert
// (`findOrInsert`) probes once.

import CPrefetch
import Packet

/// A key of a `PrefixMap`: equality and a well-mixed 64-bit hash.
public protocol PrefixMapKey: Hashable {
    var mixedHash: UInt64 { get }
    /// Equality by fields, inlinable (Packet's synthesized `==` is a call across modules).
    func isSameKey(_ other: Self) -> Bool
}

@inlinable @inline(__always) func mix64(_ x: UInt64) -> UInt64 {
    var z = x &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 32)) &* 0xD6E8_FEB8_6659_FD93
    return z ^ (z >> 32)
}

extension IPv4Prefix: PrefixMapKey {
    @inlinable @inline(__always) public var mixedHash: UInt64 { mix64(UInt64(address.value) << 8 | UInt64(length)) }
    @inlinable @inline(__always) public func isSameKey(_ other: IPv4Prefix) -> Bool {
        address.value == other.address.value && length == other.length
    }
}

extension IPv6Prefix: PrefixMapKey {
    @inlinable @inline(__always) public var mixedHash: UInt64 { mix64(address.high ^ mix64(address.low ^ UInt64(length))) }
    @inlinable @inline(__always) public func isSameKey(_ other: IPv6Prefix) -> Bool {
        address.high == other.address.high && address.low == other.address.low && length == other.length
    }
}

// Inlinable throughout: the appliance's learned table (module Control) is a PrefixMap too,
// and an unspecialized generic map costs a metadata lookup and witness calls per access.
public struct PrefixMap<Key: PrefixMapKey, Value>: Sequence, ExpressibleByDictionaryLiteral {
    /// One slot. The mark sits in the key's padding (an IPv4 prefix is 5 bytes): an entry of
    /// an IPv4 prefix and a 4-byte value is 12 bytes.
    @usableFromInline struct Entry {
        @usableFromInline var key: Key
        @usableFromInline var used: Bool
        @usableFromInline var value: Value
        @inlinable init(key: Key, used: Bool, value: Value) { self.key = key; self.used = used; self.value = value }
    }

    @usableFromInline var entries: [Entry] = []
    @usableFromInline var storedCount = 0
    @inlinable public var count: Int { storedCount }

    @inlinable public init() {}
    @inlinable public init(dictionaryLiteral elements: (Key, Value)...) {
        for (k, v) in elements { updateValue(v, forKey: k) }
    }

    @inlinable public var isEmpty: Bool { count == 0 }
    @inlinable var mask: Int { entries.count - 1 }
    /// Slots (a power of two, or 0).
    @inlinable public var capacity: Int { entries.count }

    @inlinable @inline(__always) func slot(of key: Key) -> Int? {
        guard !entries.isEmpty else { return nil }
        var i = Int(truncatingIfNeeded: key.mixedHash) & mask
        while entries[i].used {
            if entries[i].key.isSameKey(key) { return i }
            i = (i + 1) & mask
        }
        return nil
    }

    @inlinable public subscript(key: Key) -> Value? {
        get { slot(of: key).map { entries[$0].value } }
        set {
            if let newValue { updateValue(newValue, forKey: key) } else { removeValue(forKey: key) }
        }
    }

    /// Sets the value; returns the previous one.
    @inlinable @discardableResult
    public mutating func updateValue(_ value: Value, forKey key: Key) -> Value? {
        let (i, inserted) = findOrInsert(key, value)
        if inserted { return nil }
        let old = entries[i].value
        entries[i].value = value
        return old
    }

    /// Finds `key`'s slot, inserting `key` with `value` when it is absent, in one probe run
    /// (a lookup followed by an insert would probe twice). The caller then reads or changes
    /// the value in place (`value(at:)`, `setValue(_:at:)`); a slot is valid until the next
    /// insert or removal.
    @inlinable @inline(__always)
    public mutating func findOrInsert(_ key: Key, _ value: Value) -> (slot: Int, inserted: Bool) {
        if (count + 1) * 4 > entries.count * 3 { grow(filler: (key, value)) }
        let m = mask
        var i = Int(truncatingIfNeeded: key.mixedHash) & m
        while entries[i].used {
            if entries[i].key.isSameKey(key) { return (i, false) }
            i = (i + 1) & m
        }
        entries[i] = Entry(key: key, used: true, value: value)
        storedCount += 1
        return (i, true)
    }

    /// Starts loading `key`'s home slot into the cache, a hint with no other effect: a batch
    /// prefetches the prefixes a few ahead of the one it works on, so that their cache misses
    /// overlap (a full table's map is far larger than the caches).
    @inlinable @inline(__always) public func prefetch(_ key: Key) {
        guard !entries.isEmpty else { return }
        let i = Int(truncatingIfNeeded: key.mixedHash) & mask
        entries.withUnsafeBufferPointer { egressd_prefetch_write($0.baseAddress! + i) }
    }

    /// The slot of `key` (for `value(at:)`, `setValue(_:at:)`, `remove(at:)`), nil when absent.
    @inlinable @inline(__always) public func index(of key: Key) -> Int? { slot(of: key) }

    /// The value in a slot returned by `findOrInsert` or `index(of:)`.
    @inlinable @inline(__always) public func value(at slot: Int) -> Value { entries[slot].value }

    /// Replaces the value in a slot returned by `findOrInsert` or `index(of:)`.
    @inlinable @inline(__always) public mutating func setValue(_ value: Value, at slot: Int) { entries[slot].value = value }

    /// Removes the key; returns its value.
    @inlinable @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        guard let hole = slot(of: key) else { return nil }
        return remove(at: hole)
    }

    /// Removes the entry in a slot returned by `findOrInsert` or `index(of:)`; returns its value.
    @inlinable @discardableResult
    public mutating func remove(at slot: Int) -> Value {
        let m = mask
        var hole = slot
        let old = entries[hole].value
        entries[hole].used = false
        storedCount -= 1
        // Backward-shift: move later members of the probe run into the hole when their home allows.
        var j = (hole + 1) & m
        while entries[j].used {
            let home = Int(truncatingIfNeeded: entries[j].key.mixedHash) & m
            // j may move to hole if home is not cyclically in (hole, j].
            let distanceToJ = (j - home) & m
            let distanceToHole = (hole - home) & m
            if distanceToHole < distanceToJ {
                entries[hole] = entries[j]
                entries[j].used = false
                hole = j
            }
            j = (j + 1) & m
        }
        return old
    }

    @inlinable mutating func grow(filler: (Key, Value)) {
        let old = entries
        let capacity = Swift.max(16, entries.count * 2)
        entries = [Entry](repeating: Entry(key: filler.0, used: false, value: filler.1), count: capacity)
        let m = capacity - 1
        for e in old where e.used {
            var s = Int(truncatingIfNeeded: e.key.mixedHash) & m
            while entries[s].used { s = (s + 1) & m }
            entries[s] = e
        }
    }

    /// Marks every value (e.g. GR stale) in place.
    @inlinable public mutating func modifyValues(_ body: (inout Value) -> Void) {
        for i in 0..<entries.count where entries[i].used { body(&entries[i].value) }
    }

    @inlinable public var keys: [Key] {
        var out: [Key] = []
        out.reserveCapacity(count)
        for e in entries where e.used { out.append(e.key) }
        return out
    }

    @inlinable public var values: [Value] {
        var out: [Value] = []
        out.reserveCapacity(count)
        for e in entries where e.used { out.append(e.value) }
        return out
    }

    public struct Iterator: IteratorProtocol {
        @usableFromInline let map: PrefixMap
        @usableFromInline var i = 0
        @inlinable init(map: PrefixMap) { self.map = map }
        @inlinable public mutating func next() -> (key: Key, value: Value)? {
            while i < map.entries.count {
                defer { i += 1 }
                let e = map.entries[i]
                if e.used { return (e.key, e.value) }
            }
            return nil
        }
    }

    @inlinable public func makeIterator() -> Iterator { Iterator(map: self) }
}

extension PrefixMap: @unchecked Sendable where Key: Sendable, Value: Sendable {}
