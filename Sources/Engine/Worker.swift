// One packet worker: a thread in a tight loop over its own sockets and TUN
// queues. Per iteration it checks whether the control plane published
// anything (reloading the snapshot, underlay MACs and capture tap only
// then), polls, reads a batch (the TPACKET_V2/V3 ring, or recvmmsg from the
// GRE socket; reads from
// the TUN queues), runs the packet processor over the batch, and flushes the
// outputs (underlay frames to next-hop MACs through the TPACKET_V2 ring of
// their interface, or one sendmmsg per socket). All memory is allocated
// before the loop starts (a transmit ring when an interface is first used).

import Atomics
import CEgressSys
import Packet
#if canImport(Glibc)
import Glibc
#endif

final class Worker: @unchecked Sendable {
    static let dataCapacity = 9600
    static let slotSize = PacketProcessor.headroom + dataCapacity + 64
    static let maxPollFDs = 64
    /// Empty read rounds after the last packet before going back to poll()
    /// (default; `Engine.Settings.spinRounds`).
    static let spinBudget = 200

    let index: Int
    let batchSize: Int
    let cpu: Int?
    /// Strong (an `unowned` reference costs a retain/release of the engine
    /// at every use on the packet path); `Engine.stop()` drops the workers,
    /// which ends the cycle.
    let engine: Engine
    let greFD: Int32
    let raw4FD: Int32
    let raw6FD: Int32
    let l2FD: Int32
    /// The backend this worker runs, and its rings (unused with `.raw`).
    let backend: Engine.IOBackend
    let rings: RingSet
    /// AF_XDP sockets of the queues this worker owns (`.afxdp`; none otherwise).
    let xsks: XDPSocketSet

    // Preallocated batch memory.
    let slots: UnsafeMutableRawPointer
    let icmpScratch: UnsafeMutableRawPointer
    let rxMessages: UnsafeMutablePointer<egressd_mmsghdr>
    let rxIOVecs: UnsafeMutablePointer<iovec>
    let txMessages: UnsafeMutablePointer<egressd_mmsghdr>
    let txIOVecs: UnsafeMutablePointer<iovec>
    let txAddresses4: UnsafeMutablePointer<sockaddr_in>
    let txAddresses6: UnsafeMutablePointer<sockaddr_in6>
    let txEntryIndex: UnsafeMutablePointer<Int>
    let l2Messages: UnsafeMutablePointer<egressd_mmsghdr>
    let l2IOVecs: UnsafeMutablePointer<iovec>
    let l2Addresses: UnsafeMutablePointer<sockaddr_ll>
    let l2EntryIndex: UnsafeMutablePointer<Int>
    let pollFDs: UnsafeMutablePointer<Int32>
    let pollReady: UnsafeMutablePointer<Int32>
    let pollTunnel: UnsafeMutablePointer<Int>
    /// The processor and the output queue live in `run()`'s locals while the
    /// loop runs (passed inout), so the packet path makes no dynamic
    /// exclusivity checks on class properties.
    let initialOut: OutputQueue
    let initialProcessor: PacketProcessor
    let engineRow: CounterRow
    let ioRow: CounterRow
    /// Flow accounting for IPFIX (used while the engine's flow export is on).
    let flowCache = FlowCache()
    let flowRing: FlowRing
    /// TUN offload memory (TunOffload.swift): a super-packet read, the
    /// coalescing state and its buffer, which outputs it holds, and an empty
    /// virtio header for packets written as they are.
    static let tunSuperCapacity = VirtioNetHeader.size + 65535 + 64
    let tunSuper: UnsafeMutableRawPointer
    let tunWrite: UnsafeMutablePointer<TUNWriteState>
    let coalescedEntries: UnsafeMutablePointer<Int>
    let zeroHeader: UnsafeMutableRawPointer
    var thread: pthread_t?
    /// What the loop holds strong references to in `run()`'s locals, seen
    /// unretained by the batch functions: no retain/release per batch or round.
    let underlayNow: UnsafeMutablePointer<Unmanaged<UnderlayNeighbours>>
    let tapNow: UnsafeMutablePointer<Unmanaged<CaptureTap>?>

