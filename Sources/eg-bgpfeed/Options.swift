// Command line of eg-bgpfeed (swift-argument-parser, as eg-trafgen and eg-latency).
import ArgumentParser
import Packet

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eg-bgpfeed",
        abstract: "The BGP benchmark's route injector.",
        discussion: """
            Builds the feed, connects to the receiver, opens an eBGP session and sends every \
            UPDATE. Prints `established_at: T`, `sent_at: T` (Unix seconds) and the feed's figures.
            """)

    @Option(help: ArgumentHelp("The receiver's address (TCP port --port); required unless --dry-run.", valueName: "A"))
    var connect: IPv4Address?
    @Option(help: ArgumentHelp("The receiver's TCP port.", valueName: "N"))
    var port: UInt16 = 179
    @Option(help: ArgumentHelp("Local address to bind (default: the kernel's choice).", valueName: "A"))
    var source: IPv4Address?
    @Option(name: .customLong("local-as"), help: ArgumentHelp("Our AS.", valueName: "N"))
    var localAS: UInt32 = 64999
    @Option(name: .customLong("router-id"), help: ArgumentHelp("Our BGP identifier (default: --next-hop).", valueName: "A"))
    var routerID: IPv4Address?
    @Option(name: .customLong("next-hop"), help: ArgumentHelp("NEXT_HOP of every route (our address on the link).", valueName: "A"))
    var nextHop: IPv4Address
    @Option(help: ArgumentHelp("IPv4 prefixes to announce.", valueName: "N"))
    var prefixes: Int = 1_000_000
    @Option(name: .customLong("attribute-sets"), help: ArgumentHelp("Distinct path attribute sets.", valueName: "N"))
    var attributeSets: Int = 100_000
    @Option(help: ArgumentHelp("The hold time we offer.", valueName: "N"))
    var hold: UInt16 = 240
    @Flag(name: .customLong("dry-run"), help: "Build the feed, print its figures, exit.")
    var dryRun = false

    func validate() throws {
        guard nextHop.value != 0 else { throw ValidationError("--next-hop must not be 0.0.0.0") }
        guard prefixes > 0, attributeSets > 0 else { throw ValidationError("--prefixes and --attribute-sets must be positive") }
    }

    /// What the feed is built from.
    var feed: FeedOptions {
        var f = FeedOptions()
        f.prefixes = prefixes
        f.attributeSets = attributeSets
        f.localAS = localAS
        f.nextHop = nextHop
        return f
    }
}

extension IPv4Address: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}
