import BGP
import Packet
import Testing
@testable import eg_bgpfeed

/// Splits the feed into frames and decodes each with the speaker's own codec.
private func decode(_ feed: Feed) throws -> [BGPUpdate] {
    var decoder = BGPFrameDecoder()
    decoder.append(feed.bytes)
    let context = UpdateDecodingContext(localAS: 65000, peerAS: 64999, families: [.ipv4Unicast])
    var updates: [BGPUpdate] = []
    while let frame = try decoder.nextFrame() {
        #expect(frame.count <= BGPMessage.maximumLength)
        guard case .update(let received) = try InboundMessage.decode(frame: frame, context: context) else {
            Issue.record("not an UPDATE")
            continue
        }
        #expect(received.verdict == .accept)
        updates.append(received.update)
    }
    #expect(decoder.bufferedByteCount == 0)
    return updates
}

@Test func feedAnnouncesEveryPrefixOnceWithTheDeclaredAttributeSets() throws {
    var options = FeedOptions()
    options.prefixes = 20_000
    options.attributeSets = 1_500
    options.nextHop = IPv4Address(10, 77, 0, 1)
    let feed = FeedBuilder.build(options)
    let updates = try decode(feed)
    #expect(updates.count == feed.messages)
    let announced = updates.flatMap(\.nlri)
    #expect(announced.count == 20_000)
    #expect(Set(announced).count == 20_000)
    #expect(announced.sorted() == feed.prefixes.sorted())
    // Non-overlapping: sorted by address, each ends before the next begins.
    let sorted = feed.prefixes.sorted { $0.address < $1.address }
    for (a, b) in zip(sorted, sorted.dropFirst()) {
        #expect(UInt64(a.address.value) + (UInt64(1) << (32 - UInt64(a.length))) <= UInt64(b.address.value))
    }
    // Every set is used, sets differ, paths start with the feeder's AS, next hop is ours.
    let sets = Set(updates.map(\.attributes))
    #expect(sets.count == 1_500)
    #expect(feed.attributeSets == 1_500)
    for a in sets {
        #expect(a.asPath?.firstAS == 64999)
        #expect(a.nextHop == IPv4Address(10, 77, 0, 1))
    }
    // Skewed: the most popular set carries far more prefixes than the average.
    var perSet: [PathAttributes: Int] = [:]
    for u in updates { perSet[u.attributes, default: 0] += u.nlri.count }
    #expect(perSet.values.max()! > 20_000 / 1_500 * 5)
    // Prefix lengths: mostly /24, some /22 and /23.
    #expect(announced.filter { $0.length == 24 }.count == 20_000 - 20_000 / 16)
}

@Test func feedIsDeterministic() {
    var options = FeedOptions()
    options.prefixes = 3_000
    options.attributeSets = 100
    options.nextHop = IPv4Address(10, 77, 0, 1)
    #expect(FeedBuilder.build(options).bytes == FeedBuilder.build(options).bytes)
    var other = options
    other.seed = 1
    #expect(FeedBuilder.build(other).bytes != FeedBuilder.build(options).bytes)
}

@Test func parsesOptions() throws {
    let o = try Options.parse(["--connect", "10.77.0.2", "--next-hop", "10.77.0.1", "--prefixes", "5000",
                               "--attribute-sets", "50", "--hold", "90", "--local-as", "65001"])
    #expect(o.connect == IPv4Address(10, 77, 0, 2) && o.port == 179 && o.source == nil && o.routerID == nil && !o.dryRun)
    #expect(o.feed.prefixes == 5000 && o.feed.attributeSets == 50 && o.feed.localAS == 65001 && o.hold == 90)
    #expect(o.feed.nextHop == IPv4Address(10, 77, 0, 1) && o.feed.seed == FeedOptions().seed)
    let dry = try Options.parse(["--next-hop", "10.77.0.1", "--dry-run"])
    #expect(dry.dryRun && dry.connect == nil && dry.feed.prefixes == 1_000_000 && dry.feed.attributeSets == 100_000)
    func refusal(_ arguments: [String]) -> String? {
        do { _ = try Options.parse(arguments); return nil } catch { return Options.message(for: error) }
    }
    #expect(refusal(["--connect", "10.77.0.2"]) != nil)  // no --next-hop
    #expect(refusal(["--next-hop", "0.0.0.0"])?.contains("must not be 0.0.0.0") == true)
    #expect(refusal(["--next-hop", "10.77.0.1", "--prefixes", "0"])?.contains("must be positive") == true)
    #expect(refusal(["--next-hop", "10.0.0.256"]) != nil)
    #expect(refusal(["--next-hop", "10.77.0.1", "--port", "65536"]) != nil)
}
