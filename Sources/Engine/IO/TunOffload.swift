// The worker's TUN offload state between outputs of one flush: the TCP
// coalescer (Packet/Offload.swift) building a super-packet for one TUN
// queue, and which output entries it holds (for tun-error accounting when
// the write fails). Kept behind a pointer the worker allocates once, so the
// packet path makes no exclusivity checks on class properties.

import Packet

struct TUNWriteState {
    var coalescer: TCPCoalescer
    /// The TUN queue the super-packet goes to.
    var fd: Int32 = -1
    /// Output entries coalesced so far (their indices are in the worker's
    /// `coalescedEntries`), and the first one (written as it is when alone).
    var count = 0
    var first = 0
}
