# The dataplane suite of scripts/bench.sh: delivered packets per second through the fwd
# namespace for three cases and two inner packet sizes, one worker core.
#   kernel  fwd's own IP forwarding of plain inner packets (the reference)
#   decap   GRE from gen -> egressd decapsulates and forwards itself toward the sink
#   encap   plain packets -> fwd's kernel routes them into egressd's TUNs -> egressd picks a
#           tunnel (ECMP over two) and sends GRE toward a peer that resolves to the sink
#           (with afxdp: XDP steers them to egressd's AF_XDP socket instead of the TUN, as
#           the kernel's route lookup says they go into a TUN)
#   redirect as decap, but a WCCP service (dynamic 90, UDP to the generator's port, source-port
#           hash) takes every packet: decap -> match -> bucket hash -> GRE 0x883E to a cache
#           (a scripted cache, wccp_cache.py, in the sink namespace at 10.0.2.3)
#   decap2w decap with 2 workers (first size only): the worker-scaling figure
# Also rss_under_load_mb (egressd's VmRSS during decap). bench_case_setup/teardown are shared
# with the latency and profile suites.
# Expects rig.sh and measure.sh sourced, the rig up, and BENCH_* settings from bench.sh.

# bench_trafgen_args CASE SIZE: the generator's arguments for one case and inner size.
bench_trafgen_args() {
    local args=(--interface s0 --dst-mac "$BENCH_FWD_GEN_MAC" --src "$BENCH_INNER_SRC"
                --size "$2" --flows "$BENCH_FLOWS")
    case $1 in
        kernel) args+=(--dst "$BENCH_TRANSIT_DST") ;;
        decap|decap2w|redirect) args+=(--dst "$BENCH_TRANSIT_DST" --gre-src "$BENCH_GEN_ADDR" --gre-dst "$BENCH_FWD_GEN_ADDR") ;;
        encap) args+=(--dst "$BENCH_SPOKE_DST") ;;
        *) eg_die "unknown dataplane case '$1'" ;;
    esac
    printf '%s\n' "${args[@]}"
}

# bench_config CASE: egressd's configuration for the case, on stdout (plus
# `dataplane io-backend B` when BENCH_IO_BACKEND is set).
bench_config() {
    bench_config_case "$1"
    if [[ -n ${BENCH_IO_BACKEND:-} ]]; then echo "dataplane io-backend $BENCH_IO_BACKEND"; fi
    # One worker owns cpu1; egressd's other threads run on cpu0 (the process may use both).
    if [[ $BENCH_PLACEMENT == threads && ${BENCH_CASE_WORKERS:-1} == 1 ]]; then echo "dataplane worker cpus 1"; fi
    if [[ ${BENCH_REALTIME:-0} == 1 ]]; then echo "dataplane worker realtime"; fi
}

# BENCH_PLACEMENT: threads (default) = egressd allowed on cpus 0,1 with `dataplane worker cpus 1`
# (the worker alone on cpu1, every other egressd thread on cpu0, beside the generator);
# process = the whole egressd pinned to cpu1 by taskset (the worker shares cpu1 with its
# control threads), as before thread placement. decap2w (2 workers) runs on 0,1 either way.
BENCH_PLACEMENT=${BENCH_PLACEMENT:-threads}
# bench_egressd_cpus: the taskset list of a one-worker egressd.
bench_egressd_cpus() { if [[ $BENCH_PLACEMENT == threads ]]; then echo 0,1; else echo 1; fi; }

bench_config_case() {
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
dataplane workers ${BENCH_CASE_WORKERS:-1}
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
dataplane workers ${BENCH_CASE_WORKERS:-1}
CONF
        ;;
        redirect) bench_config_case decap | sed "s/^hostname .*/hostname ${BENCH_PREFIX}redirect/"
            cat <<CONF
ip wccp router-id $BENCH_FWD_SINK_ADDR
ip wccp timers here-i-am 500
ip wccp $BENCH_REDIRECT_SERVICE
CONF
        ;;
        *) eg_die "no egressd configuration for case '$1'" ;;
    esac
}