    /// Raw backend, `fanoutGroup` nil: this is the only worker and reads a
    /// raw GRE socket. Tpacket backend: a receive ring (fanout when a group is given).
    init(index: Int, batchSize: Int, cpu: Int?, engine: Engine, backend: Engine.IOBackend, fanoutGroup: UInt16?,
         underlayMTU: Int = 1500) throws {
        self.index = index
        self.batchSize = batchSize
        self.cpu = cpu
        self.engine = engine
        self.backend = backend
        let txCapacity = batchSize * 2
        let rings = RingSet(batchSize: batchSize, txCapacity: txCapacity, qdiscBypass: engine.settings.qdiscBypass,
                            refusal: engine.settings.refuseRings)
        let slots = UnsafeMutableRawPointer.allocate(byteCount: batchSize * Self.slotSize, alignment: 64)
        var opened: [Int32] = []
        do {
            if backend != .raw {
                // Packets bigger than a V2 frame are read into the batch slots.
                try rings.openReceive(fanoutGroup: fanoutGroup, kind: engine.settings.receiveRing, underlayMTU: underlayMTU,
                                      copyBase: slots + PacketProcessor.headroom, copyStride: Self.slotSize,
                                      copyCapacity: Self.dataCapacity)
                greFD = rings.rx.pointee.fd
            } else {
                greFD = try fanoutGroup.map { try Sockets.greReceive(fanoutGroup: $0) } ?? Sockets.greRaw()
                opened.append(greFD)
            }
            raw4FD = try Sockets.rawSend(family: AF_INET); opened.append(raw4FD)
            raw6FD = try Sockets.rawSend(family: AF_INET6); opened.append(raw6FD)
            l2FD = try Sockets.l2Send(qdiscBypass: engine.settings.qdiscBypass); opened.append(l2FD)
            xsks = try XDPSocketSet(attachment: backend == .afxdp ? engine.xdp : nil, worker: index, workers: engine.settings.workers,
                                    batchSize: batchSize)
        } catch {
            for fd in opened { close(fd) }
            rings.close(); rings.deallocate(); slots.deallocate()
            throw error
        }
        self.rings = rings
        self.slots = slots
        icmpScratch = .allocate(byteCount: batchSize * PacketProcessor.icmpSlotSize, alignment: 64)
        rxMessages = .allocate(capacity: batchSize)
        rxIOVecs = .allocate(capacity: batchSize)
        txMessages = .allocate(capacity: txCapacity)
        txIOVecs = .allocate(capacity: txCapacity)
        txAddresses4 = .allocate(capacity: txCapacity)
        txAddresses6 = .allocate(capacity: txCapacity)
        txEntryIndex = .allocate(capacity: txCapacity)
        l2Messages = .allocate(capacity: txCapacity)
        l2IOVecs = .allocate(capacity: txCapacity)
        l2Addresses = .allocate(capacity: txCapacity)
        l2EntryIndex = .allocate(capacity: txCapacity)
        pollFDs = .allocate(capacity: Self.maxPollFDs)
        pollReady = .allocate(capacity: Self.maxPollFDs)
        pollTunnel = .allocate(capacity: Self.maxPollFDs)
        underlayNow = .allocate(capacity: 1)
        underlayNow.initialize(to: .passUnretained(UnderlayNeighbours.empty))
        tapNow = .allocate(capacity: 1)
        tapNow.initialize(to: nil)
        initialOut = OutputQueue(capacity: txCapacity)
        tunSuper = .allocate(byteCount: Self.tunSuperCapacity, alignment: 64)
        tunWrite = .allocate(capacity: 1)
        tunWrite.initialize(to: TUNWriteState(coalescer: TCPCoalescer(
            buffer: .allocate(byteCount: Self.tunSuperCapacity, alignment: 64), capacity: Self.tunSuperCapacity)))
        coalescedEntries = .allocate(capacity: txCapacity)
        zeroHeader = .allocate(byteCount: VirtioNetHeader.size, alignment: 8)
        zeroHeader.initializeMemory(as: UInt8.self, repeating: 0, count: VirtioNetHeader.size)
        engineRow = engine.engineCounters.row(index)
        ioRow = engine.ioCounters.row(index)
        flowRing = engine.flowRings[index]
        initialProcessor = PacketProcessor(worker: index, engineCounters: engineRow,
                                           icmpScratch: icmpScratch, icmpSlots: batchSize)
        for i in 0..<batchSize {
            rxIOVecs[i] = iovec(iov_base: slots + i * Self.slotSize + PacketProcessor.headroom, iov_len: Self.dataCapacity)
        }
    }

