// The per-packet decisions of the engine, free of I/O so that tests drive it
// with byte buffers: GRE from a Connect peer in (decapsulate, then deliver to
// the kernel or forward), and packets from the kernel out (ECMP over the
// tunnels, encapsulate). Every received packet ends in exactly one outcome
// counter or one drop reason.
//
// Buffers handed in must have at least `PacketProcessor.headroom` writable
// bytes before the packet: encapsulation writes the outer headers in place.

import Packet

public struct PacketProcessor {
    /// Free bytes every receive slot keeps before the packet.
    public static let headroom = 64
    /// Size of one ICMP scratch slot (an error packet plus its encapsulation).
    public static let icmpSlotSize = 1536
    public static let outerTTL: UInt8 = 255

    public let worker: Int
    public let engineCounters: CounterRow
    /// Scratch memory for ICMP errors: `icmpSlots` × icmpSlotSize bytes.
    let icmpScratch: UnsafeMutableRawPointer
    let icmpSlots: Int
    var icmpUsed = 0

    public init(worker: Int, engineCounters: CounterRow, icmpScratch: UnsafeMutableRawPointer, icmpSlots: Int) {
        self.worker = worker
        self.engineCounters = engineCounters
        self.icmpScratch = icmpScratch
        self.icmpSlots = icmpSlots
    }

    /// Called by the worker after each flush: scratch slots are free again.
    public mutating func resetScratch() { icmpUsed = 0 }

    @inline(__always)
    func engineDrop(_ r: DropReason) { engineCounters.add(EngineCounter.dropBase + r.rawValue) }

    // MARK: From a tunnel

    /// Handles one IPv4 packet received from the GRE socket (`p`, `n` bytes:
    /// outer IPv4 header, GRE, inner packet).
    @inline(__always)
    public mutating func fromTunnel(_ p: UnsafeMutableRawPointer, _ n: Int, view: ForwardingView, out: inout OutputQueue) {
        engineCounters.add(EngineCounter.greReceived.rawValue)
        let raw = UnsafeRawPointer(p)
        guard case .success(let outerLength) = IPv4Header.validate(raw, available: n) else {
            engineDrop(.badOuter); return
        }
        let outer = IPv4Header(p)
        // No reassembly: Connect peers send whole packets (the underlay MTU
        // is 8500 and GRE is sent with DF).
        if outer.isFragment { engineDrop(.badOuter); return }
        let ti = view.tunnel(localOuter: outer.destination.value, remoteOuter: outer.source.value)
        guard ti >= 0 else {
            // Not a tunnel: it may be a packet a cache returns by GRE (Redirect.swift).
            if !returnFromCache4(p, outerLength, outer: outer, view: view, out: &out) { engineDrop(.unknownPeer) }
            return
        }
        let tunnel = view.tunnels[ti]
        let counters = tunnel.counters.row(worker)
        counters.add(TunnelCounter.rxPackets.rawValue)
        counters.add(TunnelCounter.rxBytes.rawValue, UInt64(outerLength))
        @inline(__always) func drop(_ r: DropReason) { counters.add(TunnelCounter.dropBase + r.rawValue) }

        let greStart = outer.headerLength
        let gre: GREHeader
        switch GREHeader.parse(raw + greStart, length: outerLength - greStart) {
        case .success(let g): gre = g
        case .failure(.badChecksum): drop(.greChecksum); return
        case .failure: drop(.badGRE); return
        }
        if gre.key != (tunnel.hasKey ? tunnel.key : nil) { drop(.greKey); return }
        let inner = p + greStart + gre.headerLength
        let available = outerLength - greStart - gre.headerLength
        switch gre.protocolType {
        case EtherType.ipv4:
            guard case .success(let innerLength) = IPv4Header.validate(UnsafeRawPointer(inner), available: available) else {
                drop(.badInner); return
            }
            forwardDecapsulated4(inner, innerLength, tunnelIndex: ti, tunnel: tunnel, counters: counters, view: view, out: &out)
        case EtherType.ipv6:
            guard case .success(let innerLength) = IPv6Header.validate(UnsafeRawPointer(inner), available: available) else {
                drop(.badInner); return
            }
            forwardDecapsulated6(inner, innerLength, tunnelIndex: ti, tunnel: tunnel, counters: counters, view: view, out: &out)
        default:
            drop(.unsupportedPayload)
        }
    }

