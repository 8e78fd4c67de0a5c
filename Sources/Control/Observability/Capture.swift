// `capture NAME interface TUNNEL|any [inner|outer] [count N] file PATH [filter BPF]`:
// the engine's workers copy the tunnel's packets into per-worker rings
// (Engine/Flows/CaptureTap.swift); this capture thread (a serial dispatch
// queue with a 50 ms timer) drains them, applies the BPF filter compiled by
// libpcap for raw IP (DLT_RAW; pcap_offline_filter) and writes them with
// pcap_dump. `count N` stops it after N packets; `no capture NAME` stops it;
// `show capture` lists them.

import CPCAP
import Commands
import Dispatch
import Engine
import Packet
#if canImport(Glibc)
import Glibc
#endif

final class CaptureSession: @unchecked Sendable {
    let request: CaptureRequest
    let tap: CaptureTap
    let engine: Engine
    let queue: DispatchQueue
    var timer: DispatchSourceTimer?
    var pcap: OpaquePointer?
    var dumper: OpaquePointer?
    var program = bpf_program()
    var hasProgram = false
    // Written on the capture queue, read by `show capture` through `status()`.
    var written: UInt64 = 0
    var filteredOut: UInt64 = 0
    var running = true
    var onFinish: (() -> Void)?

    init(request: CaptureRequest, remoteOuter: UInt32, engine: Engine) throws {
        self.request = request
        self.engine = engine
        tap = CaptureTap(remoteOuter: remoteOuter, inner: request.inner, workers: engine.settings.workers)
        queue = DispatchQueue(label: "egressd.capture.\(request.name)")
        guard let p = pcap_open_dead(DLT_RAW, Int32(tap.rings[0].snapLength)) else { throw ApplianceError("pcap_open_dead failed") }
        pcap = p
        if let f = request.filter {
            if pcap_compile(p, &program, f, 1, PCAP_NETMASK_UNKNOWN) != 0 {
                let why = String(cString: pcap_geterr(p))
                pcap_close(p)
                throw ApplianceError("bad filter '\(f)': \(why)")
            }
            hasProgram = true
        }
        // Never overwrite: the shell's users must not be able to clobber files through the daemon.
        let fd = open(request.file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0, let stream = fdopen(fd, "w") else {
            let why = String(cString: strerror(errno))
            if fd >= 0 { Glibc.close(fd) }
            if hasProgram { pcap_freecode(&program) }
            pcap_close(p)
            throw ApplianceError("cannot create \(request.file): \(why) (captures never overwrite a file)")
        }
        guard let d = pcap_dump_fopen(p, stream) else {
            fclose(stream)
            let why = String(cString: pcap_geterr(p))
            if hasProgram { pcap_freecode(&program) }
            pcap_close(p)
            throw ApplianceError("cannot write \(request.file): \(why)")
        }
        dumper = d
    }

    func start() {
        engine.attachCaptureTap(tap)
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + .milliseconds(50), repeating: .milliseconds(50))
        t.setEventHandler { [weak self] in self?.drain() }
        timer = t
        t.resume()
    }

    /// On the capture queue: write what the workers copied.
    func drain() {
        guard running, let dumper else { return }
        var header = pcap_pkthdr()
        for ring in tap.rings {
            ring.drain { packet, bytes in
                guard running else { return }
                header.ts.tv_sec = Int(packet.seconds)
                header.ts.tv_usec = Int(packet.microseconds)
                header.caplen = bpf_u_int32(packet.capturedLength)
                header.len = bpf_u_int32(packet.originalLength)
                let b = bytes.assumingMemoryBound(to: UInt8.self)
                if hasProgram && pcap_offline_filter(&program, &header, b) == 0 {
                    filteredOut += 1
                    return
                }
                pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &header, b)
                written += 1
                if let n = request.count, written >= UInt64(n) { running = false }
            }
        }
        pcap_dump_flush(dumper)
        if !running { close() }
    }

    /// On the capture queue: detach the tap, close the file.
    private func close() {
        engine.detachCaptureTap(tap)
        timer?.cancel()
        timer = nil
        if let d = dumper { pcap_dump_close(d); dumper = nil }
        if hasProgram { pcap_freecode(&program); hasProgram = false }
        if let p = pcap { pcap_close(p); pcap = nil }
        running = false
        onFinish?()
    }

    /// Stops the capture (writing what was already copied) and waits for the file to be closed.
    func finish() {
        queue.sync {
            guard dumper != nil else { return }
            engine.detachCaptureTap(tap)
            drain()
            if dumper != nil { close() }
        }
    }

    func status() -> (written: UInt64, filtered: UInt64, dropped: UInt64, running: Bool) {
        queue.sync { (written, filteredOut, tap.rings.reduce(0) { $0 + $1.dropped.load(ordering: .relaxed) }, dumper != nil) }
    }
}

