#!/usr/bin/env bash
# accounting: every packet app1's engine receives has exactly one counted outcome. scapy in the
# tgw namespace sends a known mix per tunnel (forwarded, to the kernel, TTL 1, GRE version 1,
# wrong GRE checksum, 0x6558, bad inner checksum, blackholed) and GRE from an unknown peer; spoke
# traffic (HTTP both ways) adds kernel-side packets before BGP is stopped. Then, per tunnel:
#   rx + kernelInput == forwarded + toKernel + redirected + encapFromKernel + drops
# the GRE inputs per tunnel rose by exactly what scapy sent, each drop reason by its share, and
# engine-wide greReceived == sum(rx) + unknown-peer + bad-outer.
TEST_NAME="accounting"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
N=25

# check BEFORE AFTER: "" when the books balance and the mix is accounted for, else what is wrong.
check() {
    BEFORE=$1 AFTER=$2 N=$N "$PY" -c '
import json, os
n = int(os.environ["N"])
b, a = json.loads(os.environ["BEFORE"]), json.loads(os.environ["AFTER"])
wrong = []
def tunnels(d): return {i["name"]: i["counters"] for i in d["interfaces"]["interfaces"]}
tb, ta = tunnels(b), tunnels(a)
rx_total = 0
for name, c in ta.items():
    inputs = c["rxPackets"] + c["kernelInput"]
    outcomes = c["decapForwarded"] + c["decapToKernel"] + c["decapRedirected"] + c["encapFromKernel"] + sum(c["drops"].values())
    if inputs != outcomes:
        wrong.append("%s: %d in, %d out + dropped (%s)" % (name, inputs, outcomes, c))
    rx_total += c["rxPackets"]
    d = lambda k: c[k] - tb[name][k]
    dd = lambda r: c["drops"][r] - tb[name]["drops"][r]
    if d("rxPackets") != 8 * n: wrong.append("%s: rx rose by %d, want %d" % (name, d("rxPackets"), 8 * n))
    for reason, want in (("bad-gre", n), ("gre-checksum", n), ("unsupported-payload", n), ("bad-inner", n),
                         ("ttl-expired", n), ("blackhole", n)):
        if dd(reason) != want: wrong.append("%s: %s rose by %d, want %d" % (name, reason, dd(reason), want))
    if d("decapForwarded") != n: wrong.append("%s: forwarded rose by %d, want %d" % (name, d("decapForwarded"), n))
    if d("decapToKernel") != n: wrong.append("%s: to kernel rose by %d, want %d" % (name, d("decapToKernel"), n))
e = a["dataplane"]["counters"]
engine_unknown = e["drops"]["unknown-peer"]
# show dataplane sums engine and tunnel drops per reason; unknown-peer and bad-outer are engine-only.
if e["greReceived"] != rx_total + engine_unknown + e["drops"]["bad-outer"]:
    wrong.append("engine: %d GRE read, %d rx + %d unknown-peer + %d bad-outer" % (e["greReceived"], rx_total, engine_unknown, e["drops"]["bad-outer"]))
if engine_unknown - b["dataplane"]["counters"]["drops"]["unknown-peer"] != n:
    wrong.append("unknown-peer rose by %d, want %d" % (engine_unknown - b["dataplane"]["counters"]["drops"]["unknown-peer"], n))
print("; ".join(wrong))'
}

lab_up
# A blackhole for 10.9.9.9 on app1 (config + SIGHUP), and an address no tunnel expects on tgw.
echo "ip route 10.9.9.9/32 blackhole" >>"$LAB_STATE/app1.conf"
kill -HUP "$(cat "$LAB_STATE/app1.pid")" || fail "cannot SIGHUP app1"
eg_wait 10 bash -c "'$LAB' sh app1 -c 'show ip route' | grep -q 10.9.9.9/32" || fail "blackhole route not applied"
in_node tgw ip addr add 10.0.9.9/16 dev u0 || fail "cannot add 10.0.9.9/16 to tgw's underlay"
# Kernel-side traffic both ways first (HTTP through the appliance).
for i in 1 2 3; do
    in_node spoke1 curl -s -m 5 -o /dev/null http://198.51.100.80/ || fail "spoke1 HTTP failed"
done
# Then BGP stops (lab_bgp_silence): its keepalives and ACKs over the tunnels move rx and
# decapToKernel while the mix is sent and checked (seconds under load), and the books must
# rise by exactly the mix. app1's default route to fw, which the mix's forwarded share takes, stays.
lab_bgp_silence
before=$(counters_snapshot app1)
sent=$(in_node tgw "$PY" "$NS_TEST_DIR/send_mix.py" "$N" 2>"$WORK/scapy.log") \
    || fail "scapy failed: $(tail -n 5 "$WORK/scapy.log")"
deadline=$(( $(date +%s) + 15 ))
while :; do
    why=$(check "$before" "$(counters_snapshot app1)")
    [[ -z $why ]] && break
    (( $(date +%s) >= deadline )) && fail "after sending $sent: $why"
    sleep 0.5
done
sleep 1
why=$(check "$before" "$(counters_snapshot app1)")
[[ -z $why ]] || fail "after settling: $why"
pass
