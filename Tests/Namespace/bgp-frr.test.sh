#!/usr/bin/env bash
# BGP interop with FRR over the GRE tunnels. Its own two-namespace topology (not scripts/lab.sh):
#
#   tgw (TGW stand-in): egressd with tunnels only + FRR zebra/bgpd, AS 64512, networks 10.1/16, 10.2/16
#   app (appliance):    egressd with `router bgp 65000`, default-originate, maximum-paths 2
#   underlay veth u0: tgw 10.0.0.1 + 10.0.0.2  <->  app 10.0.1.10
#   tunnels: tgw0 169.254.6.0/29 (.2 tgw, .1 app), tgw1 169.254.7.0/29 -> two eBGP sessions
#
# Asserts: both sessions Established (FRR and egsh json), FRR installs 0.0.0.0/0 with two next
# hops, egressd learns both spoke prefixes over both tunnels (show ip route json, kernel proto 218),
# a withdrawal in FRR removes the prefix, stopping bgpd brings the sessions down and the routes go.
# Usage: EGRESSD_BIN=... EGSH_BIN=... Tests/Namespace/bgp-frr.test.sh (run.sh sets them)
set -uo pipefail
TEST_NAME=bgp-frr
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NS_TEST_DIR/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"

TGW=bgpfrr-tgw-$$
APP=bgpfrr-app-$$
NAMESPACES=("$TGW" "$APP")
FAILURE_LOGS=(app.log tgw.log frr/bgpd.log frr/zebra.log)
# shellcheck source=frr_harness.sh
source "$NS_TEST_DIR/frr_harness.sh"

# --- topology ---
frr_underlay "$TGW" "$APP"
stub_subnet "$TGW" spokes 10.1.0.1/16
stub_subnet "$APP" fw 198.51.100.1/24
frr_underlay_up "$TGW" "$APP"

{ echo "hostname tgw"; tunnel_pair_conf tgw; } >"$WORK/tgw.conf"
# No egressd routes: the default route FRR's zebra installs (via 169.254.6.1 / 7.1, i.e. into
# the TUNs) decides, and the engine sends what the kernel routes into a TUN through its tunnel.
frr_app_conf app >"$WORK/app.conf"

start_egressd tgw "$TGW"
start_egressd app "$APP"

# --- FRR in the tgw namespace ---
frr_tgw_bgpd_conf "10 30" 5 " bgp graceful-restart restart-time 5"
frr_start "$TGW"

# --- sessions ---
frr_established() {
    vtysh_c -c "show bgp ipv4 unicast summary json" | eg_json \
        "all(d['peers'][p]['state'] == 'Established' for p in ('169.254.6.1', '169.254.7.1'))" | grep -qx True
}
egressd_established() {
    egsh app "show ip bgp summary json" | eg_json \
        "all(d['ipv4Unicast']['peers'][p]['state'] == 'Established' for p in ('169.254.6.2', '169.254.7.2'))" | grep -qx True
}
eg_wait 60 frr_established || { vtysh_c -c "show bgp summary"; egsh app "show ip bgp summary"; fail "FRR sessions not Established"; }
eg_wait 10 egressd_established || { egsh app "show ip bgp summary"; fail "egressd sessions not Established"; }
echo "    sessions Established on both sides"
egsh app "show ip bgp summary" | sed 's/^/    /'

# --- FRR learned the default route over both tunnels: ECMP in tgw's kernel ---
tgw_default_ecmp() { [[ $(ip -n "$TGW" route show 0.0.0.0/0 proto bgp | grep -c 'nexthop via 169.254.') == 2 ]]; }
eg_wait 20 tgw_default_ecmp || { ip -n "$TGW" route show; vtysh_c -c "show ip bgp"; fail "tgw kernel has no 2-way ECMP default route"; }
frr_default=$(vtysh_c -c "show bgp ipv4 unicast 0.0.0.0/0 json")
printf '%s' "$frr_default" | eg_json "sorted(p['nexthops'][0]['ip'] for p in d['paths'])" \
    | grep -q '"169.254.6.1", "169.254.7.1"' || fail "FRR's paths for 0.0.0.0/0 are not via both tunnels: $frr_default"
echo "    FRR: 0.0.0.0/0 via 169.254.6.1 and 169.254.7.1 (ECMP in the tgw kernel)"

# --- egressd learned both spoke prefixes over both tunnels ---
app_route_ecmp() {  # PREFIX: in show ip route json with both tunnels, and in the kernel as proto 218
    egsh app "show ip route json" | eg_json \
        "sorted(next((r['nexthops'] for r in d['routes'] if r['prefix'] == '$1'), []))" | grep -q '"tgw0", "tgw1"' \
        && [[ $(ip -n "$APP" route show "$1" proto 218 | grep -c 'dev tgw') == 2 ]]
}
for p in 10.1.0.0/16 10.2.0.0/16; do
    eg_wait 20 app_route_ecmp "$p" || { egsh app "show ip route json"; ip -n "$APP" route; fail "egressd did not install $p over both tunnels"; }
done
egsh app "show ip bgp json" | eg_json "sorted(d['routes'])" | grep -q '"10.1.0.0/16", "10.2.0.0/16"' \
    || fail "show ip bgp json lacks the spoke prefixes"
