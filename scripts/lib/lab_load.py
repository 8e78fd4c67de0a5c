#!/usr/bin/python3
"""A steady mixed load from the lab's spokes (scripts/lab.sh traffic, scripts/drill.sh).

One asyncio process; each socket is created inside its spoke's network namespace (setns just
before socket(), so no thread or `ip netns exec` per flow). Standard library only. Classes:

  http  new TCP connections to TARGET:80, one GET / each, RATE per second per spoke: they are
        redirected to the proxies by WCCP (the Via header names the proxy; none: direct)
  dl    long downloads (GET /stream/S through the proxies), DOWNLOADS per spoke, restarted
        when they end or fail
  tcp   long TCP echo flows to TARGET:8080 (not redirected), a 32-byte message every 100 ms
  udp   UDP echo flows to TARGET:7, one datagram every 50 ms each

Definitions. A class's *gap* is the longest time without a successful completion in that
class (a response, a chunk, an echo). A flow's *gap* (long flows: dl, tcp, udp) is the
longest time between two successes of that one flow; a flow is *disturbed* when its gap
exceeds --disturbed (default 1 s, ten times the slowest flow's period, above the
scheduling noise of a loaded 2-core machine). A request *fails*
when it cannot connect, is reset, or has no complete 200 answer within --timeout; the
*error window* is from the start of the first failed request to the end of the last.

Prints a line per second and, at the end (DURATION, SIGINT or SIGTERM), a summary as
`name: value unit` lines; --json FILE also writes the summary and every long flow's record
(spoke, class, local port, gap, errors, proxy) for the drills.
"""
import argparse
import asyncio
import ctypes
import json
import os
import signal
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
NS_FDS = {}


def in_netns(name):
    """Switch this (single-threaded) process into network namespace NAME."""
    fd = NS_FDS.get(name)
    if fd is None:
        fd = NS_FDS[name] = os.open("/run/netns/%s" % name if name != "." else "/proc/self/ns/net", os.O_RDONLY)
    if LIBC.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns %s: %s" % (name, os.strerror(err)))


def make_socket(spoke, kind):
    in_netns(spoke)
    try:
        s = socket.socket(socket.AF_INET, kind)
    finally:
        in_netns(".")
    s.setblocking(False)
    return s


class Clock:
    def __init__(self):
        self.t0 = time.monotonic()
        self.epoch0 = time.time()

    def now(self):
        return time.monotonic() - self.t0


class ClassStats:
    def __init__(self, name, clock):
        self.name, self.clock = name, clock
        self.ok = 0
        self.errors = 0
        self.last_ok = None       # time of the last success (None: none yet)
        self.gap = 0.0            # longest time without a success (after the first)
        self.sec_ok = 0
        self.sec_err = 0
        self.first_err = None
        self.last_err = None
        self.sent = 0             # udp: datagrams sent
        self.warm = 0.0           # gaps count from here (start-up is not a gap)

    def success(self, t=None):
        t = self.clock.now() if t is None else t
        if self.last_ok is not None and self.last_ok >= self.warm:
            self.gap = max(self.gap, t - self.last_ok)
        self.last_ok = t
        self.ok += 1
        self.sec_ok += 1

    def failure(self, started, ended=None):
        ended = self.clock.now() if ended is None else ended
        self.errors += 1
        self.sec_err += 1
        self.first_err = started if self.first_err is None else min(self.first_err, started)
        self.last_err = ended if self.last_err is None else max(self.last_err, ended)

    def current_gap(self, t=None):
        t = self.clock.now() if t is None else t
        g = self.gap
        if self.last_ok is not None and self.last_ok >= self.warm:
            g = max(g, t - self.last_ok)
        return g


