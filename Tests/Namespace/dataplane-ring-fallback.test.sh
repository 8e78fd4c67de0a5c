#!/usr/bin/env bash
# dataplane-ring-fallback: the tpacket backend's fallbacks, in the one-appliance lab.
# 1. Default (TPACKET_V2 receive ring, frames sized for the 9001-byte underlay): 6000-byte pings
#    from the stand-in to app1's tunnel address arrive whole through the receive ring and the
#    replies, too big for a 2 KiB transmit frame, leave by sendmmsg (ringFallback), none refused.
# 2. app1 restarted with its receive ring refused (EGRESSD_TEST_REFUSE_RING=rx, a test-only
#    fault injection making the ring's setup fail as a kernel refusing it would): it runs the raw
#    backend, says why, and still forwards HTTP and UDP both ways.
# 3. app1 restarted with every transmit ring refused (EGRESSD_TEST_REFUSE_RING=tx): the receive
#    ring runs, frames to next-hop MACs all go by sendmmsg (ringSent 0), traffic still flows.
TEST_NAME="dataplane-ring-fallback"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
export LAB_IO_BACKEND=tpacket
unset EGRESSD_TEST_REFUSE_RING

dataplane() { egsh_json app1 "show dataplane json"; }
# field EXPR: a Python expression over app1's `show dataplane json` (d).
field() { json_get "$(dataplane)" "$1"; }

# traffic WHAT: HTTP from spoke1 and 50 UDP echo flows answered through app1.
traffic() {
    eg_wait 45 in_node spoke1 curl -s -m 3 -o /dev/null http://198.51.100.80/ || fail "$1: HTTP through app1 failed"
    udp_flows_answered 50 25000 "$1"
}

# restart_app1 REFUSAL: stop app1's egressd and start it again with EGRESSD_TEST_REFUSE_RING=REFUSAL.
restart_app1() {
    local pid
    pid=$(cat "$LAB_STATE/app1.pid") || fail "no app1 pid"
    kill -TERM "$pid" || fail "cannot stop app1"
    eg_wait 20 eg_pid_gone "$pid" || fail "app1 did not stop within 20 s"
    EGRESSD_TEST_REFUSE_RING=$1 "$LAB" start app1 >"$WORK/start-$1.log" 2>&1 \
        || { cat "$WORK/start-$1.log"; fail "app1 did not start again ($1 refused)"; }
}

lab_up

# 1. Jumbo GRE through the V2 receive ring; replies too big for a transmit frame.
[[ $(field "d['backend']") == tpacket-v2-rx+* ]] || fail "app1 does not run the V2 receive ring: $(field "d['backend']")"
has_neighbours() { [[ $(field "d['underlayNeighbours'] >= 1") == True ]]; }
eg_wait 20 has_neighbours || fail "app1: no underlay next-hop MAC after 20 s"
before=$(field "d['io']['ringFallback']")
in_node tgw ping -c 5 -i 0.2 -W 2 -s 6000 -M do -I 169.254.6.2 169.254.6.1 >"$WORK/ping.log" 2>&1 \
    || { cat "$WORK/ping.log"; fail "6000-byte pings over the tunnel failed"; }
read -r fallback refused truncated <<<"$(field "d['io']['ringFallback'], d['io']['ringRefused'], d['io']['ringTruncated']" | tr -d '(),')"
(( fallback - before >= 5 )) || fail "replies too big for a transmit frame did not go by sendmmsg (ringFallback $before -> $fallback)"
(( refused == 0 && truncated == 0 )) || fail "ring frames refused $refused, cut short $truncated"
echo "    default: V2 ring, 5 x 6000-byte pings answered, ringFallback +$(( fallback - before ))"

# 2. Receive ring refused: the raw backend runs, and forwards.
restart_app1 rx
[[ $(field "d['ioBackend'], d['ioBackendConfigured']") == "('raw', 'tpacket')" ]] \
    || fail "with the ring refused app1 runs $(field "d['ioBackend'], d['ioBackendConfigured']")"
[[ $(field "d['ioBackendFallback']") == *EGRESSD_TEST_REFUSE_RING* ]] || fail "no fallback reason: $(field "d['ioBackendFallback']")"
log=$(egsh_json app1 "show logging")
[[ $log == *"io-backend tpacket unavailable, running raw"* ]] || fail "the fallback is not logged: $log"
traffic "rx refused"
[[ $(field "d['io']['ringReceived'] == 0 and d['counters']['greReceived'] >= 50") == True ]] \
    || fail "raw fallback: ring used or too little GRE read: $(field "d['io'], d['counters']['greReceived']")"
echo "    receive ring refused: raw backend, HTTP and 50 UDP flows answered"

# 3. Transmit rings refused: the receive ring runs, everything to MACs by sendmmsg.
restart_app1 tx
[[ $(field "d['ioBackend']") == tpacket ]] || fail "with the TX rings refused app1 runs $(field "d['ioBackend']")"
eg_wait 20 has_neighbours || fail "app1: no underlay next-hop MAC after 20 s (tx refused)"
traffic "tx refused"
read -r rx sent fallback <<<"$(field "d['io']['ringReceived'], d['io']['ringSent'], d['io']['ringFallback']" | tr -d '(),')"
(( rx >= 50 && sent == 0 && fallback >= 50 )) \
    || fail "tx refused: ringReceived $rx (want >= 50), ringSent $sent (want 0), ringFallback $fallback (want >= 50)"
echo "    transmit rings refused: ring rx $rx, all $fallback frames to MACs by sendmmsg"
pass
