#!/usr/bin/python3
"""A scripted BGP peer for bgp-malformed.test.sh: sends egressd well-formed and malformed
messages and checks its answers (RFC 4271 §6, RFC 7606, RFC 4760, RFC 6793).

What we send is built byte by byte (the point is to control every bad bit); what egressd sends
back is dissected with scapy's BGP layers (scapy.contrib.bgp). egressd's RIB is read with egsh.

Usage (Debian's python, which has scapy): bgp_scapy_peer.py EGSH SOCKET
Prints one line per case ("ok CASE: ...") and exits 1 at the first failed expectation.
"""
import json
import socket
import struct
import subprocess
import sys
import time

from scapy.all import load_contrib
load_contrib("bgp")
from scapy.contrib.bgp import BGPHeader, BGPNotification, BGPOpen, BGPUpdate  # noqa: E402

EGSH, SOCK = sys.argv[1], sys.argv[2]
EGRESSD = ("192.0.2.1", 179)
PEER = "192.0.2.2"          # AS 64999, 4-octet AS and IPv4+IPv6 unicast capable
OLD_PEER = "192.0.2.3"      # AS 64998, no capabilities at all (a 2-octet speaker)
LOCAL_AS = 4200000001       # egressd's AS: 4-octet
AS_TRANS = 23456


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def egsh_json(cmd):
    out = subprocess.run([EGSH, "--socket", SOCK, "-c", cmd], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        fail("egsh %r: %s" % (cmd, out.stdout + out.stderr))
    return json.loads(out.stdout)


def routes():
    return set(egsh_json("show ip bgp json").get("routes", {})) | set(egsh_json("show bgp ipv6 unicast json").get("routes", {}))


def peer_state(addr):
    return egsh_json("show ip bgp summary json")["ipv4Unicast"]["peers"][addr]


def wait_for(what, pred, secs=8):
    deadline = time.time() + secs
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.2)
    fail("timed out waiting for " + what)


# --- message building (raw bytes) ---

MARKER = b"\xff" * 16


def msg(mtype, body, marker=MARKER, length=None):
    return marker + struct.pack("!HB", 19 + len(body) if length is None else length, mtype) + body


def open_msg(my_as, bgp_id, caps):
    params = b"".join(b"\x02" + bytes([len(c)]) + c for c in caps)
    return msg(1, struct.pack("!BHH4sB", 4, my_as, 30, socket.inet_aton(bgp_id), len(params)) + params)


CAP_MP4 = bytes([1, 4, 0, 1, 0, 1])
CAP_MP6 = bytes([1, 4, 0, 2, 0, 1])
CAP_AS4 = bytes([65, 4]) + struct.pack("!I", 64999)
KEEPALIVE = msg(4, b"")


def attr(flags, code, value):
    if flags & 0x10:
        return bytes([flags, code]) + struct.pack("!H", len(value)) + value
    return bytes([flags, code, len(value)]) + value


ORIGIN = attr(0x40, 1, b"\x00")
AS_PATH = attr(0x40, 2, bytes([2, 1]) + struct.pack("!I", 64999))   # AS_SEQUENCE [64999], 4-octet
NEXT_HOP = attr(0x40, 3, socket.inet_aton(PEER))


def nlri4(prefix, length):
    octets = (length + 7) // 8
    return bytes([length]) + socket.inet_aton(prefix)[:octets]


def update(attrs=b"", nlri=b"", withdrawn=b""):
    return msg(2, struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri)


def mp_reach6(flags=0x80, nh=None, prefix=b"\x20\x20\x01\x0d\xb8"):
    nh = socket.inet_pton(socket.AF_INET6, "2001:db8:ffff::2") if nh is None else nh
    return attr(flags, 14, struct.pack("!HB", 2, 1) + bytes([len(nh)]) + nh + b"\x00" + prefix)


# --- the session ---

class Session:
    def __init__(self, local, my_as, caps):
        self.local = local
        deadline = time.time() + 25
        while True:
            try:
                self.sock = socket.socket()
                self.sock.bind((local, 0))
                self.sock.settimeout(5)
                self.sock.connect(EGRESSD)
                self.sock.sendall(open_msg(my_as, local, caps))
                kind, body, raw = self.read()
                if kind != 1:
                    raise ConnectionError("expected OPEN, got type %d" % kind)
                self.peer_open = BGPHeader(raw)
                self.sock.sendall(KEEPALIVE)
                while True:   # egressd's KEEPALIVE completes the open
                    kind, body, raw = self.read()
                    if kind == 4:
                        break
                    if kind == 3:
                        raise ConnectionError("NOTIFICATION during open: %r" % BGPHeader(raw).summary())
                self.updates, self.raw_updates = [], []
                return
            except (OSError, ConnectionError) as e:
                self.sock.close()
                if time.time() > deadline:
                    fail("could not establish a session from %s: %s" % (local, e))
                time.sleep(0.5)

    def read_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("connection closed")
            data += chunk
        return data

    def read(self):
        head = self.read_exact(19)
        length, kind = struct.unpack("!HB", head[16:19])
        body = self.read_exact(length - 19)
        return kind, body, head + body

    def send(self, data):
        self.sock.sendall(data)

    def answer(self, secs):
        """The first NOTIFICATION (code, subcode, data) within secs; None if none came and the
        connection is still open (UPDATEs and KEEPALIVEs are collected on the way)."""
        deadline = time.time() + secs
        while time.time() < deadline:
            self.sock.settimeout(max(0.1, deadline - time.time()))
            try:
                kind, body, raw = self.read()
            except socket.timeout:
                return None
            except ConnectionError:
                return "closed"
            if kind == 3:
                n = BGPHeader(raw)[BGPNotification]
                return (n.error_code, n.error_subcode, bytes(n.data) if n.data else b"")
            if kind == 2:
                self.updates.append(BGPHeader(raw))
                self.raw_updates.append(raw)
        return None

    def close(self):
        self.sock.close()