    deinit {
        if backend != .raw { rings.close() } else { close(greFD) }
        rings.deallocate()
        xsks.close(); xsks.deallocate()
        close(raw4FD); close(raw6FD); close(l2FD)
        l2Messages.deallocate(); l2IOVecs.deallocate(); l2Addresses.deallocate(); l2EntryIndex.deallocate()
        slots.deallocate(); icmpScratch.deallocate()
        rxMessages.deallocate(); rxIOVecs.deallocate()
        txMessages.deallocate(); txIOVecs.deallocate(); txAddresses4.deallocate(); txAddresses6.deallocate()
        txEntryIndex.deallocate(); pollFDs.deallocate(); pollReady.deallocate(); pollTunnel.deallocate()
        initialOut.deallocate()
        tunSuper.deallocate(); tunWrite.pointee.coalescer.buffer.deallocate(); tunWrite.deallocate()
        coalescedEntries.deallocate(); zeroHeader.deallocate()
        flowCache.deallocate()
        underlayNow.deallocate(); tapNow.deallocate()
    }

    /// What the control plane published, as the loop holds it (strong references, in
    /// run()'s locals; the batch functions see the underlay and tap unretained).
    struct Published {
        var snapshot: ForwardingSnapshot
        var underlay: UnderlayNeighbours
        var tap: CaptureTap?
        var view: ForwardingView
    }

    /// Loads what the control plane published (snapshot, underlay MACs, capture tap)
    /// and says which generation this worker now uses.
    func loadPublished(generation: ManagedAtomic<UInt64>) -> Published {
        let snapshot = engine.current.load(ordering: .acquiring)
        let underlay = engine.underlay.load(ordering: .acquiring)
        let tap = engine.captureTap.load(ordering: .acquiring)
        underlayNow.pointee = .passUnretained(underlay)
        tapNow.pointee = tap.map { .passUnretained($0) }
        generation.store(snapshot.generation, ordering: .releasing)
        return Published(snapshot: snapshot, underlay: underlay, tap: tap, view: snapshot.view)
    }

    /// The thread's setup before the loop: its name (`egressd-wN`), its CPU, SCHED_FIFO when
    /// asked for, then its kernel id for the engine (ThreadPlacement leaves it out).
    func placeThread() {
        "egressd-w\(index)".withCString { _ = egressd_set_thread_name($0) }
        if let cpu { _ = egressd_pin_to_cpu(Int32(cpu)) }
        if engine.settings.realtime {
            let r = egressd_set_fifo(1)
            engine.workerScheduling[index].store(r == 0 ? 1 : r, ordering: .relaxed)
        }
        engine.workerThreadIDs[index].store(egressd_gettid(), ordering: .releasing)
    }