# The redirect case's cache: not a real proxy, the scripted cache of the namespace tests (it
# joins, assigns every bucket to itself and keeps saying HERE_I_AM). Its address is on the
# sink, which drops the GRE at prerouting (no local delivery, no ICMP), as it drops decap's
# transit packets at the IP layer.
BENCH_CACHE_ADDR=10.0.2.3
BENCH_REDIRECT_SERVICE=90
BENCH_CACHE_PID=

bench_redirect_cache_up() {
    ip -n "$(bench_ns sink)" addr add "$BENCH_CACHE_ADDR/24" dev d0
    ip -n "$(bench_ns fwd)" neigh replace "$BENCH_CACHE_ADDR" lladdr "$BENCH_SINK_MAC" dev f1 nud permanent
    bench_in sink nft -f - <<'NFT'
table ip benchcache {
    chain pre { type filter hook prerouting priority raw; policy accept; ip protocol gre drop; }
}
NFT
    bench_in sink taskset -c 0 /usr/bin/python3 "$REPO_DIR/Tests/Namespace/wccp_cache.py" join \
        --router "$BENCH_FWD_SINK_ADDR" --cache "$BENCH_CACHE_ADDR" --hello 0.5 \
        --service "$BENCH_REDIRECT_SERVICE" --protocol 17 --port 9 >"$BENCH_STATE/cache.log" 2>&1 &
    BENCH_CACHE_PID=$!
    local deadline=$(( $(date +%s) + 20 ))
    until [[ $(bench_egsh -c "show ip wccp $BENCH_REDIRECT_SERVICE detail json" 2>/dev/null \
               | eg_json "sum(c['hashAllotment'] for c in d['clients'])" 2>/dev/null) == 256 ]]; do
        (( $(date +%s) < deadline )) || { cat "$BENCH_STATE/cache.log" >&2; eg_die "the bench cache did not take the buckets"; }
        sleep 0.3
    done
}

bench_redirect_cache_down() {
    [[ -n $BENCH_CACHE_PID ]] && eg_kill_pid "$BENCH_CACHE_PID" 3
    BENCH_CACHE_PID=
    bench_in sink nft delete table ip benchcache 2>/dev/null || true
    ip -n "$(bench_ns sink)" addr del "$BENCH_CACHE_ADDR/24" dev d0 2>/dev/null || true
}

# bench_egsh ARGS...: egsh against the rig's daemon.
bench_egsh() { "$EGSH_BIN" --socket "$BENCH_STATE/egressd.sock" "$@"; }

