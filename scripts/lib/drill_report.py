#!/usr/bin/python3
"""The verdict of one drill (scripts/drill.sh): reads the load's JSON (lab_load.py --json),
the firewall's connection table at the moment of the failure (to tell which appliance each
TCP/UDP flow used: ct mark 1 = app1, 2 = app2, none = app1 in the one-appliance lab), and
prints what users would ask, then PASS/FAIL against the drill's bounds (exit 0/1).

Figures:
  time disturbed      the longest silence of a UDP or download flow, or the span of start
                      times of failed HTTP requests, after the failure began (load clock);
                      TCP echo silences (which add TCP's retransmission back-off) are shown
                      apart, and count only in drills that must lose nothing (--whole)
  requests failed     HTTP requests, download and TCP echo failures (reset, timeout)
  packets lost        UDP echo datagrams without an answer within 1 s
  unrelated flows     flows that did not use the failed part (the drill says which part:
                      an appliance, or a proxy); disturbed = a silence above the threshold
                      or an error after the failure
"""
import argparse
import json
import re
import sys


def conntrack_marks(path, spoke_ips):
    """(spoke netns, proto, sport) -> mark, from /proc/net/nf_conntrack text."""
    marks = {}
    try:
        text = open(path).read()
    except OSError:
        return marks
    ip_to_spoke = {ip: ns for ns, ip in spoke_ips.items()}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        proto = f[2]
        src = re.search(r"\bsrc=(\S+)", line)
        sport = re.search(r"\bsport=(\d+)", line)
        mark = re.search(r"\bmark=(\d+)", line)
        if not (src and sport):
            continue
        spoke = ip_to_spoke.get(src.group(1))
        if spoke is None:
            continue
        marks[(spoke, proto, int(sport.group(1)))] = int(mark.group(1)) if mark else 0
    return marks


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--drill", required=True)
    p.add_argument("--load", required=True, help="the load's JSON")
    p.add_argument("--t-fail", type=float, required=True, help="wall clock of the failure")
    p.add_argument("--t-undo", type=float, default=None, help="wall clock of the undo, if any")
    p.add_argument("--conntrack", help="fw's /proc/net/nf_conntrack at the failure")
    p.add_argument("--spoke-ips", default="", help="netns=ip,... of the spokes")
    p.add_argument("--failed-appliance", help="app1: flows through it are related")
    p.add_argument("--failed-proxy", help="proxy2: downloads through it are related")
    p.add_argument("--bound", type=float, required=True, help="time disturbed must stay below (s)")
    p.add_argument("--max-http-errors", type=int, default=None)
    p.add_argument("--max-errors", type=int, default=None, help="download + TCP failures")
    p.add_argument("--max-udp-lost", type=int, default=None)
    p.add_argument("--unrelated-max", type=int, default=0, help="unrelated flows allowed to be disturbed")
    p.add_argument("--extra", action="append", default=[], help="NAME=PASS|FAIL:why, more checks")
    p.add_argument("--disturbed", type=float, default=2.0,
                   help="a flow silent longer than this (s), or failing, is disturbed")
    p.add_argument("--whole", action="store_true", help="the bound covers the undo too")
    p.add_argument("--json", help="write the verdict here")
    a = p.parse_args()

    d = json.load(open(a.load))
    s = d["summary"]
    t_fail = a.t_fail - d["epoch0"]
    t_undo = None if a.t_undo is None else a.t_undo - d["epoch0"]
    spoke_ips = dict(kv.split("=") for kv in a.spoke_ips.split(",") if kv)
    marks = conntrack_marks(a.conntrack, spoke_ips) if a.conntrack else {}
    app_of_mark = {0: "app1", 1: "app1", 2: "app2"}

    flows = d["flows"]
    # The failure phase runs from the failure to the undo (with --whole, or without an undo:
    # to the end); what begins after the undo (e.g. an appliance rejoining) is reported apart.
    t_end = t_undo if (t_undo is not None and not a.whole) else float("inf")
    disturbed_time = 0.0
    disturbed_after = 0.0
    tcp_gap = 0.0
    dl_gap = 0.0
    related, unrelated = [], []
    after_undo = 0
    for f in flows:
        f["disturbed"] = False
        f["disturbed_after"] = False
        for g0, g1 in f["gaps"]:
            if g1 <= t_fail:
                continue
            long_gap = g1 - max(g0, t_fail) > a.disturbed
            if g0 < t_end:
                # TCP echo silences include TCP's retransmission back-off after the path is
                # back; the network's disturbance is what UDP, downloads and HTTP see. Drills
                # that must lose nothing (--whole) count TCP too.
                # proxy-up (--failed-proxy any): downloads on buckets that move back to the
                # returning proxy are cut (WCCP has no flow stickiness); shown apart, not bounded.
                moving_dl = f["class"] == "dl" and a.failed_proxy == "any"
                if (f["class"] != "tcp" or a.whole) and not moving_dl:
                    disturbed_time = max(disturbed_time, g1 - max(g0, t_fail))
                if moving_dl:
                    dl_gap = max(dl_gap, g1 - max(g0, t_fail))
                tcp_gap = max(tcp_gap, g1 - max(g0, t_fail)) if f["class"] == "tcp" else tcp_gap
                f["disturbed"] = f["disturbed"] or long_gap
            else:
                disturbed_after = max(disturbed_after, g1 - g0)
                f["disturbed_after"] = f["disturbed_after"] or long_gap
        for t in f["error_times"]:
            if t > t_fail and t < t_end:
                f["disturbed"] = True
            elif t >= t_end:
                f["disturbed_after"] = True
        after_undo += f["disturbed_after"]
        # Which part did this flow use?
        part = None
        if f["class"] in ("tcp", "udp") and a.failed_appliance:
            ports_before = [pt for pt in f["ports"]]
            for pt in ports_before:
                m = marks.get((f["spoke"], f["class"], pt))
                if m is not None:
                    part = app_of_mark.get(m, "app?")
            f["part"] = part
            (related if part == a.failed_appliance or part is None else unrelated).append(f)
        elif f["class"] == "dl" and a.failed_proxy:
            # The proxy of the connection the download had when the failure came.
            before = [px for t, px in f.get("conns", []) if t <= t_fail]
            f["part"] = before[-1] if before else f["proxy"]
            (related if a.failed_proxy in ("any", f["part"]) else unrelated).append(f)
        elif f["class"] in ("tcp", "udp") and a.failed_proxy:
            f["part"] = "not redirected"
            unrelated.append(f)
        else:
            related.append(f)
    http_window = 0.0
    errs = [e for e in d.get("http_errors", []) if e[1] > t_fail and e[0] < t_end]
    errs_after = [e for e in d.get("http_errors", []) if e[0] >= t_end]
    if errs:
        # From the first to the last start of a request that failed: when a new request failed.
        http_window = max(e[0] for e in errs) - max(min(e[0] for e in errs), t_fail)
    disturbed_time = max(disturbed_time, http_window)
    unrelated_disturbed = [f for f in unrelated if f["disturbed"]]

    out = []
    out.append(("drill", a.drill, ""))
    out.append(("time_disturbed", round(disturbed_time, 2), "s"))
    out.append(("time_disturbed_bound", a.bound, "s"))
    out.append(("http_requests", s["http_ok"] + s["http_errors"], "requests"))
    out.append(("http_failed", s["http_errors"], "requests"))
    out.append(("http_error_window", round(http_window, 2), "s"))
    out.append(("tcp_echo_flow_silence_max", round(tcp_gap, 2), "s"))
    if a.failed_proxy == "any":
        out.append(("moved_download_silence_max", round(dl_gap, 2), "s"))
    out.append(("download_failures", s["dl_errors"], "failures"))
    out.append(("tcp_echo_failures", s["tcp_errors"], "failures"))
    out.append(("udp_sent", s["udp_sent"], "datagrams"))
    out.append(("udp_lost", s["udp_errors"], "datagrams"))
    out.append(("flows", len(flows), "flows"))
    out.append(("flows_disturbed", sum(1 for f in flows if f["disturbed"]), "flows"))
    out.append(("related_flows", len(related), "flows"))
    out.append(("related_flows_disturbed", sum(1 for f in related if f["disturbed"]), "flows"))
    out.append(("unrelated_flows", len(unrelated), "flows"))
    out.append(("unrelated_flows_disturbed", len(unrelated_disturbed), "flows"))
    if t_undo is not None and not a.whole:
        out.append(("after_undo_flows_disturbed", after_undo, "flows"))
        out.append(("after_undo_time_disturbed", round(disturbed_after, 2), "s"))
        out.append(("after_undo_http_failed", len(errs_after), "requests"))

    checks = []
    checks.append(("time disturbed %.2f s < %.2f s" % (disturbed_time, a.bound), disturbed_time < a.bound))
    if a.max_http_errors is not None:
        checks.append(("HTTP requests failed %d <= %d" % (s["http_errors"], a.max_http_errors),
                       s["http_errors"] <= a.max_http_errors))
    if a.max_errors is not None:
        n = s["dl_errors"] + s["tcp_errors"]
        checks.append(("download/TCP failures %d <= %d" % (n, a.max_errors), n <= a.max_errors))
    if a.max_udp_lost is not None:
        checks.append(("UDP lost %d <= %d" % (s["udp_errors"], a.max_udp_lost), s["udp_errors"] <= a.max_udp_lost))
    checks.append(("unrelated flows disturbed %d <= %d" % (len(unrelated_disturbed), a.unrelated_max),
                   len(unrelated_disturbed) <= a.unrelated_max))
    if a.failed_appliance in ("app1", "app2"):
        # The time disturbed is measured on UDP flows through the failed part: there must be some.
        crossing = sum(1 for f in related if f["class"] == "udp")
        checks.append(("UDP flows through %s at the failure: %d > 0" % (a.failed_appliance, crossing), crossing > 0))
    for e in a.extra:
        name, verdict = e.split("=", 1)
        checks.append((name + ("" if verdict == "PASS" else " (" + verdict[5:] + ")"), verdict == "PASS"))

    for name, value, unit in out:
        print("%s: %s %s" % (name, value, unit) if unit else "%s: %s" % (name, value))
    for f in unrelated_disturbed:
        print("  unrelated flow disturbed: %s %s #%d via %s, gaps %s, errors at %s" % (
            f["class"], f["spoke"], f["index"], f.get("part"), f["gaps"], f["error_times"]))
    ok = True
    for name, good in checks:
        print("check: %s %s" % ("ok  " if good else "FAIL", name))
        ok = ok and good
    print("result: %s %s" % ("PASS" if ok else "FAIL", a.drill))
    if a.json:
        json.dump({"summary": {n: v for n, v, _ in out}, "checks": [{"check": n, "ok": g} for n, g in checks],
                   "pass": ok}, open(a.json, "w"), indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
