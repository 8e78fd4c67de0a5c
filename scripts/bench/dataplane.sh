# The dataplane suite of scripts/bench.sh: delivered packets per second through the fwd
# namespace for three cases and two inner packet sizes, one worker core.
#   kernel  fwd's own IP forwarding of plain inner packets (the reference)
#   decap   GRE from gen -> egressd decapsulates and forwards itself toward the sink
#   encap   plain packets -> fwd's kernel routes them into egressd's TUNs -> egressd picks a
#           tunnel (ECMP over two) and sends GRE toward a peer that resolves to the sink
# Expects rig.sh and measure.sh sourced, the rig up, and BENCH_* settings from bench.sh.

# bench_trafgen_args CASE SIZE: the generator's arguments for one case and inner size.
bench_trafgen_args() {
    local args=(--interface s0 --dst-mac "$BENCH_FWD_GEN_MAC" --src "$BENCH_INNER_SRC"
                --size "$2" --flows "$BENCH_FLOWS")
    case $1 in
        kernel) args+=(--dst "$BENCH_TRANSIT_DST") ;;
        decap) args+=(--dst "$BENCH_TRANSIT_DST" --gre-src "$BENCH_GEN_ADDR" --gre-dst "$BENCH_FWD_GEN_ADDR") ;;
        encap) args+=(--dst "$BENCH_SPOKE_DST") ;;
        *) eg_die "unknown dataplane case '$1'" ;;
    esac
    printf '%s\n' "${args[@]}"
}

# bench_config CASE: egressd's configuration for the decap or encap case, on stdout.
bench_config() {
    case $1 in
        decap) cat <<CONF
hostname ${BENCH_PREFIX}decap
! One tunnel from gen; everything decapsulated goes to the sink side.
interface tgw0
 description bench: GRE from the generator
 tunnel connect-peer bench-gen source $BENCH_FWD_GEN_ADDR destination $BENCH_GEN_ADDR
 tunnel mtu 1500
 ip address 169.254.6.1/29
!
ip route 0.0.0.0/0 $BENCH_SINK_ADDR
dataplane workers 1
CONF
        ;;
        encap) cat <<CONF
hostname ${BENCH_PREFIX}encap
! Two tunnels toward peers that resolve to the sink's MAC; the spoke prefix is ECMP over both.
interface tgw0
 description bench: ECMP member 1
 tunnel connect-peer bench-peer1 source $BENCH_FWD_SINK_ADDR destination ${BENCH_TUNNEL_PEERS[0]}
 tunnel mtu 1500
 ip address 169.254.6.1/29
!
interface tgw1
 description bench: ECMP member 2
 tunnel connect-peer bench-peer2 source $BENCH_FWD_SINK_ADDR destination ${BENCH_TUNNEL_PEERS[1]}
 tunnel mtu 1500
 ip address 169.254.7.1/29
!
ip route $BENCH_SPOKE_PREFIX tgw0
ip route $BENCH_SPOKE_PREFIX tgw1
dataplane workers 1
CONF
        ;;
        *) eg_die "no egressd configuration for case '$1'" ;;
    esac
}

# bench_egsh ARGS...: egsh against the rig's daemon.
bench_egsh() { "$EGSH_BIN" --socket "$BENCH_STATE/egressd.sock" "$@"; }

# bench_start_egressd CASE: start egressd pinned to cpu1 in fwd, wait until it answers.
bench_start_egressd() {
    local config=$BENCH_STATE/$1.conf pid deadline
    bench_config "$1" >"$config"
    "$EGRESSD_BIN" --config "$config" --check >&2 || eg_die "$config does not pass egressd --check"
    # nsenter execs taskset, which execs egressd: $! is egressd's pid.
    nsenter --net="/run/netns/$(bench_ns fwd)" -- taskset -c 1 "$EGRESSD_BIN" --config "$config" \
        --socket "$BENCH_STATE/egressd.sock" --log-level "${BENCH_LOG_LEVEL:-notice}" \
        </dev/null >>"$BENCH_STATE/egressd-$1.log" 2>&1 &
    pid=$!
    BENCH_EGRESSD_PID=$pid
    deadline=$(( $(date +%s) + 30 ))
    until bench_egsh -c "show interfaces json" >/dev/null 2>&1; do
        if eg_pid_gone "$pid" || (( $(date +%s) >= deadline )); then
            tail -n 30 "$BENCH_STATE/egressd-$1.log" >&2
            eg_die "egressd ($1) did not answer on $BENCH_STATE/egressd.sock"
        fi
        sleep 0.2
    done
}