# bench_start_egressd CASE [CPUS [WRAPPER...]]: start egressd pinned to CPUS (default 1) in
# fwd, wait until it answers. A WRAPPER (e.g. valgrind and its options) runs egressd; it must
# exec it in the same process (valgrind does), so that BENCH_EGRESSD_PID is egressd's.
bench_start_egressd() {
    local case=$1 cpus=${2:-1} config=$BENCH_STATE/$1.conf pid deadline
    shift; (( $# )) && shift
    bench_config "$case" >"$config"
    "$EGRESSD_BIN" --config "$config" --check >&2 || eg_die "$config does not pass egressd --check"
    # nsenter execs taskset, which execs egressd (or the wrapper): $! is its pid.
    nsenter --net="/run/netns/$(bench_ns fwd)" -- taskset -c "$cpus" "$@" "$EGRESSD_BIN" --config "$config" \
        --socket "$BENCH_STATE/egressd.sock" --log-level "${BENCH_LOG_LEVEL:-notice}" \
        </dev/null >>"$BENCH_STATE/egressd-$case.log" 2>&1 &
    pid=$!
    BENCH_EGRESSD_PID=$pid
    deadline=$(( $(date +%s) + ${BENCH_START_TIMEOUT:-30} ))
    until bench_egsh -c "show interfaces json" >/dev/null 2>&1; do
        if eg_pid_gone "$pid" || (( $(date +%s) >= deadline )); then
            tail -n 30 "$BENCH_STATE/egressd-$case.log" >&2
            eg_die "egressd ($case) did not answer on $BENCH_STATE/egressd.sock"
        fi
        sleep 0.2
    done
    # What runs (backend, XDP mode or fallback), for the log.
    eg_log "egressd ($case): $(bench_egsh -c "show dataplane json" 2>/dev/null | eg_json \
        "d['ioBackend'] + ' ' + d['backend'] + ('' if d['ioBackendFallback'] is None else ' (fallback: ' + d['ioBackendFallback'] + ')')" 2>/dev/null)"
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
        bench_sample_rss
        wait "$gen_pid" || { cat "$out" >&2; eg_die "eg-trafgen failed ($case, $size B)"; }
        results+=("$(bench_window_figures "$before" "$after")")
        eg_log "  $case ${size}B run $run: $(awk '{ printf "%d pps delivered, %d offered, cpu0 %.0f%%, cpu1 %.0f%%", $1, $2, $3*100, $4*100 }' <<<"${results[-1]}")"
    done
    printf '%s\n' "${results[@]}" | sort -g -k1,1 | awk '
        { line[NR] = $0; if (NR == 1) min = $1; max = $1 }
        END { print line[int((NR + 1) / 2)], min, max }'
}

# bench_sample_rss: keep the largest VmRSS (kB) of the running egressd in $BENCH_STATE/rss-kb.
bench_sample_rss() {
    [[ -n ${BENCH_EGRESSD_PID:-} ]] || return 0
    local kb max=0
    kb=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$BENCH_EGRESSD_PID/status" 2>/dev/null) || return 0
    [[ -s $BENCH_STATE/rss-kb ]] && max=$(<"$BENCH_STATE/rss-kb")
    # bench_measure runs in a command substitution: the figure goes through a file.
    if [[ -n $kb ]] && (( kb > max )); then echo "$kb" >"$BENCH_STATE/rss-kb"; fi
    return 0
}

# bench_report CASE SIZE FIGURES: print one case's lines.
bench_report() {
    local case=$1 size=$2 pps offered cpu0 cpu1 process min max
    read -r pps offered cpu0 cpu1 process min max <<<"$3"
    BENCH_PPS[$case-$size]=$pps
    BENCH_NSPP[$case-$size]=$(awk -v c1="$cpu1" -v pps="$pps" 'BEGIN { printf "%.0f", (pps > 0 ? c1 * 1e9 / pps : 0) }')
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

# bench_engine_counters CASE [LABEL]: sanity lines from egressd's own counters after a case.
bench_engine_counters() {
    local label=${2:-$1}
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
        echo "${label}_engine_forwarded_total: $a packets"
        echo "${label}_engine_to_kernel_total: $b packets"
    else
        echo "${label}_engine_sent_total: $a packets"
        awk -v l="$label" -v t="$a" -v m="$b" 'BEGIN { printf "%s_ecmp_smaller_tunnel_share: %.1f %%\n", l, (t > 0 ? m * 100 / t : 0) }'
    fi
    echo "${label}_engine_drops_total: $drops packets"
}

# bench_redirect_counters: sanity lines after the redirect case (every packet redirected?).
bench_redirect_counters() {
    local json
    json=$(bench_egsh -c "show ip wccp json" 2>/dev/null) || { eg_log "warning: show ip wccp json failed"; return 0; }
    eg_json "'redirect_engine_redirected_total: %d packets\\nredirect_engine_failed_open_total: %d packets' % (sum(s['packetsRedirected'] for s in d['services']), sum(s['packetsUnassigned'] for s in d['services']))" <<<"$json" \
        | sed 's/\\n/\n/g' || eg_log "warning: unexpected show ip wccp json"
}

BENCH_EGRESSD_WRAPPER=()

# bench_case_setup CASE: set fwd up for CASE (kernel routes, or egressd started, under
# BENCH_EGRESSD_WRAPPER when that is set: the profile suite's valgrind).
# decap2w: decap with `dataplane workers 2`, egressd allowed on both cores (worker scaling).
bench_case_setup() {
    rm -f -- "$BENCH_STATE/rss-kb"
    case $1 in
        kernel)
            bench_sysctl fwd net.ipv4.ip_forward=1
            ip -n "$(bench_ns fwd)" route replace "${BENCH_TRANSIT_DST%.*}.0/24" via "$BENCH_SINK_ADDR"
            ;;
        decap)
            # The kernel must not be able to forward the inner packets itself.
            bench_sysctl fwd net.ipv4.ip_forward=0
            bench_start_egressd decap "$(bench_egressd_cpus)" "${BENCH_EGRESSD_WRAPPER[@]}"
            ;;
        decap2w)
            bench_sysctl fwd net.ipv4.ip_forward=0
            BENCH_CASE_WORKERS=2 bench_start_egressd decap 0,1
            ;;
        redirect)
            bench_sysctl fwd net.ipv4.ip_forward=0
            bench_start_egressd redirect "$(bench_egressd_cpus)" "${BENCH_EGRESSD_WRAPPER[@]}"
            bench_redirect_cache_up
            ;;
        encap)
            # The kernel forwards gen's packets into the TUNs: that is the design.
            bench_sysctl fwd net.ipv4.ip_forward=1
            bench_start_egressd encap "$(bench_egressd_cpus)" "${BENCH_EGRESSD_WRAPPER[@]}"
            ;;
        *) eg_die "unknown dataplane case '$1'" ;;
    esac
}

