#!/usr/bin/env bash
# dataplane-afxdp: the lab with `dataplane io-backend afxdp` and two workers per egressd (body:
# dataplane_backend.sh: HTTP and 200 UDP echo flows both ways, decap and encap through both
# daemons, the AF_XDP sockets carried them). Then: the XDP program is on each underlay veth
# (native mode), the kernel still gets what is not ours (underlay ping after a neighbour flush,
# so ARP and ICMP; BGP over the tunnels Established; GRE to an address that is no tunnel's end
# reaches the TPACKET ring, not the sockets); encapsulation steering: the spoke-bound return
# traffic (fw -> app1) came through the AF_XDP sockets, not app1's TUNs (xskSteered), with the
# TTL decremented on that path (a ping reaching app1 with TTL 2 expires at the stand-in, TTL 3
# is answered), a TTL-1 packet still gets app1's kernel's ICMP time-exceeded, and a prefix learned from BGP
# enters the XDP trie and leaves it when withdrawn; app1's program is gone after egressd stops;
# and an egressd without CAP_BPF/CAP_SYS_ADMIN asked for afxdp says why and runs tpacket.
TEST_NAME="dataplane-afxdp"  # used by lib.sh
# shellcheck disable=SC2317  # backend_checks and fallback_check are called from dataplane_backend.sh
BACKEND=afxdp

io() { json_get "$(dataplane "$1")" "d['io']['$2']"; }

backend_checks() {
    local node d
    for node in app1 tgw; do
        d=$(dataplane "$node")
        [[ $(json_get "$d" "','.join(x['interface'] + ':' + x['mode'] for x in d['xdp'] if x['interface'] == 'u0')") == u0:native ]] \
            || fail "$node: XDP not in native mode on u0: $(json_get "$d" "d['xdp']")"
        ip -n "${LAB_PREFIX}$node" link show u0 | grep -q "prog/xdp .*name egressd_xdp" || fail "$node: no egressd_xdp on u0"
    done
    # ARP and ICMP on the underlay go to the kernel.
    in_node app1 ip neigh flush dev u0
    in_node app1 ping -c 2 -W 2 10.0.0.1 >/dev/null || fail "app1: underlay ping to 10.0.0.1 failed with XDP attached"
    # BGP over the tunnels (carried by the AF_XDP path) is up.
    local up
    up=$(json_get "$(egsh_json app1 "show ip bgp summary json")" \
        "sum(1 for p in d['ipv4Unicast']['peers'].values() if p['state'] == 'Established')")
    (( up >= 1 )) || fail "app1: no Established BGP session with XDP attached"
    # GRE to an address of app1 that is no tunnel's local end: passed to the kernel (the ring sees it).
    in_node app1 ip addr add 10.0.1.99/16 dev u0
    local ring0 xsk0 ring1 xsk1
    ring0=$(io app1 ringReceived) xsk0=$(io app1 xskReceived)
    in_node tgw "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
for i in range(20): s.sendto(b"\x00\x00\x08\x00" + bytes(40), ("10.0.1.99", 0))' || fail "sending GRE to 10.0.1.99 failed"
    sleep 0.5
    ring1=$(io app1 ringReceived) xsk1=$(io app1 xskReceived)
    (( ring1 - ring0 >= 20 )) || fail "GRE to a non-tunnel address did not reach the TPACKET ring ($ring0 -> $ring1)"
    (( xsk1 - xsk0 < 20 )) || fail "GRE to a non-tunnel address went to the AF_XDP sockets ($xsk0 -> $xsk1)"
    echo "    GRE to 10.0.1.99 (no tunnel): ring +$((ring1 - ring0)), xsk +$((xsk1 - xsk0))"
    encap_checks
    # Stopped: the program is detached (its bpf_link closed).
    local pid
    pid=$(cat "$LAB_STATE/app1.pid")
    kill -TERM "$pid"
    eg_wait 15 eval '! kill -0 '"$pid"' 2>/dev/null' || fail "app1's egressd did not stop"
    if ip -n "${LAB_PREFIX}app1" link show u0 | grep -q "xdp"; then fail "XDP still attached to app1 u0 after stop"; fi
    fallback_check
}

