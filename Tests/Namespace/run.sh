#!/usr/bin/env bash
# Run the namespace tests (each *.test.sh brings up its own lab copy and tears it down).
# Usage: Tests/Namespace/run.sh [NAME...]   (NAME: e.g. spoke-internet; default: all)
# Uses the debug binaries (EGRESSD_BIN/EGSH_BIN, default: `swift build --show-bin-path`).
# Prints PASS/FAIL per test and the closing line "N passed, N failed"; exit 1 if any failed.
# With NS_LOG_DIR set, each test's output is also kept there as NAME.log (scripts/test.sh
# prints the tails of the failed ones after its summary, where a CI log's tail shows them).
set -uo pipefail
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NS_TEST_DIR/../.." && pwd)

(( EUID == 0 )) || { echo "namespace tests need root" >&2; exit 1; }
if [[ -z ${EGRESSD_BIN:-} ]]; then
    EGRESSD_BIN=$(cd "$REPO_DIR" && swift build --show-bin-path)/egressd || exit 1
fi
export EGRESSD_BIN
export EGSH_BIN=${EGSH_BIN:-$(dirname "$EGRESSD_BIN")/egsh}

tests=()
if (( $# )); then
    for name in "$@"; do tests+=("$NS_TEST_DIR/$name.test.sh"); done
else
    tests=("$NS_TEST_DIR"/*.test.sh)
fi

passed=0 failed=0 failed_names=()
for test in "${tests[@]}"; do
    name=$(basename "$test" .test.sh)
    if [[ ! -f $test ]]; then
        echo "FAIL $name: no such test ($test)"
    else
        start=$(date +%s)
        # A test that hangs is cut off; its EXIT trap still tears its lab down.
        if [[ -n ${NS_LOG_DIR:-} ]]; then
            timeout --signal=TERM --kill-after=30 300 bash "$test" 2>&1 | tee "$NS_LOG_DIR/$name.log"
            rc=${PIPESTATUS[0]}
        else
            timeout --signal=TERM --kill-after=30 300 bash "$test"
            rc=$?
        fi
        echo "    ($name: $(( $(date +%s) - start )) s, exit $rc)"
        if (( rc == 0 )); then passed=$((passed + 1)); continue; fi
        (( rc == 124 )) && echo "FAIL $name: timed out after 300 s"
    fi
    failed=$((failed + 1)); failed_names+=("$name")
done
(( failed == 0 )) || echo "failed namespace tests: ${failed_names[*]}"
echo "$passed passed, $failed failed"
(( failed == 0 ))
