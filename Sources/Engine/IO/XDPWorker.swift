// The worker's AF_XDP hooks (`.afxdp`): its sockets in the poll set, the
// receive of their RX rings in batches into the packet processor (frames
// handed back to the fill ring after the batch is flushed: outer headers
// are written in place, in the UMEM headroom, as with the TPACKET ring):
// GRE to the decapsulation path, spoke-bound IPv4 (steered by the XDP
// program's LPM trie) to the TUN path's encapsulation, and the transmit of
// frames to next-hop MACs through the socket of the egress interface.
// Interfaces this worker has no socket on fall through to the TPACKET_V2
// transmit rings (Worker.flush).

import CEgressSys
import Packet

extension Worker {
    /// Appends the sockets' fds to the poll set (as many as fit); returns the new count.
    @inline(__always)
    func addXDPPollFDs(_ start: Int) -> Int {
        var n = start
        var i = 0
        while i < xsks.count && n < Self.maxPollFDs {
            pollFDs[n] = xsks.sockets[i].fd; pollTunnel[n] = -2; n += 1
            i += 1
        }
        return n
    }

    /// Drains every socket's RX ring in batches (at most 4 per socket per
    /// round, so TUNs get their turn). Returns the packets handled.
    /// `flows`: flow export is on (run() loaded it this round; no class reference touched here).
    @inline(__always)
    func receiveXDP(flows: Bool, view: ForwardingView, processor: inout PacketProcessor, out: inout OutputQueue) -> Int {
        var handled = 0
        var s = 0
        while s < xsks.count {
            let x = xsks.sockets + s
            s += 1
            for _ in 0..<4 {
                let got = Int(egressd_xsk_rx_batch(x, rings.rxData, rings.rxLength, Int32(batchSize)))
                if got <= 0 {
                    egressd_xsk_rx_release(x)
                    break
                }
                handled += got
                engineRow.add(EngineCounter.batches.rawValue)
                ioRow.add(IOCounter.xskReceived.rawValue, UInt64(got))
                // GRE stays in rxData (moved up, in order); the rest is spoke-bound: the program
                // steers only GRE and, by the trie, IPv4 that is not GRE.
                let data = rings.rxData, lengths = rings.rxLength
                var gre = 0, spoke = 0
                for i in 0..<got {
                    let p = data[i].unsafelyUnwrapped
                    if p.load(fromByteOffset: 9, as: UInt8.self) == IPProtocolNumber.gre {
                        data[gre] = p; lengths[gre] = lengths[i]; gre += 1
                    } else {
                        xsks.steerData[spoke] = p; xsks.steerLength[spoke] = lengths[i]; spoke += 1
                    }
                }
                if gre > 0 { fromTunnel(batch: gre, flows: flows, view: view, processor: &processor, out: &out) }
                if spoke > 0 { fromSteered(batch: spoke, flows: flows, view: view, processor: &processor, out: &out) }
                flush(view: view, processor: &processor, out: &out)
                egressd_xsk_rx_release(x)
                if got < batchSize { break }
            }
        }
        return handled
    }

    /// Runs the TUN path's per-packet function over a batch of spoke-bound
    /// IPv4 packets from the AF_XDP sockets (`xsks.steerData` / `steerLength`),
    /// with flow accounting and the capture tap as receiveTUN does them.
    @inline(__always)
    func fromSteered(batch n: Int, flows: Bool, view: ForwardingView, processor: inout PacketProcessor, out: inout OutputQueue) {
        let now = flows ? Self.nanoseconds() : 0
        let tapRef = tapNow.pointee
        let (sec, usec) = tapRef != nil ? Self.wallClock() : (0, 0)
        var missed = 0
        for i in 0..<n {
            let p = xsks.steerData[i].unsafelyUnwrapped
            let before = out.count
            guard processor.fromSteered(p, Int(xsks.steerLength[i]), view: view, out: &out) else { missed += 1; continue }
            if flows { recordFlows(out, from: before, view: view, now: now) }
            if let tapRef { tapRef._withUnsafeGuaranteedRef { tapSent($0, out, from: before, view: view, seconds: sec, microseconds: usec) } }
        }
        ioRow.add(IOCounter.xskSteered.rawValue, UInt64(n - missed))
        if missed > 0 { ioRow.add(IOCounter.xskSteerMiss.rawValue, UInt64(missed)) }
    }

    /// Queues one frame toward `mac` on this worker's socket of `ifindex`;
    /// false when it has none there or no room (the caller sends it another way).
    @inline(__always)
    func xdpTransmit(_ e: OutputEntry, ifindex: Int32, mac: UInt64, view: ForwardingView) -> Bool {
        let s = xsks.socket(for: ifindex)
        if s < 0 { return false }
        if egressd_xsk_tx_put(xsks.sockets + s, mac, e.data, UInt32(truncatingIfNeeded: e.length)) == 0 {
            ioRow.add(IOCounter.xskFallback.rawValue)
            return false
        }
        countSent(e, view: view)
        return true
    }

    /// Hands the queued frames of every socket to the kernel.
    @inline(__always)
    func xdpFlush() {
        var s = 0
        while s < xsks.count {
            let n = egressd_xsk_tx_flush(xsks.sockets + s)
            if n > 0 { ioRow.add(IOCounter.xskSent.rawValue, UInt64(n)) }
            s += 1
        }
    }
}
