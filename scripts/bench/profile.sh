# The profile suite of scripts/bench.sh: instructions per packet of egressd's transit path,
# counted by valgrind's callgrind on the release binary (instruction counts are repeatable on
# this noisy machine; timings are not).
#
# Per case (dataplane rig, rig.sh): egressd starts under callgrind with instrumentation off;
# it is switched on, a warm-up of BENCH_PROFILE_WARMUP packets runs, the counters are zeroed,
# BENCH_PROFILE_PACKETS packets are sent at BENCH_PROFILE_PPS, and when the sink stops seeing
# packets the counters are dumped, one file per thread. Instructions of the busiest thread
# (the worker) divided by the packets the sink received in that window give
# instructions_per_pkt_CASE; callgrind_summary.py also lists the top functions and counts
# calls of swift_retain/swift_release/malloc/free/mutexes per packet.
# Expects rig.sh, measure.sh and dataplane.sh sourced, the rig up.

BENCH_PROFILE_CASES=${BENCH_PROFILE_CASES:-decap encap redirect}
BENCH_PROFILE_PACKETS=${BENCH_PROFILE_PACKETS:-20000}
BENCH_PROFILE_WARMUP=${BENCH_PROFILE_WARMUP:-2000}
BENCH_PROFILE_PPS=${BENCH_PROFILE_PPS:-10000}
BENCH_PROFILE_SIZE=${BENCH_PROFILE_SIZE:-64}

# bench_profile_send CASE PACKETS: send about PACKETS frames at BENCH_PROFILE_PPS, then wait
# until the sink's counter goes quiet (egressd under callgrind is slower than the rate):
# at most 4 frames per 0.5 s for 1.5 s (the redirect case's sink also gets WCCP I_SEE_YOUs,
# two a second), 60 s at most.
bench_profile_send() {
    local case=$1 packets=$2 duration last now quiet=0 deadline
    local -a args
    mapfile -t args < <(bench_trafgen_args "$case" "$BENCH_PROFILE_SIZE")
    duration=$(awk -v n="$packets" -v r="$BENCH_PROFILE_PPS" 'BEGIN { printf "%.3f", n / r }')
    bench_in gen taskset -c 0 "$EG_TRAFGEN_BIN" "${args[@]}" --pps "$BENCH_PROFILE_PPS" --duration "$duration" \
        >"$BENCH_STATE/profile-gen.out" 2>&1 || { cat "$BENCH_STATE/profile-gen.out" >&2; eg_die "eg-trafgen failed"; }
    last=$(bench_counter sink d0 rx_packets)
    deadline=$(( $(date +%s) + 60 ))
    while (( quiet < 3 )) && (( $(date +%s) < deadline )); do
        sleep 0.5
        now=$(bench_counter sink d0 rx_packets)
        if (( now - last <= 4 )); then quiet=$(( quiet + 1 )); else quiet=0; fi
        last=$now
    done
}

# bench_profile_case CASE
bench_profile_case() {
    local case=$1 out=$BENCH_STATE/callgrind-$1 before after pid files
    eg_log "profiling $case under callgrind ($BENCH_PROFILE_PACKETS packets at $BENCH_PROFILE_PPS pps)"
    BENCH_START_TIMEOUT=${BENCH_START_TIMEOUT:-180} bench_case_setup_wrapped "$case" \
        env LD_PRELOAD="$BENCH_STATE/park_main_thread.so" valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes --callgrind-out-file="$out"
    pid=$BENCH_EGRESSD_PID
    callgrind_control --instr=on "$pid" >/dev/null || eg_die "callgrind_control --instr=on failed"
    bench_profile_send "$case" "$BENCH_PROFILE_WARMUP"
    callgrind_control --zero "$pid" >/dev/null || eg_die "callgrind_control --zero failed"
    before=$(bench_counter sink d0 rx_packets)
    bench_profile_send "$case" "$BENCH_PROFILE_PACKETS"
    after=$(bench_counter sink d0 rx_packets)
    callgrind_control --dump="bench window" "$pid" >/dev/null || eg_die "callgrind_control --dump failed"
    # The dump's files: OUT.1-01, OUT.1-02, ... (first dump, one per thread).
    files=("$out".1-*)
    [[ -e ${files[0]} ]] || { ls -la "$BENCH_STATE" >&2; eg_die "no callgrind dump for $case"; }
    echo "profile_offered_$case: $(( BENCH_PROFILE_PACKETS )) packets"
    python3 "$BENCH_DIR/bench/callgrind_summary.py" "$(( after - before ))" "$case" "${files[@]}" \
        || eg_die "callgrind_summary.py failed for $case"
    bench_case_teardown "$case"
}

# bench_case_setup_wrapped CASE WRAPPER...: bench_case_setup with egressd run by WRAPPER.
bench_case_setup_wrapped() {
    local case=$1; shift
    BENCH_EGRESSD_WRAPPER=("$@")
    bench_case_setup "$case"
    BENCH_EGRESSD_WRAPPER=()
}

bench_suite_profile() {
    eg_apt_ensure valgrind binutils gcc libc6-dev
    # Valgrind 3.19 crashes when dispatchMain() exits egressd's main thread: park it instead.
    cc -shared -fPIC -O2 -o "$BENCH_STATE/park_main_thread.so" "$BENCH_DIR/bench/park_main_thread.c" -ldl \
        || eg_die "cannot build park_main_thread.so"
    local case egressd_bin=$EGRESSD_BIN
    # Valgrind 3.19 (Debian 12) cannot read the DWARF 5 that swiftc/clang 21 emit ("unhandled
    # dwarf2 abbrev form", then it gives up): profile a copy without debug sections. The
    # symbol table stays, so functions keep their names (no source lines).
    strip --strip-debug -o "$BENCH_STATE/egressd-nodebug" "$EGRESSD_BIN" || eg_die "strip --strip-debug failed"
    EGRESSD_BIN=$BENCH_STATE/egressd-nodebug
    for case in $BENCH_PROFILE_CASES; do
        [[ $case == kernel ]] && continue
        bench_profile_case "$case"
    done
    EGRESSD_BIN=$egressd_bin
    cat <<NOTES
# instructions_per_pkt: user-space instructions of egressd's worker thread (callgrind) in a
#   window of ~${BENCH_PROFILE_PACKETS} ${BENCH_PROFILE_SIZE}-byte packets at ${BENCH_PROFILE_PPS} pps, over the packets the sink
#   received; release build. The kernel's part of each system call is not counted (the engine's
#   ns_per_pkt in the dataplane suite has it). all_threads: every thread, control plane included.
# arc/alloc/lock_calls_per_pkt: calls of swift_retain/release (and _n, bridge, unknown),
#   swift_allocObject/malloc/free, pthread mutexes made by the worker thread per packet.
NOTES
}
