# The TCP suite of scripts/bench.sh: iperf3 from a spoke to an "Internet" server through the
# GRE tunnels, beside iperf3 over plain kernel forwarding on the same namespaces.
#
#   ns tspoke [eth0 10.1.0.10/16] ──veth MTU 9000── [sp0 10.1.0.1] ns ttgw [u0 10.0.0.1/16]
#     ──veth MTU 9001 (underlay)── [u0 10.0.1.10/16] ns tapp [i0 10.0.2.10/24]
#     ──veth MTU 1500── [eth0 10.0.2.1/24] ns tinet (iperf3 server)
#
# egressd mode (as scripts/lab.sh, without BGP): ttgw runs a stand-in egressd with one tunnel
# (`ip route 10.0.2.0/24 tgw0`: its kernel routes spoke traffic into the TUN, the stand-in
# encapsulates); tapp runs the appliance's egressd, which decapsulates and forwards to tinet
# itself, and encapsulates the return traffic (`ip route 10.1.0.0/16 tgw0`) that its kernel
# routes into its TUN; the stand-in decapsulates that into its kernel, which delivers it.
# kernel mode: no egressd; ttgw and tapp forward plain IP with static routes.
# Both iperf3 ends on cpu0; the two egressd may use both cores (the scheduler places them).
# MSS 1460 either way (tinet's MTU 1500).
# Expects BENCH_PREFIX, BENCH_STATE, EGRESSD_BIN/EGSH_BIN and eg_* from common.sh.

BENCH_TCP_SECONDS=${BENCH_TCP_SECONDS:-8}
# CPUs of the two egressd (taskset list) and of the iperf3 ends.
BENCH_TCP_EGRESSD_CPUS=${BENCH_TCP_EGRESSD_CPUS:-0,1}
BENCH_TCP_IPERF_CPUS=${BENCH_TCP_IPERF_CPUS:-0}
BENCH_TCP_RUNS=${BENCH_TCP_RUNS:-3}
BENCH_TCP_SERVER=10.0.2.1
BENCH_TCP_NODES=(tspoke ttgw tapp tinet)
BENCH_TCP_PIDS=()

# bench_tcp_veth NODE_A IF_A NODE_B IF_B MTU
bench_tcp_veth() {
    ip -n "$(bench_ns "$1")" link add "$2" mtu "$5" type veth peer name "$4" mtu "$5" netns "$(bench_ns "$3")"
    ip -n "$(bench_ns "$1")" link set "$2" up
    ip -n "$(bench_ns "$3")" link set "$4" up
}

bench_tcp_rig_up() {
    local node
    for node in "${BENCH_TCP_NODES[@]}"; do
        ip netns add "$(bench_ns "$node")"
        ip -n "$(bench_ns "$node")" link set lo up
        bench_sysctl "$node" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        bench_sysctl "$node" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    done
    bench_tcp_veth tspoke eth0 ttgw sp0 9000
    bench_tcp_veth ttgw u0 tapp u0 9001
    bench_tcp_veth tapp i0 tinet eth0 1500
    ip -n "$(bench_ns tspoke)" addr add 10.1.0.10/16 dev eth0
    ip -n "$(bench_ns tspoke)" route add default via 10.1.0.1
    ip -n "$(bench_ns ttgw)" addr add 10.1.0.1/16 dev sp0
    ip -n "$(bench_ns ttgw)" addr add 10.0.0.1/16 dev u0
    ip -n "$(bench_ns tapp)" addr add 10.0.1.10/16 dev u0
    ip -n "$(bench_ns tapp)" addr add 10.0.2.10/24 dev i0
    ip -n "$(bench_ns tinet)" addr add "$BENCH_TCP_SERVER/24" dev eth0
    ip -n "$(bench_ns tinet)" route add 10.1.0.0/16 via 10.0.2.10
    bench_sysctl ttgw net.ipv4.ip_forward=1
    bench_sysctl tapp net.ipv4.ip_forward=1
}

bench_tcp_rig_down() {
    local node pid
    for pid in "${BENCH_TCP_PIDS[@]}"; do eg_kill_pid "$pid" 10; done
    BENCH_TCP_PIDS=()
    for node in "${BENCH_TCP_NODES[@]}"; do
        [[ -e /run/netns/$(bench_ns "$node") ]] || continue
        for pid in $(ip netns pids "$(bench_ns "$node")" 2>/dev/null); do eg_kill_pid "$pid" 5; done
        ip netns del "$(bench_ns "$node")" 2>/dev/null \
            || eg_log "warning: could not delete netns $(bench_ns "$node")"
    done
}

