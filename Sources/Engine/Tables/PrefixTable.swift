// Longest-prefix match over the engine's routes: one open-addressing hash
// table per prefix length present, probed from the longest length down.
// Lookups touch only flat arrays (no allocation, no ARC); the control plane
// builds a new table and publishes it, workers never see one change.
// A route table of a few thousand prefixes in a handful of lengths costs a
// few probes; DIR-24-8 or a poptrie can replace this behind the same API.

import Packet

/// A value meaning "no route" in lookups.
public let noRouteIndex = UInt32.max

/// An address family's key for the prefix table: masking and slot hashing.
public protocol PrefixKey: Equatable {
    /// The all-zero address (fills empty slots).
    static var zero: Self { get }
    /// The address with the bits past `length` cleared.
    func masked(_ length: UInt8) -> Self
    /// The slot hash of a masked address of prefix length `length`.
    func slotHash(_ length: UInt8) -> UInt64
}

extension UInt32: PrefixKey {
    @inlinable public static var zero: UInt32 { 0 }
    @inlinable @inline(__always) public func masked(_ length: UInt8) -> UInt32 { self & IPv4Prefix.mask(length) }
    @inlinable @inline(__always) public func slotHash(_ length: UInt8) -> UInt64 { FlowHash.mix(UInt64(self) | UInt64(length) << 32) }
}

extension IPv6Address: PrefixKey {
    @inlinable public static var zero: IPv6Address { .any }
    @inlinable @inline(__always) public func masked(_ length: UInt8) -> IPv6Address {
        let m = IPv6Prefix.masks(length)
        return IPv6Address(high: high & m.high, low: low & m.low)
    }
    @inlinable @inline(__always) public func slotHash(_ length: UInt8) -> UInt64 { FlowHash.combine(high ^ UInt64(length), low) }
}

/// Longest-prefix match: (address, length) → route index.
public final class PrefixTable<Key: PrefixKey>: @unchecked Sendable {
    @usableFromInline let view: View

    public struct View {
        @usableFromInline let lengthCount: Int
        @usableFromInline let lengths: UnsafeMutablePointer<UInt8>   // longest first
        @usableFromInline let offsets: UnsafeMutablePointer<Int>     // start slot of each length's table
        @usableFromInline let masks: UnsafeMutablePointer<Int>       // capacity - 1 of each
        @usableFromInline let keys: UnsafeMutablePointer<Key>
        @usableFromInline let values: UnsafeMutablePointer<UInt32>

        /// The route index of the longest prefix containing `address`.
        @inlinable
        public func lookup(_ address: Key) -> UInt32 {
            var i = 0
            while i < lengthCount {
                let length = lengths[i]
                let key = address.masked(length)
                let mask = masks[i]
                let base = offsets[i]
                var slot = Int(truncatingIfNeeded: key.slotHash(length)) & mask
                while true {
                    let v = values[base + slot]
                    if v == noRouteIndex { break }
                    if keys[base + slot] == key { return v }
                    slot = (slot + 1) & mask
                }
                i += 1
            }
            return noRouteIndex
        }
    }

    /// Takes ownership of a view's arrays (built by `PrefixTableBuilder`).
    init(owning view: View) { self.view = view }

    /// `entries`: masked addresses with their prefix length and route index.
    public convenience init(_ entries: [(key: Key, length: UInt8, value: UInt32)]) {
        // Two passes over the entries, no per-length lists: count each length, size the
        // tables, then insert each entry straight into its length's table (a learned full
        // table is a million entries, and this runs on every snapshot build).
        var perLength = [Int](repeating: 0, count: 256)
        for e in entries { perLength[Int(e.length)] += 1 }
        var lengths: [UInt8] = []
        for l in stride(from: 255, through: 0, by: -1) where perLength[l] > 0 { lengths.append(UInt8(l)) }
        var capacities: [Int] = []
        for l in lengths {
            var cap = 4
            while cap < perLength[Int(l)] * 2 { cap <<= 1 }
            capacities.append(cap)
        }
        let total = max(1, capacities.reduce(0, +))
        let count = max(1, lengths.count)
        let lengthsP = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: count)
        let masks = UnsafeMutablePointer<Int>.allocate(capacity: count)
        let keys = UnsafeMutablePointer<Key>.allocate(capacity: total)
        let values = UnsafeMutablePointer<UInt32>.allocate(capacity: total)
        keys.initialize(repeating: .zero, count: total)
        values.initialize(repeating: noRouteIndex, count: total)
        // Slot of each length in `lengths` (by length).
        var position = [Int](repeating: -1, count: 256)
        var offset = 0
        for (i, l) in lengths.enumerated() {
            lengthsP[i] = l
            offsets[i] = offset
            masks[i] = capacities[i] - 1
            position[Int(l)] = i
            offset += capacities[i]
        }
        for e in entries {
            let i = position[Int(e.length)]
            let key = e.key.masked(e.length)
            let base = offsets[i], mask = masks[i]
            var slot = Int(truncatingIfNeeded: key.slotHash(e.length)) & mask
            // A repeated prefix keeps the last entry's value.
            while values[base + slot] != noRouteIndex && keys[base + slot] != key {
                slot = (slot + 1) & mask
            }
            keys[base + slot] = key
            values[base + slot] = e.value
        }
        self.init(owning: View(lengthCount: lengths.count, lengths: lengthsP, offsets: offsets, masks: masks, keys: keys, values: values))
    }

    deinit {
        view.lengths.deallocate()
        view.offsets.deallocate()
        view.masks.deallocate()
        view.keys.deallocate()
        view.values.deallocate()
    }

    public func lookup(_ address: Key) -> UInt32 { view.lookup(address) }
}

public typealias IPv4PrefixTable = PrefixTable<UInt32>
public typealias IPv6PrefixTable = PrefixTable<IPv6Address>

extension PrefixTable where Key == UInt32 {
    public convenience init(_ entries: [(IPv4Prefix, UInt32)]) {
        self.init(entries.map { (key: $0.0.address.value, length: $0.0.length, value: $0.1) })
    }

    public func lookup(_ address: IPv4Address) -> UInt32 { view.lookup(address.value) }
}

extension PrefixTable where Key == IPv6Address {
    public convenience init(_ entries: [(IPv6Prefix, UInt32)]) {
        self.init(entries.map { (key: $0.0.address, length: $0.0.length, value: $0.1) })
    }
}
