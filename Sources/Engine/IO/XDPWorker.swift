// The worker's AF_XDP hooks (`.afxdp`): its sockets in the poll set, the
// receive of their RX rings in batches into the packet processor (frames
// handed back to the fill ring after the batch is flushed: outer headers
// are written in place, as with the TPACKET ring), and the transmit of
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
    @inline(__always)
    func receiveXDP(view: ForwardingView, processor: inout PacketProcessor, out: inout OutputQueue) -> Int {
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
                fromTunnel(batch: got, view: view, processor: &processor, out: &out)
                flush(view: view, processor: &processor, out: &out)
                egressd_xsk_rx_release(x)
                if got < batchSize { break }
            }
        }
        return handled
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
