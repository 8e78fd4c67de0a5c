#!/usr/bin/env bash
# Smoke run of the BGP table-load benchmark (`scripts/bench.sh bgp`) at 10,000 prefixes:
# the same eg-bgpfeed feed into egressd, BIRD 2 and FRR's bgpd, each in namespaces of its own.
# Asserts: every receiver reports all 10k prefixes (a time and an RSS line each), egressd's
# kernel copy is complete (10000 routes of protocol 218 counted with ip route), the ratios are
# printed, and no namespace of the run is left behind.
# Usage: EGRESSD_BIN=... EGSH_BIN=... Tests/Namespace/bgp-bench-smoke.test.sh (run.sh sets them)
set -uo pipefail
TEST_NAME=bgp-bench-smoke
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NS_TEST_DIR/../.." && pwd)
OUT=$(mktemp "/tmp/egressd-nstest-bgp-bench.XXXXXX")
fail() { echo "FAIL $TEST_NAME: $*"; [[ -s $OUT.err ]] && tail -n 30 "$OUT.err" | sed 's/^/    /'; exit 1; }
trap 'rm -f -- "$OUT" "$OUT.err"' EXIT

[[ -n ${EGRESSD_BIN:-} && -n ${EGSH_BIN:-} ]] || fail "EGRESSD_BIN and EGSH_BIN must be set"
export EG_BGPFEED_BIN=${EG_BGPFEED_BIN:-$(dirname "$EGRESSD_BIN")/eg-bgpfeed}
[[ -x $EG_BGPFEED_BIN ]] || fail "no eg-bgpfeed beside egressd ($EG_BGPFEED_BIN)"
BENCH_BGP_PREFIXES=10000 BENCH_BGP_SETS=1000 BENCH_BGP_TIMEOUT=60 \
    "$REPO_DIR/scripts/bench.sh" bgp >"$OUT" 2>"$OUT.err" &
# Its namespaces are bn<its pid>- (BENCH_PREFIX): checked by name at the end, since another
# benchmark may run on the machine at the same time (counting every bn*- failed then).
bench_pid=$!
wait "$bench_pid" || fail "scripts/bench.sh bgp failed"
sed 's/^/    /' "$OUT"
value() { awk -v k="$1:" '$1 == k { print $2 }' "$OUT"; }
for r in egressd bird frr; do
    [[ -n $(value "bgp_10k_time_$r") && -n $(value "bgp_10k_rss_$r") ]] || fail "no time/RSS for $r"
done
[[ $(value bgp_feed_prefixes) == 10000 && $(value bgp_feed_attribute_sets) == 1000 ]] || fail "the feed is not 10k prefixes in 1000 sets"
[[ $(value bgp_10k_kernel_routes_egressd) == 10000 ]] || fail "egressd's kernel has $(value bgp_10k_kernel_routes_egressd) routes, not 10000"
[[ -n $(value ratio_bgp_10k_time_vs_bird) && -n $(value ratio_bgp_10k_rss_vs_frr) ]] || fail "no ratios"
left=$(ip netns list | awk -v p="bn$bench_pid-" 'index($1, p) == 1 { print $1 }')
[[ -z $left ]] || fail "the benchmark left namespaces behind: $left"
echo "PASS $TEST_NAME"
