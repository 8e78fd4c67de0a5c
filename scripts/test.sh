#!/usr/bin/env bash
# The one test command (CI runs it as root on a fresh clone, Debian 12):
#   1. installs the Debian packages the build and the tests need (if missing),
#   2. builds with tests and runs the unit tests (swift test, output left visible),
#   3. replays the fuzz corpora and regressions (eg-fuzz); then, in the background beside
#      step 4: builds the one ASan build (.build-fuzz, scripts/lib/asan-build.sh: libFuzzer
#      coverage, tests included), fuzzes each parser in it for EG_CI_FUZZ_SECONDS (default 10;
#      0 skips; scripts/fuzz.sh) and runs all unit tests under the sanitizers in
#      EG_CI_SANITIZERS (default "address thread": ASan with LeakSanitizer in that same build,
#      then TSan in .build-tsan; scripts/sanitize.sh; "" skips),
#   4. runs the namespace tests (Tests/Namespace/run.sh) against the debug binaries,
#   5. prints a summary; exits non-zero if anything failed.
# Usage: scripts/test.sh [--unit | --ns]   (only the unit tests / only the namespace tests)
# With --ns, EGRESSD_BIN (and EGSH_BIN) may name prebuilt binaries; the build is then skipped.
set -uo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"

run_unit=1 run_ns=1
case ${1:-} in
    "") ;;
    --unit) run_ns=0 ;;
    --ns) run_unit=0 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) eg_die "unknown option '$1' (use --unit or --ns)" ;;
esac

(( EUID == 0 )) || eg_die "scripts/test.sh needs root (apt-get, network namespaces)"
command -v swift >/dev/null || [[ ! -x /opt/swift/usr/bin/swift ]] || export PATH=/opt/swift/usr/bin:$PATH
command -v swift >/dev/null || eg_die "swift not found in PATH"

eg_apt_ensure libmnl-dev libpcap-dev libedit-dev pkg-config iproute2 nftables tshark python3-pexpect \
    python3-scapy curl iperf3 procps util-linux frr bird2 prometheus valgrind binutils gcc libc6-dev

cd "$REPO_DIR" || exit 1
# The Squid the WCCP interop test runs (built once, cached in /var/cache/egressd): on a fresh
# machine its build (~6 min of 2 cores) starts now, beside the Swift builds, whose serial
# stretches leave a core idle; the namespace tests wait for it.
squid_pid=
if (( run_ns )); then
    squid_log=$(mktemp /tmp/egressd-squid-build.XXXXXX)
    "$REPO_DIR/scripts/squid-build.sh" >"$squid_log" 2>&1 &
    squid_pid=$!
fi
unit_result=skipped ns_result=skipped build_ok=1 fuzz_result=skipped sanitizer_result=skipped bg_pid=

# fuzz_and_sanitize RESULT_FILE REPLAY_RESULT: fuzzes each target for EG_CI_FUZZ_SECONDS (when
# the corpora replayed cleanly), runs the unit tests under EG_CI_SANITIZERS, and writes
# fuzz_result= and sanitizer_result= lines to RESULT_FILE.
fuzz_and_sanitize() {
    local out=$1 fuzz=$2 san=skipped s start
    if [[ " ${EG_CI_SANITIZERS-address thread} " == *" address "* ]]; then
        # One ASan build with the tests for the fuzzer and the ASan run (eg-fuzz's own build
        # below then has nothing left to compile).
        echo "== ASan build with tests, shared by fuzzing and the ASan unit tests (.build-fuzz)"
        start=$(date +%s)
        ( source "$REPO_DIR/scripts/lib/asan-build.sh" && eg_asan_build --build-tests ) || san="FAILED (address build)"
        echo "ASan build took $(( $(date +%s) - start )) s"
    fi
    if [[ $fuzz == passed && ${EG_CI_FUZZ_SECONDS:-10} != 0 ]]; then
        echo "== fuzzing each target for ${EG_CI_FUZZ_SECONDS:-10} s (scripts/fuzz.sh)"
        start=$(date +%s)
        "$REPO_DIR/scripts/fuzz.sh" all "${EG_CI_FUZZ_SECONDS:-10}" || fuzz=FAILED
        echo "fuzzing took $(( $(date +%s) - start )) s"
    fi
    for s in ${EG_CI_SANITIZERS-address thread}; do
        echo "== unit tests under --sanitize=$s (scripts/sanitize.sh)"
        [[ $san == skipped ]] && san=passed
        [[ $s == address && $san == "FAILED (address build)" ]] && continue
        start=$(date +%s)
        "$REPO_DIR/scripts/sanitize.sh" "$s" "${EG_CI_SANITIZER_FILTER:-}" || san="FAILED ($s)"
        echo "--sanitize=$s took $(( $(date +%s) - start )) s"
    done
    printf 'fuzz_result=%q\nsanitizer_result=%q\n' "$fuzz" "$san" >"$out"
}

