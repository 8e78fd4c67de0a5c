# shellcheck shell=bash
# Shared body of dataplane-tpacket and dataplane-raw: the lab with two workers per egressd on
# the given I/O backend (BACKEND). Traffic both ways through both daemons (HTTP from both
# spokes, 200 UDP echo flows answered: spoke -> tgw encap -> app1 decap -> fw -> inet and back
# through app1's TUN -> encap -> tgw decap), each daemon reports the backend it was asked for
# with no fallback, both workers handled batches, and the backend's own counters show it
# carried the packets (tpacket: ring receive and ring transmit to next-hop MACs; raw: none;
# afxdp: AF_XDP receive and transmit). Expects TEST_NAME and BACKEND; sources lib.sh itself;
# runs backend_checks (when the test defines it) before passing.
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Both daemons on BACKEND (the lab pins the stand-in to tpacket otherwise).
export LAB_WORKERS=2 LAB_IO_BACKEND=$BACKEND LAB_TGW_IO_BACKEND=$BACKEND

dataplane() { egsh_json "$1" "show dataplane json"; }

lab_up
for spoke in spoke1 spoke2; do
    in_node "$spoke" curl -s -m 5 -o /dev/null http://198.51.100.80/ || fail "$spoke: HTTP through the tunnels failed ($BACKEND)"
done
# The underlay MACs (tunnel ends) are learned from the kernel's neighbour table on the
# 5-second refresh, once the kernel resolved them: wait for both daemons to have them.
has_neighbours() { [[ $(json_get "$(dataplane "$1")" "d['underlayNeighbours'] >= 1") == True ]]; }
for node in app1 tgw; do
    eg_wait 20 has_neighbours "$node" || fail "$node: no underlay next-hop MAC after 20 s: $(dataplane "$node")"
done
udp_flows_answered 200 24000 "$BACKEND"
for node in app1 tgw; do
    report=$(dataplane "$node" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
io = d["io"]
print(d["ioBackend"], d["ioBackendConfigured"], d["ioBackendFallback"] is None, d["workers"],
      " ".join(str(b) for b in d["workerBatches"]), io["ringReceived"], io["ringSent"], io["ringRefused"], io["underlayToMAC"], io.get("xskReceived", 0), io.get("xskSent", 0))') \
        || fail "$node: show dataplane json unreadable"
    read -r running configured clean workers b0 b1 rx tx refused tomac xrx xtx <<<"$report"
    [[ $running == "$BACKEND" && $configured == "$BACKEND" && $clean == True ]] \
        || fail "$node runs '$running' (configured '$configured', no fallback: $clean), want $BACKEND"
    [[ $workers == 2 ]] || fail "$node reports $workers workers, want 2"
    (( b0 > 0 && b1 > 0 )) || fail "$node: not both workers handled packets (batches per worker: $b0 $b1)"
    (( tomac > 0 )) || fail "$node: no GRE went to an underlay MAC (underlayToMAC $tomac)"
    if [[ $BACKEND == afxdp ]]; then
        # Worker 0 owns the veth's one queue: GRE arrives by AF_XDP, and worker 0 sends by it;
        # worker 1 (TUN queues only) sends through its TPACKET transmit rings: together >= 200.
        (( xrx >= 200 )) || fail "$node: only $xrx packets from the AF_XDP sockets"
        (( xtx >= 20 && xtx + tx >= 200 )) || fail "$node: only $xtx frames through the AF_XDP transmit rings (+ $tx through the TPACKET rings)"
        (( refused == 0 )) || fail "$node: the kernel refused $refused ring frames"
    elif [[ $BACKEND == tpacket ]]; then
        (( rx >= 200 )) || fail "$node: only $rx packets from the receive ring"
        (( tx >= 200 )) || fail "$node: only $tx frames through the transmit rings"
        (( refused == 0 )) || fail "$node: the kernel refused $refused ring frames"
    else
        (( rx == 0 && tx == 0 )) || fail "$node: raw backend used rings (rx $rx, tx $tx)"
    fi
    echo "    $node: $BACKEND, batches per worker $b0 $b1, ring rx $rx, ring tx $tx, xsk rx $xrx, xsk tx $xtx, GRE to MACs $tomac"
done
if declare -F backend_checks >/dev/null; then backend_checks; fi
pass