# bench_stop_egressd: SIGTERM (clean shutdown removes its TUNs and routes).
bench_stop_egressd() {
    [[ -n ${BENCH_EGRESSD_PID:-} ]] || return 0
    eg_kill_pid "$BENCH_EGRESSD_PID" 10
    BENCH_EGRESSD_PID=
}

# bench_measure CASE SIZE: BENCH_RUNS runs of warm-up + window; prints the figures of the
# run with the median delivered pps ("pps offered cpu0 cpu1 process min max").
bench_measure() {
    local case=$1 size=$2 run before after gen_pid results=() out
    local -a args
    mapfile -t args < <(bench_trafgen_args "$case" "$size")
    local duration
    duration=$(awk -v w="$BENCH_WARMUP" -v n="$BENCH_WINDOW" 'BEGIN { print w + n + 1 }')
    for (( run = 1; run <= BENCH_RUNS; run++ )); do
        out=$BENCH_STATE/trafgen-$case-$size-$run.out
        bench_in gen taskset -c 0 "$EG_TRAFGEN_BIN" "${args[@]}" --duration "$duration" \
            >"$out" 2>&1 &
        gen_pid=$!
        sleep "$BENCH_WARMUP"
        before=$(bench_snapshot "${BENCH_EGRESSD_PID:-}")
        sleep "$BENCH_WINDOW"
        after=$(bench_snapshot "${BENCH_EGRESSD_PID:-}")
        wait "$gen_pid" || { cat "$out" >&2; eg_die "eg-trafgen failed ($case, $size B)"; }
        results+=("$(bench_window_figures "$before" "$after")")
        eg_log "  $case ${size}B run $run: $(awk '{ printf "%d pps delivered, %d offered, cpu0 %.0f%%, cpu1 %.0f%%", $1, $2, $3*100, $4*100 }' <<<"${results[-1]}")"
    done
    printf '%s\n' "${results[@]}" | sort -g -k1,1 | awk '
        { line[NR] = $0; if (NR == 1) min = $1; max = $1 }
        END { print line[int((NR + 1) / 2)], min, max }'
}

# bench_report CASE SIZE FIGURES: print one case's lines.
bench_report() {
    local case=$1 size=$2 pps offered cpu0 cpu1 process min max
    read -r pps offered cpu0 cpu1 process min max <<<"$3"
    BENCH_PPS[$case-$size]=$pps
    (( pps > 0 )) || eg_log "warning: $case delivered nothing with ${size}-byte packets"
    awk -v c="$case" -v s="${size}B" -v size="$size" -v pps="$pps" -v off="$offered" \
        -v c0="$cpu0" -v c1="$cpu1" -v p="$process" -v min="$min" -v max="$max" '
        BEGIN {
            printf "%s_pps_%s: %d pps\n", c, s, pps
            printf "%s_gbps_%s: %.3f Gbps\n", c, s, pps * size * 8 / 1e9
            printf "%s_offered_pps_%s: %d pps\n", c, s, off
            printf "%s_spread_%s: %.1f %%\n", c, s, (pps > 0 ? (max - min) * 100 / pps : 0)
            printf "%s_cpu0_busy_%s: %.1f %%\n", c, s, c0 * 100
            printf "%s_cpu1_busy_%s: %.1f %%\n", c, s, c1 * 100
            if (c != "kernel") {
                printf "%s_ns_per_pkt_%s: %.0f ns\n", c, s, (pps > 0 ? c1 * 1e9 / pps : 0)
                printf "%s_egressd_process_ns_per_pkt_%s: %.0f ns\n", c, s, (pps > 0 ? p * 1e9 / pps : 0)
            }
        }'
}