# bench_tcp_config NODE: the stand-in's (ttgw) or the appliance's (tapp) configuration.
bench_tcp_config() {
    case $1 in
        ttgw) cat <<CONF
hostname ${BENCH_PREFIX}ttgw
! The Transit Gateway stand-in: tunnels only (as configs/lab/tgw.conf), a static route
! instead of BGP. Decapsulated return traffic matches no route here: to the kernel.
interface tgw0
 tunnel connect-peer app source 10.0.0.1 destination 10.0.1.10
 ip address 169.254.6.2/29
!
ip route $BENCH_TCP_SERVER/32 tgw0
dataplane workers 1
CONF
        ;;
        tapp) cat <<CONF
hostname ${BENCH_PREFIX}tapp
interface tgw0
 tunnel connect-peer tgw source 10.0.1.10 destination 10.0.0.1
 ip address 169.254.6.1/29
!
ip route 0.0.0.0/0 $BENCH_TCP_SERVER
ip route 10.1.0.0/16 tgw0
dataplane workers 1
CONF
        ;;
    esac
}

# bench_tcp_start_egressd NODE: egressd pinned to cpu1 in NODE, waits for its socket.
bench_tcp_start_egressd() {
    local node=$1 config=$BENCH_STATE/$1.conf sock=$BENCH_STATE/$1.sock pid deadline
    bench_tcp_config "$node" >"$config"
    "$EGRESSD_BIN" --config "$config" --check >&2 || eg_die "$config does not pass egressd --check"
    nsenter --net="/run/netns/$(bench_ns "$node")" -- taskset -c "$BENCH_TCP_EGRESSD_CPUS" "$EGRESSD_BIN" --config "$config" \
        --socket "$sock" --log-level "${BENCH_LOG_LEVEL:-notice}" \
        </dev/null >>"$BENCH_STATE/egressd-$node.log" 2>&1 &
    pid=$!
    BENCH_TCP_PIDS+=("$pid")
    deadline=$(( $(date +%s) + ${BENCH_START_TIMEOUT:-30} ))
    until "$EGSH_BIN" --socket "$sock" -c "show interfaces json" >/dev/null 2>&1; do
        if eg_pid_gone "$pid" || (( $(date +%s) >= deadline )); then
            tail -n 30 "$BENCH_STATE/egressd-$node.log" >&2
            eg_die "egressd ($node) did not answer on $sock"
        fi
        sleep 0.2
    done
}

# bench_tcp_mode kernel|egressd: switch the middle hops between the two modes.
bench_tcp_mode() {
    local pid
    for pid in "${BENCH_TCP_PIDS[@]}"; do eg_kill_pid "$pid" 10; done
    BENCH_TCP_PIDS=()
    ip -n "$(bench_ns ttgw)" route del "$BENCH_TCP_SERVER/32" 2>/dev/null || true
    ip -n "$(bench_ns tapp)" route del 10.1.0.0/16 via 10.0.0.1 2>/dev/null || true
    case $1 in
        kernel)
            ip -n "$(bench_ns ttgw)" route add "$BENCH_TCP_SERVER/32" via 10.0.1.10
            ip -n "$(bench_ns tapp)" route add 10.1.0.0/16 via 10.0.0.1
            ;;
        egressd)
            bench_tcp_start_egressd ttgw
            bench_tcp_start_egressd tapp
            ;;
    esac
    [[ $1 == none ]] && return 0
    # The path works before it is timed (a few pings, not counted).
    bench_in tspoke ping -c 3 -i 0.2 -W 2 -q "$BENCH_TCP_SERVER" >/dev/null \
        || eg_die "no ping from the spoke to $BENCH_TCP_SERVER in $1 mode"
}

# bench_tcp_server_up: the iperf3 server in tinet (cpu0) for the whole suite.
bench_tcp_server_up() {
    bench_in tinet taskset -c "$BENCH_TCP_IPERF_CPUS" iperf3 -s -B "$BENCH_TCP_SERVER" >"$BENCH_STATE/iperf3-server.log" 2>&1 &
    BENCH_TCP_SERVER_PID=$!
    eg_wait 10 bash -c "ip netns exec $(bench_ns tinet) ss -Htln 'sport = :5201' | grep -q LISTEN" \
        || { cat "$BENCH_STATE/iperf3-server.log" >&2; eg_die "the iperf3 server did not start"; }
}

