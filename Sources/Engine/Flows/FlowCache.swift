// Flow accounting for IPFIX export. Each worker owns a FlowCache: an
// open-addressed table of preallocated slots keyed by the IPv4 5-tuple and
// the tunnel, updated for every packet the worker queued for sending (no
// allocation, no lock, no ARC: plain pointers). The same worker expires
// flows (inactive / active timeout, or eviction when its probe run is full)
// into its FlowRing, a single-producer single-consumer ring the control
// plane's exporter drains; a full ring loses the record and counts it.
// Flows are recorded only while an exporter is configured
// (Engine.flowTimeouts active > 0).

import Atomics
import Packet

/// One flow: key, counters, times (monotonic ns) and the egress decision.
public struct FlowSlot: Sendable {
    public var source: UInt32 = 0
    public var destination: UInt32 = 0
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var proto: UInt8 = 0
    public var used: UInt8 = 0
    /// 1 forwarded, 2 redirected, 3 kernel, 4 encapsulated (IPFIXFlowRecord.Decision).
    public var decision: UInt8 = 0
    /// WCCP service when redirected.
    public var service: UInt8 = 0
    /// 1 idle, 2 active timeout, 5 lack of resources (RFC 5102 flowEndReason); set on export.
    public var endReason: UInt8 = 0
    public var tunnel: Int32 = 0
    /// The cache (redirected) or the tunnel's remote end (encapsulated); 0 otherwise.
    public var nextHop: UInt32 = 0
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    public var first: UInt64 = 0
    public var last: UInt64 = 0
    /// IPv6 flows (`source`/`destination` are 0 then); .any for IPv4 flows.
    public var source6: IPv6Address = .any
    public var destination6: IPv6Address = .any
    public var isIPv6: Bool { source6 != .any || destination6 != .any }
}

/// A bounded single-producer (a worker) single-consumer (the exporter) ring.
public final class FlowRing: @unchecked Sendable {
    public let capacity: Int
    let slots: UnsafeMutablePointer<FlowSlot>
    let head = ManagedAtomic<Int>(0)   // next to write (producer)
    let tail = ManagedAtomic<Int>(0)   // next to read (consumer)

    public init(capacity: Int) {
        self.capacity = capacity
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: FlowSlot(), count: capacity)
    }

    deinit { slots.deallocate() }

    /// Producer side. False when full.
    @inline(__always)
    func push(_ s: FlowSlot) -> Bool {
        let h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .acquiring)
        if h - t >= capacity { return false }
        slots[h % capacity] = s
        head.store(h + 1, ordering: .releasing)
        return true
    }

    /// Consumer side: everything queued so far.
    public func drain() -> [FlowSlot] {
        let t = tail.load(ordering: .relaxed)
        let h = head.load(ordering: .acquiring)
        var out: [FlowSlot] = []
        out.reserveCapacity(h - t)
        for i in t..<h { out.append(slots[i % capacity]) }
        tail.store(h, ordering: .releasing)
        return out
    }
}

/// A worker's flow table (owned by the worker; pointers only on the packet path).
struct FlowCache {
    static let capacity = 16384           // power of two
    static let probes = 8
    static let scanPerRound = 256
    let slots: UnsafeMutablePointer<FlowSlot>

    init() {
        slots = .allocate(capacity: Self.capacity)
        slots.initialize(repeating: FlowSlot(), count: Self.capacity)
    }

    func deallocate() { slots.deallocate() }

    /// Forgets every flow (export switched on again).
    func clear() {
        for i in 0..<Self.capacity { slots[i].used = 0 }
    }

    /// Accounts one packet of a flow. Returns the slot evicted to make room
    /// (to export), if any.
    @inline(__always)
    func update(source: UInt32, destination: UInt32, sourcePort: UInt16, destinationPort: UInt16, proto: UInt8,
                tunnel: Int32, bytes: Int, decision: UInt8, service: UInt8, nextHop: UInt32, now: UInt64,
                evicted: inout FlowSlot, source6: IPv6Address = .any, destination6: IPv6Address = .any) -> Bool {
        let ports = UInt64(sourcePort) << 48 | UInt64(destinationPort) << 32 | UInt64(proto) << 24 | UInt64(UInt32(bitPattern: tunnel))
        let v6 = source6.high ^ source6.low &* 31 ^ destination6.high &* 17 ^ destination6.low
        let h = FlowHash.mix((UInt64(source) << 32 | UInt64(destination)) ^ ports ^ v6)
        var i = Int(truncatingIfNeeded: h) & (Self.capacity - 1)
        var oldest = i
        var k = 0
        while k < Self.probes {
            let p = slots + i
            if p.pointee.used == 0 {
                p.pointee = FlowSlot(source: source, destination: destination, sourcePort: sourcePort, destinationPort: destinationPort,
                                     proto: proto, used: 1, decision: decision, service: service, endReason: 0, tunnel: tunnel,
                                     nextHop: nextHop, packets: 1, bytes: UInt64(bytes), first: now, last: now,
                                     source6: source6, destination6: destination6)
                return false
            }
            if p.pointee.source == source && p.pointee.destination == destination && p.pointee.sourcePort == sourcePort
                && p.pointee.destinationPort == destinationPort && p.pointee.proto == proto && p.pointee.tunnel == tunnel
                && p.pointee.source6 == source6 && p.pointee.destination6 == destination6 {
                p.pointee.packets &+= 1
                p.pointee.bytes &+= UInt64(bytes)
                p.pointee.last = now
                p.pointee.decision = decision
                p.pointee.service = service
                p.pointee.nextHop = nextHop
                return false
            }
            if p.pointee.last < slots[oldest].last { oldest = i }
            i = (i + 1) & (Self.capacity - 1)
            k += 1
        }
        // Every probed slot holds another flow: the least recently seen one goes out.
        evicted = slots[oldest]
        evicted.endReason = 5
        slots[oldest] = FlowSlot(source: source, destination: destination, sourcePort: sourcePort, destinationPort: destinationPort,
                                 proto: proto, used: 1, decision: decision, service: service, endReason: 0, tunnel: tunnel,
                                 nextHop: nextHop, packets: 1, bytes: UInt64(bytes), first: now, last: now,
                                 source6: source6, destination6: destination6)
        return true
    }

