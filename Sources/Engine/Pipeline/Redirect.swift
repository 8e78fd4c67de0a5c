// The WCCP redirect stage (draft-wilson-wrec-wccp-v2 §4.10-4.12): for a
// transit packet, the first service (by priority) whose protocol and ports
// match decides. Its redirect-list may deny (forward normally); otherwise the
// bucket hash or the mask/value sets pick a cache, and the packet goes to it
// by GRE (0x883E + redirect header) or L2 (same packet, cache's MAC). No
// usable cache for the flow: forward normally (fail open), counted.

import Packet

extension PacketProcessor {
    /// Returns true when the packet was redirected (it is then queued).
    @inline(__always)
    func redirect4(_ p: UnsafeMutableRawPointer, _ length: Int, view: ForwardingView, out: inout OutputQueue) -> Bool {
        let r = view.redirect
        if r.serviceCount == 0 { return false }
        let ip = IPv4Header(p)
        let proto = ip.proto
        guard proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp, !ip.isNonFirstFragment,
              length >= ip.headerLength + 4 else { return false }
        let l4 = UnsafeRawPointer(ip.payload)
        let sport = l4.u16(0)
        let dport = l4.u16(2)
        let src = ip.source.value
        let dst = ip.destination.value
        var i = 0
        while i < r.serviceCount {
            let s = r.services[i]
            i += 1
            guard s.protocolNumber == proto, Self.portsMatch(s, source: sport, destination: dport) else { continue }
            let counters = s.counters.row(worker)
            // A cache's own traffic (its fetches) is never redirected (§4.10).
            var c = 0
            while c < s.cacheCount {
                if r.caches[s.cacheStart + c].address == src { return false }
                c += 1
            }
            if s.aclCount >= 0, !Self.permits(r, s, proto: proto, src: src, dst: dst, sport: sport, dport: dport) {
                counters.add(RedirectCounter.denied)
                return false
            }
            var slot = -1
            var primary: UInt8 = 0
            var alternate: UInt8? = nil
            if s.kind == 1 {
                primary = WCCPBucketHash.bucket(selector: s.hashFlags & 0xF, srcIP: src, dstIP: dst, srcPort: sport, dstPort: dport)
                var entry = r.buckets[s.bucketStart + Int(primary)]
                if entry != 0xFF && entry & 0x80 != 0 {
                    let a = WCCPBucketHash.bucket(selector: (s.hashFlags >> 8) & 0xF, srcIP: src, dstIP: dst, srcPort: sport, dstPort: dport)
                    alternate = a
                    entry = r.buckets[s.bucketStart + Int(a)]
                }
                if entry != 0xFF { slot = Int(entry & 0x7F) }
            } else if s.kind == 2 {
                slot = Self.maskMatch(r, s, src: src, dst: dst, sport: sport, dport: dport)
            }
            guard slot >= 0, slot < s.cacheCount, r.caches[s.cacheStart + slot].usable else {
                counters.add(RedirectCounter.failedOpen)
                return false
            }
            let cache = r.caches[s.cacheStart + slot]
            let queued: Bool
            if cache.l2 {
                let m = cache.mac
                let mac = UInt64(m.0) << 40 | UInt64(m.1) << 32 | UInt64(m.2) << 24 | UInt64(m.3) << 16 | UInt64(m.4) << 8 | UInt64(m.5)
                queued = out.append(OutputEntry(data: p, length: length, kind: .l2, fd: -1, destination4: cache.address,
                                                destination6: .any, txTunnel: -1, interfaceIndex: cache.interfaceIndex, mac: mac))
            } else {
                let start = p - (20 + 4 + WCCPRedirectHeader.length)
                let total = length + 20 + 4 + WCCPRedirectHeader.length
                IPv4Header.write(into: start, totalLength: total, dontFragment: false, ttl: Self.outerTTL,
                                 proto: IPProtocolNumber.gre, source: IPv4Address(cache.greSource),
                                 destination: IPv4Address(cache.address))
                GREHeader.write(into: start + 20, protocolType: EtherType.wccp, key: nil)
                WCCPRedirectHeader.write(into: start + 24, dynamic: s.dynamic, serviceID: s.serviceID,
                                         alternateBucket: alternate, primaryBucket: primary)
                queued = out.append(OutputEntry(data: start, length: total, kind: .raw4, fd: -1, destination4: cache.address,
                                                destination6: .any, txTunnel: -1))
            }
            guard queued else { return false }
            counters.add(RedirectCounter.redirected)
            counters.add(RedirectCounter.cacheBase + slot)
            if s.kind == 1 { counters.add(RedirectCounter.bucketBase + Int(alternate ?? primary)) }
            return true
        }
        return false
    }

