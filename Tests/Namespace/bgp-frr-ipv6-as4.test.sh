#!/usr/bin/env bash
# bgp-frr-ipv6-as4: IPv6 routes and 4-octet AS numbers with FRR, over GRE tunnels in a topology of
# its own (two namespaces, as bgp-frr). FRR (zebra + bgpd) is AS 4200000000; egressd AS 4200000001.
#   tgw0: an IPv4 session carrying IPv4 and IPv6 unicast (MP-BGP, IPv6 next hops on the /125)
#   tgw1: an IPv6 session between the tunnel's /125 inside addresses (IPv6 unicast), and an IPv4
#         session on which FRR is a 2-octet speaker (local-as 64600, no capabilities): RFC 6793's
#         AS_TRANS + AS4_PATH both ways
# Asserts: all three sessions Established; egressd advertises ::/0 over both IPv6-capable sessions
# and FRR's kernel gets it as an ECMP route over tgw0 and tgw1; egressd learns the spoke IPv6
# prefix over both (ECMP in the engine and the kernel); IPv6 traffic flows both ways over them;
# FRR sees egressd's AS 4200000001 on the 4-octet session and AS_TRANS on the 2-octet one, whose
# UPDATE carries AS4_PATH 4200000001 (tshark); egressd merges FRR's AS4_PATH (64600 4200000000).
# Usage: EGRESSD_BIN=... EGSH_BIN=... Tests/Namespace/bgp-frr-ipv6-as4.test.sh (run.sh sets them)
set -uo pipefail
TEST_NAME=bgp-frr-ipv6-as4
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NS_TEST_DIR/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"

TGW=bgp6-tgw-$$
APP=bgp6-app-$$
NAMESPACES=("$TGW" "$APP")
FAILURE_LOGS=(app.log tgw.log frr/bgpd.log frr/zebra.log)
# shellcheck source=frr_harness.sh
source "$NS_TEST_DIR/frr_harness.sh"

# --- topology ---
frr_underlay "$TGW" "$APP"
stub_subnet "$TGW" spokes 10.1.0.1/16 2001:db8:1::1/48
stub_subnet "$APP" fw 198.51.100.1/24 2001:db8:ff::1/64
frr_underlay_up "$TGW" "$APP"

{ echo "hostname tgw"; tunnel_pair_conf tgw v6; } >"$WORK/tgw.conf"
{ echo "hostname app"; tunnel_pair_conf app v6; cat <<'EOF'; } >"$WORK/app.conf"
!
router bgp 4200000001
 bgp router-id 10.0.1.10
 no bgp ebgp-requires-policy
 neighbor 169.254.6.2 remote-as 4200000000
 neighbor 169.254.6.2 ebgp-multihop 2
 neighbor 169.254.7.2 remote-as 64600
 neighbor 169.254.7.2 ebgp-multihop 2
 neighbor fd00:7::2 remote-as 4200000000
 neighbor fd00:7::2 ebgp-multihop 2
 address-family ipv4 unicast
  neighbor 169.254.6.2 default-originate
  neighbor 169.254.7.2 default-originate
  no neighbor fd00:7::2 activate
  maximum-paths 2
 exit-address-family
 address-family ipv6 unicast
  neighbor 169.254.6.2 activate
  neighbor 169.254.6.2 default-originate
  neighbor fd00:7::2 activate
  neighbor fd00:7::2 default-originate
  maximum-paths 2
 exit-address-family
EOF

start_egressd tgw "$TGW"
start_egressd app "$APP"