# trie_limit NODE PREFIX: the XDP spoke trie's limit for PREFIX as the kernel's map holds it ("" when absent).
trie_limit() {
    json_get "$(dataplane "$1")" "next((str(x['limit']) for x in d['xdpSpokeTrie'] if x['prefix'] == '$2'), '')"
}

# Spoke-bound traffic through app1's AF_XDP sockets (XDP trie + kernel route into a TUN).
encap_checks() {
    local d steering steered kin0 kin1 x0 x1 l
    d=$(dataplane app1)
    steering=$(json_get "$d" "d['xdpEncapSteering']")
    [[ $steering == on:* ]] || fail "app1: encapsulation steering is not on: $steering"
    for p in 10.1.0.0/16 10.2.0.0/16; do
        l=$(trie_limit app1 "$p")
        # 8500-byte tunnels: as much as a receive frame holds (3762).
        (( ${l:-0} > 1400 )) || fail "app1: $p not steered in the XDP trie (limit '${l}'): $(json_get "$d" "d['xdpSpokeTrie']")"
    done
    [[ $(trie_limit app1 169.254.6.1/32) == 0 ]] || fail "app1: its own inside address is not a pass entry in the trie"
    # The UDP echo answers and HTTP replies (fw -> app1 -> spokes) were encapsulated from the sockets.
    steered=$(io app1 xskSteered)
    (( steered >= 200 )) || fail "app1: only $steered spoke-bound packets came through the AF_XDP sockets"
    # More of it now: none of it through the TUN (kernelReceived counts TUN reads).
    kin0=$(json_get "$(dataplane app1)" "d['counters']['kernelReceived']") x0=$(io app1 xskSteered)
    in_node fw "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(100): s.sendto(b"x" * 32, ("10.1.0.10", 9))' || fail "sending UDP from fw failed"
    sleep 0.5
    kin1=$(json_get "$(dataplane app1)" "d['counters']['kernelReceived']") x1=$(io app1 xskSteered)
    (( x1 - x0 >= 100 )) || fail "app1: 100 UDP packets fw -> spoke1: only $((x1 - x0)) through the sockets"
    (( kin1 - kin0 < 50 )) || fail "app1: fw -> spoke1 UDP went through the TUN ($((kin1 - kin0)) TUN reads)"
    echo "    encap steering: $steering; xskSteered $steered, +$((x1 - x0)) for 100 UDP (TUN reads +$((kin1 - kin0)))"
    # TTL on the sockets' path, pinging spoke1 from inet (a route to 10.1/16 through fw, which
    # answers to spokes directly; fw's own 10.0.2.1 is inside the stand-in's underlay /16): inet's
    # TTL 4 reaches app1 as 3 and is answered; 3 reaches app1 as 2, which app1 decrements (else
    # spoke1 would answer it) and the stand-in's kernel expires.
    in_node inet ip route replace 10.1.0.0/16 via 198.51.100.1 || fail "inet: cannot add a route to spoke1"
    in_node inet ping -n -c 1 -W 3 -t 4 10.1.0.10 >/dev/null || fail "inet: ping spoke1 with TTL 4 through the sockets' path failed"
    local out
    out=$(in_node inet ping -n -c 1 -W 3 -t 3 10.1.0.10 2>&1)
    [[ $out == *"Time to live exceeded"* && $out != *"From 10.0.2.10 "* ]] \
        || fail "inet: ping spoke1 with TTL 3 (2 at app1): no time-exceeded beyond app1 (TTL not decremented?): $out"
    # TTL 1 at app1: the program passes it to app1's kernel, which answers time-exceeded itself.
    x0=$(io app1 xskSteered)
    out=$(in_node inet ping -n -c 1 -W 3 -t 2 10.1.0.10 2>&1)
    [[ $out == *"From 10.0.2.10 "*"Time to live exceeded"* ]] || fail "inet: TTL 1 at app1: no time-exceeded from app1's kernel: $out"
    x1=$(io app1 xskSteered)
    (( x1 == x0 )) || fail "app1: a TTL-1 packet went to the sockets"
    echo "    TTL at app1: 3 answered, 2 expired beyond app1, 1 answered by app1's kernel"
    # A prefix learned from BGP enters the trie; withdrawn, it leaves it.
    local vty=(vtysh --vty_socket "$LAB_STATE/frr-a")
    [[ -d $LAB_STATE/frr-a ]] || fail "no FRR stand-in (LAB_BGP=frr expected)"
    "${vty[@]}" -c "configure terminal" -c "router bgp 64512" -c "address-family ipv4 unicast" -c "network 10.3.0.0/16" >/dev/null         || fail "cannot announce 10.3.0.0/16 from the stand-in"
    # shellcheck disable=SC2317  # called by eg_wait
    in_trie() { [[ -n $(trie_limit app1 10.3.0.0/16) && $(trie_limit app1 10.3.0.0/16) != 0 ]]; }
    eg_wait 30 in_trie || fail "app1: 10.3.0.0/16 learned from BGP did not enter the XDP trie"
    "${vty[@]}" -c "configure terminal" -c "router bgp 64512" -c "address-family ipv4 unicast" -c "no network 10.3.0.0/16" >/dev/null         || fail "cannot withdraw 10.3.0.0/16"
    # shellcheck disable=SC2317  # called by eg_wait
    gone() { [[ -z $(trie_limit app1 10.3.0.0/16) ]]; }
    eg_wait 30 gone || fail "app1: 10.3.0.0/16 withdrawn from BGP is still in the XDP trie"
    echo "    BGP 10.3.0.0/16: entered the trie, left it when withdrawn"
    # Still correct end to end.
    in_node spoke1 curl -s -m 5 -o /dev/null http://198.51.100.80/ || fail "spoke1: HTTP failed after the encap checks"
}

