// The `afxdp` I/O backend (README "Dataplane"). XDPAttachment: the steering
// program on every Ethernet interface that is up, one XSKMAP per interface,
// one hash map of steering keys (our tunnels' local ends, the GRE caches)
// and one LPM trie of the table's IPv4 prefixes (spoke-bound traffic to
// encapsulate, XDPSpokePrefixes.swift) shared by all; attached by bpf_links, so closing them (stop, or the
// process dying) detaches the program. XDPSocketSet: one worker's AF_XDP
// sockets (one per interface queue it owns), read in batches in place
// (frames go back to the fill ring after the batch is flushed) and written
// by copying into free transmit frames. The TPACKET_V3 ring stays open
// beside them and receives whatever GRE the program passes to the kernel.

import Atomics
import CEgressSys
import Packet
#if canImport(Glibc)
import Glibc
#endif

/// One steering key of the XDP program: IPv4 GRE to `address` (a tunnel's
/// local end) or from it (a cache returning GRE) goes to the AF_XDP socket;
/// `tunInterface`: `address` is the ifindex of one of our TUNs (spoke-bound
/// IPv4 that the kernel would route into it may be steered).
public struct XDPSteeringKey: Hashable, Sendable {
    public enum Kind: UInt32, Sendable { case destination = 0, source = 1, tunInterface = 2 }
    public var address: UInt32
    public var kind: Kind
    public init(address: UInt32, kind: Kind) { self.address = address; self.kind = kind }

    /// The map key as the program reads it: the address bytes as on the wire
    /// (an ifindex in host order), then the kind.
    var bytes: (UInt32, UInt32) { (kind == .tunInterface ? address : address.bigEndian, kind.rawValue) }

    /// Every key a snapshot needs: the local end of each tunnel, the address
    /// of each cache that returns packets by GRE, the TUNs' interface indexes.
    public static func keys(tunnels: [TunnelSpec], redirect: [RedirectServiceSpec], tunInterfaces: [UInt32] = []) -> Set<XDPSteeringKey> {
        var keys = Set<XDPSteeringKey>()
        for i in tunInterfaces where i != 0 { keys.insert(XDPSteeringKey(address: i, kind: .tunInterface)) }
        for t in tunnels { keys.insert(XDPSteeringKey(address: t.localOuter.value, kind: .destination)) }
        for s in redirect {
            for c in s.caches {
                if case .gre = c.method { keys.insert(XDPSteeringKey(address: c.address.value, kind: .source)) }
            }
        }
        return keys
    }
}

/// An interface the engine considers for XDP: Ethernet, up, not loopback.
public struct XDPInterface: Sendable, Equatable {
    public var name: String
    public var index: Int32
    public var rxQueues: Int
    /// Its Ethernet address (the program steers spoke-bound frames sent to it only).
    public var mac: [UInt8] = []
    /// After attaching: native (driver) mode, else generic (SKB) mode.
    public var native: Bool = false

    /// Which (interface, queue) pairs worker `worker` of `workers` owns: queue q of each interface goes to worker q mod workers.
    public static func queues(of interfaces: [XDPInterface], worker: Int, workers: Int) -> [(interface: Int, queue: Int)] {
        var out: [(Int, Int)] = []
        for (i, f) in interfaces.enumerated() {
            for q in 0..<f.rxQueues where q % workers == worker { out.append((i, q)) }
        }
        return out
    }

    /// The Ethernet interfaces that are up, lowest index first.
    static func candidates() -> [XDPInterface] {
        var out: [XDPInterface] = []
        guard let list = if_nameindex() else { return out }
        defer { if_freenameindex(list) }
        var p = list
        while p.pointee.if_index != 0 {
            var up: Int32 = 0
            var queues: UInt32 = 1
            var mac = [UInt8](repeating: 0, count: 6)
            if egressd_xdp_interface_info(p.pointee.if_name, &up, &queues, &mac) == 0, up != 0 {
                out.append(XDPInterface(name: String(cString: p.pointee.if_name), index: Int32(p.pointee.if_index),
                                        rxQueues: Int(max(1, queues)), mac: mac))
            }
            p += 1
        }
        return out.sorted { $0.index < $1.index }
    }
}

