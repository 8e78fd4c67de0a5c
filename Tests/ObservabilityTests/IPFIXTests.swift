import Foundation
import Testing
import Packet
@testable import Observability

/// The IPFIX encoder: message and set layout (RFC 7011 §3), sequence
/// numbers, splitting at the size limit, and Wireshark's cflow dissector
/// reading every field back.
@Suite struct IPFIXTests {
    static func record(_ i: Int, decision: IPFIXFlowRecord.Decision = .redirected) -> IPFIXFlowRecord {
        IPFIXFlowRecord(source: 0x0A01_000A, destination: 0xC633_6450, sourcePort: UInt16(40000 + i), destinationPort: 80, proto: 6,
                        tunnelIndex: 7, tunnelName: "tgw0", packets: 12, bytes: 3456,
                        startMilliseconds: 1_790_000_000_000, endMilliseconds: 1_790_000_001_500, endReason: .idleTimeout,
                        decision: decision, nextHop: 0x0A00_030B, service: 80)
    }

    static func u16(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) << 8 | Int(b[at + 1]) }
    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(u16(b, at)) << 16 | UInt32(u16(b, at + 2)) }

    @Test func templateAndDataLayout() {
        var e = IPFIXEncoder(observationDomain: 9)
        let m = e.messages([Self.record(0)], exportTime: 1_790_000_002, withTemplate: true)
        #expect(m.count == 1)
        let b = m[0]
        #expect(Self.u16(b, 0) == 10)                     // version
        #expect(Self.u16(b, 2) == b.count)                // length
        #expect(Self.u32(b, 4) == 1_790_000_002)
        #expect(Self.u32(b, 8) == 0)                      // no data records before
        #expect(Self.u32(b, 12) == 9)
        #expect(Self.u16(b, 16) == 2)                     // template set
        let tlen = Self.u16(b, 18)
        #expect(Self.u16(b, 20) == 256)
        #expect(Self.u16(b, 22) == IPFIXEncoder.fields.count)
        // Two template records (256 IPv4, 257 IPv6) of 16 fields of 4 bytes, two of them
        // enterprise-specific (+4 each).
        #expect(tlen == 4 + 2 * (4 + 16 * 4 + 2 * 4))
        #expect(Self.u16(b, 20 + 4 + 16 * 4 + 2 * 4) == 257)
        let data = 16 + tlen
        #expect(Self.u16(b, data) == 256)
        #expect(Self.u16(b, data + 2) == b.count - data)
        #expect(Self.u32(b, data + 4) == 0x0A01_000A)
        // The variable-length interface name closes the record: length 4, "tgw0".
        #expect(Array(b.suffix(5)) == [4] + Array("tgw0".utf8))
        // The next message's sequence number counts this one's record.
        let next = e.messages([Self.record(1)], exportTime: 1_790_000_003, withTemplate: false)
        #expect(Self.u32(next[0], 8) == 1)
        #expect(Self.u16(next[0], 16) == 256)             // data set only
    }

    @Test func splitsAtTheMessageLimit() {
        var e = IPFIXEncoder(maximumMessage: 300)
        let records = (0..<20).map { Self.record($0) }
        let m = e.messages(records, exportTime: 1, withTemplate: true)
        #expect(m.count > 3)
        #expect(m.allSatisfy { $0.count <= 300 })
        var total = 0
        for msg in m {
            #expect(Self.u32(msg, 8) == UInt32(total))
            // Count the records of this message: data set length / record size (all equal here).
            var at = 16
            while at < msg.count {
                let id = Self.u16(msg, at), len = Self.u16(msg, at + 2)
                if id == 256 { total += (len - 4) / (IPFIXEncoder.encode(records[0]).count) }
                at += len
            }
        }
        #expect(total == 20)
        #expect(e.sequence == 20)
    }

    static let tshark = "/usr/bin/tshark"

    /// Writes the messages as UDP 4739 datagrams into a pcap and has tshark's
    /// cflow (IPFIX) dissector print the fields.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: tshark)))
    func tsharkDecodesTheRecords() throws {
        var e = IPFIXEncoder(observationDomain: 1)
        var v6 = Self.record(2, decision: .encapsulated)
        v6.source6 = IPv6Address("2001:db8::80")!
        v6.destination6 = IPv6Address("fd01::10")!
        let m = e.messages([Self.record(0), Self.record(1, decision: .forwarded), v6], exportTime: 1_790_000_002, withTemplate: true)
        let path = NSTemporaryDirectory() + "ipfix-\(getpid())-\(UUID().uuidString).pcap"
        try Data(UDPPcap.file(m, port: 4739)).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.tshark)
        p.arguments = ["-n", "-r", path, "-d", "udp.port==4739,cflow", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
                       "-e", "cflow.version", "-e", "cflow.srcaddr", "-e", "cflow.dstaddr", "-e", "cflow.srcport",
                       "-e", "cflow.dstport", "-e", "cflow.protocol", "-e", "cflow.packets", "-e", "cflow.octets",
                       "-e", "cflow.nexthop", "-e", "cflow.inputint", "-e", "cflow.if_name", "-e", "cflow.flow_end_reason",
                       "-e", "_ws.expert.message", "-e", "cflow.srcaddrv6", "-e", "cflow.dstaddrv6"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let f = text.split(separator: "\n").first.map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) } ?? []
        #expect(f.count == 15, "tshark: \(text)")
        guard f.count == 15 else { return }
        #expect(f[0] == "10")
        #expect(f[1] == "10.1.0.10,10.1.0.10")
        #expect(f[2] == "198.51.100.80,198.51.100.80")
        #expect(f[3] == "40000,40001,40002")
        #expect(f[4] == "80,80,80")
        #expect(f[5] == "6,6,6")
        #expect(f[6] == "12,12,12")
        #expect(f[7] == "3456,3456,3456")
        #expect(f[8] == "10.0.3.11,10.0.3.11,10.0.3.11")
        #expect(f[9] == "7,7,7")
        #expect(f[10] == "tgw0,tgw0,tgw0")
        #expect(f[11] == "1,1,1")
        #expect(f[12].isEmpty, "tshark reported: \(f[12])")
        #expect(f[13] == "2001:db8::80" && f[14] == "fd01::10")
    }
}

/// Classic pcap (Ethernet) of UDP datagrams from 10.0.0.1 to 10.0.0.2.
enum UDPPcap {
    static func file(_ payloads: [[UInt8]], port: UInt16) -> [UInt8] {
        var b: [UInt8] = []
        func le16(_ v: UInt16) { b += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func le32(_ v: UInt32) { b += (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        le32(0xA1B2_C3D4); le16(2); le16(4); le32(0); le32(0); le32(65535); le32(1)
        for (i, payload) in payloads.enumerated() {
            var frame: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]
            let udpLength = 8 + payload.count
            let total = 20 + udpLength
            var ip: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
            var sum: UInt32 = 0
            for k in stride(from: 0, to: 20, by: 2) { sum += UInt32(ip[k]) << 8 | UInt32(ip[k + 1]) }
            while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
            ip[10] = UInt8(~UInt16(sum) >> 8); ip[11] = UInt8(~UInt16(sum) & 0xFF)
            frame += ip
            frame += [0x10, 0x00, UInt8(port >> 8), UInt8(port & 0xFF), UInt8(udpLength >> 8), UInt8(udpLength & 0xFF), 0, 0]
            frame += payload
            le32(UInt32(i + 1)); le32(0); le32(UInt32(frame.count)); le32(UInt32(frame.count))
            b += frame
        }
        return b
    }
}