# An egressd that may not load BPF (no CAP_BPF, CAP_SYS_ADMIN, CAP_PERFMON): tpacket, and why.
fallback_check() {
    local FB_NS=${LAB_PREFIX}xdpfb
    TEST_NAMESPACES+=("$FB_NS")
    ip netns add "$FB_NS" || fail "cannot create $FB_NS"
    ip -n "$FB_NS" link add fb0 type veth peer name fb1
    ip -n "$FB_NS" link set fb0 up && ip -n "$FB_NS" link set fb1 up && ip -n "$FB_NS" link set lo up
    printf 'hostname fallback\ndataplane io-backend afxdp\n' >"$WORK/fb.conf"
    ip netns exec "$FB_NS" setpriv --bounding-set=-bpf,-sys_admin,-perfmon "$EGRESSD_BIN" \
        --config "$WORK/fb.conf" --socket "$WORK/fb.sock" >"$WORK/fb.log" 2>&1 &
    BG_PIDS+=($!)
    eg_wait 20 test -S "$WORK/fb.sock" || fail "the fallback egressd did not start: $(tail -5 "$WORK/fb.log")"
    local d
    d=$("$EGSH_BIN" --socket "$WORK/fb.sock" -c "show dataplane json") || fail "egsh on the fallback egressd failed"
    [[ $(json_get "$d" "d['ioBackend'] + ' ' + d['ioBackendConfigured']") == "tpacket afxdp" ]] \
        || fail "fallback: runs $(json_get "$d" "d['ioBackend']"), want tpacket for afxdp"
    json_get "$d" "d['ioBackendFallback']" | grep -q "XDP" || fail "fallback reason does not say XDP: $(json_get "$d" "d['ioBackendFallback']")"
    grep -q "io-backend afxdp unavailable, running tpacket" "$WORK/fb.log" || fail "the fallback is not in the log: $(tail -5 "$WORK/fb.log")"
    echo "    fallback: $(json_get "$d" "d['ioBackendFallback']")"
}

# shellcheck source=Tests/Namespace/dataplane_backend.sh
source "$(dirname "$0")/dataplane_backend.sh"
