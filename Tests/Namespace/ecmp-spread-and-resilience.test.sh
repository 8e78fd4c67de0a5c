#!/usr/bin/env bash
# ecmp-spread-and-resilience: 200 UDP flows spoke1 -> inet echo. Both tunnels carry >= 25% of
# the flows in both directions, each flow stays on one tunnel. Then `shutdown` on app1's tgw1
# (SIGHUP): app1's return traffic all moves to tgw0, flows already on tgw0 stay there, and the
# flows tgw still sends over tgw0 keep working. Then tgw1 shut on tgw as well: all flows work
# over tgw0 in both directions. Finally both tunnels back: spread again.
TEST_NAME="ecmp-spread-and-resilience"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
FLOWS=200

# run_phase NAME: send the flows with a capture on app1's underlay link; writes $WORK/NAME.json.
run_phase() {
    # Captured on the stand-in's end of app1's underlay link (same packets, same addresses): with
    # afxdp (the default) app1's XDP program takes GRE before packet taps see it and its AF_XDP TX
    # passes them; the stand-in runs tpacket (scripts/lab.sh), whose rings go past the taps.
    capture_start tgw u0 "$WORK/$1.pcap" "ip proto 47"
    in_node spoke1 "$PY" "$NS_TEST_DIR/udp_flows.py" 198.51.100.80 7 --flows "$FLOWS" \
        --base-port 21000 >"$WORK/$1.flows.json" || fail "$1: udp_flows.py failed"
    capture_stop
    "$PY" "$NS_TEST_DIR/gre_packets.py" "$WORK/$1.pcap" >"$WORK/$1.packets.json" \
        || fail "$1: tshark could not decode the capture"
    "$PY" "$NS_TEST_DIR/flow_map.py" "$WORK/$1.packets.json" "$WORK/$1.flows.json" >"$WORK/$1.json" \
        || fail "$1: flow_map.py failed"
}

# check PHASE PYTHON: run the Python check with maps loaded (phase names as variables);
# it prints what is wrong, or nothing.
check() {
    local phase=$1 why
    why=$(WORK=$WORK FLOWS=$FLOWS "$PY" -c '
import json, os, sys
work, flows = os.environ["WORK"], int(os.environ["FLOWS"])
maps = {}
for name in ("spread", "app1_down", "both_down", "restored"):
    path = os.path.join(work, name + ".json")
    if os.path.exists(path):
        maps[name] = json.load(open(path))
def on(m, direction, tunnel):
    return {int(p) for p, t in m[direction].items() if t == tunnel}
problems = []
def expect(ok, message):
    if not ok:
        problems.append(message)
def spread(m):
    expect(not m["split"], "flows seen on both tunnels in one direction: %s" % m["split"][:10])
    for direction in ("forward", "return"):
        for tunnel in ("tgw0", "tgw1"):
            n = len(on(m, direction, tunnel))
            expect(n >= flows // 4, "%s direction: %s carried %d of %d flows (want >= 25%%)" % (direction, tunnel, n, flows))
'"$2"'
print("; ".join(problems))') || fail "$phase: check script failed"
    [[ -z $why ]] || fail "$phase: $why"
}

# wait_state NODE IFACE up|down: bounded wait until the tunnel reports that state.
tunnel_is() { local s; s=$(tunnel_state "$1" "$2"); [[ $3 == up && $s == up || $3 == down && $s != up ]]; }
wait_state() { eg_wait 15 tunnel_is "$@" || fail "$1 $2 did not become $3 after SIGHUP (state: $(tunnel_state "$1" "$2"))"; }

lab_up

run_phase spread
check spread '
m = maps["spread"]
expect(len(m["answered"]) == flows, "only %d of %d flows answered" % (len(m["answered"]), flows))
spread(m)'

set_shutdown app1 tgw1 on
wait_state app1 tgw1 down
run_phase app1_down
check app1_down '
before, m = maps["spread"], maps["app1_down"]
answered = set(m["answered"])
expect(not on(m, "return", "tgw1"), "app1 still sends %d flows on shut tgw1" % len(on(m, "return", "tgw1")))
stayed = on(before, "return", "tgw0") & set(map(int, m["return"]))
expect(stayed <= on(m, "return", "tgw0"), "flows left tgw0: %s" % sorted(stayed - on(m, "return", "tgw0"))[:10])
moved = on(before, "return", "tgw1") & answered
expect(len(moved) > 0, "no flow of tgw1 was answered over tgw0 (nothing to show it moved)")
changed = sorted(p for p, t in m["forward"].items() if before["forward"].get(p) != t)
expect(not changed, "tgw moved %d flows although its own tunnels did not change: %s" % (len(changed), changed[:10]))
via_tgw0 = on(before, "forward", "tgw0")
expect(via_tgw0 <= answered, "%d flows tgw sends over tgw0 got no answer" % len(via_tgw0 - answered))'

set_shutdown tgw tgw1 on
wait_state tgw tgw1 down
run_phase both_down
check both_down '
m = maps["both_down"]
expect(len(m["answered"]) == flows, "only %d of %d flows answered over tgw0 alone" % (len(m["answered"]), flows))
for direction in ("forward", "return"):
    expect(len(on(m, direction, "tgw0")) == flows and not on(m, direction, "tgw1"),
           "%s direction not all on tgw0: tgw0 %d, tgw1 %d" % (direction, len(on(m, direction, "tgw0")), len(on(m, direction, "tgw1"))))'

set_shutdown app1 tgw1 off
set_shutdown tgw tgw1 off
wait_state app1 tgw1 up
wait_state tgw tgw1 up
lab_bgp_wait_ecmp   # the BGP sessions over tgw1 come back, and with them the ECMP routes
run_phase restored
check restored '
m = maps["restored"]
expect(len(m["answered"]) == flows, "only %d of %d flows answered after tgw1 came back" % (len(m["answered"]), flows))
spread(m)'
pass
