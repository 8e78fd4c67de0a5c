import Packet
import Testing
@testable import WCCP

@Suite struct HostileInputTests {
    @Test func everyTruncationOfEveryMessageFailsCleanly() {
        for message in CodecTests.allMessages + [try! WCCPMessage.decode(squidHereIAmHash)] {
            let bytes = message.encode(password: WCCPPassword("pw"))
            for n in 0..<bytes.count {
                var cut = Array(bytes[0..<n])
                // Keep the header's length consistent too, so the walk itself meets the truncation.
                if n >= 8 { cut[6] = UInt8((n - 8) >> 8); cut[7] = UInt8((n - 8) & 0xFF) }
                let decoded = try? WCCPMessage.decode(cut)
                // A cut at a component boundary may still leave a valid message only if nothing required was lost.
                if let decoded { #expect(decoded.type == message.type) }
                #expect(throws: WCCPDecodeError.self) { try WCCPMessage.decode(Array(bytes[0..<n])) }
            }
        }
    }

    @Test func headerErrors() {
        #expect(throws: WCCPDecodeError.truncated("message header")) { try WCCPMessage.decode([0, 0, 0, 10]) }
        var v = squidHereIAmHash; v[4] = 0x01
        #expect(throws: WCCPDecodeError.badVersion(0x0100)) { try WCCPMessage.decode(v) }
        var t = squidHereIAmHash; t[3] = 7
        #expect(throws: WCCPDecodeError.unknownMessageType(7)) { try WCCPMessage.decode(t) }
        var l = squidHereIAmHash; l[6] = 0xFF
        #expect(throws: WCCPDecodeError.badLength(declared: 0xFF88, available: 136)) { try WCCPMessage.decode(l) }
    }

    @Test func componentLengthBeyondMessage() {
        var b = squidHereIAmHash
        b[8 + 8 + 2] = 0x40   // Service Info length 0x4018
        #expect(throws: WCCPDecodeError.badLength(declared: 0x4018, available: 124)) { try WCCPMessage.decode(b) }
    }

    @Test func hugeCountsAreRejectedWithoutAllocating() {
        // Web-Cache View NumRouters = 0xFFFFFFFF.
        var b = squidHereIAmHash
        let viewRouters = 8 + 8 + 28 + 48 + 8
        b.replaceSubrange(viewRouters..<(viewRouters + 4), with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: WCCPDecodeError.malformedComponent(.webCacheViewInfo, "web-cache view routers runs past the component's 20 bytes")) {
            try WCCPMessage.decode(b)
        }
        // Router View NumCaches huge, in the captured I_SEE_YOU.
        var i = squidAcceptedISeeYou
        let numCaches = 8 + 8 + 28 + 24 + 4 + 4 + 8 + 4 + 4
        i.replaceSubrange(numCaches..<(numCaches + 4), with: [0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: WCCPDecodeError.self) { try WCCPMessage.decode(i) }
    }

    @Test func missingAndDuplicateComponents() {
        // Drop the Web-Cache View (24 bytes at offset 92) and fix the length.
        var b = squidHereIAmHash
        b.removeSubrange(92..<116)
        b[7] = UInt8(b.count - 8)
        #expect(throws: WCCPDecodeError.missingComponent(.hereIAm, .webCacheViewInfo)) { try WCCPMessage.decode(b) }
        // Duplicate the Security component.
        var d = squidHereIAmHash
        d.insert(contentsOf: [0, 0, 0, 4, 0, 0, 0, 0], at: 16)
        d[7] = UInt8(d.count - 8)
        #expect(throws: WCCPDecodeError.duplicateComponent(.securityInfo)) { try WCCPMessage.decode(d) }
        // Unknown security option.
        var s = squidHereIAmHash
        s[15] = 9
        #expect(throws: WCCPDecodeError.malformedComponent(.securityInfo, "unknown security option 9")) { try WCCPMessage.decode(s) }
    }

    @Test func randomMutationsNeverTrap() {
        var rng = SplitMix64(seed: 2026)
        let seeds = CodecTests.allMessages.map { $0.encode() } + [squidHereIAmHash, squidAcceptedISeeYou]
        var decodedCount = 0
        for round in 0..<20_000 {
            var b = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let at = Int.random(in: 0..<b.count, using: &rng)
                b[at] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng))) }
            if (try? WCCPMessage.decode(b)) != nil { decodedCount += 1 }
            _ = try? WCCPSecurity.verify(b, password: WCCPPassword("x"))
        }
        #expect(decodedCount > 0)   // some mutations (e.g. in bitmaps) stay valid
    }

    @Test func randomGarbageNeverTraps() {
        var rng = SplitMix64(seed: 99)
        for _ in 0..<5000 {
            var b = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if b.count >= 8 { b[0...4] = [0, 0, 0, UInt8.random(in: 10...13, using: &rng), 2]; b[5] = 0 }
            #expect((try? WCCPMessage.decode(b)) == nil || b.count >= 8)
        }
    }
}
