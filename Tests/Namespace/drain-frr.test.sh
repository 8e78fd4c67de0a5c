#!/usr/bin/env bash
# The appliance's planned changes lose nothing (issue 7, daemon side). Own two-namespace topology
# as bgp-frr (not scripts/lab.sh): FRR (zebra + bgpd, AS 64512) behind a tunnels-only egressd
# stands in for the Transit Gateway; the appliance egressd (AS 65000) peers over two GRE tunnels.
#
#   tgw: egressd (tunnels only) + FRR, spoke 10.1.0.1    underlay u0 10.0.0.1/.2 <-> 10.0.1.10
#   app: egressd under test, "firewall" 198.51.100.1 with a UDP echo service on it
#
# A UDP stream with sequence numbers (udp_seq.py, 200/s) runs from 10.1.0.1 to 198.51.100.1 and
# back, through both engines: tgw's kernel sends it into the tunnels by a static route (a
# Transit Gateway whose ECMP still sends the appliance flows), the return path is the spoke
# route egressd learned from FRR.
#
# (b) reload under load: SIGHUP with unrelated changes (hostname, a new prefix list, a static
#     route, `bgp graceful-shutdown drain-time 6`), a `network` added from egsh (configure
#     terminal), then a SIGHUP with a policy change (prefix-list in on one neighbour): FRR's session uptime epochs and egressd's Established counts are
#     unchanged, the tunnels keep their ifindex, the counters keep counting, the policy applies
#     (route refresh: 10.2.0.0/16 leaves that neighbour's paths), no datagram of the stream lost.
# (a) graceful shutdown: SIGTERM; FRR loses 0.0.0.0/0 from both sessions within 2 s while they
#     stay Established, `show ip bgp summary` says draining, the stream loses nothing during the
#     drain; after the drain time the sessions close with Cease/Administrative Shutdown and the
#     shutdown communication "egressd stopping", and the daemon exits.
# (c) update-delay: egressd restarted with `bgp update-delay 20` and `ip wccp web-cache`: the
#     sessions come up but FRR gets no default until a (fake, wccp_cache.py) cache has registered
#     and assigned the buckets; then at once, long before the delay. Restarted again (two
#     SIGTERMs: the second ends the drain at once) with `bgp update-delay 4` and no cache: the
#     default comes when the delay expires.
# Usage: EGRESSD_BIN=... EGSH_BIN=... Tests/Namespace/drain-frr.test.sh (run.sh sets them)
set -uo pipefail
TEST_NAME=drain-frr
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NS_TEST_DIR/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"

TGW=drain-tgw-$$
APP=drain-app-$$
NAMESPACES=("$TGW" "$APP")
FAILURE_LOGS=(app.log tgw.log frr/bgpd.log)
# shellcheck source=frr_harness.sh
source "$NS_TEST_DIR/frr_harness.sh"
PY=/usr/bin/python3
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }

# --- topology ---
frr_underlay "$TGW" "$APP"
stub_subnet "$TGW" spokes 10.1.0.1/16
stub_subnet "$APP" fw 198.51.100.1/24
ip -n "$APP" addr add 198.51.100.5/24 dev fw  # the fake WCCP cache of (c)
frr_underlay_up "$TGW" "$APP"

{ echo "hostname tgw"; tunnel_pair_conf tgw; } >"$WORK/tgw.conf"
app_conf() { frr_app_conf "$1" "3 9" "$2" "$3" "$4"; }  # HOSTNAME EXTRA-ROUTER-LINES EXTRA-AF-LINES EXTRA-GLOBAL-LINES
app_conf app "" "" "" >"$WORK/app.conf"

start_egressd tgw "$TGW"
start_egressd app "$APP"; APP_PID=$EGRESSD_PID
# What the spokes send to the firewall network goes into the tunnels whatever BGP says.
ip -n "$TGW" route add 198.51.100.0/24 nexthop via 169.254.6.1 dev tgw0 nexthop via 169.254.7.1 dev tgw1 \
    || fail "static route in tgw"

# --- FRR in the tgw namespace ---
frr_tgw_bgpd_conf "3 9" 1 " bgp log-neighbor-changes"
frr_start "$TGW"

