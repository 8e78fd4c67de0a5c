#!/usr/bin/env bash
# Session protection and per-neighbor policy against FRR's bgpd. Own two-namespace topology:
#
#   peer (FRR bgpd, AS 64512, 10.67.0.1/24) ──veth p0── app (egressd, AS 65000, 10.67.0.2/24)
#
# Both sides: TCP MD5 (`neighbor A password`) and GTSM (`neighbor A ttl-security hops 1`).
# egressd also prepends (`as-path-prepend 2`), keeps routes as received
# (`soft-reconfiguration inbound`) and filters inbound with a prefix list.
# Asserts: matching password: Established; FRR sees 0.0.0.0/0 with path "65000 65000 65000";
# `received-routes json` lists FRR's two prefixes (one filtered) while the RIB has one;
# wrong password: never Established (15 s); egressd without ttl-security (it sends TTL 1 to an
# eBGP peer) while FRR requires TTL >= 254: never Established (15 s); restored: Established.
# Usage: EGRESSD_BIN=... EGSH_BIN=... Tests/Namespace/bgp-md5-gtsm.test.sh (run.sh sets them)
set -uo pipefail
TEST_NAME=bgp-md5-gtsm
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NS_TEST_DIR/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"

PEER=bgpmd5-peer-$$
APP=bgpmd5-app-$$
NAMESPACES=("$PEER" "$APP")
FAILURE_LOGS=(app.log frr/bgpd.log)
# shellcheck source=frr_harness.sh
source "$NS_TEST_DIR/frr_harness.sh"

egsh() { "$EGSH_BIN" --socket "$WORK/app.sock" "$@"; }
# egsh_conf LINE...: configuration lines under `router bgp 65000`, applied live.
egsh_conf() {
    local args=(-c "configure terminal" -c "router bgp 65000") line
    for line in "$@"; do args+=(-c "$line"); done
    egsh "${args[@]}" -c "end" >/dev/null || fail "egsh refused: $*"
}

ip netns add "$PEER" && ip netns add "$APP" || fail "cannot create namespaces"
ip -n "$PEER" link add p0 type veth peer name p0 netns "$APP" || fail "veth"
ip -n "$PEER" addr add 10.67.0.1/24 dev p0
ip -n "$APP" addr add 10.67.0.2/24 dev p0
for ns in "$PEER" "$APP"; do ip -n "$ns" link set lo up; ip -n "$ns" link set p0 up; done

cat >"$WORK/app.conf" <<'EOF'
hostname app
ip prefix-list FROM-TGW seq 5 permit 10.1.0.0/16
router bgp 65000
 bgp router-id 10.67.0.2
 neighbor 10.67.0.1 remote-as 64512
 neighbor 10.67.0.1 timers 3 9
 neighbor 10.67.0.1 password s3cret-key
 neighbor 10.67.0.1 ttl-security hops 1
 neighbor 10.67.0.1 as-path-prepend 2
 address-family ipv4 unicast
  neighbor 10.67.0.1 default-originate
  neighbor 10.67.0.1 prefix-list FROM-TGW in
  neighbor 10.67.0.1 soft-reconfiguration inbound
 exit-address-family
EOF
start_egressd app "$APP"

cat >"$FRR_DIR/bgpd.conf" <<EOF
frr defaults traditional
hostname peer-bgpd
log file $FRR_DIR/bgpd.log
router bgp 64512
 bgp router-id 10.67.0.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.67.0.2 remote-as 65000
 neighbor 10.67.0.2 timers 3 9
 neighbor 10.67.0.2 timers connect 2
 neighbor 10.67.0.2 password s3cret-key
 neighbor 10.67.0.2 ttl-security hops 1
 address-family ipv4 unicast
  network 10.1.0.0/16
  network 10.2.0.0/16
 exit-address-family
EOF
frr_bgpd_start "$PEER"

frr_state() { vtysh_c -c "show bgp ipv4 unicast summary json" | eg_json "d['peers']['10.67.0.2']['state']" 2>/dev/null; }
established() { [[ $(frr_state) == Established ]]; }
# never_established SECONDS: the session does not come up during SECONDS.
never_established() {
    local end=$(( $(date +%s) + $1 ))
    while (( $(date +%s) < end )); do
        established && return 1
        sleep 1
    done
    return 0
}

# --- matching password and GTSM on both sides ---
eg_wait 60 established || { vtysh_c -c "show bgp neighbors 10.67.0.2"; egsh -c "show ip bgp neighbors"; fail "not Established with matching password and GTSM"; }
echo "    matching TCP MD5 password and ttl-security hops 1: Established"
has_path() { vtysh_c -c "show bgp ipv4 unicast 0.0.0.0/0 json" | eg_json "d['paths'][0]['aspath']['string']" 2>/dev/null; }
eg_wait 10 test -n "$(has_path)" || true
path=$(has_path)
[[ $path == "65000 65000 65000" ]] || fail "FRR's AS path of 0.0.0.0/0 is '$path', expected '65000 65000 65000' (as-path-prepend 2)"
echo "    FRR: 0.0.0.0/0 path $path (as-path-prepend 2)"
eg_wait 10 bash -c "'$EGSH_BIN' --socket '$WORK/app.sock' -c 'show ip bgp neighbors 10.67.0.1 received-routes json' | grep -q '10.2.0.0/16'" \
    || { egsh -c "show ip bgp neighbors 10.67.0.1 received-routes"; fail "received-routes lacks FRR's prefixes"; }
received=$(egsh -c "show ip bgp neighbors 10.67.0.1 received-routes json")
[[ $(printf '%s' "$received" | eg_json "sorted(d['receivedRoutes'])") == '["10.1.0.0/16", "10.2.0.0/16"]' ]] || fail "received-routes: $received"
[[ $(printf '%s' "$received" | eg_json "d['filteredPrefixCounter']") == 1 ]] || fail "received-routes should count one filtered: $received"
[[ $(printf '%s' "$received" | eg_json "d['receivedRoutes']['10.2.0.0/16']['path']") == 64512 ]] || fail "received-routes path: $received"
[[ $(egsh -c "show ip bgp json" | eg_json "sorted(d['routes'])") == '["10.1.0.0/16"]' ]] || fail "the RIB should hold only 10.1.0.0/16"
echo "    received-routes (before policy): 10.1.0.0/16, 10.2.0.0/16 (1 filtered); RIB: 10.1.0.0/16"
egsh -c "show ip bgp neighbors 10.67.0.1 received-routes" | sed 's/^/    /'

# --- wrong password: the session never comes up ---
egsh_conf "neighbor 10.67.0.1 password wrong-key"
never_established 15 || fail "Established with a wrong TCP MD5 password"
echo "    wrong password: not Established in 15 s (FRR: $(frr_state))"

# --- right password, but egressd without GTSM sends TTL 1; FRR wants >= 254 ---
egsh_conf "neighbor 10.67.0.1 password s3cret-key" "no neighbor 10.67.0.1 ttl-security"
never_established 15 || fail "Established although egressd sends TTL 1 to a GTSM peer"
echo "    no ttl-security on egressd (TTL 1): not Established in 15 s"

# --- all restored ---
egsh_conf "neighbor 10.67.0.1 ttl-security hops 1"
eg_wait 40 established || fail "not Established again after restoring password and ttl-security"
echo "    restored: Established"
pass