[[ $(egsh app "show ip bgp json" | eg_json "len(d['routes']['10.1.0.0/16'])") == 2 ]] || fail "10.1.0.0/16 should have 2 paths"
echo "    egressd: 10.1.0.0/16 and 10.2.0.0/16 via tgw0 and tgw1 (kernel proto 218)"
egsh app "show ip bgp" | sed 's/^/    /'
# The metrics endpoint (issue 6) reports the sessions, prefixes and UPDATEs; promtool accepts it.
page=$(in_ns "$APP" curl -sf -m 5 http://127.0.0.1:9108/metrics) || fail "no metrics page in $APP"
lint=$(printf '%s\n' "$page" | promtool check metrics 2>&1) || fail "promtool check metrics: $lint"
series() { printf '%s\n' "$page" | awk -v k="$1" '$1 == k { print $2 + 0 }'; }
for p in 169.254.6.2 169.254.7.2; do
    [[ $(series "egressd_bgp_session_up{peer=\"$p\"}") == 1 ]] || fail "metrics: session to $p not up: $(printf '%s\n' "$page" | grep ^egressd_bgp)"
    [[ $(series "egressd_bgp_session_state{peer=\"$p\",state=\"Established\"}") == 1 ]] || fail "metrics: state of $p"
    [[ $(series "egressd_bgp_prefixes_received{peer=\"$p\"}") == 2 ]] || fail "metrics: prefixes from $p"
    (( $(series "egressd_bgp_updates_received_total{peer=\"$p\"}") >= 1 )) || fail "metrics: no UPDATEs from $p"
done

# --- traffic: spoke address -> GRE -> appliance, and back over the routes egressd learned by BGP ---
in_ns "$TGW" ping -c 3 -i 0.2 -W 2 -I 10.1.0.1 198.51.100.1 >"$WORK/ping.log" 2>&1 \
    || { cat "$WORK/ping.log"; ip -n "$TGW" route get 198.51.100.1 from 10.1.0.1; ip -n "$APP" route get 10.1.0.1 from 198.51.100.1
         egsh tgw "show interfaces"; egsh app "show interfaces"; egsh app "show ip route"
         [[ -n ${BGP_FRR_DEBUG:-} ]] && { echo "debug: $TGW $APP"; sleep 120; }
         fail "no traffic from 10.1.0.1 to 198.51.100.1 over the BGP routes"; }
echo "    traffic flows: 10.1.0.1 (tgw) <-> 198.51.100.1 (app) over the learned routes"

# --- clear ip bgp: one session resets and comes back, the other stays up ---
established_count() {  # PEER: how many times the session to PEER has reached Established
    egsh app "show ip bgp summary json" | eg_json "d['ipv4Unicast']['peers']['$1']['connectionsEstablished']"
}
before6=$(established_count 169.254.6.2) before7=$(established_count 169.254.7.2)
egsh app "clear ip bgp 169.254.6.2" >/dev/null || fail "clear ip bgp 169.254.6.2 failed"
reestablished() { (( $(established_count 169.254.6.2) > before6 )) && egressd_established; }
eg_wait 30 reestablished || { egsh app "show ip bgp summary"; fail "the session to 169.254.6.2 did not come back after clear"; }
(( $(established_count 169.254.7.2) == before7 )) || fail "clear ip bgp 169.254.6.2 also reset 169.254.7.2"
egsh app "clear ip bgp * soft" >/dev/null || fail "clear ip bgp * soft failed"
sleep 1
(( $(established_count 169.254.7.2) == before7 )) || fail "a soft clear reset a session"
egressd_established || fail "sessions not Established after a soft clear"
echo "    clear ip bgp: the cleared session came back, the other was untouched; soft clear kept both"

# --- withdrawal ---
vtysh_c -c "configure terminal" -c "router bgp 64512" -c "address-family ipv4 unicast" -c "no network 10.2.0.0/16" >/dev/null
route_gone() { ! egsh app "show ip route json" | grep -q '"10.2.0.0/16"' && [[ -z $(ip -n "$APP" route show 10.2.0.0/16) ]]; }
eg_wait 20 route_gone || fail "10.2.0.0/16 still installed after FRR withdrew it"
app_route_ecmp 10.1.0.0/16 || fail "10.1.0.0/16 lost after withdrawing 10.2.0.0/16"
echo "    withdrawal of 10.2.0.0/16 removed it from egressd and the kernel"

# --- bgpd stops: sessions go down, learned routes go ---
eg_kill_pid "$BGPD_PID" 10
wait "$BGPD_PID" 2>/dev/null
sessions_down() {
    egsh app "show ip bgp summary json" | eg_json \
        "all(d['ipv4Unicast']['peers'][p]['state'] != 'Established' for p in ('169.254.6.2', '169.254.7.2'))" | grep -qx True
}
eg_wait 45 sessions_down || fail "egressd sessions still Established after bgpd stopped"
# FRR announced graceful restart (restart time 5 s): the routes stay, stale, then go.
app_route_ecmp 10.1.0.0/16 || fail "10.1.0.0/16 should be kept (stale) right after the sessions went down (graceful restart)"
learned_gone() { ! egsh app "show ip route json" | grep -q '"10.1.0.0/16"' && [[ -z $(ip -n "$APP" route show 10.1.0.0/16) ]]; }
eg_wait 20 learned_gone || { egsh app "show ip bgp neighbors"; fail "10.1.0.0/16 still installed after the restart time"; }
echo "    bgpd stopped: sessions down, routes kept as stale for the restart time, then removed"
pass
