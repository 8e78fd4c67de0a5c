import Testing
import Packet
@testable import Engine

@Suite struct PrefixTableTests {
    @Test func longestMatchWins() {
        let t = IPv4PrefixTable([(IPv4Prefix("0.0.0.0/0")!, 0), (IPv4Prefix("10.0.0.0/8")!, 1),
                                 (IPv4Prefix("10.1.0.0/16")!, 2), (IPv4Prefix("10.1.2.3/32")!, 3)])
        #expect(t.lookup(IPv4Address("8.8.8.8")!) == 0)
        #expect(t.lookup(IPv4Address("10.2.0.1")!) == 1)
        #expect(t.lookup(IPv4Address("10.1.9.9")!) == 2)
        #expect(t.lookup(IPv4Address("10.1.2.3")!) == 3)
        #expect(IPv4PrefixTable([(IPv4Prefix, UInt32)]()).lookup(IPv4Address("1.1.1.1")!) == noRouteIndex)
    }

    @Test func agreesWithALinearScanOnRandomTables() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            var prefixes: [IPv4Prefix: UInt32] = [:]
            for i in 0..<300 {
                let p = IPv4Prefix(IPv4Address(UInt32.random(in: 0...UInt32.max, using: &g) & 0xFF0F_FFFF),
                                   length: Int.random(in: 0...32, using: &g))!
                prefixes[p] = UInt32(i)
            }
            let table = IPv4PrefixTable(prefixes.map { ($0.key, $0.value) })
            for _ in 0..<2000 {
                let a = IPv4Address(UInt32.random(in: 0...UInt32.max, using: &g) & 0xFF0F_FFFF)
                let expected = prefixes.filter { $0.key.contains(a) }.max { $0.key.length < $1.key.length }?.value ?? noRouteIndex
                #expect(table.lookup(a) == expected)
            }
        }
    }

    /// The snapshot adds learned prefixes first and configured ones after: a repeat keeps the last value,
    /// and host bits of an entry are masked.
    @Test func repeatedPrefixKeepsTheLastEntry() {
        let t = IPv4PrefixTable([(key: 0x0A01_0000, length: 16, value: 7), (key: 0x0A02_0000, length: 16, value: 8),
                                 (key: 0x0A01_FFFF, length: 16, value: 9), (key: 0x0A00_0000, length: 8, value: 1)])
        #expect(t.lookup(IPv4Address("10.1.2.3")!) == 9)
        #expect(t.lookup(IPv4Address("10.2.2.3")!) == 8)
        #expect(t.lookup(IPv4Address("10.3.2.3")!) == 1)
        #expect(t.lookup(IPv4Address("11.0.0.1")!) == noRouteIndex)
    }

    @Test func ipv6() {
        let t = IPv6PrefixTable([(IPv6Prefix("::/0")!, 0), (IPv6Prefix("fd00::/8")!, 1), (IPv6Prefix("fd00::/125")!, 2)])
        #expect(t.lookup(IPv6Address("2001:db8::1")!) == 0)
        #expect(t.lookup(IPv6Address("fd12::1")!) == 1)
        #expect(t.lookup(IPv6Address("fd00::6")!) == 2)
        #expect(t.lookup(IPv6Address("fd00::8")!) == 1)
    }
}

@Suite struct ResilientECMPTests {
    static func table(_ names: [String]) -> [String] {
        let sorted = names.sorted()
        return ResilientECMP.buckets(members: sorted.map(ResilientECMP.identity(of:))).map { sorted[Int($0)] }
    }

    @Test(arguments: [2, 3, 4, 8])
    func removingOneOfNMovesOnlyItsFlows(_ n: Int) {
        let names = (0..<n).map { "tgw\($0)" }
        let before = Self.table(names)
        let after = Self.table(names.filter { $0 != "tgw1" })
        var moved = 0
        for b in 0..<ResilientECMP.bucketCount where before[b] != after[b] {
            #expect(before[b] == "tgw1")   // only the removed member's buckets move
            moved += 1
        }
        let share = Double(moved) / Double(ResilientECMP.bucketCount)
        #expect(abs(share - 1.0 / Double(n)) < 0.5 / Double(n))
    }

    @Test(arguments: [1, 2, 3, 7])
    func addingOneMovesAboutOneInNPlusOne(_ n: Int) {
        let names = (0..<n).map { "tgw\($0)" }
        let before = Self.table(names)
        let after = Self.table(names + ["tgw-new"])
        var moved = 0
        for b in 0..<ResilientECMP.bucketCount where before[b] != after[b] {
            #expect(after[b] == "tgw-new")  // buckets move only to the new member
            moved += 1
        }
        let share = Double(moved) / Double(ResilientECMP.bucketCount)
        #expect(abs(share - 1.0 / Double(n + 1)) < 0.5 / Double(n + 1))
    }

    @Test func balanced() {
        let names = (0..<4).map { "tgw\($0)" }
        let t = Self.table(names)
        for name in names {
            let c = t.filter { $0 == name }.count
            #expect(abs(c - 128) < 40)
        }
    }
}
