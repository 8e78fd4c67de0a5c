// swift-tools-version:6.0
// egressd: a user-space egress appliance (GRE toward Transit Gateway Connect,
// BGP, WCCPv2 redirection). One module per concern; dependencies point one way:
//   Packet  <-  Engine  <-  Control  <-  egressd
//   Packet  <-  Netlink, Commands, BGP, WCCP
import PackageDescription

let package = Package(
    name: "egressd",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "egressd", targets: ["egressd"]),
        .executable(name: "egsh", targets: ["egsh"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // System libraries, found by pkg-config.
        .systemLibrary(name: "CMNL", pkgConfig: "libmnl",
                       providers: [.apt(["libmnl-dev"])]),
        .systemLibrary(name: "CPCAP", pkgConfig: "libpcap",
                       providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "CEdit", pkgConfig: "libedit",
                       providers: [.apt(["libedit-dev"])]),
        // Thin C shims for what Swift cannot import directly (ioctl request
        // macros, TPACKET/fanout constants, BPF attach).
        .target(name: "CEgressSys"),
        // Cache prefetch hints for the RIB's and the learned routes' large tables.
        .target(name: "CPrefetch"),

        // Pure packet formats: headers, checksums, addresses, flow keys. No I/O.
        .target(name: "Packet"),
        // rtnetlink over libmnl: links, addresses, routes, neighbours.
        .target(name: "Netlink", dependencies: [
            "CMNL", "Packet", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // The packet engine: I/O backends, workers, FIB/ECMP, counters.
        .target(name: "Engine", dependencies: [
            "Packet", "CEgressSys", "CPrefetch",
            .product(name: "Atomics", package: "swift-atomics"),
        ]),
        // The command language: grammar, config model, running-config.
        .target(name: "Commands", dependencies: ["Packet"]),
        // BGP-4: codec, session state machine, RIB (pure), and the NIO
        // connection at the edge (Connection/) that drives them.
        .target(name: "BGP", dependencies: [
            "Packet", "CPrefetch",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // WCCPv2: codec, hash/mask assignment, router state (pure).
        .target(name: "WCCP", dependencies: [
            "Packet",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Observability pieces with no I/O: the IPFIX codec, the recent-log
        // ring (a LogHandler), the Prometheus exposition of a metrics snapshot.
        .target(name: "Observability", dependencies: [
            "Packet",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // setresuid/capset/prctl for the privilege drop at start-up (Control/Privileges.swift).
        .target(name: "CPrivileges"),
        // Control servers: the shell's UNIX socket server, show commands.
        .target(name: "Control", dependencies: [
            "CPrivileges", "Engine", "Commands", "Netlink", "Packet", "BGP", "WCCP", "Observability", "CPCAP",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "egressd", dependencies: [
            "Control", "Engine", "Commands", "Netlink", "Packet", "Observability",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Traffic generator for scripts/bench.sh (AF_PACKET, prebuilt frames).
        .executableTarget(name: "eg-trafgen", dependencies: [
            "CEgressSys", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // One-way latency probe for `scripts/bench.sh latency`: timestamped frames at a fixed
        // rate on one side of the rig, a receiver with an HDR histogram on the other.
        .executableTarget(name: "eg-latency", dependencies: [
            "CEgressSys", .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // BGP route injector for `scripts/bench.sh bgp` (same feed for egressd, BIRD, FRR).
        .executableTarget(name: "eg-bgpfeed", dependencies: [
            "BGP", "Packet", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "egsh", dependencies: [
            "Control", "Commands", "CEdit",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Fuzz targets for every parser of network or operator input (Sources/eg-fuzz);
        // a normal build replays corpora, scripts/fuzz.sh builds the libFuzzer binary.
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "eg-fuzz", dependencies: ["CFuzzDriver", "Packet", "Engine", "BGP", "WCCP", "Commands"]),

        .testTarget(name: "PacketTests", dependencies: ["Packet"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Packet"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "Packet"]),
        .testTarget(name: "CommandsTests", dependencies: ["Commands", "Packet"]),
        .testTarget(name: "BGPTests", dependencies: ["BGP", "Packet"]),
        .testTarget(name: "WCCPTests", dependencies: ["WCCP", "Packet"]),
        .testTarget(name: "ControlTests", dependencies: [
            "Control", "Commands", "Engine", "Packet", "WCCP", "BGP",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "ObservabilityTests", dependencies: ["Observability", "Packet"]),
        .testTarget(name: "eg-trafgenTests", dependencies: ["eg-trafgen"]),
        .testTarget(name: "eg-latencyTests", dependencies: ["eg-latency"]),
        .testTarget(name: "eg-bgpfeedTests", dependencies: ["eg-bgpfeed", "BGP", "Packet"]),
    ],
    swiftLanguageModes: [.v6]
)