/// The steering program attached to the underlay interfaces, its maps and links.
final class XDPAttachment: @unchecked Sendable {
    /// UMEM geometry per socket: 2048 frames of 4 KiB (8 MiB), half receive, half transmit; rings of 1024.
    static let frameSize: UInt32 = 4096
    static let frameCount: UInt32 = 2048
    static let ringSize: UInt32 = 1024
    /// XDP_PACKET_HEADROOM: the kernel's own headroom before each received frame.
    static let kernelHeadroom: UInt32 = 256
    /// Longest frame steered to a socket (the rest goes to the kernel, and so to the TPACKET ring).
    static var maxFrame: UInt32 { frameSize - kernelHeadroom - UInt32(PacketProcessor.headroom) }

    private(set) var interfaces: [XDPInterface] = []
    /// Interfaces left out and why (another XDP program, a refusal).
    private(set) var skipped: [String] = []
    let steerMap: Int32
    private(set) var xskMaps: [Int32] = []
    private var programs: [Int32] = []
    private var links: [Int32] = []
    /// Keys in the steering map (the control plane's own copy; one thread updates it).
    private var installed = Set<XDPSteeringKey>()
    /// The LPM trie of spoke prefixes (-1 when the kernel has none: spoke-bound
    /// traffic then stays on the TUN path), why not, and what it holds (sorted;
    /// control plane only).
    let spokeMap: Int32
    let spokeMapError: String?
    private var spokeEntries: [XDPSpokePrefixes.Entry] = []
    /// For `show dataplane` (read from other threads): prefixes in the trie,
    /// of them steered (a tunnel route), and the route count when over the cap (else 0).
    let spokeInstalled = ManagedAtomic<Int>(0)
    let spokeSteered = ManagedAtomic<Int>(0)
    let spokeOverCap = ManagedAtomic<Int>(0)
    /// Bpf() calls made on the trie (tests: a publication that changes nothing makes none).
    let spokeUpdates = ManagedAtomic<Int>(0)
    /// The longest IPv4 packet a receive frame holds.
    static var maxSteeredPacket: Int { Int(maxFrame) - 14 }

    /// Loads and attaches the program everywhere it can; throws when nothing
    /// could be attached (no BPF, no XDP, not permitted): the engine then runs tpacket.
    init() throws {
        let map = egressd_bpf_map_create(UInt32(EGRESSD_BPF_MAP_HASH), 8, 4, 1024, "egressd_steer")
        guard map >= 0 else { throw EngineError("create the XDP steering map", errno: -map, hint: Self.hint(-map)) }
        steerMap = map
        let lpm = egressd_bpf_lpm_create(UInt32(XDPSpokePrefixes.cap), "egressd_spokes")
        spokeMap = lpm >= 0 ? lpm : -1
        spokeMapError = lpm >= 0 ? nil : "\(EngineError("create the XDP spoke prefix trie", errno: -lpm, hint: Self.hint(-lpm)))"
        let candidates = XDPInterface.candidates()
        var firstError: EngineError?
        for var f in candidates {
            let xsk = egressd_bpf_map_create(UInt32(EGRESSD_BPF_MAP_XSKMAP), 4, 4, UInt32(max(1, f.rxQueues)), "egressd_xsks")
            guard xsk >= 0 else {
                let e = EngineError("create an XSKMAP for \(f.name)", errno: -xsk, hint: Self.hint(-xsk))
                firstError = firstError ?? e; skipped.append("\(f.name): \(e)"); continue
            }
            let insns = UnsafeMutableRawPointer.allocate(byteCount: 128 * Int(EGRESSD_BPF_INSN_SIZE), alignment: 8)
            let log = UnsafeMutablePointer<CChar>.allocate(capacity: 65536)
            defer { insns.deallocate(); log.deallocate() }
            // Frames addressed to the interface's MAC when it has one, else (NULL) to any.
            let count = f.mac.withUnsafeBufferPointer { mac in
                egressd_xdp_program(OpaquePointer(insns), 128, xsk, map, Self.maxFrame, spokeMap,
                                    mac.count == 6 ? mac.baseAddress : nil)
            }
            let prog = egressd_xdp_load(OpaquePointer(insns), count, log, 65536)
            guard prog >= 0 else {
                let e = EngineError("load the XDP program (verifier: \(String(cString: log).suffix(200)))", errno: -prog, hint: Self.hint(-prog))
                close(xsk); firstError = firstError ?? e; skipped.append("\(f.name): \(e)"); continue
            }
            var native: Int32 = 0
            let link = egressd_xdp_attach(f.index, prog, 1, &native)
            guard link >= 0 else {
                let e = EngineError("attach the XDP program to \(f.name)", errno: -link,
                                    hint: -link == EBUSY ? "another XDP program is attached to it" : Self.hint(-link))
                close(prog); close(xsk); firstError = firstError ?? e; skipped.append("\(f.name): \(e)"); continue
            }
            f.native = native != 0
            interfaces.append(f); xskMaps.append(xsk); programs.append(prog); links.append(link)
        }
        if interfaces.isEmpty {
            close(map)
            if spokeMap >= 0 { close(spokeMap) }
            throw firstError ?? EngineError("attach the XDP program: no Ethernet interface is up", errno: ENODEV)
        }
    }