PEERS=(169.254.6.1 169.254.7.1)
frr_peer() { vtysh_c -c "show bgp ipv4 unicast summary json" | eg_json "d['peers']['$1']['$2']" 2>/dev/null; }
frr_established() { [[ $(frr_peer 169.254.6.1 state) == Established && $(frr_peer 169.254.7.1 state) == Established ]]; }
# Paths FRR has for 0.0.0.0/0 (from egressd, over both sessions).
frr_default_paths() { vtysh_c -c "show bgp ipv4 unicast 0.0.0.0/0 json" | eg_json "len(d.get('paths', []))" 2>/dev/null || echo 0; }
has_both_defaults() { [[ $(frr_default_paths) == 2 ]]; }
no_default() { [[ $(frr_default_paths) == 0 ]]; }
app_summary() { egsh app "show ip bgp summary json"; }
established_count() { app_summary | eg_json "d['ipv4Unicast']['peers']['$1']['connectionsEstablished']"; }
app_paths() { egsh app "show ip bgp json" | eg_json "len(d['routes'].get('$1', []))" 2>/dev/null || echo 0; }
learned_both() { [[ $(app_paths 10.1.0.0/16) == 2 && $(app_paths 10.2.0.0/16) == 2 ]]; }
rx_packets() { egsh app "show interfaces json" | eg_json "sum(i['counters']['rxPackets'] for i in d['interfaces'])"; }

eg_wait 60 frr_established || { vtysh_c -c "show bgp summary"; egsh app "show ip bgp summary"; fail "FRR sessions not Established"; }
eg_wait 20 has_both_defaults || { vtysh_c -c "show bgp ipv4 unicast"; fail "FRR did not learn 0.0.0.0/0 over both sessions"; }
eg_wait 20 learned_both || { egsh app "show ip bgp"; fail "egressd did not learn both spoke prefixes over both sessions"; }
echo "    sessions Established, FRR has 0.0.0.0/0 twice, egressd has 10.1/16 and 10.2/16 over both tunnels"

# UDP echo on the firewall address (inside app).
in_ns "$APP" "$PY" "$NS_TEST_DIR/udp_seq.py" echo 7007 &
PIDS+=($!)
stream() {  # SECONDS OUTFILE: the stream in the background; STREAM_PID
    in_ns "$TGW" "$PY" "$NS_TEST_DIR/udp_seq.py" send 198.51.100.1 7007 --rate 200 --seconds "$1" --source 10.1.0.1 \
        --grace 1 >"$2" &
    STREAM_PID=$!
    PIDS+=("$STREAM_PID")
}
# The path works before anything is measured.
stream 1 "$WORK/warmup.json"; wait "$STREAM_PID"
[[ $(eg_json "d['received']" <"$WORK/warmup.json") -gt 150 ]] || fail "no UDP echo through the engines: $(cat "$WORK/warmup.json")"

# ---------------- (b) reload under load ----------------
# FRR's count of Established transitions per neighbor, and when the session came up (FRR derives
# the epoch from its monotonic uptime: it may move by a second between two reads).
frr_connections() { vtysh_c -c "show bgp neighbors $1 json" | eg_json "d['$1']['connectionsEstablished']"; }
declare -A EPOCH CONN
for p in "${PEERS[@]}"; do EPOCH[$p]=$(frr_peer "$p" peerUptimeEstablishedEpoch); CONN[$p]=$(frr_connections "$p"); done
est6=$(established_count 169.254.6.2) est7=$(established_count 169.254.7.2)
idx0=$(ip -n "$APP" -o link show tgw0 | cut -d: -f1) idx1=$(ip -n "$APP" -o link show tgw1 | cut -d: -f1)
rx_before=$(rx_packets)
stream 8 "$WORK/reload.json"
sleep 1.5
app_conf app-reloaded " bgp graceful-shutdown drain-time 6" "" \
    "ip prefix-list UNUSED seq 5 permit 10.9.0.0/16
ip route 203.0.113.0/24 blackhole" >"$WORK/app.conf"
kill -HUP "$APP_PID"
eg_wait 5 sh -c "'$EGSH_BIN' --socket '$WORK/app.sock' -c 'show running-config' | grep -q '^hostname app-reloaded'" \
    || fail "the first reload did not apply"
sleep 1
# A live change from the shell: a new network goes out as an UPDATE, nothing resets.
"$EGSH_BIN" --socket "$WORK/app.sock" -c "configure terminal" -c "router bgp 65000" -c "address-family ipv4 unicast" \
    -c "network 192.0.2.0/24" -c "end" >/dev/null || fail "egsh configure failed"
