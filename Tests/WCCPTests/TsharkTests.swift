import Foundation
import Packet
import Testing
@testable import WCCP

/// Runs the encoder's output through Wireshark's WCCP dissector.
@Suite(.serialized) struct TsharkTests {
    static let tshark = "/usr/bin/tshark"
    static let available = FileManager.default.isExecutableFile(atPath: tshark)

    let router = ip("10.77.0.1")
    let cache = ip("10.77.0.2")

    /// Runs tshark with `arguments` on a pcap of `payloads` and returns its standard output.
    func tsharkOutput(_ payloads: [(bytes: [UInt8], src: IPv4Address, dst: IPv4Address)], _ arguments: [String]) throws -> String {
        var pcap = PcapWriter()
        for (i, p) in payloads.enumerated() { pcap.append(payload: p.bytes, src: p.src, dst: p.dst, second: UInt32(i)) }
        let path = NSTemporaryDirectory() + "wccp-tshark-\(getpid())-\(UUID().uuidString).pcap"
        try Data(pcap.bytes).write(to: URL(fileURLWithPath: path))
        defer { if ProcessInfo.processInfo.environment["WCCP_KEEP_PCAP"] == nil { try? FileManager.default.removeItem(atPath: path) } }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.tshark)
        process.arguments = ["-n", "-r", path] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: data, as: UTF8.self)
    }

    /// The messages a router sends, produced by the real state machine: I_SEE_YOU (hash and mask,
    /// with and without MD5) and REMOVAL_QUERY.
    func routerMessages(password: WCCPPassword?, mask: Bool) throws -> [[UInt8]] {
        var h = try RouterHarness(services: [WCCPServiceConfig(serviceID: 0, password: password)])
        var out: [[UInt8]] = []
        func datagrams(_ a: [WCCPRouterAction]) -> [[UInt8]] { a.compactMap { if case .send(let b, _) = $0 { b } else { nil } } }
        out += datagrams(h.hereIAm(cache, at: 0, echo: 0, mask: mask))
        out += datagrams(h.hereIAm(cache, at: 10, echo: 1, mask: mask))
        if !mask {
            let ra = HashAssignment(key: AssignmentKey(keyIP: cache, changeNumber: 1),
                                    routers: [RouterAssignmentElement(routerIP: h.routerID, receiveID: 2, changeNumber: 1)],
                                    caches: [cache], buckets: squidHashBuckets(cacheCount: 1))
            _ = h.redirectAssign(from: cache, at: 25, .hash(ra))
            out += datagrams(h.hereIAm(cache, at: 26, echo: 2, mask: mask))
        }
        out += datagrams(h.router.tick(now: .seconds(mask ? 35 : 51)))
        return out
    }

    @Test(.enabled(if: available, "tshark not installed at /usr/bin/tshark"),
          arguments: [(false, false), (true, false), (false, true), (true, true)])
    func routerMessagesDissectCleanly(md5: Bool, mask: Bool) throws {
        let password = md5 ? WCCPPassword("s3cret") : nil
        let messages = try routerMessages(password: password, mask: mask)
        #expect(messages.count == (mask ? 3 : 4))
        let payloads = messages.map { (bytes: $0, src: router, dst: cache) }
        let verbose = try tsharkOutput(payloads, ["-V"])
        #expect(verbose.contains("WCCP Message Type"))
        #expect(!verbose.contains("Malformed"))
        #expect(!verbose.contains("Expert Info (Error"))
        #expect(!verbose.contains("Expert Info (Warning"))

        let fields = try tsharkOutput(payloads, ["-T", "fields", "-E", "separator=;", "-e", "wccp.message",
                                                 "-e", "wccp.router_view.member_change_num", "-e", "wccp.router_identity.receive_id",
                                                 "-e", "wccp.security_info_option", "-e", "wccp.router_query_info.target_ip.ipv4",
                                                 "-e", "wccp.web_cache_identity.ipv4", "-e", "wccp.assignment_key.change_num"])
        let rows = fields.split(separator: "\n").map { $0.split(separator: ";", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count == messages.count)
        for (row, bytes) in zip(rows, messages) {
            let decoded = try WCCPMessage.decode(bytes, password: password)
            #expect(row[0] == String(decoded.type.rawValue) || row[0] == "0x0000000\(String(decoded.type.rawValue, radix: 16))")
            #expect(row[3] == (md5 ? "1" : "0"))
            switch decoded {
            case .iSeeYou(let isy):
                #expect(row[1] == String(isy.view.memberChangeNumber))
                #expect(row[2] == String(isy.identity.router.receiveID))
                #expect(row[5] == isy.view.caches.map { $0.cacheIP.description }.joined(separator: ","))
                #expect(row[6] == String(isy.view.assignmentKey.changeNumber))
            case .removalQuery(let rq):
                #expect(row[4] == rq.query.target.description)
            default:
                Issue.record("unexpected \(decoded.type)")
            }
        }
        if md5 {
            let digests = try tsharkOutput(payloads, ["-T", "fields", "-e", "wccp.security_md5_checksum"])
            for (line, bytes) in zip(digests.split(separator: "\n"), messages) {
                let hexDigest = bytes[16..<32].map { String(format: "%02x", $0) }.joined()
                #expect(line.replacingOccurrences(of: ":", with: "") == hexDigest)
            }
        }
    }

    @Test(.enabled(if: available, "tshark not installed at /usr/bin/tshark"))
    func cacheSideMessagesDissectCleanly() throws {
        // HERE_I_AM (Squid's and a rev1 one with every optional component) and the three REDIRECT_ASSIGN forms.
        // (Wireshark flags Assignment Info inside I_SEE_YOU as an error although the draft allows it; the router never sends it.)
        let payloads = [squidHereIAmHash] + [0, 3, 4, 5].map { CodecTests.allMessages[$0].encode() }
        let verbose = try tsharkOutput(payloads.map { (bytes: $0, src: cache, dst: router) }, ["-V"])
        #expect(!verbose.contains("Malformed"))
        #expect(!verbose.contains("Expert Info (Error"))
    }
}
