// Command line of eg-latency (swift-argument-parser, as eg-trafgen and egsh).
import ArgumentParser

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eg-latency",
        abstract: "One-way latency receiver of the latency probe.",
        discussion: """
            Receives every frame on IF (AF_PACKET), finds the latency stamp eg-trafgen --timestamps \
            wrote (CLOCK_MONOTONIC, same machine), and prints one-way latency percentiles from an \
            HDR histogram (3 significant digits) as `name: value unit` lines.
            """)

    @Option(help: ArgumentHelp("The interface to receive on.", valueName: "IF"))
    var interface: String
    @Option(help: ArgumentHelp("Seconds to receive.", valueName: "S"))
    var duration: Double = 5.0
    @Option(help: ArgumentHelp("Ignore frames stamped in the first S seconds (warm-up).", valueName: "S"))
    var skip: Double = 1.0

    func validate() throws {
        for (flag, value) in [("--duration", duration), ("--skip", skip)] where !(0..<86400).contains(value) {
            throw ValidationError("\(flag): invalid value '\(value)'")
        }
        guard duration > skip else { throw ValidationError("--duration must be longer than --skip") }
    }
}