    /// Expires up to `count` slots (a worker scans `scanPerRound` per busy
    /// round, the whole table when idle) from the cursor on: inactive
    /// flows leave the table, long-lived ones are exported and restart.
    func expire(now: UInt64, active: UInt64, inactive: UInt64, ring: FlowRing, lost: CounterRow, cursor: inout Int,
                slots count: Int = FlowCache.scanPerRound) {
        var n = 0
        while n < count {
            let p = slots + cursor
            cursor = (cursor + 1) & (Self.capacity - 1)
            n += 1
            guard p.pointee.used != 0 else { continue }
            if now &- p.pointee.last >= inactive {
                var s = p.pointee
                s.endReason = 1
                if !ring.push(s) { lost.add(EngineCounter.flowRecordsLost.rawValue) }
                p.pointee.used = 0
            } else if now &- p.pointee.first >= active {
                var s = p.pointee
                s.endReason = 2
                if !ring.push(s) { lost.add(EngineCounter.flowRecordsLost.rawValue) }
                p.pointee.packets = 0
                p.pointee.bytes = 0
                p.pointee.first = now
            }
        }
    }

    /// Records the flow of a packet queued with an outcome (entry `e`).
    @inline(__always)
    func record(_ e: OutputEntry, view: ForwardingView, now: UInt64, ring: FlowRing, lost: CounterRow) {
        guard e.countTunnel >= 0 else { return }
        var inner = UnsafeRawPointer(e.data)
        var decision: UInt8 = 1
        var service: UInt8 = 0
        var nextHop: UInt32 = 0
        switch e.countField {
        case Int32(TunnelCounter.decapRedirected.rawValue):
            decision = 2
            nextHop = e.destination4
            if e.kind == .raw4 {
                service = inner.u8(25)        // WCCP redirect header after outer IPv4 + GRE
                inner += 28
            } else {
                service = view.redirect.serviceOf(cache: e.destination4)
            }
        case Int32(TunnelCounter.decapToKernel.rawValue):
            decision = 3
        case Int32(TunnelCounter.encapFromKernel.rawValue):
            decision = 4
            nextHop = e.destination4
            inner += 20 + (view.tunnels[Int(e.countTunnel)].hasKey ? 8 : 4)
        default:
            if e.txTunnel >= 0 {     // spoke to spoke: encapsulated again
                nextHop = e.destination4
                inner += 20 + (view.tunnels[Int(e.txTunnel)].hasKey ? 8 : 4)
            }
        }
        var evicted = FlowSlot()
        if inner.u8(0) >> 4 == 6 {
            let ip6 = IPv6Header(UnsafeMutableRawPointer(mutating: inner))
            let next = ip6.nextHeader
            var sport6: UInt16 = 0, dport6: UInt16 = 0
            if next == IPProtocolNumber.tcp || next == IPProtocolNumber.udp {   // no extension-header walk
                sport6 = UnsafeRawPointer(ip6.payload).u16(0)
                dport6 = UnsafeRawPointer(ip6.payload).u16(2)
            }
            if update(source: 0, destination: 0, sourcePort: sport6, destinationPort: dport6, proto: next, tunnel: e.countTunnel,
                      bytes: IPv6Header.length + ip6.payloadLength, decision: decision, service: service, nextHop: nextHop,
                      now: now, evicted: &evicted, source6: ip6.source, destination6: ip6.destination) {
                if !ring.push(evicted) { lost.add(EngineCounter.flowRecordsLost.rawValue) }
            }
            return
        }
        guard inner.u8(0) >> 4 == 4 else { return }
        let ip = IPv4Header(UnsafeMutableRawPointer(mutating: inner))
        var sport: UInt16 = 0, dport: UInt16 = 0
        let proto = ip.proto
        if (proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp) && !ip.isNonFirstFragment {
            let l4 = UnsafeRawPointer(ip.payload)
            sport = l4.u16(0)
            dport = l4.u16(2)
        }
        if update(source: ip.source.value, destination: ip.destination.value, sourcePort: sport, destinationPort: dport, proto: proto,
                  tunnel: e.countTunnel, bytes: Int(ip.totalLength), decision: decision, service: service, nextHop: nextHop,
                  now: now, evicted: &evicted) {
            if !ring.push(evicted) { lost.add(EngineCounter.flowRecordsLost.rawValue) }
        }
    }
}

extension RedirectView {
    /// The service whose caches include `cache` (L2 redirects carry no
    /// header naming it); 0 when none does.
    @inline(__always)
    func serviceOf(cache: UInt32) -> UInt8 {
        var i = 0
        while i < serviceCount {
            let s = services[i]
            var c = 0
            while c < s.cacheCount {
                if caches[s.cacheStart + c].address == cache { return s.serviceID }
                c += 1
            }
            i += 1
        }
        return 0
    }
}
