// Longest-prefix match over the engine's routes: one open-addressing hash
// table per prefix length present, probed from the longest length down.
// Lookups touch only flat arrays (no allocation, no ARC); the control plane
// builds a new table and publishes it, workers never see one change.
// A route table of a few thousand prefixes in a handful of lengths costs a
// few probes; DIR-24-8 or a poptrie can replace this behind the same API.

import Packet

/// A value meaning "no route" in lookups.
public let noRouteIndex = UInt32.max

/// IPv4 longest-prefix match: prefix → route index.
public final class IPv4PrefixTable: @unchecked Sendable {
    /// Lengths present, longest first, and where each one's table sits.
    let lengths: [UInt8]
    @usableFromInline let view: View

    public struct View {
        @usableFromInline let lengthCount: Int
        @usableFromInline let lengths: UnsafeMutablePointer<UInt8>
        @usableFromInline let offsets: UnsafeMutablePointer<Int>     // start slot of each length's table
        @usableFromInline let masks: UnsafeMutablePointer<Int>       // capacity - 1 of each
        @usableFromInline let keys: UnsafeMutablePointer<UInt32>
        @usableFromInline let values: UnsafeMutablePointer<UInt32>

        /// The route index of the longest prefix containing `address`.
        @inlinable
        public func lookup(_ address: UInt32) -> UInt32 {
            var i = 0
            while i < lengthCount {
                let length = lengths[i]
                let key = address & IPv4Prefix.mask(length)
                let mask = masks[i]
                let base = offsets[i]
                var slot = Int(truncatingIfNeeded: FlowHash.mix(UInt64(key) | UInt64(length) << 32)) & mask
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

    public init(_ entries: [(IPv4Prefix, UInt32)]) {
        var byLength: [UInt8: [(UInt32, UInt32)]] = [:]
        for (p, v) in entries { byLength[p.length, default: []].append((p.address.value, v)) }
        lengths = byLength.keys.sorted(by: >)
        var total = 0
        var capacities: [Int] = []
        for l in lengths {
            var cap = 4
            while cap < byLength[l]!.count * 2 { cap <<= 1 }
            capacities.append(cap)
            total += cap
        }
        let lengthsP = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, lengths.count))
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: max(1, lengths.count))
        let masks = UnsafeMutablePointer<Int>.allocate(capacity: max(1, lengths.count))
        let keys = UnsafeMutablePointer<UInt32>.allocate(capacity: max(1, total))
        let values = UnsafeMutablePointer<UInt32>.allocate(capacity: max(1, total))
        keys.initialize(repeating: 0, count: max(1, total))
        values.initialize(repeating: noRouteIndex, count: max(1, total))
        var offset = 0
        for (i, l) in lengths.enumerated() {
            lengthsP[i] = l
            offsets[i] = offset
            masks[i] = capacities[i] - 1
            for (key, value) in byLength[l]! {
                var slot = Int(truncatingIfNeeded: FlowHash.mix(UInt64(key) | UInt64(l) << 32)) & masks[i]
                while values[offset + slot] != noRouteIndex && keys[offset + slot] != key {
                    slot = (slot + 1) & masks[i]
                }
                keys[offset + slot] = key
                values[offset + slot] = value
            }
            offset += capacities[i]
        }
        view = View(lengthCount: lengths.count, lengths: lengthsP, offsets: offsets, masks: masks, keys: keys, values: values)
    }

    deinit {
        view.lengths.deallocate()
        view.offsets.deallocate()
        view.masks.deallocate()
        view.keys.deallocate()
        view.values.deallocate()
    }

    public func lookup(_ address: IPv4Address) -> UInt32 { view.lookup(address.value) }
}

/// IPv6 longest-prefix match: prefix → route index.
public final class IPv6PrefixTable: @unchecked Sendable {
    let lengths: [UInt8]
    @usableFromInline let view: View

    public struct View {
        @usableFromInline let lengthCount: Int
        @usableFromInline let lengths: UnsafeMutablePointer<UInt8>
        @usableFromInline let offsets: UnsafeMutablePointer<Int>
        @usableFromInline let masks: UnsafeMutablePointer<Int>
        @usableFromInline let keys: UnsafeMutablePointer<IPv6Address>
        @usableFromInline let values: UnsafeMutablePointer<UInt32>

        @inlinable
        public func lookup(_ address: IPv6Address) -> UInt32 {
            var i = 0
            while i < lengthCount {
                let length = lengths[i]
                let m = IPv6Prefix.masks(length)
                let key = IPv6Address(high: address.high & m.high, low: address.low & m.low)
                let mask = masks[i]
                let base = offsets[i]
                var slot = Int(truncatingIfNeeded: FlowHash.combine(key.high ^ UInt64(length), key.low)) & mask
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

    public init(_ entries: [(IPv6Prefix, UInt32)]) {
        var byLength: [UInt8: [(IPv6Address, UInt32)]] = [:]
        for (p, v) in entries { byLength[p.length, default: []].append((p.address, v)) }
        lengths = byLength.keys.sorted(by: >)
        var total = 0
        var capacities: [Int] = []
        for l in lengths {
            var cap = 4
            while cap < byLength[l]!.count * 2 { cap <<= 1 }
            capacities.append(cap)
            total += cap
        }
        let lengthsP = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, lengths.count))
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: max(1, lengths.count))
        let masks = UnsafeMutablePointer<Int>.allocate(capacity: max(1, lengths.count))
        let keys = UnsafeMutablePointer<IPv6Address>.allocate(capacity: max(1, total))
        let values = UnsafeMutablePointer<UInt32>.allocate(capacity: max(1, total))
        keys.initialize(repeating: .any, count: max(1, total))
        values.initialize(repeating: noRouteIndex, count: max(1, total))
        var offset = 0
        for (i, l) in lengths.enumerated() {
            lengthsP[i] = l
            offsets[i] = offset
            masks[i] = capacities[i] - 1
            for (key, value) in byLength[l]! {
                var slot = Int(truncatingIfNeeded: FlowHash.combine(key.high ^ UInt64(l), key.low)) & masks[i]
                while values[offset + slot] != noRouteIndex && keys[offset + slot] != key {
                    slot = (slot + 1) & masks[i]
                }
                keys[offset + slot] = key
                values[offset + slot] = value
            }
            offset += capacities[i]
        }
        view = View(lengthCount: lengths.count, lengths: lengthsP, offsets: offsets, masks: masks, keys: keys, values: values)
    }

    deinit {
        view.lengths.deallocate()
        view.offsets.deallocate()
        view.masks.deallocate()
        view.keys.deallocate()
        view.values.deallocate()
    }

    public func lookup(_ address: IPv6Address) -> UInt32 { view.lookup(address) }
}
