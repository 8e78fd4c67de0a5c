#!/usr/bin/python3
"""Decode a capture's GRE packets with tshark and print them as a JSON list.

Each entry: outer src/dst, GRE protocol (int), inner src/dst, inner IP protocol, and
inner UDP/TCP ports (null when absent). Usage: gre_packets.py FILE.pcap
"""
import json
import subprocess
import sys

FIELDS = ["ip.src", "ip.dst", "ip.proto", "gre.proto", "udp.srcport", "udp.dstport",
          "tcp.srcport", "tcp.dstport"]


def main():
    cmd = ["tshark", "-n", "-r", sys.argv[1], "-Y", "gre", "-T", "fields",
           "-E", "separator=\t", "-E", "aggregator=,"]
    for field in FIELDS:
        cmd += ["-e", field]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    packets = []
    for line in out.splitlines():
        cols = dict(zip(FIELDS, line.split("\t")))
        src, dst = cols["ip.src"].split(","), cols["ip.dst"].split(",")
        protos = cols["ip.proto"].split(",")
        port = lambda name: int(cols[name].split(",")[0]) if cols.get(name) else None
        packets.append({
            "outerSrc": src[0], "outerDst": dst[0],
            "greProto": int(cols["gre.proto"].split(",")[0], 16) if cols["gre.proto"] else None,
            "innerSrc": src[1] if len(src) > 1 else None,
            "innerDst": dst[1] if len(dst) > 1 else None,
            "innerProto": int(protos[1]) if len(protos) > 1 else None,
            "sport": port("udp.srcport") or port("tcp.srcport"),
            "dport": port("udp.dstport") or port("tcp.dstport"),
        })
    json.dump(packets, sys.stdout)


if __name__ == "__main__":
    main()