    @inline(__always)
    mutating func forwardDecapsulated4(_ inner: UnsafeMutableRawPointer, _ length: Int, tunnelIndex ti: Int, tunnel: TunnelEntry,
                                       counters: CounterRow, view: ForwardingView, out: inout OutputQueue) {
        let ip = IPv4Header(inner)
        let ri = view.fib4.lookup(ip.destination.value)
        if ri == noRouteIndex || view.routes[Int(ri)].kind == .local {
            toKernel(inner, length, tunnelIndex: ti, counters: counters, view: view, out: &out)
            return
        }
        let route = view.routes[Int(ri)]
        if route.kind == .blackhole { counters.add(TunnelCounter.dropBase + DropReason.blackhole.rawValue); return }
        // Transit traffic toward the next hop may be redirected to a cache
        // instead (the packet goes unchanged, as routers do for WCCP).
        if route.kind == .nextHop, redirect4(inner, length, view: view, out: &out) {
            counters.add(TunnelCounter.decapRedirected.rawValue)
            out.markLast(tunnel: ti, field: .decapRedirected)
            return
        }
        if ip.ttl <= 1 {
            counters.add(TunnelCounter.dropBase + DropReason.ttlExpired.rawValue)
            if ICMPErrors.mayReport(ip) {
                icmpBack4(about: inner, length, type: ICMPv4Type.timeExceeded, code: 0, rest: 0,
                          tunnelIndex: ti, tunnel: tunnel, counters: counters, view: view, out: &out)
            }
            return
        }
        let egressMTU = route.kind == .nextHop ? Int(route.mtu) : view.tunnels[view.ecmpMember(group: route.index, hash: FlowHash.of(packet: inner, length: length))].innerMTU
        if length > egressMTU {
            if ip.dontFragment {
                counters.add(TunnelCounter.dropBase + DropReason.tooBig.rawValue)
                if ICMPErrors.mayReport(ip) {
                    icmpBack4(about: inner, length, type: ICMPv4Type.destinationUnreachable, code: ICMPv4Type.codeFragmentationNeeded,
                              rest: UInt32(egressMTU), tunnelIndex: ti, tunnel: tunnel, counters: counters, view: view, out: &out)
                }
            } else {
                // The kernel fragments what may be fragmented.
                toKernel(inner, length, tunnelIndex: ti, counters: counters, view: view, out: &out)
            }
            return
        }
        ip.decrementTTL()
        if route.kind == .nextHop {
            let entry = route.mac != 0
                ? OutputEntry(data: inner, length: length, kind: .l2, fd: -1, destination4: ip.destination.value,
                              destination6: .any, txTunnel: -1, interfaceIndex: route.interfaceIndex, mac: route.mac)
                : OutputEntry(data: inner, length: length, kind: .raw4, fd: -1, destination4: ip.destination.value,
                              destination6: .any, txTunnel: -1)
            if out.append(entry) {
                counters.add(TunnelCounter.decapForwarded.rawValue)
                out.markLast(tunnel: ti, field: .decapForwarded)
            } else {
                counters.add(TunnelCounter.dropBase + DropReason.txError.rawValue)
            }
        } else {
            // Spoke to spoke: back out through a tunnel.
            let egress = view.ecmpMember(group: route.index, hash: FlowHash.of(packet: inner, length: length))
            if encapsulate(inner, length, ethertype: EtherType.ipv4, tunnelIndex: egress, view: view, out: &out) {
                counters.add(TunnelCounter.decapForwarded.rawValue)
                out.markLast(tunnel: ti, field: .decapForwarded)
            } else {
                counters.add(TunnelCounter.dropBase + DropReason.txError.rawValue)
            }
        }
    }

