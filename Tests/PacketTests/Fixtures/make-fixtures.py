#!/usr/bin/python3
"""Regenerates the packet fixtures used by PacketTests with scapy.

Run: /usr/bin/python3 Tests/PacketTests/Fixtures/make-fixtures.py
Each fixture is one line of hex in NAME.hex; the comment in fixtures.txt says
how it was built. The tests parse these bytes with the Packet module and
compare what they read with what scapy wrote.
"""
import os
from scapy.all import IP, IPv6, GRE, UDP, TCP, ICMP, ICMPv6EchoRequest, Raw, raw

here = os.path.dirname(os.path.abspath(__file__))
inner = IP(src="10.1.0.10", dst="198.51.100.80", ttl=63, id=0x1234, flags="DF") / \
    TCP(sport=40000, dport=80, flags="S", seq=1000, options=[("MSS", 8960), ("NOP", None), ("WScale", 7)])
inner6 = IPv6(src="fd01::10", dst="2001:db8::80", hlim=64) / UDP(sport=5353, dport=53) / Raw(b"x" * 12)

fixtures = {
    # Plain keyless GRE as Transit Gateway Connect sends it, IPv4 inside.
    "gre-plain-ipv4": IP(src="10.0.0.1", dst="10.0.1.10", ttl=255) / GRE(proto=0x0800) / inner,
    # GRE with checksum, key and sequence number (RFC 2890), IPv6 inside.
    "gre-csum-key-seq-ipv6": IP(src="10.0.0.1", dst="10.0.1.10") /
        GRE(chksum_present=1, key_present=1, seqnum_present=1, key=0x2A, seqence_number=7, proto=0x86DD) / inner6,
    # GRE version 1 (PPTP enhanced GRE): must be refused.
    "gre-version1": IP(src="10.0.0.1", dst="10.0.1.10") / GRE(version=1, proto=0x880B) / Raw(b"\x00" * 8),
    # GRE with the retired routing bit.
    "gre-routing-bit": IP(src="10.0.0.1", dst="10.0.1.10") / GRE(routing_present=1, proto=0x0800) / Raw(b"\x00" * 8) / inner,
    # A UDP datagram and an ICMP echo, for header field checks.
    "ipv4-udp": IP(src="10.2.0.10", dst="198.51.100.80", ttl=64) / UDP(sport=40001, dport=7) / Raw(b"hello"),
    "ipv4-icmp-echo": IP(src="10.1.0.10", dst="198.51.100.80") / ICMP(id=7, seq=1) / Raw(b"ping"),
    "ipv6-icmpv6-echo": IPv6(src="fd01::10", dst="2001:db8::80") / ICMPv6EchoRequest(id=7, seq=1),
    "ipv4-tcp-syn-mss": inner,
}
with open(os.path.join(here, "fixtures.txt"), "w") as index:
    for name, pkt in fixtures.items():
        data = raw(pkt)
        with open(os.path.join(here, name + ".hex"), "w") as f:
            f.write(data.hex() + "\n")
        index.write(f"{name}: {pkt.summary()}\n")