    func run() {
        placeThread()
        let counters = engineRow
        var processor = initialProcessor
        var out = initialOut
        let engine = self.engine
        let generation = engine.workerGeneration(index)
        let spinRounds = engine.settings.spinRounds
        var spinsLeft = 0
        var flowCursor = 0
        var flowEpoch: UInt64 = 0
        // SCHED_FIFO (granted): sleep yieldFor after yieldEvery without blocking (spin rounds).
        let yieldEvery = engine.workerScheduling[index].load(ordering: .relaxed) == 1 ? engine.settings.yieldEvery : 0
        let yieldFor = engine.settings.yieldFor
        var awakeSince = Self.nanoseconds()
        // What the control plane published (snapshot, underlay MACs, capture
        // tap), held here and reloaded only when `engine.published` moves: a
        // round costs atomic loads of plain integers, no retain/release.
        var seen = engine.published.load(ordering: .acquiring)
        var held = loadPublished(generation: generation)
        while !engine.stopping.load(ordering: .relaxed) {
            let now = engine.published.load(ordering: .acquiring)
            if now != seen {
                seen = now
                held = loadPublished(generation: generation)
            }
            let view = held.view
            let flowActive = engine.flowActive.load(ordering: .relaxed)
            let epoch = engine.flowEpoch.load(ordering: .relaxed)
            if epoch != flowEpoch {
                // Export was (re)started: flows left from an earlier run are forgotten.
                flowCache.clear()
                flowEpoch = epoch
            }
            if flowActive > 0 {
                flowCache.expire(now: Self.nanoseconds(), active: flowActive, inactive: engine.flowInactive.load(ordering: .relaxed),
                                 ring: flowRing, lost: counters, cursor: &flowCursor)
            }

            // Poll the GRE socket and this worker's queue of every TUN.
            var n = 0
            pollFDs[n] = greFD; pollTunnel[n] = -1; n += 1
            var t = 0
            while t < view.tunnelCount && n < Self.maxPollFDs {
                let fd = view.tunFDs[t * view.workers + index]
                if fd >= 0 { pollFDs[n] = fd; pollTunnel[n] = t; n += 1 }
                t += 1
            }
            let tunEnd = n
            n = addXDPPollFDs(n)
            // Under load, keep reading without sleeping in poll(): each
            // sleep costs the sender a wake-up of this thread per packet.
            if spinsLeft > 0 {
                spinsLeft -= 1
                for i in 0..<n { pollReady[i] = 1 }
                if yieldEvery > 0 {
                    let t = Self.nanoseconds()
                    if t &- awakeSince > yieldEvery {
                        egressd_sleep_ns(yieldFor)
                        awakeSince = Self.nanoseconds()
                    }
                }
            } else if egressd_poll_in(pollFDs, pollReady, Int32(n), 100) <= 0 {
                awakeSince = Self.nanoseconds()
                // Idle: a whole sweep of the flow table, so idle flows leave on time.
                if flowActive > 0 {
                    flowCache.expire(now: Self.nanoseconds(), active: flowActive, inactive: engine.flowInactive.load(ordering: .relaxed),
                                     ring: flowRing, lost: counters, cursor: &flowCursor, slots: FlowCache.capacity)
                }
                continue
            }
            // poll() may have slept through a publication (up to its 100 ms): the packets that
            // woke it go by the new tables. The next round loads them and polls again, which
            // returns at once (the descriptors are still readable).
            if engine.published.load(ordering: .acquiring) != seen { continue }
            let start = Self.nanoseconds()
            var handled = 0
            if pollReady[0] != 0 {
                handled += backend != .raw ? receiveRing(flows: flowActive > 0, view: view, processor: &processor, out: &out)
                                               : receiveGRE(flows: flowActive > 0, view: view, processor: &processor, out: &out)
            }
            if xsks.count > 0 { handled += receiveXDP(flows: flowActive > 0, view: view, processor: &processor, out: &out) }
            for i in 1..<tunEnd where pollReady[i] != 0 {
                handled += receiveTUN(fd: pollFDs[i], tunnel: pollTunnel[i], flows: flowActive > 0, view: view,
                                      processor: &processor, out: &out)
            }
            if handled > 0 { spinsLeft = spinRounds }
            counters.add(EngineCounter.busyNanoseconds.rawValue, Self.nanoseconds() &- start)
        }
        withExtendedLifetime(held) {}
    }