frr_has_network() { [[ $(vtysh_c -c "show bgp ipv4 unicast 192.0.2.0/24 json" | eg_json "len(d.get('paths', []))" 2>/dev/null) == 2 ]]; }
eg_wait 4 frr_has_network || fail "FRR did not get 192.0.2.0/24 after the change from egsh"
app_conf app-reloaded " bgp graceful-shutdown drain-time 6" "  neighbor 169.254.6.2 prefix-list ONLY-10-1 in" \
    "ip prefix-list UNUSED seq 5 permit 10.9.0.0/16
ip prefix-list ONLY-10-1 seq 5 permit 10.1.0.0/16
ip route 203.0.113.0/24 blackhole" >"$WORK/app.conf"
kill -HUP "$APP_PID"
policy_applied() { [[ $(app_paths 10.2.0.0/16) == 1 && $(app_paths 10.1.0.0/16) == 2 ]]; }
eg_wait 5 policy_applied || { egsh app "show ip bgp"; fail "the prefix-list in did not apply without a reset (10.2.0.0/16 should have one path)"; }
wait "$STREAM_PID"
reload=$(cat "$WORK/reload.json")
for p in "${PEERS[@]}"; do
    epoch=$(frr_peer "$p" peerUptimeEstablishedEpoch) conn=$(frr_connections "$p")
    (( conn == CONN[$p] && epoch - EPOCH[$p] <= 1 && EPOCH[$p] - epoch <= 1 )) \
        || fail "FRR's session with $p was reset by the reload (connections ${CONN[$p]} -> $conn, uptime epoch ${EPOCH[$p]} -> $epoch)"
done
[[ $(established_count 169.254.6.2) == "$est6" && $(established_count 169.254.7.2) == "$est7" ]] \
    || fail "egressd re-established a session during the reload"
[[ $(ip -n "$APP" -o link show tgw0 | cut -d: -f1) == "$idx0" && $(ip -n "$APP" -o link show tgw1 | cut -d: -f1) == "$idx1" ]] \
    || fail "a tunnel was re-created by the reload"
rx_after=$(rx_packets)
(( rx_after >= rx_before + 1000 )) || fail "tunnel counters did not keep counting across the reload ($rx_before -> $rx_after)"
[[ $(eg_json "d['lost']" <<<"$reload") == 0 ]] || fail "the stream lost datagrams across the reloads: $reload"
grep -q "configuration reloaded" "$WORK/app.log" || fail "no 'configuration reloaded' in the log"
echo "    (b) under 200 datagrams/s: SIGHUP (unrelated lines), egsh 'network 192.0.2.0/24', SIGHUP (prefix-list in): sessions and tunnels kept,"
echo "        counters $rx_before -> $rx_after, 10.2.0.0/16 now via one session (route refresh); stream: $reload"

# ---------------- (a) graceful shutdown ----------------
stream 5 "$WORK/drain.json"
sleep 1
t_term=$(now)
kill -TERM "$APP_PID"
eg_wait 5 no_default || { vtysh_c -c "show bgp ipv4 unicast"; fail "FRR still has 0.0.0.0/0 5 s after SIGTERM"; }
t_withdrawn=$(now)
frr_established || fail "a session went down before the drain time (it must only lose the routes)"
state=$(app_summary | eg_json "d['ipv4Unicast']['gracefulShutdown']['state']")
[[ $state == draining ]] || fail "show ip bgp summary json does not say draining: $(app_summary)"
egsh app "show ip bgp summary" | grep -q "Graceful shutdown: draining" || fail "show ip bgp summary does not say draining"
(( $(app_paths 10.1.0.0/16) == 2 )) || fail "learned routes (the return path) went during the drain"
wait "$STREAM_PID"
drain=$(cat "$WORK/drain.json")
[[ $(eg_json "d['lost']" <<<"$drain") == 0 ]] || fail "the stream lost datagrams during the drain: $drain"
frr_established || fail "a session went down before the drain time"
eg_wait 10 eg_pid_gone "$APP_PID" || fail "egressd still running 10 s after the drain began (drain-time 6)"
t_exit=$(now)
frr_down() { [[ $(frr_peer 169.254.6.1 state) != Established && $(frr_peer 169.254.7.1 state) != Established ]]; }
eg_wait 3 frr_down || fail "FRR's sessions still Established after egressd exited"
withdraw_s=$(elapsed "$t_term" "$t_withdrawn") exit_s=$(elapsed "$t_term" "$t_exit")
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 2.0 else 1)" "$withdraw_s" || fail "withdrawal took $withdraw_s s (> 2 s)"
python3 -c "import sys; sys.exit(0 if 5.8 <= float(sys.argv[1]) <= 8.0 else 1)" "$exit_s" || fail "exit after $exit_s s, drain-time is 6"
for p in "${PEERS[@]}"; do
    n=$(vtysh_c -c "show bgp neighbors $p json")
    reason=$(eg_json "d['$p'].get('lastNotificationReason', '')" <<<"$n")
    [[ $reason == *"Administrative Shutdown"* ]] || fail "FRR's last notification from $p is not Administrative Shutdown: $reason"
    [[ $n == *'"egressd stopping"'* ]] || fail "FRR does not show the shutdown communication \"egressd stopping\" for $p: $n"
