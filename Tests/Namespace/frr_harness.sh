# Shared harness of the BGP namespace tests that build a topology of their own around FRR
# (bgp-frr, bgp-frr-ipv6-as4, bgp-health, bgp-md5-gtsm). Source it after setting TEST_NAME,
# NAMESPACES (the namespaces the test will make) and FAILURE_LOGS (files under WORK whose
# tails are shown when the test fails). It makes WORK and FRR_DIR, defines fail, pass,
# in_ns and vtysh_c, kills PIDS and removes the namespaces and WORK on any exit, checks
# EGRESSD_BIN/EGSH_BIN and installs FRR if it is missing.
# shellcheck shell=bash
WORK=$(mktemp -d "/tmp/egressd-nstest-$TEST_NAME.XXXXXX")
FRR_DIR=$WORK/frr
PIDS=()

fail() { echo "FAIL $TEST_NAME: $*"; exit 1; }
pass() { echo "PASS $TEST_NAME"; exit 0; }

cleanup() {
    local rc=$? pid f ns
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do eg_kill_pid "$pid" 5; wait "$pid" 2>/dev/null; done
    if (( rc != 0 )); then
        for f in "${FAILURE_LOGS[@]}"; do
            [[ -s $WORK/$f ]] || continue
            echo "--- $TEST_NAME: ${f##*/} (last 40 lines)"
            tail -n 40 "$WORK/$f" | sed 's/^/    /'
        done
    fi
    for ns in "${NAMESPACES[@]}"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

[[ -n ${EGRESSD_BIN:-} && -n ${EGSH_BIN:-} ]] || fail "EGRESSD_BIN and EGSH_BIN must be set"
[[ -x /usr/lib/frr/bgpd ]] || eg_apt_ensure frr

# in_ns NS CMD...: run CMD in namespace NS (nsenter execs, so a background $! is CMD's pid).
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" -- "$@"; }
vtysh_c() { vtysh --vty_socket "$FRR_DIR" "$@" 2>&1; }
