#!/usr/bin/env bash
# Smoke run of the benchmark's dataplane additions and its tcp, latency and profile suites, at
# tiny sizes, in one `scripts/bench.sh dataplane tcp latency profile` run (about 60 s):
# dataplane kernel/decap/decap2w (64 B, 1 x 1 s), iperf3 2 s per mode, latency 2 s per case
# (kernel, decap), callgrind on decap (1,000 packets).
# Asserts: every figure is printed and sane (Gbps beside pps, RSS under load, worker ratio,
# both TCP rates and their ratio, latency percentiles ordered and the added latency, callgrind
# instructions per packet in a plausible range and the ARC/allocation call counts), and no
# namespace of the run is left behind. The figures themselves are not judged here (debug
# build, a loaded CI machine): scripts/bench.sh on a quiet machine gives those.
# Usage: EGRESSD_BIN=... EGSH_BIN=... Tests/Namespace/bench-smoke.test.sh (run.sh sets them)
set -uo pipefail
TEST_NAME=bench-smoke
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NS_TEST_DIR/../.." && pwd)
OUT=$(mktemp "/tmp/egressd-nstest-bench-smoke.XXXXXX")
fail() { echo "FAIL $TEST_NAME: $*"; [[ -s $OUT.err ]] && tail -n 30 "$OUT.err" | sed 's/^/    /'; exit 1; }
bench_pid=""
trap '[[ -n $bench_pid ]] && kill -0 "$bench_pid" 2>/dev/null && kill -TERM "$bench_pid"; rm -f -- "$OUT" "$OUT.err"' EXIT

[[ -n ${EGRESSD_BIN:-} && -n ${EGSH_BIN:-} ]] || fail "EGRESSD_BIN and EGSH_BIN must be set"
bindir=$(dirname "$EGRESSD_BIN")
export EG_TRAFGEN_BIN=${EG_TRAFGEN_BIN:-$bindir/eg-trafgen} EG_LATENCY_BIN=${EG_LATENCY_BIN:-$bindir/eg-latency}
[[ -x $EG_TRAFGEN_BIN && -x $EG_LATENCY_BIN ]] || fail "no eg-trafgen/eg-latency beside egressd ($bindir)"
BENCH_CASES="kernel decap decap2w" BENCH_SIZES=64 BENCH_RUNS=1 BENCH_WARMUP=0.5 BENCH_WINDOW=1 \
BENCH_TCP_SECONDS=2 BENCH_TCP_RUNS=1 \
BENCH_LATENCY_CASES="kernel decap" BENCH_LATENCY_SECONDS=2 BENCH_LATENCY_SKIP=0.5 \
BENCH_PROFILE_CASES=decap BENCH_PROFILE_PACKETS=1000 BENCH_PROFILE_WARMUP=200 BENCH_PROFILE_PPS=2000 \
    "$REPO_DIR/scripts/bench.sh" dataplane tcp latency profile >"$OUT" 2>"$OUT.err" &
# Its namespaces are bn<its pid>- (BENCH_PREFIX): checked by name at the end, since another
# benchmark may run on the machine at the same time.
bench_pid=$!
wait "$bench_pid" || fail "scripts/bench.sh dataplane tcp latency profile failed"
grep -v '^#   ' "$OUT" | sed 's/^/    /'
value() { awk -v k="$1:" '$1 == k { print $2 }' "$OUT"; }
# in_range NAME LOW HIGH: the figure is printed and LOW <= value <= HIGH.
in_range() {
    local v
    v=$(value "$1")
    [[ -n $v ]] || fail "no line '$1'"
    awk -v v="$v" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v + 0 >= lo && v + 0 <= hi) }' \
        || fail "$1 is $v, not within $2..$3"
}
in_range decap_pps_64B 1 1e8
in_range decap_gbps_64B 0.000001 1000
in_range kernel_gbps_64B 0.000001 1000
# Gbps is pps x 64 bytes x 8.
awk -v p="$(value decap_pps_64B)" -v g="$(value decap_gbps_64B)" 'BEGIN { d = p * 512 / 1e9 - g; exit !(d < 0.001 && d > -0.001) }' \
    || fail "decap_gbps_64B $(value decap_gbps_64B) is not decap_pps_64B x 512 bits"
in_range rss_under_load_mb 1 4096
in_range decap2w_pps_64B 1 1e8
in_range ratio_2_workers_vs_1 0.01 100
in_range tcp_gbps_kernel 0.0001 1000
in_range tcp_gbps_egressd 0.0001 1000
in_range ratio_tcp_vs_kernel 0.0001 100
for c in kernel decap; do
    in_range "latency_samples_$c" 10 1e9
    in_range "latency_p50_us_$c" 0.1 1e7
    in_range "latency_p99_us_$c" "$(value "latency_p50_us_$c")" 1e7
done
in_range added_latency_p99_us_decap -1e7 1e7
in_range instructions_per_pkt_decap 100 1000000
in_range profile_packets_decap 100 1e6
in_range arc_calls_per_pkt_decap 0 1000
in_range alloc_calls_per_pkt_decap 0 1000
grep -q '^# top functions of the worker thread (decap)' "$OUT" || fail "no top-function listing"
grep -q '^machine: 2 cores\|^machine: [0-9]* cores' "$OUT" || fail "no machine line"
left=$(ip netns list | grep "^bn$bench_pid-" | cut -d' ' -f1 | tr '\n' ' ')
[[ -z $left ]] || fail "the benchmark left namespaces behind: $left"
echo "PASS $TEST_NAME"
