# The benchmark rig: three namespaces in a line, sourced by scripts/bench.sh.
#
#   ns gen [s0 10.0.1.1/24] ──veth── [f0 10.0.1.2/24] ns fwd [f1 10.0.2.1/24] ──veth── [d0 10.0.2.2/24] ns sink
#
# Every hop has static routes and permanent neighbour entries (no ARP during a run). Traffic
# goes to addresses the sink does not own, and the sink does not forward, so the sink counts
# each frame on d0 and drops it at the IP layer (no socket, no ICMP).
# Expects: BENCH_PREFIX (namespace name prefix), BENCH_STATE (state dir), eg_* from common.sh.

BENCH_GEN_ADDR=10.0.1.1
BENCH_FWD_GEN_ADDR=10.0.1.2
BENCH_FWD_SINK_ADDR=10.0.2.1
BENCH_SINK_ADDR=10.0.2.2
# Inner source: a spoke behind the tunnel (routed back toward gen, never used).
BENCH_INNER_SRC=10.1.0.10
# Inner destination of kernel and decap traffic: not owned by the sink.
BENCH_TRANSIT_DST=10.98.0.99
# Inner destination of encap traffic: inside the prefix egressd routes into its tunnels.
BENCH_SPOKE_PREFIX=10.99.0.0/16
BENCH_SPOKE_DST=10.99.0.99
# Tunnel destinations of the encap case: resolve (permanent neighbours) to the sink's MAC.
BENCH_TUNNEL_PEERS=(10.0.2.201 10.0.2.202)

bench_ns() { printf '%s%s' "$BENCH_PREFIX" "$1"; }
bench_in() { local node=$1; shift; ip netns exec "$(bench_ns "$node")" "$@"; }
bench_sysctl() { local node=$1; shift; bench_in "$node" sysctl -q -w "$@" >/dev/null; }
# bench_mac NODE IF: the interface's Ethernet address.
bench_mac() { bench_in "$1" cat "/sys/class/net/$2/address"; }

# bench_rig_up: create the namespaces, veths, addresses, routes and neighbours.
bench_rig_up() {
    local node
    for node in gen fwd sink; do
        ip netns add "$(bench_ns "$node")"
        ip -n "$(bench_ns "$node")" link set lo up
        # Inner sources (10.1.0.10) arrive on interfaces with no route back: no rp_filter.
        bench_sysctl "$node" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        bench_sysctl "$node" net.ipv4.ip_forward=0
        # No router solicitations or other IPv6 chatter in the counted windows.
        bench_sysctl "$node" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    done
    if [[ ${BENCH_XDP_GENERIC:-0} == 1 ]]; then
        # A driver without native XDP in front of the forwarder: f0 is a macvlan (no ndo_bpf,
        # so egressd's XDP program runs in generic/SKB mode there) on l0, a veth end left in
        # gen's namespace (only the macvlan moves to fwd, where egressd attaches to every
        # Ethernet interface). The kernel reference crosses the same macvlan.
        ip -n "$(bench_ns gen)" link add s0 type veth peer name l0
        ip -n "$(bench_ns gen)" link set l0 up
        ip -n "$(bench_ns gen)" link add link l0 name f0 type macvlan mode bridge
        ip -n "$(bench_ns gen)" link set f0 netns "$(bench_ns fwd)"
    else
        ip -n "$(bench_ns gen)" link add s0 type veth peer name f0 netns "$(bench_ns fwd)"
    fi
    ip -n "$(bench_ns fwd)" link add f1 type veth peer name d0 netns "$(bench_ns sink)"
    ip -n "$(bench_ns gen)" link set s0 up
    ip -n "$(bench_ns fwd)" link set f0 up
    ip -n "$(bench_ns fwd)" link set f1 up
    ip -n "$(bench_ns sink)" link set d0 up
    ip -n "$(bench_ns gen)" addr add "$BENCH_GEN_ADDR/24" dev s0
    ip -n "$(bench_ns fwd)" addr add "$BENCH_FWD_GEN_ADDR/24" dev f0
    ip -n "$(bench_ns fwd)" addr add "$BENCH_FWD_SINK_ADDR/24" dev f1
    ip -n "$(bench_ns sink)" addr add "$BENCH_SINK_ADDR/24" dev d0
    ip -n "$(bench_ns gen)" route add default via "$BENCH_FWD_GEN_ADDR"
    ip -n "$(bench_ns sink)" route add default via "$BENCH_FWD_SINK_ADDR"
    ip -n "$(bench_ns fwd)" route add 10.1.0.0/16 via "$BENCH_GEN_ADDR"

    BENCH_GEN_MAC=$(bench_mac gen s0)
    BENCH_FWD_GEN_MAC=$(bench_mac fwd f0)
    BENCH_FWD_SINK_MAC=$(bench_mac fwd f1)
    BENCH_SINK_MAC=$(bench_mac sink d0)
    local peer
    ip -n "$(bench_ns gen)" neigh replace "$BENCH_FWD_GEN_ADDR" lladdr "$BENCH_FWD_GEN_MAC" dev s0 nud permanent
    ip -n "$(bench_ns fwd)" neigh replace "$BENCH_GEN_ADDR" lladdr "$BENCH_GEN_MAC" dev f0 nud permanent
    ip -n "$(bench_ns fwd)" neigh replace "$BENCH_SINK_ADDR" lladdr "$BENCH_SINK_MAC" dev f1 nud permanent
    for peer in "${BENCH_TUNNEL_PEERS[@]}"; do
        ip -n "$(bench_ns fwd)" neigh replace "$peer" lladdr "$BENCH_SINK_MAC" dev f1 nud permanent
    done
    ip -n "$(bench_ns sink)" neigh replace "$BENCH_FWD_SINK_ADDR" lladdr "$BENCH_FWD_SINK_MAC" dev d0 nud permanent
}

# bench_rig_down: stop every process left in the rig's namespaces, then delete them.
# Safe to run twice and after a half-built rig.
bench_rig_down() {
    local node pid
    for node in gen fwd sink; do
        [[ -e /run/netns/$(bench_ns "$node") ]] || continue
        for pid in $(ip netns pids "$(bench_ns "$node")" 2>/dev/null); do eg_kill_pid "$pid" 5; done
        ip netns del "$(bench_ns "$node")" 2>/dev/null \
            || eg_log "warning: could not delete netns $(bench_ns "$node")"
    done
}
