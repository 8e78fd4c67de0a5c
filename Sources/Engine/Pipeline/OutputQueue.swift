// Where the packet path puts what it decided to send, until the worker
// flushes a whole batch with one sendmmsg per socket. Entries point into the
// worker's receive slots or ICMP scratch buffers; nothing is copied.

import Packet

public struct OutputEntry {
    public enum Kind: UInt8 { case raw4 = 0, raw6, tun, l2 }
    public var data: UnsafeMutableRawPointer
    public var length: Int
    public var kind: Kind
    /// TUN descriptor for `.tun`.
    public var fd: Int32
    /// Destination for `.raw4` (host order) and `.raw6`.
    public var destination4: UInt32
    public var destination6: IPv6Address
    /// Tunnel whose tx counters this packet adds to when sent, or -1.
    public var txTunnel: Int32
    /// For `.l2`: the interface and the destination MAC (6 bytes, first in
    /// the high bits of the low 48).
    public var interfaceIndex: Int32 = 0
    public var mac: UInt64 = 0
    /// The tunnel and TunnelCounter field that counted this packet's
    /// outcome when it was queued (-1: none, e.g. an ICMP error the engine
    /// made); if the send fails the count moves to a drop of that tunnel.
    public var countTunnel: Int32 = -1
    public var countField: Int32 = 0
}

/// A fixed-capacity queue of outputs, allocated once per worker.
public struct OutputQueue {
    public let capacity: Int
    public let entries: UnsafeMutablePointer<OutputEntry>
    public var count = 0

    public init(capacity: Int) {
        self.capacity = capacity
        entries = .allocate(capacity: capacity)
    }

    public func deallocate() { entries.deallocate() }

    @inlinable @inline(__always)
    public mutating func append(_ e: OutputEntry) -> Bool {
        guard count < capacity else { return false }
        (entries + count).initialize(to: e)
        count += 1
        return true
    }

    public mutating func removeAll() { count = 0 }

    public subscript(i: Int) -> OutputEntry { entries[i] }

    /// Records on the last queued entry which counter counted its outcome.
    @inline(__always)
    public func markLast(tunnel: Int, field: TunnelCounter) {
        entries[count - 1].countTunnel = Int32(tunnel)
        entries[count - 1].countField = Int32(field.rawValue)
    }
}
