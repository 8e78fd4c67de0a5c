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