    static func hint(_ e: Int32) -> String? {
        switch e {
        case EPERM: "XDP needs root or CAP_BPF, CAP_NET_ADMIN and CAP_NET_RAW"
        case ENOSYS, EINVAL, EOPNOTSUPP: "the kernel or driver has no XDP / AF_XDP support"
        default: nil
        }
    }

    /// Makes the steering map hold exactly `keys` (control plane, one thread).
    func steer(_ keys: Set<XDPSteeringKey>) {
        var one: UInt32 = 1
        for k in keys.subtracting(installed) {
            var b = k.bytes
            _ = egressd_bpf_map_update(steerMap, &b, &one)
        }
        for k in installed.subtracting(keys) {
            var b = k.bytes
            _ = egressd_bpf_map_delete(steerMap, &b)
        }
        installed = keys
    }

    /// Whether the kernel's map has `key` (tests, show).
    func isSteered(_ key: XDPSteeringKey) -> Bool {
        var b = key.bytes
        var v: UInt32 = 0
        return egressd_bpf_map_lookup(steerMap, &b, &v) == 0
    }

    /// First half of following a snapshot's IPv4 table in the spoke trie
    /// (before it is published): removes what leaves and lowers limits that
    /// shrink; returns what to add or raise after publishing (`spokesPublished`).
    /// Over the cap: empties the trie (steering off), costing O(1) while it stays over.
    func spokesBeforePublishing(_ snapshot: ForwardingSnapshot) -> [XDPSpokePrefixes.Entry] {
        guard spokeMap >= 0 else { return [] }
        let new: [XDPSpokePrefixes.Entry]
        if XDPSpokePrefixes.overCap(snapshot) {
            spokeOverCap.store(XDPSpokePrefixes.routeCount(snapshot), ordering: .relaxed)
            if spokeEntries.isEmpty { return [] }
            new = []
        } else {
            spokeOverCap.store(0, ordering: .relaxed)
            // No tunnel: nothing to steer (and a BGP feed without tunnels costs nothing here).
            new = snapshot.tunnelSpecs.isEmpty ? [] : XDPSpokePrefixes.entries(of: snapshot, frameLimit: Self.maxSteeredPacket)
        }
        let changes = XDPSpokePrefixes.diff(from: spokeEntries, to: new)
        for e in changes.remove {
            var k = XDPSpokePrefixes.key(e)
            _ = egressd_bpf_map_delete(spokeMap, &k)
        }
        for e in changes.lower { write(e) }
        spokeUpdates.wrappingIncrement(by: changes.remove.count + changes.lower.count, ordering: .relaxed)
        spokeEntries = new
        publishSpokeCounts()
        return changes.raise
    }

    /// Second half: adds the new prefixes and raises limits (after publishing).
    func spokesPublished(_ raise: [XDPSpokePrefixes.Entry]) {
        guard spokeMap >= 0, !raise.isEmpty else { return }
        for e in raise { write(e) }
        spokeUpdates.wrappingIncrement(by: raise.count, ordering: .relaxed)
    }

    private func write(_ e: XDPSpokePrefixes.Entry) {
        var k = XDPSpokePrefixes.key(e)
        var v = UInt32(XDPSpokePrefixes.parts(e).limit)
        _ = egressd_bpf_map_update(spokeMap, &k, &v)
    }

    private func publishSpokeCounts() {
        spokeInstalled.store(spokeEntries.count, ordering: .relaxed)
        spokeSteered.store(spokeEntries.reduce(0) { $0 + ($1 & 0xFFFF != 0 ? 1 : 0) }, ordering: .relaxed)
    }

    /// The limit the kernel's trie has for exactly this prefix (tests), nil when it has none.
    func spokeLimit(address: UInt32, length: UInt8) -> UInt32? {
        guard spokeMap >= 0 else { return nil }
        var k = (UInt32(length), address.bigEndian)
        var v: UInt32 = 0
        return egressd_bpf_map_lookup(spokeMap, &k, &v) == 0 ? v : nil
    }