extension Appliance {
    func startCapture(_ r: CaptureRequest) -> (String, Bool) {
        if let old = captures[r.name], old.status().running { return ("% Capture \(r.name) is running (no capture \(r.name) first)\n", false) }
        if let other = captures.values.first(where: { $0.status().running }) {
            return ("% Capture \(other.request.name) is running: one capture at a time\n", false)
        }
        var remote: UInt32 = 0
        if let t = r.tunnel {
            guard let state = tunnels[t] else { return ("% No such tunnel (up): \(t)\n", false) }
            remote = state.spec.remoteOuter.value
        }
        do {
            let session = try CaptureSession(request: r, remoteOuter: remote, engine: engine)
            captures[r.name] = session
            session.start()
            record("capture \(r.name) started: \(r.tunnel ?? "any") \(r.inner ? "inner" : "outer") to \(r.file)",
                   ["capture": "\(r.name)", "state": "running", "file": "\(r.file)"])
            return ("Capture \(r.name) running: \(r.tunnel ?? "any tunnel"), \(r.inner ? "inner" : "outer") packets"
                    + (r.filter.map { ", filter '\($0)'" } ?? "") + (r.count.map { ", \($0) packets" } ?? "") + ", to \(r.file)\n", true)
        } catch {
            return ("% \(error)\n", false)
        }
    }

    func stopCapture(_ name: String) -> (String, Bool) {
        guard let c = captures.removeValue(forKey: name) else { return ("% No capture named \(name)\n", false) }
        c.finish()
        let s = c.status()
        record("capture \(name) stopped: \(s.written) packets written", ["capture": "\(name)", "state": "stopped"])
        return ("Capture \(name) stopped: \(s.written) packets written to \(c.request.file), \(s.dropped) dropped (ring full)\n", true)
    }

    func showCaptures(json: Bool) -> (String, Bool) {
        let rows = captures.sorted { $0.key < $1.key }.map { ($0.key, $0.value, $0.value.status()) }
        if json {
            return (JSON.object([("captures", .array(rows.map { name, c, s in
                .object([("name", .string(name)), ("interface", .string(c.request.tunnel ?? "any")),
                         ("side", .string(c.request.inner ? "inner" : "outer")), ("filter", c.request.filter.map { .string($0) } ?? .null),
                         ("count", c.request.count.map { .int(Int64($0)) } ?? .null), ("file", .string(c.request.file)),
                         ("state", .string(s.running ? "running" : "finished")), ("written", .uint(s.written)),
                         ("filteredOut", .uint(s.filtered)), ("dropped", .uint(s.dropped))])
            }))]).rendered() + "\n", true)
        }
        if rows.isEmpty { return ("No captures.\n", true) }
        var out = ""
        for (name, c, s) in rows {
            out += "\(name): \(c.request.tunnel ?? "any") \(c.request.inner ? "inner" : "outer"), \(s.running ? "running" : "finished"), "
            out += "\(s.written) written, \(s.filtered) filtered out, \(s.dropped) dropped (ring full) -> \(c.request.file)"
            out += (c.request.filter.map { ", filter '\($0)'" } ?? "") + "\n"
        }
        return (out, true)
    }
}
