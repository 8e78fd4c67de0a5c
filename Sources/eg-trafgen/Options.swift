// Command line of eg-trafgen (plain parsing: this target depends on nothing but CEgressSys).
import Glibc

/// What the operator asked for.
struct Options {
    var interface = ""
    var sourceMAC: MACAddress?
    var destinationMAC: MACAddress?
    var innerSource: IPv4Bytes?
    var innerDestination: IPv4Bytes?
    var innerLength = 64
    var flows = 256
    var firstSourcePort: UInt16 = 10000
    var destinationPort: UInt16 = 9
    var greSource: IPv4Bytes?
    var greDestination: IPv4Bytes?
    var duration = 5.0
    var packetsPerSecond = 0.0
    var batch = 64
    var pcapPath: String?
    var timestamps = false

    static let usage = """
        usage: eg-trafgen --interface IF --dst-mac MAC --src IP --dst IP [options]
          Sends prebuilt Ethernet/IPv4/UDP frames (optionally inside IPv4/GRE) on IF through an
          AF_PACKET TX ring (qdisc bypassed), then prints `sent_packets: N` and friends.
          --src-mac MAC          Ethernet source (default: IF's own address)
          --size N               inner IPv4 packet length in bytes, header included (default 64)
          --flows N              distinct UDP source ports, from --sport (default 256)
          --sport N / --dport N  first UDP source port (10000) / destination port (9)
          --gre-src IP --gre-dst IP   wrap each packet in IPv4/GRE with these outer addresses
          --duration S           seconds to send (default 5)
          --pps N                packets per second, 0 = unlimited (default 0)
          --batch N              ring slots handed to the kernel per send() (default 64)
          --pcap FILE            write the frames to FILE (pcap) and exit without sending
          --timestamps           stamp each frame's UDP payload with the send time (latency
                                 probe: "EGLATNCY" + CLOCK_MONOTONIC ns, read by eg-latency)
        """

    /// Why the command line is unusable.
    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses `arguments` (without the program name).
    init(arguments: [String]) throws(UsageError) {
        var remaining = arguments[...]
        func value(_ flag: String) throws(UsageError) -> String {
            guard let next = remaining.popFirst() else { throw UsageError(description: "\(flag) needs a value") }
            return next
        }
        func parsed<T>(_ flag: String, _ parse: (String) -> T?) throws(UsageError) -> T {
            let text = try value(flag)
            guard let result = parse(text) else { throw UsageError(description: "\(flag): invalid value '\(text)'") }
            return result
        }
        while let flag = remaining.popFirst() {
            switch flag {
            case "--interface": interface = try value(flag)
            case "--src-mac": sourceMAC = try parsed(flag, MACAddress.init)
            case "--dst-mac": destinationMAC = try parsed(flag, MACAddress.init)
            case "--src": innerSource = try parsed(flag, IPv4Bytes.init)
            case "--dst": innerDestination = try parsed(flag, IPv4Bytes.init)
            case "--size": innerLength = try parsed(flag) { Int($0) }
            case "--flows": flows = try parsed(flag) { Int($0) }
            case "--sport": firstSourcePort = try parsed(flag) { UInt16($0) }
            case "--dport": destinationPort = try parsed(flag) { UInt16($0) }
            case "--gre-src": greSource = try parsed(flag, IPv4Bytes.init)
            case "--gre-dst": greDestination = try parsed(flag, IPv4Bytes.init)
            case "--duration": duration = try parsed(flag) { Double($0).flatMap { $0 > 0 ? $0 : nil } }
            case "--pps": packetsPerSecond = try parsed(flag) { Double($0).flatMap { $0 >= 0 ? $0 : nil } }
            case "--batch": batch = try parsed(flag) { Int($0).flatMap { (1...4096).contains($0) ? $0 : nil } }
            case "--pcap": pcapPath = try value(flag)
            case "--timestamps": timestamps = true
            case "-h", "--help": throw UsageError(description: Options.usage)
            default: throw UsageError(description: "unknown option '\(flag)'\n\(Options.usage)")
            }
        }
        if interface.isEmpty { throw UsageError(description: "--interface is required") }
        if destinationMAC == nil { throw UsageError(description: "--dst-mac is required") }
        if innerSource == nil || innerDestination == nil { throw UsageError(description: "--src and --dst are required") }
        if (greSource == nil) != (greDestination == nil) {
            throw UsageError(description: "--gre-src and --gre-dst go together")
        }
        if timestamps && innerLength < FrameSpec.minimumInnerLength + LatencyStamp.length {
            throw UsageError(description: "--timestamps needs --size \(FrameSpec.minimumInnerLength + LatencyStamp.length) or more")
        }
    }
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
    interfaceAttribute(interface, "address").flatMap(MACAddress.init)
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
