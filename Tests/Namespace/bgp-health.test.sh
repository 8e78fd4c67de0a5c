#!/usr/bin/env bash
# The default route follows the health of the egress path. Own three-namespace topology:
#
#   peer (FRR bgpd, AS 64512) ──veth p0── app (egressd, AS 65000) ──veth fw0── fw (the "firewall")
#     10.66.0.1/24, fd66::1/64             10.66.0.2, fd66::2 | 10.0.2.10/24      10.0.2.1/24
#
# egressd probes the firewall (`ip sla 1 icmp-echo 10.0.2.1`, every second), `track 1` follows it,
# and advertises 0.0.0.0/0 (`network 0.0.0.0/0 track 1`, IPv4 session) and ::/0
# (`neighbor fd66::1 default-originate track 1`, IPv6 session) only while the track is up.
# Asserts: FRR has both defaults; the firewall's link goes down -> track down (show track json),
# FRR loses both defaults within the probe's bound while the sessions stay Established and the untracked
# network 192.0.2.0/24 stays; the link comes back -> both return; no session was reset.
# Usage: EGRESSD_BIN=... EGSH_BIN=... Tests/Namespace/bgp-health.test.sh (run.sh sets them)
set -uo pipefail
TEST_NAME=bgp-health
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NS_TEST_DIR/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"

PEER=bgph-peer-$$
APP=bgph-app-$$
FW=bgph-fw-$$
NAMESPACES=("$PEER" "$APP" "$FW")
FAILURE_LOGS=(app.log frr/bgpd.log)
# shellcheck source=frr_harness.sh
source "$NS_TEST_DIR/frr_harness.sh"

egsh() { "$EGSH_BIN" --socket "$WORK/app.sock" -c "$1"; }

# --- topology ---
for ns in "$PEER" "$APP" "$FW"; do ip netns add "$ns" || fail "cannot create namespace $ns"; done
ip -n "$PEER" link add p0 type veth peer name p0 netns "$APP" || fail "veth p0"
ip -n "$APP" link add fw0 type veth peer name fw0 netns "$FW" || fail "veth fw0"
ip -n "$PEER" addr add 10.66.0.1/24 dev p0
ip -n "$PEER" addr add fd66::1/64 dev p0 nodad
ip -n "$APP" addr add 10.66.0.2/24 dev p0
ip -n "$APP" addr add fd66::2/64 dev p0 nodad
ip -n "$APP" addr add 10.0.2.10/24 dev fw0
ip -n "$FW" addr add 10.0.2.1/24 dev fw0
for ns in "$PEER" "$APP" "$FW"; do ip -n "$ns" link set lo up; done
ip -n "$PEER" link set p0 up; ip -n "$APP" link set p0 up; ip -n "$APP" link set fw0 up; ip -n "$FW" link set fw0 up

cat >"$WORK/app.conf" <<'EOF'
hostname app
ip sla 1
 icmp-echo 10.0.2.1
 frequency 1
 timeout 300
track 1 ip sla 1 reachability
 delay down 1 up 1
router bgp 65000
 bgp router-id 10.66.0.2
 no bgp ebgp-requires-policy
 neighbor 10.66.0.1 remote-as 64512
 neighbor 10.66.0.1 timers 3 9
 neighbor fd66::1 remote-as 64512
 neighbor fd66::1 timers 3 9
 address-family ipv4 unicast
  network 0.0.0.0/0 track 1
  network 192.0.2.0/24
  no neighbor fd66::1 activate
 exit-address-family
 address-family ipv6 unicast
  neighbor fd66::1 activate
  neighbor fd66::1 default-originate track 1
 exit-address-family
EOF
start_egressd app "$APP"

cat >"$FRR_DIR/bgpd.conf" <<EOF
frr defaults traditional
hostname peer-bgpd
log file $FRR_DIR/bgpd.log
router bgp 64512
 bgp router-id 10.66.0.1
 no bgp ebgp-requires-policy
 neighbor 10.66.0.2 remote-as 65000
 neighbor 10.66.0.2 timers 3 9
 neighbor 10.66.0.2 timers connect 2
 neighbor fd66::2 remote-as 65000
 neighbor fd66::2 timers 3 9
 neighbor fd66::2 timers connect 2
 address-family ipv4 unicast
  no neighbor fd66::2 activate
 exit-address-family
 address-family ipv6 unicast
  neighbor fd66::2 activate
 exit-address-family
EOF
frr_bgpd_start "$PEER"