done
grep "NOTIFICATION" "$FRR_DIR/bgpd.log" | sed 's/^/    FRR: /'
echo "    (a) SIGTERM: FRR lost 0.0.0.0/0 after ${withdraw_s} s with both sessions up; stream through the drain: $drain"
echo "        Cease/Administrative Shutdown \"egressd stopping\" and exit after ${exit_s} s (drain-time 6)"

# ---------------- (c) update-delay ----------------
app_conf app " bgp update-delay 20
 bgp graceful-shutdown drain-time 30" "" \
    "ip wccp router-id 198.51.100.1
ip wccp timers here-i-am 500
ip wccp web-cache" >"$WORK/app.conf"
t_start=$(now)
start_egressd app "$APP"; APP_PID=$EGRESSD_PID
eg_wait 30 frr_established || fail "sessions not Established after the restart"
t_est=$(now)
sleep 1
no_default || fail "FRR got 0.0.0.0/0 during update-delay before the WCCP assignment"
waiting=$(app_summary | eg_json "' | '.join(d['ipv4Unicast']['updateDelay']['waitingFor'])")
[[ $waiting == *"WCCP service web-cache assignment"* ]] || fail "update-delay does not wait for the WCCP assignment: $(app_summary)"
in_ns "$APP" "$PY" "$NS_TEST_DIR/wccp_cache.py" join --router 198.51.100.1 --cache 198.51.100.5 --hello 0.5 --seconds 0 \
    >"$WORK/cache.log" 2>&1 &
CACHE_PID=$!
PIDS+=("$CACHE_PID")
eg_wait 10 grep -q assigned "$WORK/cache.log" || fail "the fake cache did not assign: $(cat "$WORK/cache.log")"
t_assigned=$(now)
eg_wait 5 has_both_defaults || { app_summary; fail "no default at FRR after the WCCP assignment"; }
t_default=$(now)
reason=$(app_summary | eg_json "d['ipv4Unicast']['updateDelay']['reason']")
[[ $reason == converged* ]] || fail "update-delay not released by convergence: $reason"
hold_s=$(elapsed "$t_est" "$t_default") after_s=$(elapsed "$t_assigned" "$t_default")
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 2.0 else 1)" "$after_s" || fail "default $after_s s after the assignment"
echo "    (c) update-delay 20: default held $hold_s s after Established until the WCCP assignment, advertised $after_s s after it ($reason)"

# Two SIGTERMs: the second ends the 30 s drain at once.
kill -TERM "$APP_PID"
eg_wait 5 no_default || fail "no withdrawal on SIGTERM"
sleep 0.5
t_second=$(now)
kill -TERM "$APP_PID"
eg_wait 3 eg_pid_gone "$APP_PID" || fail "a second SIGTERM did not end the drain at once"
echo "    a second SIGTERM during the 30 s drain: exit after $(elapsed "$t_second" "$(now)") s"
kill "$CACHE_PID" 2>/dev/null; wait "$CACHE_PID" 2>/dev/null

app_conf app " bgp update-delay 4" "" \
    "ip wccp router-id 198.51.100.1
ip wccp web-cache" >"$WORK/app.conf"
t_start=$(now)
start_egressd app "$APP"; APP_PID=$EGRESSD_PID
eg_wait 30 frr_established || fail "sessions not Established after the second restart"
no_default || fail "FRR got 0.0.0.0/0 before update-delay 4 expired (no cache)"
eg_wait 10 has_both_defaults || fail "no default after update-delay 4 expired"
delay_s=$(elapsed "$t_start" "$(now)")
reason=$(app_summary | eg_json "d['ipv4Unicast']['updateDelay']['reason']")
[[ $reason == *expired* ]] || fail "update-delay not released by expiry: $reason"
python3 -c "import sys; sys.exit(0 if 3.8 <= float(sys.argv[1]) <= 7.0 else 1)" "$delay_s" || fail "default after $delay_s s with update-delay 4"
echo "    update-delay 4 without a cache: default after $delay_s s from start ($reason)"
pass
