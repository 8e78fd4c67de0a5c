// The link-layer neighbours of the underlay: for the IPv4 addresses the
// engine sends GRE to (tunnel remote ends, GRE caches of WCCP services), the
// interface and MAC of the next hop toward them, as the kernel resolved it.
// With an entry the worker writes the GRE packet straight to that MAC
// (AF_PACKET TX ring or sendmmsg, no kernel IP output); without one it
// sends through the raw IP socket (the kernel routes it and resolves ARP).
// The control plane builds a new table and publishes it with one atomic
// store, like the forwarding snapshot; workers read it without locks.

import Atomics

public final class UnderlayNeighbours: @unchecked Sendable {
    public struct Entry: Equatable, Sendable {
        public var address: UInt32          // IPv4, host order (never 0)
        public var interfaceIndex: Int32
        public var mac: UInt64              // 48 bits, first octet highest
        public init(address: UInt32, interfaceIndex: Int32, mac: UInt64) {
            self.address = address
            self.interfaceIndex = interfaceIndex
            self.mac = mac
        }
    }

    public let entries: [Entry]
    /// Open addressing, linear probing; key 0 marks an empty slot.
    @usableFromInline let mask: Int
    @usableFromInline let keys: UnsafeMutablePointer<UInt32>
    @usableFromInline let interfaces: UnsafeMutablePointer<Int32>
    @usableFromInline let macs: UnsafeMutablePointer<UInt64>

    public static let empty = UnderlayNeighbours([])

    public init(_ list: [Entry]) {
        var seen = Set<UInt32>()
        entries = list.filter { $0.address != 0 && $0.mac != 0 && seen.insert($0.address).inserted }
        var size = 8
        while size < entries.count * 2 { size <<= 1 }
        mask = size - 1
        keys = .allocate(capacity: size)
        keys.initialize(repeating: 0, count: size)
        interfaces = .allocate(capacity: size)
        interfaces.initialize(repeating: 0, count: size)
        macs = .allocate(capacity: size)
        macs.initialize(repeating: 0, count: size)
        for e in entries {
            var i = Self.slot(e.address, mask)
            while keys[i] != 0 { i = (i + 1) & mask }
            keys[i] = e.address
            interfaces[i] = e.interfaceIndex
            macs[i] = e.mac
        }
    }

    deinit {
        keys.deallocate(); interfaces.deallocate(); macs.deallocate()
    }

    @inline(__always) @usableFromInline
    static func slot(_ a: UInt32, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (a &* 0x9E37_79B1) >> 16) & mask
    }

    /// The slot holding `address`, or -1.
    @inline(__always)
    public func find(_ address: UInt32) -> Int {
        var i = Self.slot(address, mask)
        while true {
            let k = keys[i]
            if k == address { return address == 0 ? -1 : i }
            if k == 0 { return -1 }
            i = (i + 1) & mask
        }
    }

    @inline(__always) public func interfaceIndex(at slot: Int) -> Int32 { interfaces[slot] }
    @inline(__always) public func mac(at slot: Int) -> UInt64 { macs[slot] }
}

extension UnderlayNeighbours: AtomicReference {}