# bench_tcp_run: one iperf3 run (client in tspoke on cpu0); prints the receiver's bits per
# second and the sender's retransmissions.
bench_tcp_run() {
    local json=$BENCH_STATE/iperf3-client.json
    if ! bench_in tspoke taskset -c "$BENCH_TCP_IPERF_CPUS" iperf3 -c "$BENCH_TCP_SERVER" -t "$BENCH_TCP_SECONDS" -O 1 -J >"$json" 2>&1; then
        tail -n 20 "$json" >&2
        return 1
    fi
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))["end"]
print("%.0f %d" % (d["sum_received"]["bits_per_second"], d["sum_sent"].get("retransmits", 0)))' "$json"
}

# bench_tcp_measure MODE: BENCH_TCP_RUNS runs; prints "median_bps min_bps max_bps retransmits_of_median".
bench_tcp_measure() {
    local run results=() line
    for (( run = 1; run <= BENCH_TCP_RUNS; run++ )); do
        line=$(bench_tcp_run) || eg_die "iperf3 failed in $1 mode"
        results+=("$line")
        eg_log "  tcp $1 run $run: $(awk '{ printf "%.3f Gbps, %d retransmits", $1 / 1e9, $2 }' <<<"$line")"
    done
    printf '%s\n' "${results[@]}" | sort -g -k1,1 | awk '
        { line[NR] = $0; if (NR == 1) min = $1; max = $1 }
        END { split(line[int((NR + 1) / 2)], m, " "); print m[1], min, max, m[2] }'
}

# bench_suite_tcp: both modes, then the ratio.
bench_suite_tcp() {
    eg_apt_ensure iperf3
    bench_tcp_rig_up
    bench_tcp_server_up
    local mode bps min max retr
    declare -A tcp_bps=()
    for mode in kernel egressd; do
        bench_tcp_mode "$mode"
        eg_log "measuring tcp through $mode ($BENCH_TCP_RUNS x ${BENCH_TCP_SECONDS}s iperf3)"
        read -r bps min max retr < <(bench_tcp_measure "$mode")
        tcp_bps[$mode]=$bps
        awk -v m="$mode" -v b="$bps" -v lo="$min" -v hi="$max" -v r="$retr" 'BEGIN {
            printf "tcp_gbps_%s: %.3f Gbps\n", m, b / 1e9
            printf "tcp_spread_%s: %.1f %%\n", m, (b > 0 ? (hi - lo) * 100 / b : 0)
            printf "tcp_retransmits_%s: %d segments\n", m, r
        }'
    done
    bench_tcp_mode none
    awk -v a="${tcp_bps[egressd]}" -v b="${tcp_bps[kernel]}" 'BEGIN { printf "ratio_tcp_vs_kernel: %.2f\n", (b > 0 ? a / b : 0) }'
    cat <<'NOTES'
# tcp: one iperf3 TCP stream spoke -> "Internet" server (MSS 1460), receiver's rate, median of
#   the runs (first second omitted); iperf3 client and server on cpu0, the two egressd on
#   either core (BENCH_TCP_EGRESSD_CPUS); the kernel's forwarding runs in softirq wherever the
#   packets are sent from.
# tcp_gbps_egressd hops: spoke -> stand-in's kernel routes into its TUN -> stand-in egressd
#   encapsulates (USER SPACE) -> GRE -> appliance egressd decapsulates and forwards by AF_PACKET
#   (USER SPACE) -> server. ACKs: server -> appliance's kernel into its TUN -> appliance egressd
#   encapsulates (USER SPACE) -> stand-in egressd decapsulates into its TUN (USER SPACE) -> spoke.
#   Four user-space hops per round trip. The TUNs have offloads (IFF_VNET_HDR, TSO): the
#   stand-in reads up to 64 KB super-packets and segments them itself, and writes the returning
#   segments it coalesced; the appliance reads the ACKs (and, for a download, super-packets).
# tcp_gbps_kernel: the same namespaces forwarding plain IP in the kernel (no tunnel, no user
#   space; veth keeps 64 KB GSO segments whole end to end).
NOTES
    bench_tcp_rig_down
}