    @inline(__always)
    mutating func forwardDecapsulated6(_ inner: UnsafeMutableRawPointer, _ length: Int, tunnelIndex ti: Int, tunnel: TunnelEntry,
                                       counters: CounterRow, view: ForwardingView, out: inout OutputQueue) {
        let ip = IPv6Header(inner)
        let ri = view.fib6.lookup(ip.destination)
        if ri == noRouteIndex || view.routes[Int(ri)].kind == .local {
            toKernel(inner, length, tunnelIndex: ti, counters: counters, view: view, out: &out)
            return
        }
        let route = view.routes[Int(ri)]
        if route.kind == .blackhole { counters.add(TunnelCounter.dropBase + DropReason.blackhole.rawValue); return }
        if ip.hopLimit <= 1 {
            counters.add(TunnelCounter.dropBase + DropReason.ttlExpired.rawValue)
            if ICMPErrors.mayReport(ip, packetTooBig: false) {
                icmpBack6(about: inner, length, type: ICMPv6Type.timeExceeded, code: 0, rest: 0,
                          tunnelIndex: ti, tunnel: tunnel, counters: counters, view: view, out: &out)
            }
            return
        }
        let hash = FlowHash.of(packet: inner, length: length)
        let egressMTU = route.kind == .nextHop ? Int(route.mtu) : view.tunnels[view.ecmpMember(group: route.index, hash: hash)].innerMTU
        if length > egressMTU {
            // IPv6 routers never fragment (RFC 8200 §5).
            counters.add(TunnelCounter.dropBase + DropReason.tooBig.rawValue)
            if ICMPErrors.mayReport(ip, packetTooBig: true) {
                icmpBack6(about: inner, length, type: ICMPv6Type.packetTooBig, code: 0, rest: UInt32(egressMTU),
                          tunnelIndex: ti, tunnel: tunnel, counters: counters, view: view, out: &out)
            }
            return
        }
        ip.hopLimit = ip.hopLimit - 1
        if route.kind == .nextHop {
            if out.append(OutputEntry(data: inner, length: length, kind: .raw6, fd: -1, destination4: 0,
                                      destination6: ip.destination, txTunnel: -1)) {
                counters.add(TunnelCounter.decapForwarded.rawValue)
                out.markLast(tunnel: ti, field: .decapForwarded)
            } else {
                counters.add(TunnelCounter.dropBase + DropReason.txError.rawValue)
            }
        } else {
            let egress = view.ecmpMember(group: route.index, hash: hash)
            if encapsulate(inner, length, ethertype: EtherType.ipv6, tunnelIndex: egress, view: view, out: &out) {
                counters.add(TunnelCounter.decapForwarded.rawValue)
                out.markLast(tunnel: ti, field: .decapForwarded)
            } else {
                counters.add(TunnelCounter.dropBase + DropReason.txError.rawValue)
            }
        }
    }

    /// Hands a decapsulated packet to the kernel through the ingress tunnel's TUN.
    @inline(__always)
    func toKernel(_ inner: UnsafeMutableRawPointer, _ length: Int, tunnelIndex ti: Int, counters: CounterRow,
                  view: ForwardingView, out: inout OutputQueue) {
        let fd = view.tunFDs[ti * view.workers + worker]
        if fd >= 0, out.append(OutputEntry(data: inner, length: length, kind: .tun, fd: fd, destination4: 0,
                                           destination6: .any, txTunnel: -1)) {
            counters.add(TunnelCounter.decapToKernel.rawValue)
            out.markLast(tunnel: ti, field: .decapToKernel)
        } else {
            counters.add(TunnelCounter.dropBase + DropReason.tunError.rawValue)
        }
    }

    // MARK: From the kernel

