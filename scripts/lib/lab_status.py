#!/usr/bin/python3
"""`scripts/lab.sh status`: the lab at a glance, one short table per appliance.

Usage: lab_status.py EGSH STATE_DIR PREFIX NODE...   (NODE: tgw app1 app2; the daemons)
Per appliance: its egressd (pid, alive), tunnels (state, packets in/out, drops), BGP sessions
(state, prefixes received/sent), WCCP caches (state, buckets); for the stand-in its tunnels.
"""
import json
import os
import subprocess
import sys


def egsh(egsh_bin, sock, cmd):
    try:
        out = subprocess.run([egsh_bin, "--socket", sock, "-c", cmd], capture_output=True,
                             text=True, timeout=5)
        return json.loads(out.stdout) if out.returncode == 0 else None
    except (subprocess.TimeoutExpired, json.JSONDecodeError, OSError):
        return None


def pid_alive(state, name):
    try:
        pid = int(open(os.path.join(state, name + ".pid")).read())
    except (OSError, ValueError):
        return "-", False
    try:
        with open("/proc/%d/stat" % pid) as f:
            alive = f.read().split(") ")[1][0] != "Z"
    except OSError:
        alive = False
    return pid, alive


def main():
    egsh_bin, state, prefix = sys.argv[1:4]
    for node in sys.argv[4:]:
        sock = os.path.join(state, node + ".sock")
        pid, alive = pid_alive(state, node)
        role = "Transit Gateway stand-in" if node == "tgw" else "appliance"
        print("%s%s  (%s)  egressd pid %s %s" % (prefix, node, role, pid, "running" if alive else "NOT RUNNING"))
        ifs = egsh(egsh_bin, sock, "show interfaces json") if alive else None
        if ifs is None:
            print("   (no answer from egressd)")
            continue
        for i in ifs.get("interfaces", []):
            c = i.get("counters", {})
            drops = sum(c.get("drops", {}).values())
            print("   tunnel %-5s %-5s %-16s -> %-15s in %8d  out %8d pkts  drops %d" % (
                i["name"], i["state"], i.get("ipv4") or "", i.get("destination") or "",
                c.get("rxPackets", 0), c.get("txPackets", 0), drops))
        if node == "tgw":
            continue
        bgp = egsh(egsh_bin, sock, "show ip bgp summary json")
        peers = (bgp or {}).get("ipv4Unicast", {}).get("peers", {})
        for addr in sorted(peers):
            p = peers[addr]
            print("   bgp    %-15s %-12s up %-9s pfx in %3s out %3s" % (
                addr, p.get("state"), p.get("peerUptime") or "-", p.get("pfxRcd", 0), p.get("pfxSnt", 0)))
        track = egsh(egsh_bin, sock, "show track json")
        for t in (track or {}).get("tracks", []) if isinstance(track, dict) else []:
            print("   track  %-3s %-5s probes %s to %s, %s failed (default route follows it)" % (
                t.get("track"), t.get("state"), t.get("probes"), t.get("target"), t.get("failures")))
        wccp = egsh(egsh_bin, sock, "show ip wccp json")
        for svc in (wccp or {}).get("services", []):
            detail = egsh(egsh_bin, sock, "show ip wccp %s detail json" % svc["serviceId"]) or {}
            caches = ", ".join("%s %s %d buckets" % (c["id"], c["state"], c.get("hashAllotment", 0))
                               for c in detail.get("clients", [])) or "no caches"
            print("   wccp   %-3s %s; redirected %d, failed open %d" % (
                svc["serviceId"], caches, detail.get("packetsRedirected", 0), detail.get("packetsFailedOpen", 0)))


if __name__ == "__main__":
    main()
