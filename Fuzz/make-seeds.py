#!/usr/bin/env python3
"""Writes the fuzz seed corpora (Fuzz/corpus/TARGET/*) from bytes the project's
tests already hold, which came from real peers and tools:
  packet:      Tests/PacketTests/Fixtures/*.hex (scapy-built GRE/IPv4/IPv6 frames,
               checked against tshark by the tests)
  bgp, bgp-session: the scapy/FRR-style messages of Tests/BGPTests/MessageCodecTests.swift
  wccp:        Squid 5.7's HERE_I_AM and the I_SEE_YOU it accepted
               (Tests/WCCPTests/TestSupport.swift, from shared/references/squid-wccp.md)
  config:      configs/lab/*.conf and the configs of the namespace tests.
Run from anywhere; rewrites the corpus directories. Seeds stay small (< 1 kB each)."""
import pathlib, re, sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Fuzz" / "corpus"


def swift_hex(path, name):
    """The bytes of `static let NAME = hex(\"\"\" ... \"\"\")` or `let NAME = hex(...)` in a Swift file."""
    text = (ROOT / path).read_text()
    m = re.search(r"let %s = hex\((\"\"\"(.*?)\"\"\"|\"([0-9a-fA-F]*)\")" % re.escape(name), text, re.S)
    if not m:
        sys.exit("make-seeds: %s not found in %s" % (name, path))
    body = m.group(2) if m.group(2) is not None else m.group(3)
    return bytes.fromhex(re.sub(r"[^0-9a-fA-F]", "", body))


def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main():
    # packet: selector byte 0 = from a tunnel (outer IPv4 + GRE); 1 = from the kernel (inner packet).
    for f in sorted((ROOT / "Tests/PacketTests/Fixtures").glob("*.hex")):
        raw = bytes.fromhex(f.read_text().strip())
        write("packet", f.stem, b"\x00" + raw)
        if raw[9] == 47:  # the inner packet of a plain GRE frame, as the kernel hands it over
            ihl = (raw[0] & 0xF) * 4
            flags = raw[ihl]
            gre = 4 + 4 * bin(flags & 0xB0).count("1")
            write("packet", f.stem + "-inner", b"\x01" + raw[ihl + gre:])
        else:
            write("packet", f.stem + "-from-kernel", b"\x01" + raw)

    codec = "Tests/BGPTests/MessageCodecTests.swift"
    names = ["openFRRStyle", "updateFromTGW", "updateIPv6", "updateFromTwoOctetSpeaker",
             "withdrawIPv6", "ceaseShutdown", "keepalive", "routeRefreshIPv6"]
    msgs = {n: swift_hex(codec, n) for n in names}
    for n, b in msgs.items():
        write("bgp", n, b)
    write("bgp", "stream-open-keepalive-update", msgs["openFRRStyle"] + msgs["keepalive"] + msgs["updateFromTGW"])

    # bgp-session: the peer is AS 64512 (the Transit Gateway), id 10.0.0.1: the FRR-style OPEN with its AS and id.
    peer_open = bytearray(msgs["openFRRStyle"])
    peer_open[20:22] = (64512).to_bytes(2, "big")
    peer_open[24:28] = bytes([10, 0, 0, 1])
    i = bytes(peer_open).find(bytes.fromhex("41040000fde8"))
    peer_open[i + 2:i + 6] = (64512).to_bytes(4, "big")

    def chunks(flags, *messages):
        out = bytearray([flags])
        for m in messages:
            for k in range(0, len(m), 200):
                part = m[k:k + 200]
                out += bytes([len(part) - 1]) + part
        return bytes(out)

    write("bgp-session", "active-establish-update", chunks(0, bytes(peer_open), msgs["keepalive"], msgs["updateFromTGW"],
                                                         msgs["updateIPv6"], msgs["withdrawIPv6"], msgs["ceaseShutdown"]))
    write("bgp-session", "passive-establish-refresh", chunks(1, bytes(peer_open), msgs["keepalive"], msgs["routeRefreshIPv6"],
                                                           msgs["updateFromTGW"], msgs["keepalive"]))

    support = "Tests/WCCPTests/TestSupport.swift"
    write("wccp", "squid-here-i-am-hash", swift_hex(support, "squidHereIAmHash"))
    write("wccp", "squid-accepted-i-see-you", swift_hex(support, "squidAcceptedISeeYou"))

    for f in sorted((ROOT / "configs/lab").glob("*.conf")):
        write("config", f.stem, f.read_bytes())
    bgp_test = (ROOT / "Tests/Namespace/bgp-frr.test.sh").read_text()
    m = re.search(r'cat >"\$WORK/app.conf" <<\'EOF\'\n(.*?)\nEOF', bgp_test, re.S)
    write("config", "bgp-frr-app", (m.group(1) + "\n").encode())
    write("config", "wccp", b"""hostname eg-app1
interface tgw0
 tunnel connect-peer tgw-1 source 10.0.1.10 destination 10.0.0.1
 ip address 169.254.6.1/29
!
ip access-list extended WEB
 deny tcp host 10.77.0.2 any
 permit tcp any any eq 80
!
ip wccp router-id 10.77.0.1
ip wccp timers here-i-am 500
ip wccp web-cache redirect-list WEB password 0 s3cret
""")


main()