    /// What the kernel's trie holds (read back from it, at most `limit`
    /// entries; `show dataplane json`, tests): prefix and length limit.
    func spokeTrie(limit: Int) -> [(prefix: IPv4Prefix, limit: UInt32)] {
        guard spokeMap >= 0 else { return [] }
        var out: [(IPv4Prefix, UInt32)] = []
        var key: (UInt32, UInt32) = (0, 0)
        var next: (UInt32, UInt32) = (0, 0)
        var first = true
        while out.count < limit {
            let r = first ? egressd_bpf_map_next_key(spokeMap, nil, &next) : egressd_bpf_map_next_key(spokeMap, &key, &next)
            if r != 0 { break }
            first = false
            key = next
            var v: UInt32 = 0
            var k = key
            guard egressd_bpf_map_lookup(spokeMap, &k, &v) == 0,
                  let p = IPv4Prefix(IPv4Address(UInt32(bigEndian: key.1)), length: Int(key.0)) else { continue }
            out.append((p, v))
        }
        return out
    }

    /// `show dataplane`: whether spoke-bound IPv4 is steered to the sockets, and why not.
    var spokeSteeringDescription: String {
        if let spokeMapError { return "off (\(spokeMapError)); spoke-bound traffic goes through the TUN" }
        let over = spokeOverCap.load(ordering: .relaxed)
        if over > 0 {
            return "off: \(over) routes exceed the cap of \(XDPSpokePrefixes.cap); spoke-bound traffic goes through the TUN"
        }
        return "on: \(spokeSteered.load(ordering: .relaxed)) IPv4 tunnel prefixes steered (\(spokeInstalled.load(ordering: .relaxed)) in the trie); IPv6 through the TUN"
    }

    /// Detaches the program from every interface and frees the maps.
    func detach() {
        for fd in links + programs + xskMaps { close(fd) }
        links = []; programs = []; xskMaps = []
        if steerMap >= 0 { close(steerMap) }
        if spokeMap >= 0 { close(spokeMap) }
    }
}

/// What one worker's AF_XDP sockets hold. Plain pointers, set up before the
/// loop; `count` 0 when the worker has none (other backends).
struct XDPSocketSet {
    static let maxSockets = 16
    let sockets: UnsafeMutablePointer<egressd_xsk>
    let count: Int
    /// A batch's spoke-bound packets (not GRE), set apart from its GRE
    /// (which stays in the ring set's arrays): `batchSize` entries.
    let steerData: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let steerLength: UnsafeMutablePointer<UInt32>

    /// Opens the worker's sockets; on failure closes what it opened and throws.
    init(attachment: XDPAttachment?, worker: Int, workers: Int, batchSize: Int = 64) throws {
        sockets = .allocate(capacity: Self.maxSockets)
        sockets.initialize(repeating: egressd_xsk(), count: Self.maxSockets)
        steerData = .allocate(capacity: max(1, batchSize))
        steerData.initialize(repeating: nil, count: max(1, batchSize))
        steerLength = .allocate(capacity: max(1, batchSize))
        steerLength.initialize(repeating: 0, count: max(1, batchSize))
        guard let attachment else { count = 0; return }
        let mine = XDPInterface.queues(of: attachment.interfaces, worker: worker, workers: workers).prefix(Self.maxSockets)
        var n = 0
        for (i, q) in mine {
            let f = attachment.interfaces[i]
            let r = egressd_xsk_open(sockets + n, f.index, UInt32(q), XDPAttachment.frameSize, XDPAttachment.frameCount,
                                     XDPAttachment.ringSize, UInt32(PacketProcessor.headroom), attachment.xskMaps[i])
            if r < 0 {
                for k in 0..<n { egressd_xsk_close(sockets + k) }
                sockets.deallocate(); steerData.deallocate(); steerLength.deallocate()
                throw EngineError("open an AF_XDP socket on \(f.name) queue \(q)", errno: -r,
                                  hint: -r == EAFNOSUPPORT ? "the kernel has no AF_XDP (CONFIG_XDP_SOCKETS)" : XDPAttachment.hint(-r))
            }
            n += 1
        }
        count = n
    }

    /// The socket for transmitting out of `ifindex`, -1 when this worker has none there.
    @inline(__always)
    func socket(for ifindex: Int32) -> Int {
        var i = 0
        while i < count {
            if sockets[i].ifindex == ifindex { return i }
            i += 1
        }
        return -1
    }

    func close() {
        for i in 0..<count { egressd_xsk_close(sockets + i) }
    }

    func deallocate() { sockets.deallocate(); steerData.deallocate(); steerLength.deallocate() }
}
