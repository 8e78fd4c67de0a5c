import Foundation
import Testing
import Packet
@testable import Engine

/// Wireshark's GRE/WCCP dissector reads the redirected packets as sent:
/// redirect header fields, and the original packet inside.
@Suite struct RedirectTsharkTests {
    static let tshark = "/usr/bin/tshark"

    /// A pcap (Ethernet link type) of IPv4 packets.
    static func pcap(_ packets: [[UInt8]]) -> Data {
        var d = Data()
        func le32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func le16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        le32(0xA1B2_C3D4); le16(2); le16(4); le32(0); le32(0); le32(65535); le32(1)
        for p in packets {
            let frame: [UInt8] = [2, 0, 0, 0, 3, 11, 2, 0, 0, 0, 3, 10, 0x08, 0x00] + p
            le32(0); le32(0); le32(UInt32(frame.count)); le32(UInt32(frame.count))
            d.append(contentsOf: frame)
        }
        return d
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: tshark)))
    func redirectedPacketsDecodeAsWCCP() throws {
        let dynamic = RedirectServiceSpec(serviceID: 90, dynamic: true, priority: 200, protocolNumber: 6, ports: [80],
                                          assignment: .hash(flags: 0x1 | 0x200, buckets: (0..<256).map { _ in UInt8(0x80) }),
                                          caches: [RedirectCacheSpec(address: RedirectStageTests.proxy1, method: .gre(source: RedirectStageTests.routerAddress))])
        let rig = Rig(redirect: [dynamic])
        let inner = RedirectStageTests.http(dst: "198.51.100.81")
        rig.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: inner))
        let web = Rig(redirect: [RedirectStageTests.webCache()])
        web.fromTunnel(Build.gre(src: "10.0.0.1", dst: "10.0.1.10", inner: inner))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("egressd-redirect-\(getpid()).pcap")
        defer { try? FileManager.default.removeItem(at: file) }
        try Self.pcap([rig.output(0), web.output(0)]).write(to: file)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.tshark)
        process.arguments = ["-r", file.path, "-T", "fields", "-E", "separator=,",
                             "-e", "gre.proto", "-e", "gre.wccp.dynamic_service", "-e", "gre.wccp.alternative_bucket_used",
                             "-e", "gre.wccp.service_id", "-e", "gre.wccp.alternative_bucket", "-e", "gre.wccp.primary_bucket",
                             "-e", "ip.dst", "-e", "tcp.dstport", "-e", "_ws.malformed", "-e", "_ws.expert.severity"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        // Dynamic service 90 with the alternate bucket 192 (dst hash) and primary 1 (src
        // 10.1.0.10); then the inner packet (ip.dst lists outer, inner). egressd sets D and A
        // in the top bits as the draft's figure has them (bit 0 = most significant, as
        // tcpdump reads them); Wireshark masks them at 0x01/0x02, so its D and A columns
        // read 0 here. The bytes themselves are checked in RedirectStageTests.
        #expect(lines.first?.hasPrefix("0x883e,0,0,90,192,1,10.0.3.11,198.51.100.81,80,,") == true, "\(lines)")
        // Standard service 0 (web-cache), primary bucket 192.
        #expect(lines.last?.hasPrefix("0x883e,0,0,0,0,192,10.0.3.11,198.51.100.81,80,,") == true, "\(lines)")
        // No malformed packet, no expert warning or error (the SYN is a "chat", and the
        // second copy of it a "note": suspected retransmission).
        for line in lines {
            let severity = Int(line.split(separator: ",", omittingEmptySubsequences: false).last ?? "") ?? 0
            #expect(severity < 0x60_0000, "expert info of severity \(severity) in \(line)")
        }
    }
}