    /// Handles one packet the kernel sent into a TUN (`p`, `n` bytes, an IP
    /// packet with headroom before it). `tunnelIndex` is the TUN's tunnel.
    /// A tunnel route spreads the packet over its tunnels by flow hash; with
    /// no egressd route the kernel's own choice stands, as with a Linux GRE
    /// device: the packet goes through the TUN's tunnel.
    @inline(__always)
    public mutating func fromKernel(_ p: UnsafeMutableRawPointer, _ n: Int, tunnelIndex: Int, view: ForwardingView,
                                    out: inout OutputQueue) {
        engineCounters.add(EngineCounter.kernelReceived.rawValue)
        guard n >= 1 else { engineDrop(.badInner); return }
        let version = UnsafeRawPointer(p).u8(0) >> 4
        let routeIndex: UInt32
        let ethertype: UInt16
        let length: Int
        if version == 4 {
            guard case .success(let l) = IPv4Header.validate(UnsafeRawPointer(p), available: n) else { engineDrop(.badInner); return }
            routeIndex = view.fib4.lookup(IPv4Header(p).destination.value)
            ethertype = EtherType.ipv4
            length = l
        } else if version == 6 {
            guard case .success(let l) = IPv6Header.validate(UnsafeRawPointer(p), available: n) else { engineDrop(.badInner); return }
            routeIndex = view.fib6.lookup(IPv6Header(p).destination)
            ethertype = EtherType.ipv6
            length = l
        } else {
            engineDrop(.badInner); return
        }
        toTunnels(p, length, version: version, ethertype: ethertype, routeIndex: routeIndex, tunnelIndex: tunnelIndex,
                  view: view, out: &out)
    }

    /// A spoke-bound IPv4 packet that the XDP program steered to an AF_XDP
    /// socket instead of the kernel (IO/XDPSockets.swift; it checked IHL 5,
    /// not a fragment, TTL > 1, a tunnel route's prefix, the tunnel's MTU).
    /// Does what the kernel's forwarding into the TUN did (TTL decrement with
    /// the RFC 1624 checksum update), then the TUN path's own per-packet tail
    /// (`toTunnels`: ECMP, counters, MTU, encapsulation). Returns false, with
    /// the packet untouched, when it is not one to encapsulate after all (the
    /// steering map and the snapshot this worker holds disagree for a moment
    /// around a publication): the caller counts it.
    @inline(__always)
    public mutating func fromSteered(_ p: UnsafeMutableRawPointer, _ n: Int, view: ForwardingView, out: inout OutputQueue) -> Bool {
        guard case .success(let length) = IPv4Header.validate(UnsafeRawPointer(p), available: n) else {
            engineDrop(.badInner); return true
        }
        let ip = IPv4Header(p)
        let routeIndex = view.fib4.lookup(ip.destination.value)
        guard routeIndex != noRouteIndex, view.routes[Int(routeIndex)].kind == .tunnels, ip.ttl > 1, !ip.isFragment else { return false }
        ip.decrementTTL()
        Self.completePartialChecksum(p, length)
        toTunnels(p, length, version: 4, ethertype: EtherType.ipv4, routeIndex: routeIndex, tunnelIndex: 0, view: view, out: &out)
        return true
    }

