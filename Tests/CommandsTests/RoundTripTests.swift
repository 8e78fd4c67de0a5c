import Packet
import Testing
@testable import Commands

// parse(render(c)) == c and render is a fixed point, over random configs
// built two ways: directly as values, and by typing random command scripts
// (every config command, `no` forms, IOS masks, abbreviations) into a session.
// The generator is seeded (SplitMix64, from Packet) so a failure reproduces.

private func word(_ chars: String, _ lengths: ClosedRange<Int>, _ rng: inout SplitMix64) -> String {
    let pool = Array(chars)
    return String((0..<Int.random(in: lengths, using: &rng)).map { _ in pool.randomElement(using: &rng)! })
}

private func interfaceName(_ rng: inout SplitMix64) -> String {
    while true {
        let name = Bool.random(using: &rng) ? "tgw\(Int.random(in: 0...20, using: &rng))"
            : word("abcdefghijklmnopqrstuvwxyzBLACKHOLE0123456789._-", 1...15, &rng)
        if ArgumentKind.interfaceNameProblem(name) == nil, name.lowercased() != "blackhole", IPv4Address(name) == nil { return name }
    }
}

private func description(_ rng: inout SplitMix64) -> String {
    let words = (0..<Int.random(in: 1...5, using: &rng)).map { _ in
        word("abcXYZ019!#()-_/:.,'\"?", 1...8, &rng)
    }
    return words.joined(separator: Bool.random(using: &rng) ? " " : "  ")
}

private func ipv4(_ rng: inout SplitMix64) -> IPv4Address { IPv4Address(UInt32.random(in: 1...UInt32.max, using: &rng)) }
private func ipv6(_ rng: inout SplitMix64) -> IPv6Address {
    IPv6Address(high: UInt64.random(in: 0...UInt64.max, using: &rng) & (Bool.random(using: &rng) ? .max : 0xFFFF_0000_0000_0000),
                low: UInt64.random(in: 1...UInt64.max, using: &rng) & (Bool.random(using: &rng) ? .max : 0xFFFF))
}

/// A random valid configuration value.
private func randomConfig(_ rng: inout SplitMix64) -> RunningConfig {
    var c = RunningConfig()
    if Bool.random(using: &rng) { c.hostname = "h" + word("abc-019.", 0...20, &rng) }
    for index in 0..<Int.random(in: 0...5, using: &rng) {
        let name = interfaceName(&rng)
        var t = TunnelInterface(name: name)
        if Bool.random(using: &rng) { t.description = description(&rng) }
        switch Int.random(in: 0...3, using: &rng) {
        case 0: t.connectPeer = word("abc-019", 1...10, &rng); t.source = ipv4(&rng); t.destination = ipv4(&rng)
        case 1: t.source = ipv4(&rng)
        case 2: t.destination = ipv4(&rng)
        default: break
        }
        if Bool.random(using: &rng) { t.key = UInt32.random(in: 0...UInt32.max, using: &rng) }
        if Bool.random(using: &rng) { t.mtu = Int.random(in: TunnelInterface.mtuRange, using: &rng) }
        // One /24 per interface index: addresses never overlap.
        if Bool.random(using: &rng) {
            t.ipv4 = IPv4InterfaceAddress(address: IPv4Address(169, 254, UInt8(index), 1), length: UInt8.random(in: 24...32, using: &rng))
        }
        if Bool.random(using: &rng) {
            t.ipv6 = IPv6InterfaceAddress(address: IPv6Address(high: 0xFD00_0000_0000_0000 | UInt64(index) << 32, low: 1),
                                          length: UInt8.random(in: 64...128, using: &rng))
        }
        t.shutdown = Int.random(in: 0...3, using: &rng) == 0
        c.tunnels[name] = t
    }
    let names = Array(c.tunnels.keys)
    for _ in 0..<Int.random(in: 0...8, using: &rng) {
        let prefix: IPPrefix = Bool.random(using: &rng)
            ? .v4(IPv4Prefix(ipv4(&rng), length: Int.random(in: 0...32, using: &rng))!)
            : .v6(IPv6Prefix(ipv6(&rng), length: Int.random(in: 0...128, using: &rng))!)
        let nextHop: StaticNextHop
        switch Int.random(in: 0...2, using: &rng) {
        case 0 where !names.isEmpty: nextHop = .interface(names.randomElement(using: &rng)!)
        case 1: if case .v4 = prefix { nextHop = .address(.v4(ipv4(&rng))) } else { nextHop = .address(.v6(ipv6(&rng))) }
        default: nextHop = .blackhole
        }
        c.staticRoutes.insert(StaticRoute(prefix: prefix, nextHop: nextHop))
    }
    c.dataplane.workers = Bool.random(using: &rng) ? 1 : Int.random(in: DataplaneSettings.workersRange, using: &rng)
    c.dataplane.batchSize = Bool.random(using: &rng) ? 64 : Int.random(in: DataplaneSettings.batchSizeRange, using: &rng)
    c.dataplane.workerCPUs = Bool.random(using: &rng) ? [] : Array(Set((0..<Int.random(in: 1...6, using: &rng)).map { _ in
        Int.random(in: 0...CPUList.maxCPU, using: &rng) })).sorted()
    c.dataplane.workerRealtime = Bool.random(using: &rng)
    return c
}

