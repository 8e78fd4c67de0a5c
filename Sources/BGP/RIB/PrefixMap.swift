// A hash map from prefixes to small values for the RIB's per-prefix tables.
// Swift's Dictionary hashes with SipHash and a per-process seed, which was
// the largest single cost of loading a full table (a million prefixes, a few
// lookups each). Prefixes are fixed-size integers: a multiply-xorshift mix,
// open addressing with linear probing and backward-shift deletion (no
// tombstones) is enough, and the arrays stay as compact as Dictionary's.

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
    @usableFromInline var keyStore: [Key] = []
    @usableFromInline var valueStore: [Value] = []
    @usableFromInline var used: [Bool] = []
    @usableFromInline var storedCount = 0
    @inlinable public var count: Int { storedCount }

    @inlinable public init() {}
    @inlinable public init(dictionaryLiteral elements: (Key, Value)...) {
        for (k, v) in elements { updateValue(v, forKey: k) }
    }

    @inlinable public var isEmpty: Bool { count == 0 }
    @inlinable var mask: Int { used.count - 1 }

    @inlinable @inline(__always) func slot(of key: Key) -> Int? {
        guard !used.isEmpty else { return nil }
        var i = Int(truncatingIfNeeded: key.mixedHash) & mask
        while used[i] {
            if keyStore[i].isSameKey(key) { return i }
            i = (i + 1) & mask
        }
        return nil
    }

    @inlinable public subscript(key: Key) -> Value? {
        get { slot(of: key).map { valueStore[$0] } }
        set {
            if let newValue { updateValue(newValue, forKey: key) } else { removeValue(forKey: key) }
        }
    }

    /// Sets the value; returns the previous one.
    @inlinable @discardableResult
    public mutating func updateValue(_ value: Value, forKey key: Key) -> Value? {
        if let i = slot(of: key) {
            let old = valueStore[i]
            valueStore[i] = value
            return old
        }
        if (count + 1) * 4 > used.count * 3 { grow(filler: (key, value)) }
        var i = Int(truncatingIfNeeded: key.mixedHash) & mask
        while used[i] { i = (i + 1) & mask }
        used[i] = true
        keyStore[i] = key
        valueStore[i] = value
        storedCount += 1
        return nil
    }

    /// Removes the key; returns its value.
    @inlinable @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        guard var hole = slot(of: key) else { return nil }
        let old = valueStore[hole]
        used[hole] = false
        storedCount -= 1
        // Backward-shift: move later members of the probe run into the hole when their home allows.
        var j = (hole + 1) & mask
        while used[j] {
            let home = Int(truncatingIfNeeded: keyStore[j].mixedHash) & mask
            // j may move to hole if home is not cyclically in (hole, j].
            let distanceToJ = (j - home) & mask
            let distanceToHole = (hole - home) & mask
            if distanceToHole < distanceToJ {
                keyStore[hole] = keyStore[j]
                valueStore[hole] = valueStore[j]
                used[hole] = true
                used[j] = false
                hole = j
            }
            j = (j + 1) & mask
        }
        return old
    }

    @inlinable mutating func grow(filler: (Key, Value)) {
        let oldKeys = keyStore, oldValues = valueStore, oldUsed = used
        let capacity = Swift.max(16, used.count * 2)
        keyStore = [Key](repeating: filler.0, count: capacity)
        valueStore = [Value](repeating: filler.1, count: capacity)
        used = [Bool](repeating: false, count: capacity)
        let m = capacity - 1
        for i in 0..<oldUsed.count where oldUsed[i] {
            var s = Int(truncatingIfNeeded: oldKeys[i].mixedHash) & m
            while used[s] { s = (s + 1) & m }
            used[s] = true
            keyStore[s] = oldKeys[i]
            valueStore[s] = oldValues[i]
        }
    }

    /// Marks every value (e.g. GR stale) in place.
    @inlinable public mutating func modifyValues(_ body: (inout Value) -> Void) {
        for i in 0..<used.count where used[i] { body(&valueStore[i]) }
    }

    @inlinable public var keys: [Key] {
        var out: [Key] = []
        out.reserveCapacity(count)
        for i in 0..<used.count where used[i] { out.append(keyStore[i]) }
        return out
    }

    @inlinable public var values: [Value] {
        var out: [Value] = []
        out.reserveCapacity(count)
        for i in 0..<used.count where used[i] { out.append(valueStore[i]) }
        return out
    }

    public struct Iterator: IteratorProtocol {
        @usableFromInline let map: PrefixMap
        @usableFromInline var i = 0
        @inlinable init(map: PrefixMap) { self.map = map }
        @inlinable public mutating func next() -> (key: Key, value: Value)? {
            while i < map.used.count {
                defer { i += 1 }
                if map.used[i] { return (map.keyStore[i], map.valueStore[i]) }
            }
            return nil
        }
    }

    @inlinable public func makeIterator() -> Iterator { Iterator(map: self) }
}

extension PrefixMap: @unchecked Sendable where Key: Sendable, Value: Sendable {}
