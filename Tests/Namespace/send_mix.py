#!/usr/bin/python3
"""Send a known mix of GRE packets to the appliance (run in the tgw namespace, Debian's scapy).

Usage: send_mix.py N [--dst 10.0.1.10]
Per peer (10.0.0.1 = tgw0, 10.0.0.2 = tgw1), N packets of each kind:
  forward      UDP 10.1.0.10 -> 198.51.100.80:9 (forwarded to the firewall)
  kernel       ICMP echo to the tunnel's own inside address (handed to the kernel)
  ttl1         TTL 1 toward the Internet (ttl-expired; an ICMP error goes back)
  version1     GRE version 1 (bad-gre)
  badsum       GRE checksum present and wrong (gre-checksum)
  teb          GRE protocol 0x6558 (unsupported-payload)
  badinner     inner IPv4 with a wrong header checksum (bad-inner)
  blackhole    to 10.9.9.9 when the test configured a blackhole route for it
plus N plain GRE packets from 10.0.9.9, which no tunnel expects (unknown-peer).
Prints a JSON object: packets sent per source.
"""
import argparse
import json

from scapy.all import GRE, ICMP, IP, UDP, Ether, Raw, conf, send
from scapy.supersocket import L3RawSocket

INSIDE = {"10.0.0.1": "169.254.6.1", "10.0.0.2": "169.254.7.1"}


def inner(kind, peer, i):
    if kind == "kernel":
        return IP(src="10.1.0.10", dst=INSIDE[peer], ttl=64, id=i) / ICMP(id=7, seq=i)
    dst = "10.9.9.9" if kind == "blackhole" else "198.51.100.80"
    ttl = 1 if kind == "ttl1" else 64
    return IP(src="10.1.0.10", dst=dst, ttl=ttl, id=i) / UDP(sport=40009, dport=9) / Raw(b"egressd accounting")


def gre(kind, peer, i):
    good = bytes(inner(kind, peer, i))
    if kind == "version1":
        return bytes(GRE(version=1, proto=0x0800) / Raw(good))
    if kind == "badsum":
        data = bytearray(bytes(GRE(chksum_present=1, offset=0, proto=0x0800) / Raw(good)))
        data[4] ^= 0x5A
        return bytes(data)
    if kind == "teb":
        return bytes(GRE(proto=0x6558) / Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Raw(good))
    if kind == "badinner":
        data = bytearray(good)
        data[10] ^= 0x5A
        return bytes(GRE(proto=0x0800) / Raw(bytes(data)))
    return bytes(GRE(proto=0x0800) / Raw(good))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int)
    parser.add_argument("--dst", default="10.0.1.10")
    args = parser.parse_args()
    conf.L3socket = L3RawSocket
    kinds = ["forward", "kernel", "ttl1", "version1", "badsum", "teb", "badinner", "blackhole"]
    packets, sent = [], {}
    for peer in ("10.0.0.1", "10.0.0.2"):
        for kind in kinds:
            for i in range(args.count):
                packets.append(IP(src=peer, dst=args.dst, proto=47, id=3000 + i) / Raw(gre(kind, peer, i)))
        sent[peer] = len(kinds) * args.count
    for i in range(args.count):
        packets.append(IP(src="10.0.9.9", dst=args.dst, proto=47, id=5000 + i) / Raw(gre("forward", "10.0.0.1", i)))
    sent["10.0.9.9"] = args.count
    send(packets, verbose=0, inter=0.001)
    print(json.dumps(sent))


if __name__ == "__main__":
    main()
