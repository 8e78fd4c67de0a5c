#!/usr/bin/python3
"""Send crafted GRE packets to the appliance (run inside the tgw namespace, Debian's scapy).

Usage: send_bad_gre.py KIND COUNT [--src 10.0.0.1] [--dst 10.0.1.10]
KIND: version1 | routing | bad-checksum | good-checksum | teb | inner-bad-checksum |
      inner-bad-version | plain
The inner packet is UDP 10.1.0.10 -> 198.51.100.80 port 9 (closed on inet, so a packet that
is forwarded costs one ICMP port unreachable and nothing else).
"""
import argparse

from scapy.all import GRE, IP, UDP, Ether, Raw, conf, send
from scapy.supersocket import L3RawSocket


def inner(ident):
    return IP(src="10.1.0.10", dst="198.51.100.80", ttl=64, id=ident) / UDP(sport=40009, dport=9) / Raw(b"egressd bad-gre test")


def gre_payload(kind, ident):
    """The GRE header and payload for KIND, as bytes."""
    good_inner = bytes(inner(ident))
    if kind in ("plain", "version1", "routing", "good-checksum", "bad-checksum"):
        if kind == "plain":
            gre = GRE(proto=0x0800)
        elif kind == "version1":
            gre = GRE(version=1, proto=0x0800)
        elif kind == "routing":
            gre = GRE(routing_present=1, chksum=0, offset=0, proto=0x0800)
        else:
            gre = GRE(chksum_present=1, offset=0, proto=0x0800)
        data = bytearray(bytes(gre / Raw(good_inner)))
        if kind == "bad-checksum":
            data[4] ^= 0x5A  # the checksum scapy computed, made wrong
        return bytes(data)
    if kind == "teb":
        frame = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / inner(ident)
        return bytes(GRE(proto=0x6558) / frame)
    if kind == "inner-bad-checksum":
        data = bytearray(good_inner)
        data[10] ^= 0x5A
        return bytes(GRE(proto=0x0800) / Raw(bytes(data)))
    if kind == "inner-bad-version":
        data = bytearray(good_inner)
        data[0] = 0x55  # version 5, header length 5
        return bytes(GRE(proto=0x0800) / Raw(bytes(data)))
    raise SystemExit("unknown kind %r" % kind)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind")
    parser.add_argument("count", type=int)
    parser.add_argument("--src", default="10.0.0.1")
    parser.add_argument("--dst", default="10.0.1.10")
    args = parser.parse_args()
    conf.L3socket = L3RawSocket  # the kernel routes and resolves; no scapy ARP
    packets = [IP(src=args.src, dst=args.dst, proto=47, id=1000 + i) / Raw(gre_payload(args.kind, 2000 + i))
               for i in range(args.count)]
    send(packets, verbose=0, inter=0.002)


if __name__ == "__main__":
    main()
