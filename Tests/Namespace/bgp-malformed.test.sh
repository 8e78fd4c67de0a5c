#!/usr/bin/env bash
# bgp-malformed: a scripted scapy BGP peer (bgp_scapy_peer.py) against egressd in a namespace of
# its own (no tunnels: BGP over a veth pair, 192.0.2.1 egressd, .2-.9 the scripted peers).
# egressd runs AS 4200000001 (4-octet). The peer checks, per RFC 4271 §6 / RFC 7606 / RFC 4760:
#   treat-as-withdraw (ORIGIN flags 0xC0, ORIGIN length 2, AS_PATH segment overrun): session kept,
#     prefix withdrawn; attribute discard (ATOMIC_AGGREGATE length 1): route kept;
#   session resets with the right NOTIFICATION: MP_REACH_NLRI flags 3/4, MP_REACH_NLRI next hop
#     length 3/9, attribute block beyond the message 3/1, NLRI /33 3/10, bad marker 1/1,
#     length 18 1/2, type 9 1/3 - and the reset peer's routes leave the RIB;
#   RFC 6793 with a 2-octet speaker: OPEN My AS 23456, AS_PATH [23456] + AS4_PATH [4200000001]
#     sent, AS_PATH + AS4_PATH received merged.
# Usage: EGRESSD_BIN=... EGSH_BIN=... Tests/Namespace/bgp-malformed.test.sh (run.sh sets them)
set -uo pipefail
TEST_NAME=bgp-malformed
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NS_TEST_DIR/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"

NS=bgpmal-$$
WORK=$(mktemp -d "/tmp/egressd-nstest-bgp-malformed.XXXXXX")
PIDS=()

fail() { echo "FAIL $TEST_NAME: $*"; exit 1; }
pass() { echo "PASS $TEST_NAME"; exit 0; }
cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do eg_kill_pid "$pid" 5; wait "$pid" 2>/dev/null; done
    if (( rc != 0 )) && [[ -s $WORK/egressd.log ]]; then
        echo "--- $TEST_NAME: egressd.log (last 40 lines)"; tail -n 40 "$WORK/egressd.log" | sed 's/^/    /'
    fi
    ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

[[ -n ${EGRESSD_BIN:-} && -n ${EGSH_BIN:-} ]] || fail "EGRESSD_BIN and EGSH_BIN must be set"
/usr/bin/python3 -c 'import scapy.contrib.bgp' 2>/dev/null || eg_apt_ensure python3-scapy

ip netns add "$NS" || fail "cannot create namespace $NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add bgp0 type veth peer name bgp1 || fail "veth"
ip -n "$NS" addr add 192.0.2.1/24 dev bgp0
ip -n "$NS" addr add 192.0.2.2/24 dev bgp1
for i in 3 4 5 6 7 8 9; do ip -n "$NS" addr add 192.0.2.$i/24 dev bgp1; done
ip -n "$NS" -6 addr add 2001:db8:ffff::1/64 dev bgp0 nodad
ip -n "$NS" link set bgp0 up
ip -n "$NS" link set bgp1 up

cat >"$WORK/egressd.conf" <<'EOF'
hostname bgpmal
router bgp 4200000001
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 neighbor 192.0.2.2 remote-as 64999
 neighbor 192.0.2.3 remote-as 64998
 neighbor 192.0.2.4 remote-as 64999
 neighbor 192.0.2.5 remote-as 64999
 neighbor 192.0.2.6 remote-as 64999
 neighbor 192.0.2.7 remote-as 64999
 neighbor 192.0.2.8 remote-as 64999
 neighbor 192.0.2.9 remote-as 64999
 address-family ipv4 unicast
  neighbor 192.0.2.2 default-originate
  neighbor 192.0.2.3 default-originate
 exit-address-family
 address-family ipv6 unicast
  neighbor 192.0.2.2 activate
  neighbor 192.0.2.4 activate
 exit-address-family
EOF
"$EGRESSD_BIN" --config "$WORK/egressd.conf" --check >/dev/null || fail "egressd.conf does not pass --check"
nsenter --net="/run/netns/$NS" -- "$EGRESSD_BIN" --config "$WORK/egressd.conf" --socket "$WORK/egressd.sock" \
    --log-level info </dev/null >"$WORK/egressd.log" 2>&1 &
PIDS+=($!)
eg_wait 30 "$EGSH_BIN" --socket "$WORK/egressd.sock" -c "show ip bgp summary json" || fail "egressd did not start"

nsenter --net="/run/netns/$NS" -- /usr/bin/python3 "$NS_TEST_DIR/bgp_scapy_peer.py" "$EGSH_BIN" "$WORK/egressd.sock" \
    >"$WORK/peer.log" 2>&1
rc=$?
sed 's/^/    /' "$WORK/peer.log"
(( rc == 0 )) || fail "the scapy peer found a wrong answer (above)"
pass
