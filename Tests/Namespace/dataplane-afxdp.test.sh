#!/usr/bin/env bash
# dataplane-afxdp: the lab with `dataplane io-backend afxdp` and two workers per egressd (body:
# dataplane_backend.sh: HTTP and 200 UDP echo flows both ways, decap and encap through both
# daemons, the AF_XDP sockets carried them). Then: the XDP program is on each underlay veth
# (native mode), the kernel still gets what is not ours (underlay ping after a neighbour flush,
# so ARP and ICMP; BGP over the tunnels Established; GRE to an address that is no tunnel's end
# reaches the TPACKET ring, not the sockets); app1's program is gone after egressd stops; and an
# egressd without CAP_BPF/CAP_SYS_ADMIN asked for afxdp says why and runs tpacket.
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
    # Stopped: the program is detached (its bpf_link closed).
    local pid
    pid=$(cat "$LAB_STATE/app1.pid")
    kill -TERM "$pid"
    eg_wait 15 eval '! kill -0 '"$pid"' 2>/dev/null' || fail "app1's egressd did not stop"
    if ip -n "${LAB_PREFIX}app1" link show u0 | grep -q "xdp"; then fail "XDP still attached to app1 u0 after stop"; fi
    fallback_check
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