# bench_case_teardown CASE: undo bench_case_setup.
bench_case_teardown() {
    case $1 in
        kernel) ip -n "$(bench_ns fwd)" route del "${BENCH_TRANSIT_DST%.*}.0/24" ;;
        decap|decap2w|encap) bench_stop_egressd ;;
        redirect) bench_redirect_cache_down; bench_stop_egressd ;;
    esac
    bench_sysctl fwd net.ipv4.ip_forward=0
}

# bench_case CASE: set fwd up for CASE, measure every size, print the lines.
bench_case() {
    local case=$1 size figures sizes=$BENCH_SIZES
    # With BENCH_BACKENDS, each egressd case runs once per I/O backend: decap_tpacket_pps_64B...
    local label=$case${BENCH_IO_BACKEND:+_$BENCH_IO_BACKEND}
    [[ $case == kernel ]] && label=kernel   # the reference runs no egressd: one name whatever the backend
    # Worker scaling is measured at the first size only (64 B: the per-packet cost).
    [[ $case == decap2w ]] && sizes=${BENCH_SIZES%% *}
    bench_case_setup "$case"
    for size in $sizes; do
        eg_log "measuring $case, ${size}-byte inner packets ($BENCH_RUNS x ${BENCH_WINDOW}s)"
        figures=$(bench_measure "$case" "$size") && [[ -n $figures ]] \
            || eg_die "measuring $case with ${size}-byte packets failed"
        bench_report "$label" "$size" "$figures"
    done
    case $case in
        decap|encap) bench_engine_counters "$case" "$label" ;;
        redirect) bench_redirect_counters ;;
    esac
    if [[ $case == decap ]]; then
        awk -v n="rss_under_load_mb${BENCH_IO_BACKEND:+_$BENCH_IO_BACKEND}" -v kb="$(cat "$BENCH_STATE/rss-kb" 2>/dev/null || echo 0)" \
            'BEGIN { printf "%s: %.1f MB\n", n, kb / 1024 }'
    fi
    bench_case_teardown "$case"
}