    /// A packet that another network namespace's stack sent over veth comes
    /// with its TCP/UDP checksum still partial (CHECKSUM_PARTIAL: the field
    /// holds the folded pseudo-header sum, and the device was to finish the
    /// rest). On its way into a TUN the kernel finishes it (or says
    /// NEEDS_CSUM, which receiveTUN completes); XDP only sees the bytes.
    /// When the field holds exactly the pseudo-header sum, finish it: one sum
    /// over the transport bytes. A complete checksum that happens to equal
    /// that value is rewritten to itself (completing it gives the same
    /// field), and any other packet costs a pseudo-header sum and a compare.
    @inline(__always)
    static func completePartialChecksum(_ p: UnsafeMutableRawPointer, _ length: Int) {
        let ip = IPv4Header(p)
        let hl = ip.headerLength
        let proto = ip.proto
        let at: Int
        if proto == IPProtocolNumber.tcp, length >= hl + 20 {
            at = hl + 16
        } else if proto == IPProtocolNumber.udp, length >= hl + 8 {
            at = hl + 6
        } else {
            return
        }
        let l4 = length - hl
        let pseudo = InternetChecksum.pseudoHeaderSum(source: ip.source, destination: ip.destination, protocol: proto, length: l4)
        guard UnsafeRawPointer(p).u16(at) == ~InternetChecksum.finish(pseudo) else { return }
        let c = InternetChecksum.finish(InternetChecksum.partialSum(UnsafeRawPointer(p + hl), l4))
        p.setU16(InternetChecksum.transportField(c, isUDP: proto == IPProtocolNumber.udp), at)
    }

    /// The kernel-side path's per-packet tail: the route's tunnel by flow
    /// hash (else `tunnelIndex`), counters, the MTU check, encapsulation.
    @inline(__always)
    mutating func toTunnels(_ p: UnsafeMutableRawPointer, _ length: Int, version: UInt8, ethertype: UInt16, routeIndex: UInt32,
                            tunnelIndex: Int, view: ForwardingView, out: inout OutputQueue) {
        var egress = tunnelIndex
        if routeIndex != noRouteIndex {
            let route = view.routes[Int(routeIndex)]
            if route.kind == .blackhole { engineDrop(.blackhole); return }
            if route.kind == .tunnels {
                egress = view.ecmpMember(group: route.index, hash: FlowHash.of(packet: p, length: length))
            }
        }
        let tunnel = view.tunnels[egress]
        let counters = tunnel.counters.row(worker)
        counters.add(TunnelCounter.kernelInput.rawValue)
        if length > tunnel.innerMTU {
            counters.add(TunnelCounter.dropBase + DropReason.tooBig.rawValue)
            tooBigToKernel(p, length, version: version, mtu: tunnel.innerMTU, tunnelIndex: tunnelIndex, view: view, out: &out)
            return
        }
        if encapsulate(p, length, ethertype: ethertype, tunnelIndex: egress, view: view, out: &out) {
            counters.add(TunnelCounter.encapFromKernel.rawValue)
            out.markLast(tunnel: egress, field: .encapFromKernel)
        } else {
            counters.add(TunnelCounter.dropBase + DropReason.txError.rawValue)
        }
    }

    // MARK: Encapsulation and ICMP

    /// Writes outer IPv4 + GRE in front of `inner` and queues it for the
    /// tunnel's remote end. Returns false when the queue is full.
    @inline(__always)
    func encapsulate(_ inner: UnsafeMutableRawPointer, _ length: Int, ethertype: UInt16, tunnelIndex: Int,
                     view: ForwardingView, out: inout OutputQueue) -> Bool {
        let t = view.tunnels[tunnelIndex]
        let greLength = t.hasKey ? 8 : 4
        let start = inner - (20 + greLength)
        let total = length + 20 + greLength
        IPv4Header.write(into: start, totalLength: total, dontFragment: true, ttl: Self.outerTTL, proto: IPProtocolNumber.gre,
                         source: IPv4Address(t.localOuter), destination: IPv4Address(t.remoteOuter))
        GREHeader.write(into: start + 20, protocolType: ethertype, key: t.hasKey ? t.key : nil)
        return out.append(OutputEntry(data: start, length: total, kind: .raw4, fd: -1, destination4: t.remoteOuter,
                                      destination6: .any, txTunnel: Int32(tunnelIndex)))
    }

    /// A scratch slot for an ICMP error, or nil when all are in use.
    @inline(__always)
    mutating func icmpSlot() -> UnsafeMutableRawPointer? {
        guard icmpUsed < icmpSlots else { return nil }
        defer { icmpUsed += 1 }
        return icmpScratch + icmpUsed * Self.icmpSlotSize + Self.headroom
    }