frr_established() {
    local v4 v6
    v4=$(vtysh_c -c "show bgp ipv4 unicast summary json" | eg_json "d['peers']['10.66.0.2']['state']" 2>/dev/null)
    v6=$(vtysh_c -c "show bgp ipv6 unicast summary json" | eg_json "d['peers']['fd66::2']['state']" 2>/dev/null)
    [[ $v4 == Established && $v6 == Established ]]
}
# has_default FAMILY PREFIX: FRR has a path for the default route of FAMILY.
has_default() { vtysh_c -c "show bgp $1 unicast $2 json" | eg_json "len(d.get('paths', []))" 2>/dev/null | grep -qx '[1-9]'; }
both_defaults() { has_default ipv4 0.0.0.0/0 && has_default ipv6 ::/0; }
no_defaults() { ! has_default ipv4 0.0.0.0/0 && ! has_default ipv6 ::/0; }
track_state() { egsh "show track 1 json" | eg_json "d['tracks'][0]['state']"; }

eg_wait 60 frr_established || { vtysh_c -c "show bgp summary"; egsh "show ip bgp summary"; fail "sessions not Established"; }
echo "    IPv4 and IPv6 sessions Established"
eg_wait 15 both_defaults || { vtysh_c -c "show bgp ipv4 unicast"; vtysh_c -c "show bgp ipv6 unicast"; egsh "show track"; fail "FRR did not learn both defaults while the firewall answers"; }
[[ $(track_state) == up ]] || fail "track 1 is not up"
echo "    firewall reachable: track 1 up, FRR has 0.0.0.0/0 and ::/0"
egsh "show track" | sed 's/^/    /'

# --- the firewall's link goes down: both defaults are withdrawn, sessions stay ---
# Bound: a probe every 1 s with a 300 ms timeout and `delay down 1`: the first failed probe
# ends at most 1 + 0.3 s after the cut, the failure must persist 1 s, which the probe after
# next may be the first to show (+1 s): 3.3 s, then the UPDATE. Asserted: 5.5 s (2 s for polling
# FRR through vtysh on a loaded machine). Nothing else may flap: the untracked network stays at
# FRR throughout, and no session re-establishes.
has_network() { has_default ipv4 192.0.2.0/24; }
eg_wait 5 has_network || fail "FRR does not have the untracked network 192.0.2.0/24"
frr_uptime() { vtysh_c -c "show bgp $1 unicast summary json" | eg_json "d['peers']['$2']['peerUptimeEstablishedEpoch']"; }
up4=$(frr_uptime ipv4 10.66.0.2) up6=$(frr_uptime ipv6 fd66::2)
t_down=$(date +%s.%N)
ip -n "$FW" link set fw0 down
eg_wait 15 no_defaults || { vtysh_c -c "show bgp ipv4 unicast"; egsh "show track"; fail "defaults still advertised with the firewall unreachable"; }
withdraw_s=$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$t_down")
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 5.5 else 1)" "$withdraw_s" || fail "withdrawal took $withdraw_s s (bound 3.3 s + 2 s)"
has_network || fail "the untracked network 192.0.2.0/24 was withdrawn with the default"
[[ $(track_state) == down ]] || fail "track 1 is not down"
frr_established || fail "a session went down: withdrawing the default must not reset it"
changes=$(egsh "show track 1 json" | eg_json "d['tracks'][0]['changes']")
echo "    firewall link down: track 1 down ($changes changes), FRR has no default route, sessions still Established"
egsh "show track 1" | sed 's/^/    /'

# --- and back ---
t_up=$(date +%s.%N)
ip -n "$FW" link set fw0 up
eg_wait 15 both_defaults || { vtysh_c -c "show bgp ipv4 unicast"; egsh "show track"; fail "defaults not re-advertised after the firewall came back"; }
readvertise_s=$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.2f}')" "$t_up")
has_network || fail "the untracked network 192.0.2.0/24 is gone"
# (FRR derives the epoch from its monotonic uptime: it may move by a second between two reads.)
n4=$(frr_uptime ipv4 10.66.0.2) n6=$(frr_uptime ipv6 fd66::2)
(( n4 - up4 <= 1 && up4 - n4 <= 1 && n6 - up6 <= 1 && up6 - n6 <= 1 )) || fail "a session was reset while the track went down and up ($up4 -> $n4, $up6 -> $n6)"
echo "    withdrawn ${withdraw_s} s after the link went down (probe bound 3.3 s), re-advertised ${readvertise_s} s after it came back;"
echo "    192.0.2.0/24 (untracked) stayed, both sessions kept their uptime"
[[ $(track_state) == up ]] || fail "track 1 did not come back up"
path=$(vtysh_c -c "show bgp ipv4 unicast 0.0.0.0/0 json" | eg_json "d['paths'][0]['aspath']['string']")
[[ $path == 65000 ]] || fail "unexpected AS path of the default at FRR: $path"
echo "    firewall link up: FRR has 0.0.0.0/0 (path $path) and ::/0 again"
pass
