// Command line of eg-trafgen (swift-argument-parser, as eg-latency and egsh).
import ArgumentParser
import Glibc

/// What the operator asked for.
struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eg-trafgen",
        abstract: "Traffic generator of scripts/bench.sh.",
        discussion: """
            Sends prebuilt Ethernet/IPv4/UDP frames (optionally inside IPv4/GRE) on IF through an \
            AF_PACKET TX ring (qdisc bypassed), then prints `sent_packets: N` and friends.
            """)

    @Option(help: ArgumentHelp("The interface to send on.", valueName: "IF"))
    var interface: String
    @Option(name: .customLong("src-mac"), help: ArgumentHelp("Ethernet source (default: IF's own address).", valueName: "MAC"))
    var sourceMAC: MACAddress?
    @Option(name: .customLong("dst-mac"), help: ArgumentHelp("Ethernet destination (required).", valueName: "MAC"))
    var destinationMAC: MACAddress?
    @Option(name: .customLong("src"), help: ArgumentHelp("Inner IPv4 source (required).", valueName: "IP"))
    var innerSource: IPv4Bytes?
    @Option(name: .customLong("dst"), help: ArgumentHelp("Inner IPv4 destination (required).", valueName: "IP"))
    var innerDestination: IPv4Bytes?
    @Option(name: .customLong("size"), help: ArgumentHelp("Inner IPv4 packet length in bytes, header included.", valueName: "N"))
    var innerLength: Int = 64
    @Option(help: ArgumentHelp("Distinct UDP source ports, from --sport.", valueName: "N"))
    var flows: Int = 256
    @Option(name: .customLong("sport"), help: ArgumentHelp("First UDP source port.", valueName: "N"))
    var firstSourcePort: UInt16 = 10000
    @Option(name: .customLong("dport"), help: ArgumentHelp("UDP destination port.", valueName: "N"))
    var destinationPort: UInt16 = 9
    @Option(name: .customLong("gre-src"), help: ArgumentHelp("Wrap each packet in IPv4/GRE from this address (with --gre-dst).", valueName: "IP"))
    var greSource: IPv4Bytes?
    @Option(name: .customLong("gre-dst"), help: ArgumentHelp("The outer destination of that GRE (with --gre-src).", valueName: "IP"))
    var greDestination: IPv4Bytes?
    @Option(help: ArgumentHelp("Seconds to send.", valueName: "S"))
    var duration: Double = 5.0
    @Option(name: .customLong("pps"), help: ArgumentHelp("Packets per second, 0 = unlimited.", valueName: "N"))
    var packetsPerSecond: Double = 0.0
    @Option(help: ArgumentHelp("Ring slots handed to the kernel per send() (1 to 4096).", valueName: "N"))
    var batch: Int = 64
    @Option(name: .customLong("pcap"), help: ArgumentHelp("Write the frames to FILE (pcap) and exit without sending.", valueName: "FILE"))
    var pcapPath: String?
    @Flag(help: """
        Stamp each frame's UDP payload with the send time (latency probe: "EGLATNCY" + \
        CLOCK_MONOTONIC ns, read by eg-latency).
        """)
    var timestamps = false

    func validate() throws {
        guard duration > 0 else { throw ValidationError("--duration: invalid value '\(duration)'") }
        guard packetsPerSecond >= 0 else { throw ValidationError("--pps: invalid value '\(packetsPerSecond)'") }
        guard (1...4096).contains(batch) else { throw ValidationError("--batch: invalid value '\(batch)'") }
        if destinationMAC == nil { throw ValidationError("--dst-mac is required") }
        if innerSource == nil || innerDestination == nil { throw ValidationError("--src and --dst are required") }
        if (greSource == nil) != (greDestination == nil) {
            throw ValidationError("--gre-src and --gre-dst go together")
        }
        if timestamps && innerLength < FrameSpec.minimumInnerLength + LatencyStamp.length {
            throw ValidationError("--timestamps needs --size \(FrameSpec.minimumInnerLength + LatencyStamp.length) or more")
        }
    }
}

extension MACAddress: ExpressibleByArgument {
    init?(argument: String) { self.init(argument) }
}

extension IPv4Bytes: ExpressibleByArgument {
    init?(argument: String) { self.init(argument) }
}

/// The first line of a sysfs attribute of `interface`, without the newline.
private func interfaceAttribute(_ interface: String, _ name: String) -> String? {
    guard let file = fopen("/sys/class/net/\(interface)/\(name)", "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 64)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: " \n")
}

/// The interface's own Ethernet address.
func interfaceMAC(_ interface: String) -> MACAddress? {
    interfaceAttribute(interface, "address").flatMap { MACAddress($0) }
}

/// The interface's MTU.
func interfaceMTU(_ interface: String) -> Int? {
    interfaceAttribute(interface, "mtu").flatMap { Int($0) }
}

extension String {
    /// The string without leading and trailing characters from `set`.
    func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = self[...]
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
