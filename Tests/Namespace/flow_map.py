#!/usr/bin/python3
"""Which tunnel carried each UDP flow, per direction, from a capture on app1's underlay.

Usage: flow_map.py PACKETS.json FLOWS.json  (from gre_packets.py and udp_flows.py)
Prints JSON: {"answered": [...], "forward": {port: tunnel}, "return": {port: tunnel},
"split": [ports seen on both tunnels in one direction]}. Tunnels are named by app1's side:
outer 10.0.0.1 = tgw0, 10.0.0.2 = tgw1. forward = tgw's choice (inner source port),
return = app1's choice (inner destination port).
"""
import json
import sys

TUNNEL_OF_TGW_ADDRESS = {"10.0.0.1": "tgw0", "10.0.0.2": "tgw1"}
APP1 = "10.0.1.10"


def main():
    packets = json.load(open(sys.argv[1]))
    flows = json.load(open(sys.argv[2]))
    ports = set(flows["answered"]) | set(flows["unanswered"])
    seen = {"forward": {}, "return": {}}
    for p in packets:
        if p["innerProto"] != 17:
            continue
        if p["outerDst"] == APP1 and p["sport"] in ports:
            seen["forward"].setdefault(p["sport"], set()).add(TUNNEL_OF_TGW_ADDRESS.get(p["outerSrc"], p["outerSrc"]))
        elif p["outerSrc"] == APP1 and p["dport"] in ports:
            seen["return"].setdefault(p["dport"], set()).add(TUNNEL_OF_TGW_ADDRESS.get(p["outerDst"], p["outerDst"]))
    split = sorted(port for direction in seen.values() for port, t in direction.items() if len(t) > 1)
    result = {"answered": flows["answered"], "split": split}
    for direction, mapping in seen.items():
        result[direction] = {str(port): sorted(t)[0] for port, t in mapping.items()}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