def expect_reset(name, s, data, code, subcode, want_data=None):
    s.send(data)
    got = s.answer(5)
    if got is None or got == "closed":
        fail("%s: expected NOTIFICATION %d/%d, got %s" % (name, code, subcode, got or "no answer"))
    if got[:2] != (code, subcode):
        fail("%s: expected NOTIFICATION %d/%d, got %d/%d (data %s)" % (name, code, subcode, got[0], got[1], got[2].hex()))
    if want_data is not None and got[2] != want_data:
        fail("%s: NOTIFICATION data %s, expected %s" % (name, got[2].hex(), want_data.hex()))
    if s.answer(2) != "closed":
        fail("%s: connection not closed after the NOTIFICATION" % name)
    s.close()
    wait_for(name + ": session down in egressd", lambda: peer_state(s.local)["state"] != "Established")
    last = peer_state(s.local)["lastError"] or ""
    print("ok %s: NOTIFICATION %d/%d%s; egressd: %s" % (name, code, subcode,
          " with data " + got[2].hex() if got[2] else "", last))


def expect_kept(name, s, data, gone, kept=()):
    s.send(data)
    got = s.answer(2)
    if got is not None:
        fail("%s: the session must stay (RFC 7606), got %s" % (name, got))
    wait_for(name + ": %s withdrawn" % (gone,), lambda: not (set(gone) & routes()))
    r = routes()
    if not set(kept) <= r:
        fail("%s: %s should still be in the RIB: %s" % (name, kept, sorted(r)))
    s.send(KEEPALIVE)
    if s.answer(1) is not None or peer_state(PEER)["state"] != "Established":
        fail("%s: session not Established afterwards" % name)
    print("ok %s: session kept, %s withdrawn%s" % (name, ", ".join(gone), (", %s kept" % ", ".join(kept)) if kept else ""))


def announce(s, prefix, length, extra=b""):
    s.send(update(ORIGIN + AS_PATH + NEXT_HOP + extra, nlri4(prefix, length)))
    key = "%s/%d" % (prefix, length)
    wait_for(key + " in egressd's RIB", lambda: key in routes())


# 1. a 4-octet AS, IPv4+IPv6 peer; egressd's default route arrives; a valid route is learned.
s = Session(PEER, 64999, [CAP_MP4, CAP_MP6, CAP_AS4])
o = s.peer_open[BGPOpen]
if o.my_as != AS_TRANS:
    fail("egressd's OPEN: My AS %d, expected AS_TRANS for AS %d" % (o.my_as, LOCAL_AS))
if ("%d" % LOCAL_AS) not in repr(o.opt_params):
    fail("egressd's OPEN lacks the 4-octet AS capability with %d: %r" % (LOCAL_AS, o.opt_params))
s.answer(2)
if not any(u.haslayer(BGPUpdate) and "0.0.0.0/0" in repr(u[BGPUpdate].nlri) for u in s.updates):
    fail("no UPDATE with 0.0.0.0/0 from egressd: %r" % [u.summary() for u in s.updates])
announce(s, "10.99.0.0", 24)
print("ok open: My AS 23456 + 4-octet capability %d; default route received; 10.99.0.0/24 learned" % LOCAL_AS)

# 2. RFC 7606 treat-as-withdraw: the session stays, the prefix goes.
expect_kept("ORIGIN flags 0xC0 (treat-as-withdraw)", s,
            update(attr(0xC0, 1, b"\x00") + AS_PATH + NEXT_HOP, nlri4("10.99.0.0", 24)), ["10.99.0.0/24"])
announce(s, "10.99.0.0", 24)
expect_kept("ORIGIN length 2 (treat-as-withdraw)", s,
            update(attr(0x40, 1, b"\x00\x00") + AS_PATH + NEXT_HOP, nlri4("10.99.0.0", 24)), ["10.99.0.0/24"])