class Flow:
    gap_floor = 0.3   # silences longer than this are recorded (from, to) for the drills

    def __init__(self, cls, spoke, index, clock):
        self.cls, self.spoke, self.index, self.clock = cls, spoke, index, clock
        self.port = None
        self.last_ok = None
        self.gap = 0.0
        self.gap_at = None        # when the longest gap ended
        self.ok = 0
        self.errors = 0
        self.proxy = None
        self.sent = 0
        self.lost = 0
        self.gaps = []            # (from, to) of every silence above gap_floor
        self.ports = []           # every local port the flow used (it reconnects after errors)
        self.error_times = []
        self.conns = []           # dl: (start, proxy) of every connection

    def success(self):
        t = self.clock.now()
        if self.last_ok is not None:
            if t - self.last_ok > self.gap:
                self.gap, self.gap_at = t - self.last_ok, t
            if t - self.last_ok > self.gap_floor:
                self.gaps.append((round(self.last_ok, 3), round(t, 3)))
        self.last_ok = t
        self.ok += 1

    def close_gap(self, t):
        """At the end (T: when the load stopped): a flow still silent counts its silence as a gap."""
        if self.last_ok is not None:
            if t - self.last_ok > self.gap:
                self.gap, self.gap_at = t - self.last_ok, t
            if t - self.last_ok > self.gap_floor:
                self.gaps.append((round(self.last_ok, 3), round(t, 3)))

    def record(self):
        return {"class": self.cls, "spoke": self.spoke, "index": self.index, "port": self.port,
                "ok": self.ok, "errors": self.errors, "gap": round(self.gap, 3),
                "gap_end": None if self.gap_at is None else round(self.gap_at, 3),
                "proxy": self.proxy, "sent": self.sent, "lost": self.lost, "gaps": self.gaps,
                "ports": self.ports, "error_times": self.error_times, "conns": self.conns}