    /// A packet a cache sends back by GRE (return method GRE, draft §4.13: the cache bypasses a
    /// flow, or hands back what it cannot serve): GRE from a known cache to this router, protocol
    /// 0x883E with the 4-byte redirect header (or plain 0x0800). The inner packet is forwarded
    /// normally, never redirected again. Returns false when the sender is no cache of any service
    /// (the caller then counts an unknown peer). Only GRE from non-tunnel sources gets here.
    @inline(__always)
    func returnFromCache4(_ p: UnsafeMutableRawPointer, _ outerLength: Int, outer: IPv4Header, view: ForwardingView,
                          out: inout OutputQueue) -> Bool {
        let r = view.redirect
        if r.serviceCount == 0 { return false }
        let source = outer.source.value
        var counters: CounterRow? = nil
        var i = 0
        search: while i < r.serviceCount {
            let s = r.services[i]
            i += 1
            var c = 0
            while c < s.cacheCount {
                let cache = r.caches[s.cacheStart + c]
                if cache.address == source, !cache.l2 {
                    counters = s.counters.row(worker)
                    break search
                }
                c += 1
            }
        }
        guard let counters else { return false }
        let raw = UnsafeRawPointer(p)
        let greStart = outer.headerLength
        guard case .success(let gre) = GREHeader.parse(raw + greStart, length: outerLength - greStart) else {
            engineDrop(.badGRE); return true
        }
        var inner = p + greStart + gre.headerLength
        var available = outerLength - greStart - gre.headerLength
        switch gre.protocolType {
        case EtherType.wccp:
            guard available > WCCPRedirectHeader.length else { engineDrop(.badInner); return true }
            inner += WCCPRedirectHeader.length
            available -= WCCPRedirectHeader.length
        case EtherType.ipv4:
            break
        default:
            engineDrop(.unsupportedPayload); return true
        }
        guard case .success(let length) = IPv4Header.validate(UnsafeRawPointer(inner), available: available) else {
            engineDrop(.badInner); return true
        }
        let ip = IPv4Header(inner)
        let ri = view.fib4.lookup(ip.destination.value)
        guard ri != noRouteIndex else { engineDrop(.blackhole); return true }
        let route = view.routes[Int(ri)]
        guard route.kind == .nextHop || route.kind == .tunnels else { engineDrop(.blackhole); return true }
        if ip.ttl <= 1 { engineDrop(.ttlExpired); return true }
        ip.decrementTTL()
        let queued: Bool
        if route.kind == .nextHop {
            // Past the MTU the kernel's raw path fragments (DF clear) or refuses (tx-error).
            queued = route.mac != 0 && length <= Int(route.mtu)
                ? out.append(OutputEntry(data: inner, length: length, kind: .l2, fd: -1, destination4: ip.destination.value,
                                         destination6: .any, txTunnel: -1, interfaceIndex: route.interfaceIndex, mac: route.mac))
                : out.append(OutputEntry(data: inner, length: length, kind: .raw4, fd: -1, destination4: ip.destination.value,
                                         destination6: .any, txTunnel: -1))
        } else {
            let egress = view.ecmpMember(group: route.index, hash: FlowHash.of(packet: inner, length: length))
            queued = encapsulate(inner, length, ethertype: EtherType.ipv4, tunnelIndex: egress, view: view, out: &out)
        }
        if queued { counters.add(RedirectCounter.returned) } else { engineDrop(.txError) }
        return true
    }

    @inline(__always)
    static func portsMatch(_ s: ServiceEntry, source: UInt16, destination: UInt16) -> Bool {
        if s.portCount == 0 { return true }
        let port = s.portsAreSource ? source : destination
        return withUnsafeBytes(of: s.ports) { raw in
            let ports = raw.bindMemory(to: UInt16.self)
            var k = 0
            while k < s.portCount {
                if ports[k] == port { return true }
                k += 1
            }
            return false
        }
    }

    @inline(__always)
    static func permits(_ r: RedirectView, _ s: ServiceEntry, proto: UInt8, src: UInt32, dst: UInt32,
                        sport: UInt16, dport: UInt16) -> Bool {
        var k = 0
        while k < s.aclCount {
            let a = r.acl[s.aclStart + k]
            k += 1
            if !a.anyProtocol && a.protocolNumber != proto { continue }
            if src & a.sourceMask != a.source || dst & a.destinationMask != a.destination { continue }
            if sport < a.sourcePortLow || sport > a.sourcePortHigh { continue }
            if dport < a.destinationPortLow || dport > a.destinationPortHigh { continue }
            return a.permit
        }
        return false // the implicit deny at the end of every access list
    }

    @inline(__always)
    static func maskMatch(_ r: RedirectView, _ s: ServiceEntry, src: UInt32, dst: UInt32, sport: UInt16, dport: UInt16) -> Int {
        var k = 0
        while k < s.maskSetCount {
            let m = r.maskSets[s.maskSetStart + k]
            k += 1
            let ms = src & m.sourceIPMask, md = dst & m.destinationIPMask
            let mp = sport & m.sourcePortMask, mq = dport & m.destinationPortMask
            var v = 0
            while v < m.valueCount {
                let e = r.maskValues[m.valueStart + v]
                if e.sourceIP == ms && e.destinationIP == md && e.sourcePort == mp && e.destinationPort == mq { return e.cacheIndex }
                v += 1
            }
        }
        return -1
    }
}
