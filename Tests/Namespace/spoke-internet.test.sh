#!/usr/bin/env bash
# spoke-internet: both spokes fetch http://198.51.100.80/ through tgw -> GRE -> app1 -> fw/NAT;
# app1's tunnel counters rise in both directions; tshark decodes the underlay as GRE/IPv4
# between the tunnels' outer addresses.
TEST_NAME="spoke-internet"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"

lab_up
before=$(egsh_json app1 "show interfaces json")
# Captured on the stand-in's end of app1's underlay link (same packets, same addresses): with
# afxdp (the default) app1's XDP program takes GRE before packet taps see it and its AF_XDP TX
# passes them; the stand-in runs tpacket (scripts/lab.sh), whose rings go past the taps.
capture_start tgw u0 "$WORK/u0.pcap" "ip proto 47"
for spoke in spoke1 spoke2; do
    body=$(in_node "$spoke" curl -s -m 10 http://198.51.100.80/) \
        || fail "curl from $spoke to http://198.51.100.80/ failed"
    [[ $body == "egressd lab origin" ]] || fail "unexpected body from $spoke: '$body'"
done
capture_stop
after=$(egsh_json app1 "show interfaces json")
"$PY" "$NS_TEST_DIR/gre_packets.py" "$WORK/u0.pcap" >"$WORK/packets.json" \
    || fail "tshark could not decode $WORK/u0.pcap"

why=$(BEFORE=$before AFTER=$after "$PY" - "$WORK/packets.json" <<'PYEOF'
import json, os, sys
packets = json.load(open(sys.argv[1]))
total = lambda doc, key: sum(i["counters"][key] for i in json.loads(doc)["interfaces"])
tunnels = {("10.0.0.1", "10.0.1.10"), ("10.0.0.2", "10.0.1.10")}
inbound = [p for p in packets if (p["outerSrc"], p["outerDst"]) in tunnels]
outbound = [p for p in packets if (p["outerDst"], p["outerSrc"]) in tunnels]
problems = []
if len(inbound) + len(outbound) != len(packets):
    problems.append("GRE with unexpected outer addresses: %s" % [p for p in packets if p not in inbound + outbound][:3])
if any(p["greProto"] != 0x0800 or p["innerProto"] != 6 for p in packets):
    problems.append("GRE not carrying IPv4/TCP: %s" % [p for p in packets if p["greProto"] != 0x0800][:3])
for spoke in ("10.1.0.10", "10.2.0.10"):
    if not any(p["innerSrc"] == spoke and p["innerDst"] == "198.51.100.80" and p["dport"] == 80 for p in inbound):
        problems.append("no request from %s seen in GRE toward app1" % spoke)
    if not any(p["innerSrc"] == "198.51.100.80" and p["innerDst"] == spoke and p["sport"] == 80 for p in outbound):
        problems.append("no reply to %s seen in GRE from app1" % spoke)
for key, seen in (("rxPackets", len(inbound)), ("txPackets", len(outbound))):
    delta = total(os.environ["AFTER"], key) - total(os.environ["BEFORE"], key)
    if delta < max(seen, 1):
        problems.append("app1 %s rose by %d, but the capture saw %d such packets" % (key, delta, seen))
print("; ".join(problems))
PYEOF
) || fail "checking the capture failed"
[[ -z $why ]] || fail "$why"
pass