async def read_http_response(reader, deadline_s):
    """Read one HTTP/1.1 response; returns (status, headers dict, body length)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), deadline_s)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


def proxy_of(headers, prefix):
    via = headers.get("via", "")
    for word in via.replace(",", " ").split():
        if word.startswith(prefix + "proxy"):
            return word[len(prefix):]
    return "direct"


class Load:
    def __init__(self, args):
        self.args = args
        self.clock = Clock()
        self.stop = asyncio.Event()
        self.cls = {n: ClassStats(n, self.clock) for n in ("http", "dl", "tcp", "udp")}
        self.flows = []
        self.via = {}
        self.http_errors = []     # (start, end) of every failed request
        self.http_latency_max = 0.0
        self.tasks = set()
        self.t_stop = None

    def spawn(self, coro):
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def connect(self, spoke, port, timeout):
        s = make_socket(spoke, socket.SOCK_STREAM)
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.sock_connect(s, (self.args.target, port)), timeout)
            local_port = s.getsockname()[1]
            reader, writer = await asyncio.open_connection(sock=s)
        except BaseException:
            s.close()
            raise
        return reader, writer, local_port

    # -- http: new connection per request ---------------------------------------------------
    async def http_request(self, spoke):
        st = self.cls["http"]
        started = self.clock.now()
        writer = None
        try:
            reader, writer, _ = await self.connect(spoke, 80, self.args.timeout)
            writer.write(b"GET / HTTP/1.1\r\nHost: inet\r\nConnection: close\r\n\r\n")
            left = self.args.timeout - (self.clock.now() - started)
            status, headers = await read_http_response(reader, max(left, 0.01))
            length = int(headers.get("content-length", "-1"))
            left = self.args.timeout - (self.clock.now() - started)
            body = await asyncio.wait_for(reader.readexactly(length), max(left, 0.01))
            if status != 200 or not body.startswith(b"egressd lab origin"):
                raise ValueError("bad answer %d" % status)
            p = proxy_of(headers, self.args.prefix)
            self.via[p] = self.via.get(p, 0) + 1
            st.success()
            self.http_latency_max = max(self.http_latency_max, self.clock.now() - started)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            st.failure(started)
            self.http_errors.append((round(started, 3), round(self.clock.now(), 3), spoke))
        finally:
            if writer is not None:
                writer.close()

    async def http_spoke(self, spoke):
        period = 1.0 / self.args.rate
        nxt = time.monotonic()
        while not self.stop.is_set():
            self.spawn(self.http_request(spoke))
            nxt += period
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))

    # -- long flows that reconnect after an error (dl, tcp) --------------------------------
    async def reconnecting(self, flow, st, port, session):
        """Runs `session(reader, writer, started)` over connections to the target's PORT until
        the load stops; an error is counted against the flow and its class, timed from
        started[0] (the session moves it forward as it makes progress), and the flow reconnects."""
        while not self.stop.is_set():
            writer = None
            started = [self.clock.now()]
            try:
                reader, writer, flow.port = await self.connect(flow.spoke, port, self.args.timeout)
                flow.ports.append(flow.port)
                await session(reader, writer, started)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
                if self.stop.is_set():
                    return
                flow.errors += 1
                flow.error_times.append(round(self.clock.now(), 3))
                st.failure(started[0])
                await asyncio.sleep(0.2)
            finally:
                if writer is not None:
                    writer.close()

    # -- dl: long downloads through the proxies -------------------------------------------
    async def download(self, flow):
        st = self.cls["dl"]

        async def session(reader, writer, started):
            writer.write(b"GET /stream/%d HTTP/1.1\r\nHost: inet\r\n\r\n" % self.args.download_seconds)
            status, headers = await read_http_response(reader, self.args.timeout)
            if status != 200:
                raise ValueError("status %d" % status)
            flow.proxy = proxy_of(headers, self.args.prefix)
            flow.conns.append((round(started[0], 3), flow.proxy))
            left = int(headers.get("content-length", "0"))
            while left > 0 and not self.stop.is_set():
                chunk = await asyncio.wait_for(reader.read(65536), self.args.timeout)
                if not chunk:
                    raise ValueError("closed early")
                left -= len(chunk)
                flow.success()
                st.success()

        await self.reconnecting(flow, st, 80, session)

    # -- tcp: long echo flows ----------------------------------------------------------------
    async def tcp_flow(self, flow):
        st = self.cls["tcp"]

        async def session(reader, writer, started):
            seq = 0
            while not self.stop.is_set():
                msg = struct.pack("!QQ16x", flow.index, seq)
                writer.write(msg)
                sent_at = time.monotonic()
                started[0] = self.clock.now()
                echo = await asyncio.wait_for(reader.readexactly(len(msg)), self.args.flow_timeout)
                if echo != msg:
                    raise ValueError("echo mismatch")
                flow.success()
                st.success()
                seq += 1
                await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - sent_at)))

        await self.reconnecting(flow, st, 8080, session)

    # -- udp: echo flows ---------------------------------------------------------------------
    async def udp_flow(self, flow):
        st = self.cls["udp"]
        loop = asyncio.get_running_loop()
        s = make_socket(flow.spoke, socket.SOCK_DGRAM)
        s.connect((self.args.target, 7))
        flow.port = s.getsockname()[1]
        flow.ports.append(flow.port)
        pending = {}
        received = asyncio.Event()

        def on_readable():
            while True:
                try:
                    data = s.recv(2048)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return   # ICMP errors surface here; the datagram counts as lost
                if len(data) >= 16:
                    _, seq = struct.unpack("!QQ", data[:16])
                    if pending.pop(seq, None) is not None:
                        flow.success()
                        st.success()

        loop.add_reader(s.fileno(), on_readable)
        seq = 0
        nxt = time.monotonic()
        try:
            while not self.stop.is_set():
                now = self.clock.now()
                for old in [q for q, t in pending.items() if now - t > self.args.udp_timeout]:
                    del pending[old]
                    flow.lost += 1
                    flow.error_times.append(round(now, 3))
                    st.failure(now - self.args.udp_timeout, now)
                try:
                    s.send(struct.pack("!QQ16x", flow.index, seq))
                    pending[seq] = now
                    flow.sent += 1
                    st.sent += 1
                except OSError:
                    flow.lost += 1
                    flow.sent += 1
                    st.sent += 1
                    st.failure(now, now)
                seq += 1
                nxt += 0.05
                await asyncio.sleep(max(0.0, nxt - time.monotonic()))
            await asyncio.sleep(self.args.udp_timeout)   # answers still in flight count
            flow.lost += len(pending)
            for _ in pending:
                st.errors += 1
        finally:
            loop.remove_reader(s.fileno())
            s.close()

    # -- reporting ---------------------------------------------------------------------------
    async def reporter(self):
        nxt = time.monotonic() + 1.0
        while not self.stop.is_set():
            try:
                await asyncio.wait_for(self.stop.wait(), max(0.0, nxt - time.monotonic()))
            except asyncio.TimeoutError:
                pass
            nxt += 1.0
            if self.args.quiet:
                for c in self.cls.values():
                    c.sec_ok = c.sec_err = 0
                continue
            h, d, t, u = (self.cls[n] for n in ("http", "dl", "tcp", "udp"))
            line = ("%5.0fs  http %3d/s err %d gap %.1fs | dl %3d chunks/s err %d | "
                    "tcp %3d/s err %d gap %.1fs | udp sent %d lost %d gap %.1fs" % (
                        self.clock.now(), h.sec_ok, h.errors, h.current_gap(), d.sec_ok, d.errors,
                        t.sec_ok, t.errors, t.current_gap(), u.sent, u.errors, u.current_gap()))
            print(line, flush=True)
            for c in self.cls.values():
                c.sec_ok = c.sec_err = 0

    def summary(self):
        a = self.args
        out = []   # (name, value, unit)
        for f in self.flows:
            f.close_gap(self.t_stop)
        for name in ("http", "dl", "tcp", "udp"):
            c = self.cls[name]
            out.append(("%s_ok" % name, c.ok, "replies" if name != "dl" else "chunks"))
            out.append(("%s_errors" % name, c.errors, "failed" if name != "udp" else "lost"))
            out.append(("%s_gap_max" % name, round(c.current_gap(self.t_stop), 3), "s"))
            if c.first_err is not None:
                out.append(("%s_error_window" % name, round(c.last_err - c.first_err, 3), "s"))
            else:
                out.append(("%s_error_window" % name, 0, "s"))
            flows = [f for f in self.flows if f.cls == name]
            if flows:
                out.append(("%s_flows" % name, len(flows), "flows"))
                out.append(("%s_flow_gap_max" % name, round(max(f.gap for f in flows), 3), "s"))
                out.append(("%s_flows_disturbed" % name,
                            sum(1 for f in flows if f.gap > a.disturbed or f.errors or f.lost), "flows"))
        out.append(("udp_sent", self.cls["udp"].sent, "datagrams"))
        out.append(("http_latency_max", round(self.http_latency_max, 3), "s"))
        for p in sorted(self.via):
            out.append(("http_via_%s" % p, self.via[p], "replies"))
        out.append(("duration", round(self.t_stop, 1), "s"))
        return out

    async def run(self):
        a = self.args
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        for spoke in a.spokes:
            for i in range(a.downloads):
                f = Flow("dl", spoke, i, self.clock); self.flows.append(f); self.spawn(self.download(f))
            for i in range(a.tcp_flows):
                f = Flow("tcp", spoke, i, self.clock); self.flows.append(f); self.spawn(self.tcp_flow(f))
            for i in range(a.udp_flows):
                f = Flow("udp", spoke, i, self.clock); self.flows.append(f); self.spawn(self.udp_flow(f))
            if a.rate > 0:
                self.spawn(self.http_spoke(spoke))
        for c in self.cls.values():
            c.warm = 0.0
        rep = asyncio.ensure_future(self.reporter())
        if a.ready_file:
            self.spawn(self.mark_ready())
        try:
            await asyncio.wait_for(self.stop.wait(), a.duration if a.duration > 0 else None)
        except asyncio.TimeoutError:
            pass
        self.stop.set()
        self.t_stop = self.clock.now()
        await rep
        await asyncio.wait(list(self.tasks), timeout=a.timeout + 1.5)
        return self.summary()

    async def mark_ready(self):
        """Write READY_FILE once every long flow has had a success (the load is steady)."""
        while not self.stop.is_set():
            if all(f.ok > 0 for f in self.flows) and self.cls["http"].ok > 0:
                with open(self.args.ready_file, "w") as fh:   # load clock now, wall clock at its 0
                    fh.write("%.3f %.3f\n" % (self.clock.now(), self.clock.epoch0))
                return
            await asyncio.sleep(0.2)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spokes", required=True, help="comma-separated netns names of the spokes")
    p.add_argument("--prefix", default="eg-", help="the lab's prefix (to name proxies in Via)")
    p.add_argument("--target", default="198.51.100.80")
    p.add_argument("--duration", type=float, default=0, help="seconds (0: until SIGINT/SIGTERM)")
    p.add_argument("--rate", type=float, default=10, help="HTTP requests per second per spoke")
    p.add_argument("--downloads", type=int, default=2, help="long downloads per spoke")
    p.add_argument("--download-seconds", type=int, default=3600)
    p.add_argument("--tcp-flows", type=int, default=4, help="TCP echo flows per spoke")
    p.add_argument("--udp-flows", type=int, default=4, help="UDP echo flows per spoke")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds for an HTTP request / chunk")
    p.add_argument("--flow-timeout", type=float, default=15.0,
                   help="seconds an echo may take before the flow counts it as failed/lost")
    p.add_argument("--udp-timeout", type=float, default=1.0, help="seconds until a datagram counts as lost")
    p.add_argument("--disturbed", type=float, default=1.0, help="a flow gap above this (s) is a disturbance")
    p.add_argument("--json", help="write the summary and the flows' records here")
    p.add_argument("--ready-file", help="written when every flow has succeeded once")
    p.add_argument("--quiet", action="store_true", help="no per-second lines")
    a = p.parse_args()
    a.spokes = [s for s in a.spokes.split(",") if s]
    load = Load(a)
    summary = asyncio.run(load.run())
    for name, value, unit in summary:
        print("%s: %s %s" % (name, value, unit), flush=True)
    if a.json:
        data = {"summary": {n: v for n, v, _ in summary}, "units": {n: u for n, _, u in summary},
                "epoch0": load.clock.epoch0,
                "flows": [f.record() for f in load.flows], "http_errors": load.http_errors}
        tmp = a.json + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp, a.json)


if __name__ == "__main__":
    sys.exit(main())
