# The latency suite of scripts/bench.sh: one-way latency through fwd at half load, on the
# dataplane rig (rig.sh), for the kernel reference and for egressd's decap and encap.
#
# eg-trafgen --timestamps (gen, cpu0) sends 64-byte packets at half the case's maximum rate,
# each stamped with CLOCK_MONOTONIC just before it is handed to the kernel; eg-latency (sink,
# cpu0) reads every frame on d0 with an AF_PACKET socket, finds the stamp (inner UDP payload,
# or inside GRE for encap) and records the kernel's receive time on d0 (SO_TIMESTAMPNS) -
# stamp in an HDR histogram. Both ends on one machine, one clock. The receiver's own wake-up
# (it shares cpu0 with the sender) is not in the figure; it is printed apart. egressd's added
# latency is its figure minus the kernel's. egressd may run on both CPUs: `dataplane worker
# cpus 1` puts its worker alone on cpu1, its other threads on cpu0 (BENCH_PLACEMENT).
# The maximum rate is the dataplane suite's figure when it ran in the same invocation,
# otherwise one short measurement (BENCH_LATENCY_PROBE seconds) here.
# Expects rig.sh, measure.sh and dataplane.sh sourced, the rig up, EG_LATENCY_BIN.

BENCH_LATENCY_CASES=${BENCH_LATENCY_CASES:-kernel decap encap}
BENCH_LATENCY_SIZE=${BENCH_LATENCY_SIZE:-64}
BENCH_LATENCY_SECONDS=${BENCH_LATENCY_SECONDS:-6}
BENCH_LATENCY_SKIP=${BENCH_LATENCY_SKIP:-1}
BENCH_LATENCY_PROBE=${BENCH_LATENCY_PROBE:-3}
# BENCH_LATENCY_PPS: a fixed rate for every case instead of half of each one's maximum.

# bench_latency_max_pps CASE: the case's maximum delivered rate at BENCH_LATENCY_SIZE.
bench_latency_max_pps() {
    local case=$1 size=$BENCH_LATENCY_SIZE
    if [[ -n ${BENCH_PPS[$case-$size]:-} ]]; then
        echo "${BENCH_PPS[$case-$size]}"
        return
    fi
    BENCH_RUNS=1 BENCH_WARMUP=1 BENCH_WINDOW=$BENCH_LATENCY_PROBE bench_measure "$case" "$size" | awk '{ print $1 }'
}

# bench_latency_run CASE PPS: one paced run; prints eg-latency's lines.
bench_latency_run() {
    local case=$1 pps=$2 out=$BENCH_STATE/latency-$1 recv_pid gen_pid
    local -a args
    mapfile -t args < <(bench_trafgen_args "$case" "$BENCH_LATENCY_SIZE")
    local -a ends=(taskset -c 0)
    # BENCH_LATENCY_ENDS_FIFO=1: generator and receiver on SCHED_FIFO 1 too (a loaded cpu0 then
    # does not delay the stamp-to-send step), to tell their scheduling from the forwarder's.
    [[ ${BENCH_LATENCY_ENDS_FIFO:-0} == 1 ]] && ends+=(chrt -f 1)
    bench_in sink "${ends[@]}" "$EG_LATENCY_BIN" --interface d0 \
        --duration "$(( BENCH_LATENCY_SECONDS + 1 ))" --skip "$BENCH_LATENCY_SKIP" >"$out.recv" 2>&1 &
    recv_pid=$!
    sleep 0.3
    bench_in gen "${ends[@]}" "$EG_TRAFGEN_BIN" "${args[@]}" --timestamps --pps "$pps" --batch 8 \
        --duration "$BENCH_LATENCY_SECONDS" >"$out.gen" 2>&1 &
    gen_pid=$!
    wait "$gen_pid" || { cat "$out.gen" >&2; eg_die "eg-trafgen --timestamps failed ($case)"; }
    wait "$recv_pid" || { cat "$out.recv" >&2; eg_die "eg-latency failed ($case)"; }
    cat "$out.recv"
}

bench_suite_latency() {
    local case max rate out value
    declare -A p50=() p99=()
    for case in $BENCH_LATENCY_CASES; do
        bench_case_setup "$case"
        if [[ -n ${BENCH_LATENCY_PPS:-} ]]; then
            # A fixed rate (the same for every case), e.g. a light load on a busy machine.
            rate=$BENCH_LATENCY_PPS max=$(( 2 * BENCH_LATENCY_PPS ))
        else
            max=$(bench_latency_max_pps "$case")
            [[ -n $max ]] && (( max > 0 )) || eg_die "no maximum rate for $case"
            rate=$(( max / 2 ))
        fi
        eg_log "latency of $case at $rate pps (half of $max), ${BENCH_LATENCY_SIZE}-byte packets, ${BENCH_LATENCY_SECONDS}s"
        out=$(bench_latency_run "$case" "$rate")
        bench_case_teardown "$case"
        bench_latency_value() { awk -v k="$1:" '$1 == k { print $2 }' <<<"$out"; }
        p50[$case]=$(bench_latency_value latency_p50_us)
        p99[$case]=$(bench_latency_value latency_p99_us)
        echo "latency_rate_pps_$case: $rate pps"
        echo "latency_p50_us_$case: ${p50[$case]} us"
        echo "latency_p90_us_$case: $(bench_latency_value latency_p90_us) us"
        echo "latency_p99_us_$case: ${p99[$case]} us"
        echo "latency_p999_us_$case: $(bench_latency_value latency_p999_us) us"
        echo "latency_max_us_$case: $(bench_latency_value latency_max_us) us"
        echo "latency_samples_$case: $(bench_latency_value stamped_frames) packets"
        echo "latency_receiver_drops_$case: $(bench_latency_value receiver_drops) packets"
        echo "latency_receiver_wakeup_p99_us_$case: $(bench_latency_value receiver_wakeup_p99_us) us"
    done
    for case in $BENCH_LATENCY_CASES; do
        [[ $case != kernel && -n ${p50[kernel]:-} && -n ${p50[$case]:-} ]] || continue
        awk -v c="$case" -v a50="${p50[$case]}" -v a99="${p99[$case]}" -v k50="${p50[kernel]}" -v k99="${p99[kernel]}" 'BEGIN {
            printf "added_latency_p50_us_%s: %.1f us\n", c, a50 - k50
            printf "added_latency_p99_us_%s: %.1f us\n", c, a99 - k99
        }'
    done
    cat <<NOTES
# latency: one-way, ${BENCH_LATENCY_SIZE}-byte packets paced at half the case's maximum delivered
#   rate (latency_rate_pps), stamped by the generator (CLOCK_MONOTONIC, right before the TX ring
#   slot is handed over) and read by eg-latency on the sink's veth (AF_PACKET socket, user space,
#   HDR histogram, 3 digits); the first ${BENCH_LATENCY_SKIP} s are not counted. Generator and
#   receiver on cpu0, egressd's worker alone on cpu1, its other threads on cpu0
#   (BENCH_PLACEMENT=${BENCH_PLACEMENT}; kernel: its forwarding runs on cpu0 in softirq).
# added_latency_*: egressd's percentile minus the kernel reference's (goal p99 < 100 us).
NOTES
}