# bench_suite_dataplane: all cases, then the ratios against the kernel.
bench_suite_dataplane() {
    local case size
    local backend suffix suffixes=("")
    for case in $BENCH_CASES; do
        if [[ $case == kernel || -z ${BENCH_BACKENDS:-} ]]; then
            bench_case "$case"
        else
            for backend in $BENCH_BACKENDS; do BENCH_IO_BACKEND=$backend bench_case "$case"; done
        fi
    done
    if [[ -n ${BENCH_BACKENDS:-} ]]; then
        suffixes=()
        for backend in $BENCH_BACKENDS; do suffixes+=("_$backend"); done
    elif [[ -n ${BENCH_IO_BACKEND:-} ]]; then
        suffixes=("_$BENCH_IO_BACKEND")
    fi
    for suffix in "${suffixes[@]}"; do
    for case in decap$suffix encap$suffix redirect$suffix; do
        for size in $BENCH_SIZES; do
            [[ -n ${BENCH_PPS[$case-$size]:-} && -n ${BENCH_PPS[kernel-$size]:-} ]] || continue
            awk -v n="ratio_${case}_vs_kernel_${size}B" -v a="${BENCH_PPS[$case-$size]}" -v b="${BENCH_PPS[kernel-$size]}" \
                'BEGIN { printf "%s: %.2f\n", n, (b > 0 ? a / b : 0) }'
        done
    done
    # Worker scaling: decap with 2 workers over 1, at the first size.
    size=${BENCH_SIZES%% *}
    if [[ -n ${BENCH_PPS[decap2w$suffix-$size]:-} && -n ${BENCH_PPS[decap$suffix-$size]:-} ]]; then
        awk -v n="ratio_2_workers_vs_1$suffix" -v a="${BENCH_PPS[decap2w$suffix-$size]}" -v b="${BENCH_PPS[decap$suffix-$size]}" \
            'BEGIN { printf "%s: %.2f\n", n, (b > 0 ? a / b : 0) }'
    fi
    # The redirect stage's own cost: the same GRE input, redirected instead of forwarded.
    for size in $BENCH_SIZES; do
        [[ -n ${BENCH_PPS[redirect$suffix-$size]:-} && -n ${BENCH_PPS[decap$suffix-$size]:-} ]] || continue
        awk -v s="${size}B" -v x="$suffix" -v rp="${BENCH_PPS[redirect$suffix-$size]}" -v dp="${BENCH_PPS[decap$suffix-$size]}" \
            -v rn="${BENCH_NSPP[redirect$suffix-$size]}" -v dn="${BENCH_NSPP[decap$suffix-$size]}" 'BEGIN {
                printf "ratio_redirect%s_vs_decap%s_%s: %.2f\n", x, x, s, (dp > 0 ? rp / dp : 0)
                printf "redirect%s_cost_over_decap_ns_per_pkt_%s: %.1f %%\n", x, s, (dn > 0 ? (rn - dn) * 100 / dn : 0)
            }'
    done
    done
    cat <<'NOTES'
# pps: delivered packets per second counted on the sink's veth (median of the runs); Gbps:
#   that pps x inner IP packet length (outer GRE bytes not counted).
# offered_pps: what the generator (cpu0) put on its veth; spread: (max-min)/median over runs.
# kernel: fwd's own IP forwarding; veth delivers on the sending CPU and RPS is off, so the
#   kernel's whole forwarding path runs on cpu0 beside the generator (no-RPS figure).
# decap/encap: one worker, alone on cpu1 (`dataplane worker cpus 1`, egressd's other threads on
#   cpu0; BENCH_PLACEMENT=process: all of egressd on cpu1); ip_forward=0 for decap (only the
#   engine forwards), =1 for encap (fwd's kernel routes inner packets into egressd's TUNs:
#   the design, and that kernel work runs on cpu0; afxdp's steering asks the same route).
# redirect: decap's input, every packet matched by a WCCP service and sent to the cache in GRE
#   0x883E to the cache's MAC like the rest of the underlay (transmit ring, or AF_PACKET sendmmsg);
#   redirect_cost_over_decap_ns_per_pkt compares the engine core's cost per packet (goal <= 10 %).
# ns_per_pkt: cpu1 busy fraction x 1e9 / delivered pps (the engine's core, incl. softirq it
#   triggers); egressd_process_ns_per_pkt: the same from egressd's own user+system time.
# On 2 cores the generator (~3 us/pkt into a veth) sets the ceiling: read ratios with ns_per_pkt.
# rss_under_load_mb: egressd's largest VmRSS sampled at the end of each decap window.
NOTES
    if [[ " $BENCH_CASES " == *" decap2w "* ]]; then
        cat <<'NOTES'
# decap2w / ratio_2_workers_vs_1: decap with `dataplane workers 2` (AF_PACKET fanout), egressd
#   allowed on both cores, against one worker on cpu1. The generator needs cpu0 (it alone costs
#   ~3 us/pkt), so the second worker shares a core with it: on 2 cores this ratio is bounded by
#   the machine, not the engine; it shows scaling only where there are cores to scale to.
NOTES
    fi
}
