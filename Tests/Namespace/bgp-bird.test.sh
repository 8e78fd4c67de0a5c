#!/usr/bin/env bash
# bgp-bird: the lab with BIRD 2 as the Transit Gateway stand-in's BGP (LAB_BGP=bird, graceful
# restart announced, restart time 15 s). Four sessions (.2 and .3 of each tunnel's /29) come up;
# BIRD's kernel gets the default route as ECMP over both tunnels; app1 learns both spoke prefixes
# from all four peers (ECMP over tgw0 and tgw1, engine and kernel) and spoke traffic flows on them.
# Then: a withdrawal in BIRD removes one prefix; BIRD killed (graceful restart): the routes stay,
# stale, until BIRD is back and they are refreshed; BIRD without graceful restart killed: the
# routes go at once; the GRE underlay of tgw1 cut with hold time 3 s: the two tgw1 sessions expire
# (hold timer), the routes shrink to tgw0, traffic still flows, and everything comes back.
TEST_NAME="bgp-bird"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
export LAB_BGP=bird LAB_BGP_GR=1

PEERS="('169.254.6.2', '169.254.6.3', '169.254.7.2', '169.254.7.3')"
birdc_() { local inst=$1; shift; birdc -s "$LAB_STATE/bird-$inst.ctl" "$@"; }
birdc_both() { birdc_ a "$@" && birdc_ b "$@"; }
summary() { egsh_json app1 "show ip bgp summary json"; }
established() {  # how many of the four sessions are Established
    json_get "$(summary)" "sum(1 for p in $PEERS if d['ipv4Unicast']['peers'][p]['state'] == 'Established')"
}
all_up() { [[ $(established) == 4 ]]; }
none_up() { [[ $(established) == 0 ]]; }
# route_via PREFIX TUNNELS: show ip route json has PREFIX with exactly these tunnels (e.g. "tgw0 tgw1"),
# and the kernel route (proto 218) has as many next hops; TUNNELS "" = the prefix is gone from both.
route_via() {
    local got kernel
    got=$(json_get "$(egsh_json app1 "show ip route json")" \
        "' '.join(sorted(next((r['nexthops'] for r in d['routes'] if r['prefix'] == '$1'), [])))")
    kernel=$(in_node app1 ip route show "$1" proto 218 | grep -o 'dev tgw[0-9]' | sort | awk '{print $2}' | xargs)
    [[ $got == "$2" && $kernel == "$2" ]]
}
paths() { json_get "$(egsh_json app1 "show ip bgp json")" "len(d['routes'].get('$1', []))"; }
kill_bird() {  # SIGKILL both BIRDs (the whole stand-in's BGP): no NOTIFICATION, the TCP connections just close
    local inst pid
    for inst in a b; do
        pid=$(cat "$LAB_STATE/bird-$inst.pid")
        kill -KILL "$pid"; eg_wait 5 eg_pid_gone "$pid" || fail "BIRD ($inst) did not die"
    done
}
start_bird() {
    local inst
    for inst in a b; do
        nsenter --net="/run/netns/${LAB_PREFIX}tgw" -- bird -f -c "$LAB_STATE/bird-$inst.conf" -s "$LAB_STATE/bird-$inst.ctl" \
            </dev/null >>"$LAB_STATE/bird-$inst.log" 2>&1 &
        echo $! >"$LAB_STATE/bird-$inst.pid"
        eg_wait 10 birdc_ "$inst" show status || fail "BIRD ($inst) did not restart"
    done
}
spoke_fetch() { [[ $(in_node spoke1 curl -s -m 3 -o /dev/null -w '%{http_code}' http://198.51.100.80/) == 200 ]]; }

lab_up   # waits for the four sessions and the ECMP default route in tgw's kernel, then spoke -> inet

# --- sessions and route exchange both ways ---
[[ $( (birdc_ a show protocols; birdc_ b show protocols) | grep -c 'BGP .* up .*Established') == 4 ]] \
    || { birdc_ a show protocols; birdc_ b show protocols; fail "the BIRDs do not show 4 Established sessions"; }
bird_default=$(birdc_ a show route 0.0.0.0/0 all)
for nh in 169.254.6.1 169.254.7.1; do
    grep -q "BGP.next_hop: $nh" <<<"$bird_default" || fail "BIRD has no path for 0.0.0.0/0 with next hop $nh: $bird_default"
done
grep -q 'BGP.as_path: 65000$' <<<"$bird_default" || fail "BIRD's default route lacks AS_PATH 65000: $bird_default"
r=$(in_node tgw ip route show 0.0.0.0/0 proto bird)
[[ $(grep -c 'nexthop dev tgw[01]' <<<"$r") == 2 ]] || fail "tgw kernel default is not ECMP over both tunnels (BIRD): $r"
for p in 10.1.0.0/16 10.2.0.0/16; do
    eg_wait 15 route_via "$p" "tgw0 tgw1" || fail "app1 did not install $p over tgw0 and tgw1"
    [[ $(paths "$p") == 4 ]] || fail "$p should have 4 paths in app1's BGP table, has $(paths "$p")"
done
spoke_fetch || fail "spoke1 cannot fetch from inet over the BGP routes"
echo "    4 sessions with BIRD; default ECMP in tgw's kernel; spoke prefixes ECMP on app1; traffic flows"

# --- withdrawal: BIRD stops announcing 10.2.0.0/16 ---
sed -i '/route 10.2.0.0\/16 blackhole;/d' "$LAB_STATE"/bird-[ab].conf
birdc_both configure >/dev/null || fail "birdc configure failed"
eg_wait 15 route_via 10.2.0.0/16 "" || fail "10.2.0.0/16 still on app1 after BIRD withdrew it"
route_via 10.1.0.0/16 "tgw0 tgw1" || fail "10.1.0.0/16 lost after withdrawing 10.2.0.0/16"
all_up || fail "a withdrawal reset sessions"
echo "    withdrawal of 10.2.0.0/16 removed it (engine and kernel); sessions stayed up"

# --- peer restart with graceful restart: routes kept stale, then refreshed ---
json_get "$(egsh_json app1 "show ip bgp neighbors 169.254.6.2 json")" "d['169.254.6.2']['gracefulRestartPeerTime']" \
    | grep -qx 15 || fail "app1 did not record BIRD's graceful-restart time 15"
killed_at=$(date +%s)
kill_bird
eg_wait 20 none_up || fail "sessions still Established after BIRD died"
"$LAB" sh app1 -c "show logging" | grep -q "neighbor 169.254.6.2 down: .*keeping its routes as stale for 15 s" \
    || fail "app1 did not keep 169.254.6.2's routes as stale (show logging)"
sleep 3   # well past the moment a non-GR peer's routes go (see below), still inside the 15 s
route_via 10.1.0.0/16 "tgw0 tgw1" || fail "10.1.0.0/16 not kept (stale) while BIRD restarts (graceful restart)"
spoke_fetch || fail "traffic stopped while the routes were stale"
# `show ip bgp` marks the kept paths stale (FRR's S in the status column).
"$LAB" sh app1 -c "show ip bgp" | grep -Eq '^S> +10\.1\.0\.0/16 ' \
    || fail "show ip bgp does not mark 10.1.0.0/16 stale (S>) while BIRD restarts"
start_bird
eg_wait 30 all_up || fail "sessions did not come back after BIRD restarted"
# Past the restart time the routes are still there: refreshed, not stale.
sleep $(( killed_at + 17 - $(date +%s) > 0 ? killed_at + 17 - $(date +%s) : 0 ))
route_via 10.1.0.0/16 "tgw0 tgw1" || fail "10.1.0.0/16 gone after BIRD came back (not refreshed)"
[[ $(paths 10.1.0.0/16) == 4 ]] || fail "10.1.0.0/16 should have 4 fresh paths after the restart"
! "$LAB" sh app1 -c "show ip bgp" | grep -Eq '^S[>= ] ' || fail "show ip bgp still marks paths stale after the refresh"
route_via 10.2.0.0/16 "" || fail "10.2.0.0/16 came back although BIRD no longer announces it"
echo "    BIRD killed with graceful restart: routes kept stale, refreshed after its return"

# --- peer restart without graceful restart: routes removed at once ---
sed -i 's/graceful restart on;/graceful restart off;/' "$LAB_STATE"/bird-[ab].conf
birdc_both configure >/dev/null || fail "birdc configure failed"
no_gr() { json_get "$(egsh_json app1 "show ip bgp neighbors 169.254.6.2 json")" "d['169.254.6.2']['gracefulRestartPeerTime']" | grep -qx None; }
eg_wait 30 no_gr || fail "sessions did not come back without graceful restart"
eg_wait 30 all_up || fail "sessions not all up after turning graceful restart off"
eg_wait 10 route_via 10.1.0.0/16 "tgw0 tgw1" || fail "10.1.0.0/16 not back after turning graceful restart off"
gone_from=$(date +%s)
kill_bird
eg_wait 8 route_via 10.1.0.0/16 "" || fail "10.1.0.0/16 kept after BIRD (no graceful restart) died"
echo "    (routes gone $(( $(date +%s) - gone_from )) s after the kill)"
start_bird
eg_wait 30 all_up || fail "sessions did not come back after BIRD restarted"
eg_wait 10 route_via 10.1.0.0/16 "tgw0 tgw1" || fail "10.1.0.0/16 not back after BIRD restarted"
echo "    BIRD killed without graceful restart: routes removed at once, back with the sessions"

# --- hold timer: cut tgw1's GRE underlay with hold time 3 s ---
"$LAB" sh app1 -c "configure terminal" -c "router bgp 65000" -c "neighbor 169.254.7.2 timers 1 3" \
    -c "neighbor 169.254.7.3 timers 1 3" -c "end" >/dev/null || fail "cannot set timers on app1"
hold3() { json_get "$(egsh_json app1 "show ip bgp neighbors json")" \
    "all(d[p]['bgpTimerHoldTimeMsecs'] == 3000 and d[p]['bgpState'] == 'Established' for p in ('169.254.7.2', '169.254.7.3'))" | grep -qx True; }
eg_wait 30 hold3 || fail "tgw1 sessions not re-established with hold time 3 s"
eg_wait 30 all_up || fail "not all sessions up before the cut"
# The cut is on the stand-in's u0, both directions (netdev ingress for GRE from app1, netdev
# egress for GRE to app1): the stand-in's TPACKET rings (scripts/lab.sh pins tgw to tpacket)
# take GRE before the IP layer's input hook and send it past the output hook, but through
# dev_queue_xmit, where the egress hook sees it. Not on app1's side: with afxdp its XDP program
# takes GRE before netdev ingress and its AF_XDP TX passes netdev egress.
in_node tgw nft -f - <<'NFT' || fail "cannot install the nftables cut on tgw"
table netdev bgpbird_cut {
    chain in { type filter hook ingress device "u0" priority 0; ip daddr 10.0.0.2 ip protocol gre counter drop; }
    chain out { type filter hook egress device "u0" priority 0; ip saddr 10.0.0.2 ip protocol gre counter drop; }
}
NFT
cut_at=$(date +%s)
tgw1_down() { json_get "$(summary)" \
    "[d['ipv4Unicast']['peers'][p]['state'] for p in $PEERS]" | grep -q "\"Established\", \"Established\", \"[^E]*\", \"[^E]*\""; }
eg_wait 10 tgw1_down || { egsh_json app1 "show ip bgp summary"; fail "tgw1 sessions still Established 10 s after the cut"; }
took=$(( $(date +%s) - cut_at ))
reason=$(json_get "$(summary)" "d['ipv4Unicast']['peers']['169.254.7.2']['lastError']")
grep -qi 'hold' <<<"$reason" || fail "tgw1 session ended for another reason than the hold timer: $reason"
eg_wait 5 route_via 10.1.0.0/16 "tgw0" || fail "10.1.0.0/16 not narrowed to tgw0 after the hold timer expired"
eg_wait 10 spoke_fetch || fail "no traffic over tgw0 alone"
echo "    underlay of tgw1 cut: hold timer expired after ${took} s ($reason), routes over tgw0 only, traffic flows"
# Both directions were cut (the hold timer would expire with one): each rule dropped GRE.
read -r cut_in cut_out < <(in_node tgw nft -j list table netdev bgpbird_cut | eg_json \
    "' '.join(str(e['counter']['packets']) for x in d['nftables'] if 'rule' in x for e in x['rule']['expr'] if 'counter' in e)")
(( ${cut_in:-0} > 0 && ${cut_out:-0} > 0 )) || fail "the cut did not drop both directions (from app1 ${cut_in:-?}, to app1 ${cut_out:-?} packets)"
echo "    GRE dropped on tgw's u0: from app1 $cut_in (netdev ingress), to app1 $cut_out (netdev egress, tgw's TPACKET ring)"
in_node tgw nft delete table netdev bgpbird_cut || fail "cannot remove the cut on tgw"
eg_wait 40 all_up || fail "tgw1 sessions did not come back after the underlay was restored"
eg_wait 10 route_via 10.1.0.0/16 "tgw0 tgw1" || fail "10.1.0.0/16 not back over both tunnels"
echo "    underlay restored: sessions and ECMP back"
pass