# --- FRR in the tgw namespace (zebra, so the learned ::/0 lands in its kernel) ---
cat >"$FRR_DIR/bgpd.conf" <<EOF
frr defaults traditional
hostname tgw-bgpd
log file $FRR_DIR/bgpd.log
router bgp 4200000000
 bgp router-id 10.66.0.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 169.254.6.1 remote-as 4200000001
 neighbor 169.254.6.1 ebgp-multihop 2
 neighbor 169.254.6.1 timers connect 5
 neighbor 169.254.7.1 remote-as 4200000001
 neighbor 169.254.7.1 local-as 64600
 neighbor 169.254.7.1 dont-capability-negotiate
 neighbor 169.254.7.1 ebgp-multihop 2
 neighbor 169.254.7.1 timers connect 5
 neighbor fd00:7::1 remote-as 4200000001
 neighbor fd00:7::1 ebgp-multihop 2
 neighbor fd00:7::1 timers connect 5
 address-family ipv4 unicast
  network 10.1.0.0/16
  network 10.3.0.0/16
  neighbor 169.254.6.1 prefix-list NOT-10-3 out
  no neighbor fd00:7::1 activate
  maximum-paths 2
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:1::/48
  neighbor 169.254.6.1 activate
  neighbor 169.254.6.1 route-map NH6 out
  neighbor fd00:7::1 activate
  maximum-paths 2
 exit-address-family
route-map NH6 permit 10
 set ipv6 next-hop global fd00:6::2
! 10.3.0.0/16 only over the 2-octet session: the one path egressd has for it is that session's.
ip prefix-list NOT-10-3 seq 5 deny 10.3.0.0/16
ip prefix-list NOT-10-3 seq 10 permit 0.0.0.0/0 le 32
EOF
frr_start "$TGW"

# --- sessions ---
APP_PEERS="('169.254.6.2', '169.254.7.2', 'fd00:7::2')"
app_established() {
    egsh app "show ip bgp summary json" | eg_json \
        "all(d['ipv4Unicast']['peers'][p]['state'] == 'Established' for p in $APP_PEERS)" | grep -qx True
}
eg_wait 60 app_established || { egsh app "show ip bgp summary"; vtysh_c -c "show bgp summary"; fail "egressd's three sessions not Established"; }
neighbor_json() { egsh app "show ip bgp neighbors $1 json"; }
[[ $(neighbor_json 169.254.6.2 | eg_json "d['169.254.6.2']['fourOctetAs']") == True ]] || fail "no 4-octet AS on the tgw0 session"
[[ $(neighbor_json 169.254.7.2 | eg_json "d['169.254.7.2']['fourOctetAs']") == False ]] || fail "the 2-octet session negotiated 4-octet AS"
neighbor_json 169.254.6.2 | eg_json "d['169.254.6.2']['addressFamilies']" | grep -q 'IPv6' \
    || fail "the tgw0 IPv4 session does not carry IPv6 unicast: $(neighbor_json 169.254.6.2)"
echo "    sessions Established: tgw0 IPv4 (IPv4+IPv6, 4-octet AS), tgw1 IPv6 /125, tgw1 IPv4 (2-octet speaker)"

# --- IPv6: FRR learned ::/0 over both tunnels (ECMP in its kernel) ---
tgw_default6() { [[ $(ip -n "$TGW" -6 route show default | grep -c 'nexthop via fd00:') == 2 ]]; }
eg_wait 30 tgw_default6 || { ip -n "$TGW" -6 route; vtysh_c -c "show bgp ipv6 unicast"; fail "tgw kernel has no ECMP ::/0 over both tunnels"; }
echo "    FRR: ::/0 via fd00:6::1 (MP-BGP over IPv4) and fd00:7::1 (IPv6 session), ECMP in the tgw kernel"

# --- IPv6: egressd learned the spoke prefix over both ---
app_route6() {
    egsh app "show ipv6 route json" | eg_json \
        "sorted(next((r['nexthops'] for r in d['routes'] if r['prefix'] == '2001:db8:1::/48'), []))" | grep -q '"tgw0", "tgw1"' \
        && [[ $(ip -n "$APP" -6 route show 2001:db8:1::/48 proto 218 | grep -c 'dev tgw') == 2 ]]
}
eg_wait 20 app_route6 || { egsh app "show bgp ipv6 unicast"; egsh app "show ipv6 route"; ip -n "$APP" -6 route; fail "egressd did not install 2001:db8:1::/48 over both tunnels"; }
echo "    egressd: 2001:db8:1::/48 via tgw0 (next hop fd00:6::2) and tgw1 (fd00:7::2), engine and kernel"
egsh app "show bgp ipv6 unicast" | sed 's/^/    /'
in_ns "$TGW" ping -6 -c 3 -i 0.2 -W 2 -I 2001:db8:1::1 2001:db8:ff::1 >"$WORK/ping6.log" 2>&1 \
    || { cat "$WORK/ping6.log"; fail "no IPv6 traffic from 2001:db8:1::1 to 2001:db8:ff::1 over the BGP routes"; }