    /// Sends an ICMPv4 error about a decapsulated packet back into the tunnel it came from.
    @inline(__always)
    mutating func icmpBack4(about packet: UnsafeMutableRawPointer, _ length: Int, type: UInt8, code: UInt8, rest: UInt32,
                            tunnelIndex: Int, tunnel: TunnelEntry, counters: CounterRow, view: ForwardingView, out: inout OutputQueue) {
        guard let slot = icmpSlot() else { return }
        let source = IPv4Address(tunnel.insideV4 != 0 ? tunnel.insideV4 : tunnel.localOuter)
        let n = ICMPErrors.writeV4(into: slot, capacity: Self.icmpSlotSize - Self.headroom - 8, offending: UnsafeRawPointer(packet),
                                   offendingLength: length, type: type, code: code, restOfHeader: rest, source: source)
        if n > 0, encapsulate(slot, n, ethertype: EtherType.ipv4, tunnelIndex: tunnelIndex, view: view, out: &out) {
            counters.add(TunnelCounter.icmpSent.rawValue)
        }
    }

    @inline(__always)
    mutating func icmpBack6(about packet: UnsafeMutableRawPointer, _ length: Int, type: UInt8, code: UInt8, rest: UInt32,
                            tunnelIndex: Int, tunnel: TunnelEntry, counters: CounterRow, view: ForwardingView, out: inout OutputQueue) {
        guard tunnel.insideV6 != .any, let slot = icmpSlot() else { return }
        let n = ICMPErrors.writeV6(into: slot, capacity: Self.icmpSlotSize - Self.headroom - 8, offending: UnsafeRawPointer(packet),
                                   offendingLength: length, type: type, code: code, restOfHeader: rest, source: tunnel.insideV6)
        if n > 0, encapsulate(slot, n, ethertype: EtherType.ipv6, tunnelIndex: tunnelIndex, view: view, out: &out) {
            counters.add(TunnelCounter.icmpSent.rawValue)
        }
    }

    /// Answers a packet from the kernel that is too big for the chosen
    /// tunnel: the error goes back into the TUN, and the kernel routes it.
    @inline(__always)
    mutating func tooBigToKernel(_ p: UnsafeMutableRawPointer, _ length: Int, version: UInt8, mtu: Int, tunnelIndex: Int,
                                 view: ForwardingView, out: inout OutputQueue) {
        let t = view.tunnels[tunnelIndex]
        let fd = view.tunFDs[tunnelIndex * view.workers + worker]
        guard fd >= 0, let slot = icmpSlot() else { return }
        var n = 0
        if version == 4 {
            let ip = IPv4Header(p)
            guard ip.dontFragment, ICMPErrors.mayReport(ip) else { return }
            let source = IPv4Address(t.insideV4 != 0 ? t.insideV4 : t.localOuter)
            n = ICMPErrors.writeV4(into: slot, capacity: Self.icmpSlotSize - Self.headroom - 8, offending: UnsafeRawPointer(p),
                                   offendingLength: length, type: ICMPv4Type.destinationUnreachable,
                                   code: ICMPv4Type.codeFragmentationNeeded, restOfHeader: UInt32(mtu), source: source)
        } else {
            guard t.insideV6 != .any, ICMPErrors.mayReport(IPv6Header(p), packetTooBig: true) else { return }
            n = ICMPErrors.writeV6(into: slot, capacity: Self.icmpSlotSize - Self.headroom - 8, offending: UnsafeRawPointer(p),
                                   offendingLength: length, type: ICMPv6Type.packetTooBig, code: 0,
                                   restOfHeader: UInt32(mtu), source: t.insideV6)
        }
        if n > 0, out.append(OutputEntry(data: slot, length: n, kind: .tun, fd: fd, destination4: 0, destination6: .any, txTunnel: -1)) {
            t.counters.row(worker).add(TunnelCounter.icmpSent.rawValue)
        }
    }
}
