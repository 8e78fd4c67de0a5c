import Packet
import Testing
@testable import WCCP

@Suite struct SecurityTests {
    let hia = WCCPMessage.hereIAm(squidHereIAm(cache: ip("10.77.0.2"), router: ip("10.77.0.1"), md5: true))

    @Test func passwordIsNulPaddedOrCutToEightOctets() {
        #expect(WCCPPassword("abc").key == [0x61, 0x62, 0x63, 0, 0, 0, 0, 0])
        #expect(WCCPPassword("secret-and-more").key == Array("secret-a".utf8))
        #expect(WCCPPassword("secret-and-more") == WCCPPassword("secret-aXYZ"))
    }

    @Test func signedMessageIs160BytesAndDigestMatchesIndependentComputation() throws {
        let bytes = hia.encode(password: WCCPPassword("secret"))
        #expect(bytes.count == 160)
        #expect(Array(bytes[8..<16]) == [0, 0, 0, 20, 0, 0, 0, 1])
        // Computed independently with Python: hashlib.md5(b"secret\0\0" + <this message, digest zeroed>).
        #expect(Array(bytes[16..<32]) == hex("aed28006b1e1624b3c0c46f4a4444267"))
        // Everything but the digest equals Squid's captured message with a 20-byte Security component.
        #expect(Array(bytes[32...]) == Array(squidHereIAmHash[16...]))
    }

    @Test func goodDigestVerifies() throws {
        let bytes = hia.encode(password: WCCPPassword("secret"))
        guard case .hereIAm(let decoded) = try WCCPMessage.decode(bytes, password: WCCPPassword("secret")) else {
            Issue.record("type"); return
        }
        #expect(decoded.identity.cacheIP == ip("10.77.0.2"))
        // Only 8 octets count, as in Squid.
        _ = try WCCPMessage.decode(bytes, password: WCCPPassword("secret\0\0trailing"))
    }

    @Test func wrongPasswordOrAlteredMessageFails() {
        let bytes = hia.encode(password: WCCPPassword("secret"))
        #expect(throws: WCCPDecodeError.digestMismatch) { try WCCPMessage.decode(bytes, password: WCCPPassword("Secret")) }
        var altered = bytes
        altered[80] ^= 0x01   // inside the bucket bitmap: still decodes
        #expect(throws: WCCPDecodeError.digestMismatch) { try WCCPMessage.decode(altered, password: WCCPPassword("secret")) }
        var badDigest = bytes
        badDigest[31] ^= 0x80
        #expect(throws: WCCPDecodeError.digestMismatch) { try WCCPMessage.decode(badDigest, password: WCCPPassword("secret")) }
    }

    @Test func missingOrUnexpectedDigest() {
        let plain = hia.encode()   // security component as given: MD5 with a zero digest
        #expect(throws: WCCPDecodeError.digestMismatch) { try WCCPMessage.decode(plain, password: WCCPPassword("secret")) }
        let none = WCCPMessage.hereIAm(squidHereIAm(cache: ip("10.77.0.2"), router: ip("10.77.0.1"))).encode()
        #expect(throws: WCCPDecodeError.missingDigest) { try WCCPMessage.decode(none, password: WCCPPassword("secret")) }
        let signed = hia.encode(password: WCCPPassword("secret"))
        #expect(throws: WCCPDecodeError.unexpectedDigest) { try WCCPMessage.decode(signed, password: nil) }
        #expect(throws: Never.self) { try WCCPMessage.decode(none, password: nil) }
    }
}
