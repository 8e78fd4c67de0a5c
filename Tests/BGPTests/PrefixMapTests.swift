import Testing
@testable import BGP
import Packet

/// The RIB's prefix map agrees with Dictionary under random inserts, updates and removals
/// (removals exercise the backward shift of probe runs).
@Test func prefixMapAgreesWithDictionary() {
    var rng = SplitMix64(seed: 0x9E3779B9)
    var map = PrefixMap<IPv4Prefix, UInt32>()
    var reference: [IPv4Prefix: UInt32] = [:]
    for step in 0..<60_000 {
        // A small key space so that removals hit and probe runs collide.
        let p = IPv4Prefix(IPv4Address(UInt32.random(in: 0...2_000, using: &rng) << 8), length: 24)!
        if UInt8.random(in: 0...2, using: &rng) == 0 {
            #expect(map.removeValue(forKey: p) == reference.removeValue(forKey: p))
        } else {
            let v = UInt32(step)
            #expect(map.updateValue(v, forKey: p) == reference.updateValue(v, forKey: p))
        }
        if step % 5_000 == 0 {
            #expect(map.count == reference.count)
            for (k, v) in reference { #expect(map[k] == v) }
        }
    }
    #expect(map.count == reference.count)
    #expect(Set(map.keys) == Set(reference.keys))
    #expect(Dictionary(uniqueKeysWithValues: map.map { ($0.key, $0.value) }) == reference)
    var six = PrefixMap<IPv6Prefix, Int>()
    six[IPv6Prefix("2001:db8::/32")!] = 1
    six[IPv6Prefix("2001:db8::/48")!] = 2
    six[IPv6Prefix("2001:db8::/32")!] = nil
    #expect(six.count == 1 && six[IPv6Prefix("2001:db8::/48")!] == 2)
}

/// The in-place API (one probe run for a lookup-or-insert, then the slot read, changed or
/// removed) agrees with Dictionary under random operations, through growth and backward
/// shifts, and every slot it hands out holds the key it was asked for.
@Test func prefixMapSlotsAgreeWithDictionary() {
    var rng = SplitMix64(seed: 0x51_07_5EED)
    var map = PrefixMap<IPv4Prefix, UInt32>()
    var reference: [IPv4Prefix: UInt32] = [:]
    for step in 0..<80_000 {
        // Lengths 22-24 over a small address space: equal addresses of different lengths are
        // different keys, and probe runs collide.
        let length = Int.random(in: 22...24, using: &rng)
        let p = IPv4Prefix(IPv4Address(UInt32.random(in: 0...3_000, using: &rng) << 8), length: length)!
        // Prefetching is a hint: any key, present or not, on any map, changes nothing.
        map.prefetch(p)
        switch UInt8.random(in: 0...5, using: &rng) {
        case 0, 1:
            // Lookup-or-insert, then change in place.
            let v = UInt32(step)
            let (slot, inserted) = map.findOrInsert(p, v)
            #expect(inserted == (reference[p] == nil))
            if !inserted {
                #expect(map.value(at: slot) == reference[p])
                map.setValue(v &+ 1, at: slot)
                reference[p] = v &+ 1
            } else {
                #expect(map.value(at: slot) == v)
                reference[p] = v
            }
            #expect(map.index(of: p) == slot)
        case 2:
            // Remove through the slot.
            if let slot = map.index(of: p) {
                #expect(map.remove(at: slot) == reference.removeValue(forKey: p))
            } else {
                #expect(reference[p] == nil)
            }
            #expect(map.index(of: p) == nil && map[p] == nil)
        case 3:
            #expect(map.removeValue(forKey: p) == reference.removeValue(forKey: p))
        default:
            let v = UInt32(step)
            #expect(map.updateValue(v, forKey: p) == reference.updateValue(v, forKey: p))
        }
        if step % 4_000 == 0 {
            #expect(map.count == reference.count)
            for (k, v) in reference { #expect(map[k] == v) }
            // Never fuller than 3/4, a power of two.
            #expect(map.count * 4 <= map.capacity * 3 && map.capacity & (map.capacity - 1) == 0)
        }
    }
    #expect(Dictionary(uniqueKeysWithValues: map.map { ($0.key, $0.value) }) == reference)
    // Values are marked in place, keys kept.
    map.modifyValues { $0 = $0 &* 2 }
    for (k, v) in reference { #expect(map[k] == v &* 2) }
    // Emptied, it still answers (and prefetches) without slots to probe.
    for k in Array(reference.keys) { map[k] = nil }
    #expect(map.isEmpty && map.keys.isEmpty)
    var empty = PrefixMap<IPv6Prefix, Int>()
    empty.prefetch(IPv6Prefix("2001:db8::/32")!)
    #expect(empty.index(of: IPv6Prefix("2001:db8::/32")!) == nil)
    let (slot, inserted) = empty.findOrInsert(IPv6Prefix("2001:db8::/32")!, 7)
    #expect(inserted && empty.value(at: slot) == 7 && empty.count == 1)
}