echo "    IPv6 traffic flows: 2001:db8:1::1 (tgw) <-> 2001:db8:ff::1 (app)"

# --- 4-octet AS: egressd's view ---
path_of() { egsh app "show ip bgp json" | eg_json "sorted(p['path'] for p in d['routes'].get('$1', []))"; }
eg_wait 10 test "$(path_of 10.3.0.0/16)" = '["64600 4200000000"]' || { egsh app "show ip bgp"
    fail "egressd's path for 10.3.0.0/16 (2-octet session): $(path_of 10.3.0.0/16), expected 64600 4200000000 (AS_PATH 64600 23456 + AS4_PATH merged)"; }
[[ $(path_of 10.1.0.0/16) == '["4200000000"]' ]] || fail "egressd's best path for 10.1.0.0/16: $(path_of 10.1.0.0/16), expected 4200000000"
echo "    egressd: 10.1.0.0/16 path 4200000000 (4-octet session), 10.3.0.0/16 path 64600 4200000000 (2-octet session, AS4_PATH merged)"

# --- 4-octet AS: FRR's view, and the UPDATE on the wire of the 2-octet session ---
frr_paths() { vtysh_c -c "show bgp ipv4 unicast 0.0.0.0/0 json" | eg_json \
    "sorted((p['peer']['peerId'], p['aspath']['string']) for p in d['paths'])"; }
# FRR reads AS_PATH as 4-octet on the 4-octet session; on the 2-octet one it keeps AS_TRANS, as it
# ignores AS4_PATH from a peer that announced the 4-octet capability (FRR's check, even though its
# own dont-capability-negotiate made the session 2-octet), after its local-as 64600.
want='[["169.254.6.1", "4200000001"], ["169.254.7.1", "64600 23456"]]'
eg_wait 10 test "$(frr_paths)" = "$want" || fail "FRR's paths for 0.0.0.0/0: $(frr_paths), expected $want"
vtysh_c -c "show bgp neighbors 169.254.7.1 json" | eg_json "d['169.254.7.1'].get('neighborCapabilities', {}).get('4byteAs', 'none')" \
    | grep -qv 'advertisedAndReceived' || fail "FRR negotiated 4-octet AS on the dont-capability-negotiate session"
# What egressd sends on that session, as tshark dissects it: AS_PATH [23456] (2-octet) + AS4_PATH [4200000001].
in_ns "$TGW" timeout 30 tshark -n -q -i tgw1 -a duration:8 -f "tcp port 179 and host 169.254.7.2" -w "$WORK/as4.pcap" >"$WORK/tshark.log" 2>&1 &
TSHARK=$!
PIDS+=("$TSHARK")
eg_wait 20 grep -q "Capturing on" "$WORK/tshark.log" || fail "tshark did not start: $(cat "$WORK/tshark.log")"
timeout 10 "$EGSH_BIN" --socket "$WORK/app.sock" -c "clear ip bgp 169.254.7.2 soft" >/dev/null || fail "clear ip bgp 169.254.7.2 soft failed"
wait "$TSHARK" 2>/dev/null   # tshark stops itself after 8 s
fields=$(timeout 30 tshark -n -r "$WORK/as4.pcap" -d tcp.port==179,bgp -Y "bgp.type == 2 && ip.src == 169.254.7.1 && bgp.update.path_attribute.type_code == 17" \
    -T fields -e bgp.update.path_attribute.type_code -e bgp.update.path_attribute.as_path_segment.as2 \
    -e bgp.update.path_attribute.as_path_segment.as4 -E separator=' ' 2>/dev/null | head -1)
[[ $fields == *23456* && $fields == *4200000001* ]] \
    || fail "egressd's UPDATE to the 2-octet speaker does not carry AS_PATH 23456 + AS4_PATH 4200000001 (tshark: '$fields')"
echo "    FRR: 0.0.0.0/0 path 4200000001 (4-octet session), 64600 23456 (2-octet session); on the wire (tshark): $fields"
pass