build_needed=1
(( run_unit == 0 )) && [[ -n ${EGRESSD_BIN:-} ]] && build_needed=0
if (( build_needed )); then
    echo "== swift build --build-tests"
    if ! swift build --build-tests; then
        build_ok=0
        unit_result="FAILED (build)"
    fi
fi

if (( run_unit && build_ok )); then
    echo "== swift test --skip-build"
    if swift test --skip-build; then unit_result=passed; else unit_result=FAILED; fi

    echo "== fuzz corpora and regressions replayed (eg-fuzz)"
    fuzz_result=passed
    bin_dir=$(swift build --show-bin-path)
    for t in packet bgp bgp-session wccp config; do
        inputs=("Fuzz/corpus/$t")
        [[ -d Fuzz/regressions/$t ]] && inputs+=("Fuzz/regressions/$t")
        "$bin_dir/eg-fuzz" "$t" "${inputs[@]}" || fuzz_result="FAILED (replay $t)"
    done
    # Fuzzing and the sanitizer runs are CPU-bound builds, while the namespace tests mostly
    # wait on timers and peers: they run side by side, and this part's output is printed
    # after the namespace tests.
    bg_log=$(mktemp /tmp/egressd-fuzz-sanitize.XXXXXX)
    bg_result=$(mktemp /tmp/egressd-fuzz-sanitize-result.XXXXXX)
    fuzz_and_sanitize "$bg_result" "$fuzz_result" >"$bg_log" 2>&1 &
    bg_pid=$!
    (( run_ns )) || wait "$bg_pid"
fi

if (( run_ns )); then
    if (( build_ok )); then
        if (( build_needed )); then
            bin_dir=$(swift build --show-bin-path)
            export EGRESSD_BIN=$bin_dir/egressd EGSH_BIN=$bin_dir/egsh
        fi
        echo "== squid with the WCCPv2 parser patch (scripts/squid-build.sh, started at the beginning)"
        if ! wait "$squid_pid"; then
            tail -n 30 "$squid_log"
            eg_log "warning: scripts/squid-build.sh failed: wccp-squid, lab-up-down and drill-proxy-* will fail"
        fi
        echo "== namespace tests (Tests/Namespace, $EGRESSD_BIN)"
        ns_log_dir=$(mktemp -d /tmp/egressd-ns-logs.XXXXXX)
        NS_LOG_DIR=$ns_log_dir "$REPO_DIR/Tests/Namespace/run.sh" \
            | tee "$ns_log_dir/run.log"
        if (( PIPESTATUS[0] == 0 )); then ns_result=passed; else ns_result=FAILED; fi
        ns_line=$(tail -n 1 "$ns_log_dir/run.log")
        ns_failed=$(sed -n 's/^failed namespace tests: //p' "$ns_log_dir/run.log")
    else
        ns_result="FAILED (build)"
        ns_tests=("$REPO_DIR"/Tests/Namespace/*.test.sh)
        ns_line="0 passed, ${#ns_tests[@]} failed"
    fi
fi

if [[ -n $bg_pid ]]; then
    wait "$bg_pid"
    echo "== fuzzing and sanitizers (ran beside the namespace tests)"
    cat "$bg_log"
    # shellcheck disable=SC1090
    source "$bg_result"
    rm -f "$bg_log" "$bg_result"
fi

echo "== summary"
if (( !build_needed )); then build_result=skipped; elif (( build_ok )); then build_result=ok; else build_result=FAILED; fi
echo "build:           $build_result"
echo "unit tests:      $unit_result"
echo "fuzzing:         $fuzz_result"
echo "sanitizers:      $sanitizer_result"
echo "namespace tests: $ns_result"
[[ -n ${ns_line:-} ]] && echo "$ns_line"
# The failed namespace tests' own output, last, so that the tail of a CI log shows why.
for name in ${ns_failed:-}; do
    echo "== failed namespace test $name: last 60 lines of its output"
    tail -n 60 "$ns_log_dir/$name.log" 2>/dev/null
done
[[ -n ${ns_failed:-} ]] && echo "namespace tests failed: $ns_failed"
[[ -n ${ns_log_dir:-} ]] && rm -rf "$ns_log_dir"
[[ $unit_result != FAILED* && $ns_result != FAILED* && $fuzz_result != FAILED* && $sanitizer_result != FAILED*
   && $build_ok == 1 ]]
