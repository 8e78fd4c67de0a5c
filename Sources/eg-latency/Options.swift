// Command line of eg-latency (plain parsing, as eg-trafgen).

struct Options {
    var interface = ""
    var duration = 5.0
    var skip = 1.0

    static let usage = """
        usage: eg-latency --interface IF [--duration S] [--skip S]
          Receives every frame on IF (AF_PACKET), finds the latency stamp eg-trafgen --timestamps
          wrote (CLOCK_MONOTONIC, same machine), and prints one-way latency percentiles from an
          HDR histogram (3 significant digits) as `name: value unit` lines.
          --duration S   seconds to receive (default 5)
          --skip S       ignore frames stamped in the first S seconds (warm-up, default 1)
        """

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    init(arguments: [String]) throws(UsageError) {
        var remaining = arguments[...]
        func seconds(_ flag: String) throws(UsageError) -> Double {
            guard let text = remaining.popFirst() else { throw UsageError(description: "\(flag) needs a value") }
            guard let value = Double(text), value >= 0, value < 86400 else {
                throw UsageError(description: "\(flag): invalid value '\(text)'")
            }
            return value
        }
        while let flag = remaining.popFirst() {
            switch flag {
            case "--interface":
                guard let name = remaining.popFirst() else { throw UsageError(description: "--interface needs a value") }
                interface = name
            case "--duration": duration = try seconds(flag)
            case "--skip": skip = try seconds(flag)
            case "-h", "--help": throw UsageError(description: Options.usage)
            default: throw UsageError(description: "unknown option '\(flag)'\n\(Options.usage)")
            }
        }
        if interface.isEmpty { throw UsageError(description: "--interface is required") }
        if duration <= skip { throw UsageError(description: "--duration must be longer than --skip") }
    }
}