# bench_engine_counters CASE: sanity lines from egressd's own counters after a case.
bench_engine_counters() {
    local json
    json=$(bench_egsh -c "show interfaces json" 2>/dev/null) || { eg_log "warning: show interfaces json failed"; return 0; }
    local expr
    case $1 in
        decap) expr='"%d %d %d" % (sum(i["counters"]["decapForwarded"] for i in d["interfaces"]), sum(i["counters"]["decapToKernel"] for i in d["interfaces"]), sum(sum(i["counters"]["drops"].values()) for i in d["interfaces"]))' ;;
        encap) expr='"%d %d %d" % (sum(i["counters"]["txPackets"] for i in d["interfaces"]), min(i["counters"]["txPackets"] for i in d["interfaces"]), sum(sum(i["counters"]["drops"].values()) for i in d["interfaces"]))' ;;
    esac
    local a b drops
    read -r a b drops < <(eg_json "$expr" <<<"$json" 2>/dev/null) || { eg_log "warning: unexpected show interfaces json"; return 0; }
    if [[ $1 == decap ]]; then
        echo "decap_engine_forwarded_total: $a packets"
        echo "decap_engine_to_kernel_total: $b packets"
    else
        echo "encap_engine_sent_total: $a packets"
        awk -v t="$a" -v m="$b" 'BEGIN { printf "encap_ecmp_smaller_tunnel_share: %.1f %%\n", (t > 0 ? m * 100 / t : 0) }'
    fi
    echo "$1_engine_drops_total: $drops packets"
}

# bench_case CASE: set fwd up for CASE, measure every size, print the lines.
bench_case() {
    local case=$1 size figures
    case $case in
        kernel)
            bench_sysctl fwd net.ipv4.ip_forward=1
            ip -n "$(bench_ns fwd)" route replace "${BENCH_TRANSIT_DST%.*}.0/24" via "$BENCH_SINK_ADDR"
            ;;
        decap)
            # The kernel must not be able to forward the inner packets itself.
            bench_sysctl fwd net.ipv4.ip_forward=0
            bench_start_egressd decap
            ;;
        encap)
            # The kernel forwards gen's packets into the TUNs: that is the design.
            bench_sysctl fwd net.ipv4.ip_forward=1
            bench_start_egressd encap
            ;;
    esac
    for size in $BENCH_SIZES; do
        eg_log "measuring $case, ${size}-byte inner packets ($BENCH_RUNS x ${BENCH_WINDOW}s)"
        figures=$(bench_measure "$case" "$size") && [[ -n $figures ]] \
            || eg_die "measuring $case with ${size}-byte packets failed"
        bench_report "$case" "$size" "$figures"
    done
    case $case in
        kernel) ip -n "$(bench_ns fwd)" route del "${BENCH_TRANSIT_DST%.*}.0/24" ;;
        decap|encap) bench_engine_counters "$case"; bench_stop_egressd ;;
    esac
    bench_sysctl fwd net.ipv4.ip_forward=0
}

# bench_suite_dataplane: all cases, then the ratios against the kernel.
bench_suite_dataplane() {
    declare -gA BENCH_PPS=()
    local case size
    for case in $BENCH_CASES; do bench_case "$case"; done
    for case in decap encap; do
        for size in $BENCH_SIZES; do
            [[ -n ${BENCH_PPS[$case-$size]:-} && -n ${BENCH_PPS[kernel-$size]:-} ]] || continue
            awk -v n="ratio_${case}_vs_kernel_${size}B" -v a="${BENCH_PPS[$case-$size]}" -v b="${BENCH_PPS[kernel-$size]}" \
                'BEGIN { printf "%s: %.2f\n", n, (b > 0 ? a / b : 0) }'
        done
    done
    cat <<'NOTES'
# pps: delivered packets per second counted on the sink's veth (median of the runs); Gbps:
#   that pps x inner IP packet length (outer GRE bytes not counted).
# offered_pps: what the generator (cpu0) put on its veth; spread: (max-min)/median over runs.
# kernel: fwd's own IP forwarding; veth delivers on the sending CPU and RPS is off, so the
#   kernel's whole forwarding path runs on cpu0 beside the generator (no-RPS figure).
# decap/encap: egressd pinned to cpu1 (taskset), one worker; ip_forward=0 for decap (only the
#   engine forwards), =1 for encap (fwd's kernel routes inner packets into egressd's TUNs:
#   the design, and that kernel work runs on cpu0).
# ns_per_pkt: cpu1 busy fraction x 1e9 / delivered pps (the engine's core, incl. softirq it
#   triggers); egressd_process_ns_per_pkt: the same from egressd's own user+system time.
# On 2 cores the generator (~3 us/pkt into a veth) sets the ceiling: read ratios with ns_per_pkt.
NOTES
}
