#!/usr/bin/env bash
# two-workers: the lab with two dataplane workers per egressd (AF_PACKET fanout for
# GRE in, one TUN queue per worker): spokes reach the Internet, 200 UDP flows are all
# answered, and both of app1's workers handled packets (per-worker batches).
TEST_NAME="two-workers"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
export LAB_WORKERS=2

lab_up
for spoke in spoke1 spoke2; do
    in_node "$spoke" curl -s -m 5 -o /dev/null http://198.51.100.80/ || fail "$spoke: HTTP through the tunnels failed with 2 workers"
done
udp_flows_answered 200 23000 "2 workers"
for node in app1 tgw; do
    report=$(egsh_json "$node" "show dataplane json" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print(d["workers"], " ".join(str(b) for b in d["workerBatches"]))') || fail "$node: show dataplane json unreadable"
    read -r workers b0 b1 <<<"$report"
    [[ $workers == 2 ]] || fail "$node reports $workers workers, want 2"
    (( b0 > 0 && b1 > 0 )) || fail "$node: not both workers handled packets (batches per worker: $b0 $b1)"
done
pass
