// eg-trafgen: the traffic generator of scripts/bench.sh. Builds one frame per flow up front,
// then replays them through an AF_PACKET TX ring for a fixed time (see Options).
import Glibc

/// Writes `message` to standard error and exits with `status`.
func exitWithMessage(_ message: String, status: Int32) -> Never {
    let line = Array((message + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(status)
}

let options: Options
do {
    options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    exitWithMessage("eg-trafgen: \(Options.fullMessage(for: error))", status: 2)
}

guard let sourceMAC = options.sourceMAC ?? interfaceMAC(options.interface) else {
    exitWithMessage("eg-trafgen: cannot read the Ethernet address of \(options.interface); give --src-mac", status: 1)
}
let gre: GREOuter? = options.greSource.flatMap { source in
    options.greDestination.map { GREOuter(source: source, destination: $0) }
}
let spec = FrameSpec(sourceMAC: sourceMAC, destinationMAC: options.destinationMAC!,
                     innerSource: options.innerSource!, innerDestination: options.innerDestination!,
                     innerLength: options.innerLength, flows: options.flows,
                     firstSourcePort: options.firstSourcePort, destinationPort: options.destinationPort,
                     gre: gre)
let frames: [[UInt8]]
do {
    frames = try buildFrames(spec)
} catch {
    exitWithMessage("eg-trafgen: \(error)", status: 2)
}

if let path = options.pcapPath {
    let bytes = pcapFile(frames: frames)
    guard let file = fopen(path, "wb") else {
        exitWithMessage("eg-trafgen: cannot open \(path): \(String(cString: strerror(errno)))", status: 1)
    }
    let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
    guard written == bytes.count else { exitWithMessage("eg-trafgen: short write to \(path)", status: 1) }
    print("frames_written: \(frames.count)")
    exit(0)
}

// The kernel cannot send a frame longer than the interface's MTU plus the Ethernet header.
if let mtu = interfaceMTU(options.interface), frames[0].count > mtu + 14 {
    exitWithMessage("eg-trafgen: \(frames[0].count)-byte frames do not fit \(options.interface)'s MTU \(mtu)", status: 2)
}

do {
    let sender = try PacketRingSender(interface: options.interface, largestFrame: frames[0].count)
    if options.timestamps {
        // A paced probe sleeps between frames: ask for wake-ups to the microsecond (the default
        // timer slack is 50 us). prctl is variadic (not imported): its /proc file does the same.
        if let file = fopen("/proc/self/timerslack_ns", "w") {
            fputs("1000", file)
            fclose(file)
        }
    }
    let report = sender.run(frames: frames, duration: options.duration,
                            packetsPerSecond: options.packetsPerSecond, batch: options.batch,
                            stampOffset: options.timestamps ? LatencyStamp.offset(in: spec) : nil)
    let rate = report.elapsed > 0 ? Double(report.sent) / report.elapsed : 0
    print("sent_packets: \(report.sent)")
    print("elapsed_seconds: \(report.elapsed)")
    print("sent_pps: \(Int(rate))")
    print("frame_bytes: \(frames[0].count)")
} catch {
    exitWithMessage("eg-trafgen: \(error)", status: 1)
}