announce(s, "10.99.0.0", 24)
# Attribute discard: ATOMIC_AGGREGATE with length 1 is dropped, the route stays.
announce(s, "10.98.0.0", 24, attr(0x40, 6, b"\x00"))
expect_kept("AS_PATH segment overrun (treat-as-withdraw)", s,
            update(ORIGIN + attr(0x40, 2, bytes([2, 3]) + struct.pack("!I", 64999)) + NEXT_HOP, nlri4("10.99.0.0", 24)),
            ["10.99.0.0/24"], kept=["10.98.0.0/24"])

# 3. Errors that reset the session.
bad_flags = mp_reach6(flags=0x40)
expect_reset("MP_REACH_NLRI flags 0x40", s, update(ORIGIN + AS_PATH + bad_flags), 3, 4, bad_flags)
if {"10.98.0.0/24"} & routes():
    fail("routes of the reset session are still in the RIB: %s" % sorted(routes()))
print("ok reset: the peer's routes left the RIB")

# Each further reset on a peer address of its own: egressd backs off a peer that keeps failing
# (idle hold time 5, 10, 20, ... s, RFC 4271 DampPeerOscillations), one failure each stays quick.
CAPS = [CAP_MP4, CAP_MP6, CAP_AS4]
bad_nh = mp_reach6(nh=b"\x01\x02\x03\x04\x05")
expect_reset("MP_REACH_NLRI next hop length 5", Session("192.0.2.4", 64999, CAPS), update(ORIGIN + AS_PATH + bad_nh), 3, 9, bad_nh)

body = struct.pack("!HH", 0, 200) + ORIGIN + AS_PATH + NEXT_HOP    # claims 200 octets of attributes
expect_reset("total path attribute length beyond the message", Session("192.0.2.5", 64999, CAPS), msg(2, body), 3, 1)

expect_reset("NLRI prefix length 33", Session("192.0.2.6", 64999, CAPS),
             update(ORIGIN + AS_PATH + NEXT_HOP, bytes([33, 10, 99, 0, 0, 1])), 3, 10)

expect_reset("bad marker", Session("192.0.2.7", 64999, CAPS), msg(4, b"", marker=b"\xff" * 15 + b"\xfe"), 1, 1)

expect_reset("message length 18", Session("192.0.2.8", 64999, CAPS), msg(4, b"", length=18), 1, 2, struct.pack("!H", 18))

expect_reset("message type 9", Session("192.0.2.9", 64999, CAPS), msg(9, b""), 1, 3, b"\x09")

# 4. A 2-octet speaker: egressd sends AS_TRANS in AS_PATH and its AS in AS4_PATH (RFC 6793).
old = Session(OLD_PEER, 64998, [])
old.answer(2)
ups = [r for u, r in zip(old.updates, old.raw_updates) if u.haslayer(BGPUpdate) and "0.0.0.0/0" in repr(u[BGPUpdate].nlri)]
if not ups:
    fail("no default route to the 2-octet speaker: %r" % [u.summary() for u in old.updates])
raw = ups[0][19:]
attrs = {}
i = 2 + struct.unpack("!H", raw[0:2])[0]
alen = struct.unpack("!H", raw[i:i + 2])[0]
a, end = i + 2, i + 2 + alen
while a < end:
    flags, code = raw[a], raw[a + 1]
    ln, hl = (struct.unpack("!H", raw[a + 2:a + 4])[0], 4) if flags & 0x10 else (raw[a + 2], 3)
    attrs[code] = raw[a + hl:a + hl + ln]
    a += hl + ln
if attrs.get(2) != bytes([2, 1]) + struct.pack("!H", AS_TRANS):
    fail("AS_PATH to a 2-octet speaker is %s, expected [23456] in 2-octet form" % attrs.get(2, b"").hex())
if attrs.get(17) != bytes([2, 1]) + struct.pack("!I", LOCAL_AS):
    fail("AS4_PATH to a 2-octet speaker is %s, expected [%d]" % (attrs.get(17, b"").hex(), LOCAL_AS))
# And what it sends in: AS_PATH [64998 23456] with AS4_PATH [4200000099] is read as 64998 4200000099.
old_path = attr(0x40, 2, bytes([2, 2]) + struct.pack("!HH", 64998, AS_TRANS))
as4 = attr(0xC0, 17, bytes([2, 1]) + struct.pack("!I", 4200000099))
old.send(update(ORIGIN + old_path + attr(0x40, 3, socket.inet_aton(OLD_PEER)) + as4, nlri4("10.97.0.0", 24)))
wait_for("10.97.0.0/24 from the 2-octet speaker", lambda: "10.97.0.0/24" in routes())
path = egsh_json("show ip bgp json")["routes"]["10.97.0.0/24"][0]["path"]
if path != "64998 4200000099":
    fail("AS_PATH + AS4_PATH merged to %r, expected '64998 4200000099'" % path)
old.close()
print("ok 2-octet speaker: AS_PATH [23456] + AS4_PATH [%d] sent; received path merged to %r" % (LOCAL_AS, path))
print("all cases passed")
