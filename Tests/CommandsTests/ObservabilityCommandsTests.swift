import Packet
import Testing
@testable import Commands

/// `metrics listen` / `no metrics listen` and `trace packet`.
@Suite struct ObservabilityCommandsTests {
    let registry = CommandRegistry.standard

    @Test func metricsListenRoundTrips() throws {
        var c = try ConfigParser.parse(text: "metrics listen 0.0.0.0:9200\n", fileName: "t")
        #expect(c.metrics.listen == MetricsListenAddress(address: IPv4Address(0, 0, 0, 0), port: 9200))
        #expect(c.render().contains("metrics listen 0.0.0.0:9200\n"))
        #expect(try ConfigParser.parse(text: c.render(), fileName: "t") == c)
        c = try ConfigParser.parse(text: "no metrics listen\n", fileName: "t")
        #expect(c.metrics.listen == nil)
        #expect(c.render() == "no metrics listen\n!\n")
        #expect(try ConfigParser.parse(text: c.render(), fileName: "t") == c)
        // The default is not printed.
        #expect(try ConfigParser.parse(text: "metrics listen 127.0.0.1:9108\n", fileName: "t").render() == "")
    }

    @Test func badListenAddressIsRejectedWithItsLine() {
        for bad in ["metrics listen 127.0.0.1", "metrics listen 127.0.0.1:0", "metrics listen localhost:9108", "metrics listen 1.2.3.4:70000"] {
            do {
                _ = try ConfigParser.parse(text: "hostname a\n" + bad + "\n", fileName: "f.conf")
                Issue.record("accepted: \(bad)")
            } catch {
                #expect("\(error)".contains("f.conf:2:"), "\(error)")
            }
        }
    }

    @Test func flowExportRoundTrips() throws {
        let text = """
        ip flow-export destination 10.0.5.2 4739
        ip flow-export destination 10.0.5.3 2055
        ip flow-export template timeout-rate 5
        ip flow-cache timeout active 2
        ip flow-cache timeout inactive 1
        """
        let c = try ConfigParser.parse(text: text + "\n", fileName: "t")
        #expect(c.flowExport.destinations.count == 2)
        #expect(c.flowExport.activeTimeoutMinutes == 2 && c.flowExport.inactiveTimeoutSeconds == 1 && c.flowExport.templateTimeoutMinutes == 5)
        #expect(c.render() == text + "\n!\n")
        #expect(try ConfigParser.parse(text: c.render(), fileName: "t") == c)
        let removed = try ConfigParser.parse(text: text + "\nno ip flow-export destination 10.0.5.3 2055\nno ip flow-cache timeout active\n", fileName: "t")
        #expect(removed.flowExport.destinations.map(\.port) == [4739])
        #expect(removed.flowExport.activeTimeoutMinutes == 30)
        let five = (1...5).map { "ip flow-export destination 10.0.5.\($0) 4739" }.joined(separator: "\n")
        #expect(throws: (any Error).self) { try ConfigParser.parse(text: five + "\n", fileName: "t") }
        #expect(throws: (any Error).self) { try ConfigParser.parse(text: "ip flow-cache timeout inactive 0\n", fileName: "t") }
    }

    @Test func captureParses() throws {
        #expect(try registry.parseExec("capture c1 interface tgw0 file /tmp/a.pcap")
                == .show(.capture(CaptureRequest(name: "c1", tunnel: "tgw0", inner: false, count: nil, file: "/tmp/a.pcap", filter: nil)), json: false))
        #expect(try registry.parseExec("capture c2 interface any inner count 5 file /tmp/b.pcap filter tcp port 80 and host 10.1.0.10")
                == .show(.capture(CaptureRequest(name: "c2", tunnel: nil, inner: true, count: 5, file: "/tmp/b.pcap",
                                                 filter: "tcp port 80 and host 10.1.0.10")), json: false))
        #expect(try registry.parseExec("no capture c2") == .show(.stopCapture("c2"), json: false))
        #expect(try registry.parseExec("show capture json") == .show(.captures, json: true))
        #expect(throws: CommandError.self) { try registry.parseExec("capture c1 interface tgw0 file relative.pcap") }
        #expect(throws: CommandError.self) { try registry.parseExec("capture c1 interface tgw0 count 0 file /tmp/a.pcap") }
    }

    @Test func tracePacketParses() throws {
        let a = IPv4Address("10.1.0.10")!, b = IPv4Address("198.51.100.80")!
        #expect(try registry.parseExec("trace packet tcp 10.1.0.10:40000 198.51.100.80:80")
                == .show(.tracePacket(TracePacketRequest(tunnel: nil, proto: .tcp, source: a, sourcePort: 40000,
                                                         destination: b, destinationPort: 80)), json: false))
        #expect(try registry.parseExec("trace packet tunnel tgw0 udp 10.1.0.10:5000 198.51.100.80:53 json")
                == .show(.tracePacket(TracePacketRequest(tunnel: "tgw0", proto: .udp, source: a, sourcePort: 5000,
                                                         destination: b, destinationPort: 53)), json: true))
        #expect(try registry.parseExec("tr pa icmp 10.1.0.10 198.51.100.80")
                == .show(.tracePacket(TracePacketRequest(tunnel: nil, proto: .icmp, source: a, sourcePort: 0,
                                                         destination: b, destinationPort: 0)), json: false))
        #expect(throws: CommandError.self) { try registry.parseExec("trace packet tcp 10.1.0.300:1 198.51.100.80:80") }
        #expect(throws: CommandError.self) { try registry.parseExec("trace packet tcp 10.1.0.1:99999 198.51.100.80:80") }
    }
}
