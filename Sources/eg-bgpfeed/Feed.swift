// The benchmark's route feed: N IPv4 prefixes spread over K attribute sets,
// encoded once into UPDATE messages before any connection is made, so that
// every receiver (egressd, BIRD, FRR) gets byte-identical input.
//
// Attribute sets look like a transit table: AS paths of 1 to 7 hops behind
// the feeder's AS (some with prepends), ORIGIN mostly IGP, some MEDs, 0-4
// communities. Set sizes are skewed (a few sets carry many prefixes, most
// carry a handful), as in a real table. Prefixes are /24s, with every 16th
// a /22 or /23 block instead, non-overlapping, from `firstAddress` up.
// Everything derives from `seed`: the same options give the same bytes.

import BGP
import Packet

struct FeedOptions {
    var prefixes = 1_000_000
    var attributeSets = 100_000
    var localAS: UInt32 = 64999
    var nextHop = IPv4Address(0)
    /// First prefix address (default 32.0.0.0: 1M /24s and blocks fit below 64.0.0.0).
    var firstAddress = IPv4Address(32 << 24)
    var seed: UInt64 = 0xBEEF
}

/// The encoded feed: UPDATE messages back to back, and what they announce.
struct Feed {
    var bytes: [UInt8] = []
    var messages = 0
    var prefixes: [IPv4Prefix] = []
    var attributeSets = 0
}

enum FeedBuilder {
    /// Deterministic and seedable (Packet's SplitMix64, with `below` and `unit` from this file).
    typealias Random = SplitMix64

    /// Non-overlapping prefixes from `first` upward: mostly /24, every 16th a /23 or /22.
    static func prefixes(_ count: Int, from first: IPv4Address, random: inout Random) -> [IPv4Prefix] {
        var out: [IPv4Prefix] = []
        out.reserveCapacity(count)
        var address = first.value
        while out.count < count {
            var length: UInt8 = 24
            if out.count % 16 == 15 { length = random.below(2) == 0 ? 23 : 22 }
            let size = UInt32(1) << (32 - UInt32(length))
            // Align the block to its size.
            address = (address + size - 1) & ~(size - 1)
            out.append(IPv4Prefix(IPv4Address(address), length: Int(length))!)
            address &+= size
        }
        return out
    }

    /// The path attributes of set `index`.
    static func attributes(_ index: Int, options: FeedOptions, random: inout Random) -> PathAttributes {
        let hops = 1 + Int(random.below(7))
        var path: [UInt32] = [options.localAS]
        for h in 0..<hops {
            // Transit ASes from a small pool near the front, origins from a large one.
            let asn: UInt32 = h + 1 == hops ? UInt32(1000 + (index * 7919) % 60000) : UInt32(100 + random.below(400))
            path.append(asn)
            if random.below(20) == 0 { path.append(asn) }  // a prepend
        }
        var a = PathAttributes(origin: random.below(10) == 0 ? .incomplete : .igp,
                               asPath: ASPath(sequence: path), nextHop: options.nextHop)
        if random.below(4) == 0 { a.multiExitDisc = UInt32(random.below(1000)) }
        let communities = Int(random.below(5))
        if communities > 0 {
            a.communities = (0..<communities).map { _ in options.localAS << 16 | UInt32(random.below(1000)) }
        }
        return a
    }

    static func build(_ options: FeedOptions) -> Feed {
        var random = Random(seed: options.seed)
        var feed = Feed()
        feed.prefixes = prefixes(options.prefixes, from: options.firstAddress, random: &random)
        let sets = max(1, min(options.attributeSets, options.prefixes))
        // Skewed assignment: set = floor(sets * u^2), so low-numbered sets are popular.
        var members = [[IPv4Prefix]](repeating: [], count: sets)
        for (i, p) in feed.prefixes.enumerated() {
            // Every set gets at least one prefix, the rest are skewed.
            let s = i < sets ? i : Int(Double(sets) * pow2(random.unit()))
            members[min(s, sets - 1)].append(p)
        }
        feed.bytes.reserveCapacity(options.prefixes * 4 + sets * 80)
        for (index, list) in members.enumerated() where !list.isEmpty {
            let attributes = attributes(index, options: options, random: &random)
            feed.attributeSets += 1
            let room = OutboundUpdateBuilder.room(attributes: attributes, fourOctetAS: true)
            for chunk in OutboundUpdateBuilder.chunks(list, room: room, size: { OutboundUpdateBuilder.nlriSize($0) }) {
                BGPMessage.update(BGPUpdate(attributes: attributes, nlri: chunk)).encode(fourOctetAS: true, into: &feed.bytes)
                feed.messages += 1
            }
        }
        return feed
    }

    static func pow2(_ x: Double) -> Double { x * x }
}

extension SplitMix64 {
    /// A number in 0..<n (0 for n 0).
    mutating func below(_ n: UInt64) -> UInt64 { next() % max(1, n) }
    /// A number in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