    /// Drains the GRE socket in batches (bounded, so TUNs get their turn).
    /// Returns the number of packets handled.
    @inline(__always)
    func receiveGRE(flows: Bool, view: ForwardingView, processor: inout PacketProcessor, out: inout OutputQueue) -> Int {
        var handled = 0
        for _ in 0..<4 {
            for i in 0..<batchSize {
                rxMessages[i].msg_hdr = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: rxIOVecs + i, msg_iovlen: 1,
                                               msg_control: nil, msg_controllen: 0, msg_flags: 0)
                rxMessages[i].msg_len = 0
            }
            let got = Int(egressd_recvmmsg(greFD, rxMessages, UInt32(batchSize)))
            if got <= 0 { return handled }
            handled += got
            engineRow.add(EngineCounter.batches.rawValue)
            for i in 0..<got {
                rings.rxData[i] = slots + i * Self.slotSize + PacketProcessor.headroom
                rings.rxLength[i] = rxMessages[i].msg_len
            }
            fromTunnel(batch: got, flows: flows, view: view, processor: &processor, out: &out)
            flush(view: view, processor: &processor, out: &out)
            if got < batchSize { return handled }
        }
        return handled
    }

    /// Runs the packet processor over a batch of GRE packets from the
    /// underlay (`rings.rxData` / `rxLength`, filled by whichever backend
    /// read them), with flow accounting and the capture tap when they are on.
    /// `flows`: flow export is on (run() loaded it this round).
    @inline(__always)
    func fromTunnel(batch got: Int, flows: Bool, view: ForwardingView, processor: inout PacketProcessor, out: inout OutputQueue) {
        let now = flows ? Self.nanoseconds() : 0
        // The tap as run() keeps it (unretained: no ARC per batch).
        let tapRef = tapNow.pointee
        let (sec, usec) = tapRef != nil ? Self.wallClock() : (0, 0)
        let data = rings.rxData
        let lengths = rings.rxLength
        for i in 0..<got {
            let p = data[i].unsafelyUnwrapped
            let n = Int(lengths[i])
            let before = out.count
            if let tapRef { tapRef._withUnsafeGuaranteedRef { $0.received(p, n, worker: index, seconds: sec, microseconds: usec) } }
            processor.fromTunnel(p, n, view: view, out: &out)
            if flows { recordFlows(out, from: before, view: view, now: now) }
            if let tapRef {
                tapRef._withUnsafeGuaranteedRef { tapSent($0, out, from: before, view: view, seconds: sec, microseconds: usec) }
            }
        }
    }

    /// Drains the receive ring in batches (bounded, so TUNs get their
    /// turn). The packets stay in the ring's frames or blocks, which go back to the
    /// kernel after the batch was flushed. Returns the packets handled.
    @inline(__always)
    func receiveRing(flows: Bool, view: ForwardingView, processor: inout PacketProcessor, out: inout OutputQueue) -> Int {
        var handled = 0
        let ring = rings.rx
        for _ in 0..<4 {
            let got = Int(egressd_rxring_batch(ring, rings.rxData, rings.rxLength, Int32(batchSize)))
            if got <= 0 {
                // Frames skipped (cut short) still go back to the kernel.
                if ring.pointee.release_count != 0 { egressd_rxring_release(ring) }
                return handled
            }
            handled += got
            engineRow.add(EngineCounter.batches.rawValue)
            ioRow.add(IOCounter.ringReceived.rawValue, UInt64(got))
            fromTunnel(batch: got, flows: flows, view: view, processor: &processor, out: &out)
            flush(view: view, processor: &processor, out: &out)
            ioRow.add(IOCounter.ringBlocks.rawValue, UInt64(ring.pointee.release_count))
            egressd_rxring_release(ring)
            if ring.pointee.copied | ring.pointee.truncated != 0 {
                ioRow.add(IOCounter.ringCopied.rawValue, ring.pointee.copied)
                ioRow.add(IOCounter.ringTruncated.rawValue, ring.pointee.truncated)
                ring.pointee.copied = 0
                ring.pointee.truncated = 0
            }
            if got < batchSize { return handled }
        }
        return handled
    }

    /// Reads from one TUN queue (IFF_VNET_HDR): up to 4 batches.
    /// Each read lands in the next free slot, its virtio header just before
    /// the packet (in the headroom); a GSO super-packet too big for a slot
    /// continues in `tunSuper` and is moved there whole. Plain packets are
    /// processed in their slot (NEEDS_CSUM completed first); super-packets
    /// are cut into segments, one per slot (TunOffload.swift), and each
    /// segment is processed as a packet of its own. Returns the packets handled.
    /// `flows`: flow export is on (run() loaded it this round: called per TUN
    /// per round, also when empty, this function touches no class reference).
    @inline(__always)
    func receiveTUN(fd: Int32, tunnel: Int, flows: Bool, view: ForwardingView, processor: inout PacketProcessor,
                    out: inout OutputQueue) -> Int {
        var handled = 0
        // The tap as run() keeps it (unretained: no ARC per call).
        let tapRef = tapNow.pointee
        let (sec, usec) = tapRef != nil ? Self.wallClock() : (0, 0)
        var got = 0
        var reads = 0
        var now = flows ? Self.nanoseconds() : 0
        let hdrSize = VirtioNetHeader.size
        // Bounded (4 batches of reads or of packets, segments included) so GRE and the other TUNs get their turn.
        while reads < 4 * batchSize && handled + got < 4 * batchSize {
            let p = slots + got * Self.slotSize + PacketProcessor.headroom
            let r = egressd_readv2(fd, p - hdrSize, hdrSize + Self.dataCapacity,
                                   tunSuper + hdrSize + Self.dataCapacity, Self.tunSuperCapacity - hdrSize - Self.dataCapacity)
            if r <= 0 { break }
            reads += 1
            let n = r - hdrSize
            guard n > 0 else { engineRow.add(EngineCounter.dropBase + DropReason.badInner.rawValue); continue }
            let h = VirtioNetHeader(reading: UnsafeRawPointer(p - hdrSize))
            if h.gsoType == VirtioNetHeader.gsoNone {
                if n > Self.dataCapacity {
                    engineRow.add(EngineCounter.dropBase + DropReason.badInner.rawValue); continue
                }
                if h.flags & VirtioNetHeader.needsChecksum != 0 {
                    guard case .success = Offload.completeChecksum(p, n, header: h) else {
                        engineRow.add(EngineCounter.dropBase + DropReason.badInner.rawValue); continue
                    }
                }
                let before = out.count
                processor.fromKernel(p, n, tunnelIndex: tunnel, view: view, out: &out)
                if flows { recordFlows(out, from: before, view: view, now: now) }
                if let tapRef { tapRef._withUnsafeGuaranteedRef { tapSent($0, out, from: before, view: view, seconds: sec, microseconds: usec) } }
                got += 1
            } else {
                // The whole super-packet into tunSuper (after its header's room).
                let source = tunSuper + hdrSize
                source.copyMemory(from: p, byteCount: min(n, Self.dataCapacity))
                let plan: GSOPlan
                switch Offload.plan(UnsafeRawPointer(source), n, header: h) {
                case .success(let pl): plan = pl
                case .failure:
                    engineRow.add(EngineCounter.dropBase + DropReason.badInner.rawValue); continue
                }
                // A segment must fit a slot (the kernel's gso_size follows the TUN's MTU).
                if plan.headersLength + min(plan.segmentSize, plan.payloadLength) > Self.dataCapacity {
                    engineRow.add(EngineCounter.dropBase + DropReason.badInner.rawValue); continue
                }
                ioRow.add(IOCounter.tunSuperRead.rawValue)
                ioRow.add(IOCounter.tunSegments.rawValue, UInt64(plan.count))
                for k in 0..<plan.count {
                    if got == batchSize {
                        handled += got
                        engineRow.add(EngineCounter.batches.rawValue)
                        flush(view: view, processor: &processor, out: &out)
                        got = 0
                        if flows { now = Self.nanoseconds() }
                    }
                    let q = slots + got * Self.slotSize + PacketProcessor.headroom
                    let len = Offload.segment(k, of: UnsafeRawPointer(source), plan: plan, into: q)
                    let before = out.count
                    processor.fromKernel(q, len, tunnelIndex: tunnel, view: view, out: &out)
                    if flows { recordFlows(out, from: before, view: view, now: now) }
                    if let tapRef { tapRef._withUnsafeGuaranteedRef { tapSent($0, out, from: before, view: view, seconds: sec, microseconds: usec) } }
                    got += 1
                }
            }
            if got == batchSize {
                handled += got
                engineRow.add(EngineCounter.batches.rawValue)
                flush(view: view, processor: &processor, out: &out)
                got = 0
                if flows { now = Self.nanoseconds() }
            }
        }
        if got > 0 {
            handled += got
            engineRow.add(EngineCounter.batches.rawValue)
            flush(view: view, processor: &processor, out: &out)
        }
        return handled
    }

    /// Writes one output into its TUN: TCP segments of one flow that follow
    /// each other in the batch are coalesced into one super-packet (the
    /// kernel takes up to 64 KiB per write); anything else goes as it is
    /// behind an empty virtio header. `flushTUNPending` writes what is held.
    @inline(__always)
    func writeTUN(_ e: OutputEntry, entry i: Int, out: OutputQueue, view: ForwardingView) {
        let st = tunWrite
        if st.pointee.coalescer.segments > 0 {
            if e.fd == st.pointee.fd, st.pointee.coalescer.append(UnsafeRawPointer(e.data), e.length) {
                coalescedEntries[st.pointee.count] = i
                st.pointee.count += 1
                return
            }
            flushTUNPending(out: out, view: view)
        }
        if st.pointee.coalescer.start(UnsafeRawPointer(e.data), e.length) {
            st.pointee.fd = e.fd
            coalescedEntries[0] = i
            st.pointee.count = 1
            st.pointee.first = i
            return
        }
        if egressd_writev2(e.fd, zeroHeader, VirtioNetHeader.size, e.data, e.length) < 0 {
            countFailed(e, view: view, reason: .tunError)
        }
    }

    /// Writes the super-packet being built (or its only segment as it was).
    @inline(__always)
    func flushTUNPending(out: OutputQueue, view: ForwardingView) {
        let st = tunWrite
        let segments = st.pointee.coalescer.segments
        guard segments > 0 else { return }
        let r: Int
        if segments == 1 {
            let e = out[st.pointee.first]
            r = egressd_writev2(st.pointee.fd, zeroHeader, VirtioNetHeader.size, e.data, e.length)
        } else {
            ioRow.add(IOCounter.tunSuperWritten.rawValue)
            ioRow.add(IOCounter.tunCoalesced.rawValue, UInt64(segments))
            let n = st.pointee.coalescer.finish()
            r = egressd_writev2(st.pointee.fd, st.pointee.coalescer.buffer, n, st.pointee.coalescer.buffer, 0)
        }
        if r < 0 {
            for k in 0..<st.pointee.count { countFailed(out[coalescedEntries[k]], view: view, reason: .tunError) }
        }
        st.pointee.coalescer.reset()
        st.pointee.count = 0
    }

    /// Accounts the packet's queued output (the entries from `start` on) to its flow.
    @inline(__always)
    func recordFlows(_ out: OutputQueue, from start: Int, view: ForwardingView, now: UInt64) {
        var i = start
        while i < out.count {
            flowCache.record(out[i], view: view, now: now, ring: flowRing, lost: engineRow)
            i += 1
        }
    }

    /// Copies what the packet queued toward a tunnel into the capture ring.
    @inline(__always)
    func tapSent(_ tap: CaptureTap, _ out: OutputQueue, from start: Int, view: ForwardingView, seconds: UInt32, microseconds: UInt32) {
        var i = start
        while i < out.count {
            tap.sent(out[i], view: view, worker: index, seconds: seconds, microseconds: microseconds)
            i += 1
        }
    }

    /// Wall-clock time for capture timestamps (seconds, microseconds).
    static func wallClock() -> (UInt32, UInt32) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (UInt32(truncatingIfNeeded: ts.tv_sec), UInt32(ts.tv_nsec / 1000))
    }

    /// Sends everything queued: TUN writes one by one; IPv4 to a known
    /// next-hop MAC (forwarded packets, and GRE to tunnel ends and caches
    /// whose MAC the underlay table has) into the interface's TX ring
    /// (tpacket) or by AF_PACKET sendmmsg; the rest by raw IPv4/IPv6 sendmmsg.
    @inline(__always)
    func flush(view: ForwardingView, processor: inout PacketProcessor, out: inout OutputQueue) {
        var n4 = 0
        var n6 = 0
        var nl2 = 0
        let cap = out.capacity
        let underlayRef = underlayNow.pointee
        let rings = self.rings
        let useRings = backend != .raw
        let useXSK = xsks.count > 0
        for i in 0..<out.count {
            let e = out[i]
            var ifindex = e.interfaceIndex
            var mac = e.mac
            switch e.kind {
            case .tun:
                writeTUN(e, entry: i, out: out, view: view)
                continue
            case .raw4:
                let slot = underlayRef._withUnsafeGuaranteedRef { $0.find(e.destination4) }
                if slot < 0 {
                    txAddresses4[n4] = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0,
                                                   sin_addr: in_addr(s_addr: e.destination4.bigEndian), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
                    Self.setMessage(txMessages + n4, iov: txIOVecs + n4, entry: e, name: txAddresses4 + n4)
                    txEntryIndex[n4] = i
                    n4 += 1
                    continue
                }
                ifindex = underlayRef._withUnsafeGuaranteedRef { $0.interfaceIndex(at: slot) }
                mac = underlayRef._withUnsafeGuaranteedRef { $0.mac(at: slot) }
                ioRow.add(IOCounter.macSent.rawValue)
            case .l2:
                break
            case .raw6:
                // IPv6 entries fill the arrays from the top down.
                let j = cap - 1 - n6
                var a = sockaddr_in6()
                a.sin6_family = sa_family_t(AF_INET6)
                withUnsafeMutableBytes(of: &a.sin6_addr) { b in
                    b.baseAddress!.setU64(e.destination6.high, 0)
                    b.baseAddress!.setU64(e.destination6.low, 8)
                }
                txAddresses6[j] = a
                Self.setMessage(txMessages + j, iov: txIOVecs + j, entry: e, name: txAddresses6 + j)
                txEntryIndex[j] = i
                n6 += 1
                continue
            }
            if useXSK, xdpTransmit(e, ifindex: ifindex, mac: mac, view: view) { continue }
            // To a MAC: the interface's TX ring, else (no ring, ring full,
            // packet bigger than a frame) AF_PACKET sendmmsg.
            if useRings {
                let r = rings.ring(for: ifindex)
                if r >= 0, rings.put(slot: r, mac: mac, data: e.data, length: e.length, entry: i) { continue }
                ioRow.add(IOCounter.ringFallback.rawValue)
            }
            var m: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (
                UInt8(truncatingIfNeeded: mac >> 40), UInt8(truncatingIfNeeded: mac >> 32), UInt8(truncatingIfNeeded: mac >> 24),
                UInt8(truncatingIfNeeded: mac >> 16), UInt8(truncatingIfNeeded: mac >> 8), UInt8(truncatingIfNeeded: mac))
            withUnsafeBytes(of: &m) { b in
                egressd_fill_sockaddr_ll(l2Addresses + nl2, ifindex, b.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            Self.setMessage(l2Messages + nl2, iov: l2IOVecs + nl2, entry: e, name: l2Addresses + nl2)
            l2EntryIndex[nl2] = i
            nl2 += 1
        }
        flushTUNPending(out: out, view: view)
        if useRings {
            var r = 0
            while r < rings.txCount {
                let pending = Int(rings.tx[r].pending)
                if pending > 0 {
                    let taken = Int(egressd_txring_flush(rings.tx + r, rings.txOK))
                    ioRow.add(IOCounter.ringSent.rawValue, UInt64(taken))
                    if taken < pending { ioRow.add(IOCounter.ringRefused.rawValue, UInt64(pending - taken)) }
                    let entries = rings.txEntries + r * rings.txCapacity
                    for k in 0..<pending {
                        if rings.txOK[k] != 0 { countSent(out[entries[k]], view: view) } else { countFailed(out[entries[k]], view: view) }
                    }
                }
                r += 1
            }
        }
        if useXSK { xdpFlush() }
        if n4 > 0 { send(fd: raw4FD, messages: txMessages, count: n4, entries: txEntryIndex, out: out, view: view) }
        if n6 > 0 {
            send(fd: raw6FD, messages: txMessages + (cap - n6), count: n6, entries: txEntryIndex + (cap - n6), out: out, view: view)
        }
        if nl2 > 0 { send(fd: l2FD, messages: l2Messages, count: nl2, entries: l2EntryIndex, out: out, view: view) }
        out.removeAll()
        processor.resetScratch()
    }

    /// Points one mmsghdr at an output's bytes and its destination address.
    @inline(__always)
    static func setMessage<Address>(_ m: UnsafeMutablePointer<egressd_mmsghdr>, iov: UnsafeMutablePointer<iovec>,
                                    entry e: OutputEntry, name: UnsafeMutablePointer<Address>) {
        iov.pointee = iovec(iov_base: e.data, iov_len: e.length)
        m.pointee.msg_hdr = msghdr(msg_name: UnsafeMutableRawPointer(name), msg_namelen: socklen_t(MemoryLayout<Address>.size),
                                   msg_iov: iov, msg_iovlen: 1, msg_control: nil, msg_controllen: 0, msg_flags: 0)
    }

    /// sendmmsg until every message went or failed; failures are counted.
    @inline(__always)
    func send(fd: Int32, messages: UnsafeMutablePointer<egressd_mmsghdr>, count: Int, entries: UnsafeMutablePointer<Int>,
              out: OutputQueue, view: ForwardingView) {
        var sent = 0
        while sent < count {
            let r = Int(egressd_sendmmsg(fd, messages + sent, UInt32(count - sent)))
            if r > 0 {
                for k in sent..<(sent + r) { countSent(out[entries[k]], view: view) }
                sent += r
            } else if r == -Int(EAGAIN) || r == -Int(ENOBUFS) {
                // Socket buffer full: the rest of this batch is lost.
                for k in sent..<count { countFailed(out[entries[k]], view: view) }
                return
            } else {
                countFailed(out[entries[sent]], view: view)
                sent += 1
            }
        }
    }

    @inline(__always)
    func countSent(_ e: OutputEntry, view: ForwardingView) {
        guard e.txTunnel >= 0 else { return }
        let row = view.tunnels[Int(e.txTunnel)].counters.row(index)
        row.add(TunnelCounter.txPackets.rawValue)
        row.add(TunnelCounter.txBytes.rawValue, UInt64(e.length))
    }

    /// A queued packet was not sent: its outcome count moves to a drop of
    /// the tunnel that counted it (one outcome per packet); packets the
    /// engine made itself (ICMP errors) count as engine drops.
    @inline(__always)
    func countFailed(_ e: OutputEntry, view: ForwardingView, reason: DropReason = .txError) {
        if e.countTunnel >= 0 {
            let row = view.tunnels[Int(e.countTunnel)].counters.row(index)
            row.subtract(Int(e.countField))
            row.add(TunnelCounter.dropBase + reason.rawValue)
        } else {
            engineRow.add(EngineCounter.dropBase + reason.rawValue)
        }
    }

    @inline(__always)
    static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