/// parse(render(c)) == c, and rendering the parsed config gives the same text.
private func expectRoundTrip(_ config: RunningConfig) {
    let text = config.render()
    let parsed: RunningConfig
    do {
        parsed = try ConfigParser.parse(text: text, fileName: "generated")
    } catch {
        Issue.record("\(error)\n--- text ---\n\(text)")
        return
    }
    #expect(parsed == config, "\(text)")
    #expect(parsed.render() == text)
}

@Test func randomConfigValuesRoundTrip() throws {
    var rng = SplitMix64(seed: 0xE6E5)
    for _ in 0..<400 {
        expectRoundTrip(randomConfig(&rng))
    }
}

/// A random command line of every config command, valid or not; the session
/// applies what it accepts.
private func randomCommand(_ rng: inout SplitMix64, interfaces: [String]) -> String {
    let name = interfaces.isEmpty || Bool.random(using: &rng) ? interfaceName(&rng) : interfaces.randomElement(using: &rng)!
    let no = Int.random(in: 0...3, using: &rng) == 0 ? "no " : ""
    let v4 = ipv4(&rng)
    let length = Int.random(in: 0...32, using: &rng)
    let v4Prefix = IPv4Prefix(v4, length: length)!
    let mask = IPv4Address(IPv4Prefix.mask(UInt8(length)))
    let v6Prefix = IPv6Prefix(ipv6(&rng), length: Int.random(in: 0...128, using: &rng))!
    let nextHop = [name, "blackhole", ipv4(&rng).description, "0.0.0.0"].randomElement(using: &rng)!
    let v6NextHop = [name, "blackhole", ipv6(&rng).description].randomElement(using: &rng)!
    let sub = Int.random(in: 1...30, using: &rng)
    let choices: [String] = [
        "\(no)hostname h\(word("abc-019", 0...10, &rng))",
        "\(no)interface \(name)",
        "interface \(name)",
        "interface \(name)",
        " \(no)description \(description(&rng))",
        " \(no)tunnel connect-peer p\(sub) source \(ipv4(&rng)) destination \(ipv4(&rng))",
        " \(no)tunnel source \(ipv4(&rng))",
        " \(no)tunnel destination \(ipv4(&rng))",
        " \(no)tunnel key \(UInt32.random(in: 0...UInt32.max, using: &rng))",
        " \(no)tunnel mtu \(Int.random(in: 500...9300, using: &rng))",
        " \(no)ip address 169.254.\(sub).\(Int.random(in: 0...255, using: &rng))/\(Int.random(in: 20...32, using: &rng))",
        " \(no)ip address 169.254.\(sub).1 255.255.255.\([0, 128, 192, 248, 252, 254, 255, 7].randomElement(using: &rng)!)",
        " \(no)ipv6 address fd00:\(sub)::\(Int.random(in: 0...9, using: &rng))/\(Int.random(in: 100...128, using: &rng))",
        " \(no)shutdown",
        "\(no)ip route \(v4Prefix) \(nextHop)",
        "\(no)ip route \(v4Prefix.address) \(mask) \(nextHop)",
        "\(no)ip ro \(v4Prefix) \(nextHop)",
        "\(no)ipv6 route \(v6Prefix) \(v6NextHop)",
        "\(no)dataplane workers \(Int.random(in: 0...70, using: &rng))",
        "\(no)dataplane batch-size \(Int.random(in: 0...1100, using: &rng))",
        "\(no)data batch \(Int.random(in: 1...1024, using: &rng))",
        "\(no)dataplane worker cpus \(Int.random(in: 0...3, using: &rng))-\(Int.random(in: 2...1030, using: &rng)),\(Int.random(in: 0...9, using: &rng))",
        "\(no)dataplane worker realtime",
        "exit",
        "end",
    ]
    return choices.randomElement(using: &rng)!
}

@Test func randomCommandScriptsRoundTrip() throws {
    var rng = SplitMix64(seed: 42)
    var accepted = 0
    var refused = 0
    for _ in 0..<300 {
        var session = ConfigSession()
        for _ in 0..<Int.random(in: 1...40, using: &rng) {
            let line = randomCommand(&rng, interfaces: Array(session.config.tunnels.keys))
            let before = session.config
            do {
                _ = try session.execute(line)
                accepted += 1
            } catch {
                refused += 1
                #expect(session.config == before, "a refused line changed the config: \(line)")
            }
        }
        expectRoundTrip(session.config)
    }
    // The generator must exercise both paths to mean anything.
    #expect(accepted > 1000)
    #expect(refused > 100)
}
