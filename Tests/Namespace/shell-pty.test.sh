#!/usr/bin/env bash
# shell-pty: a real egsh in a pseudo-terminal (pexpect, shell_pty.py) against an egressd running
# with a one-tunnel config in its own network namespace: `sh ver` abbreviation, TAB completing
# `show int`, `?` listing next words with help, the caret under a bad word, `conf t` and
# config-if prompts, an `ip address` change that reaches the kernel (`ip -n NS addr`) and
# `show interfaces tgw0 json`, `write memory` with FILE.bak, history across egsh runs; then
# `egsh -c` with an output filter, non-zero exit statuses for scripts, `show logging`, and the
# socket's mode and --socket-group.
# Needs no lab: the namespace's lo holds the underlay address 192.0.2.10/24.
TEST_NAME="shell-pty"
set -uo pipefail
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NS_TEST_DIR/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"
PY=/usr/bin/python3
NS=egsh-pty-$$
WORK=$(mktemp -d "/tmp/egressd-nstest-${TEST_NAME}.XXXXXX")
DAEMON_PID=

fail() { echo "FAIL $TEST_NAME: $*"; exit 1; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $DAEMON_PID ]] && eg_kill_pid "$DAEMON_PID" 5
    if (( rc != 0 )) && [[ -s $WORK/daemon.log ]]; then
        echo "--- $TEST_NAME: daemon.log (last 40 lines)"
        tail -n 40 "$WORK/daemon.log" | sed 's/^/    /'
    fi
    ip netns del "$NS" 2>/dev/null
    rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

[[ -n ${EGRESSD_BIN:-} && -x ${EGSH_BIN:-} ]] || fail "EGRESSD_BIN/EGSH_BIN not set (run through Tests/Namespace/run.sh)"
"$PY" -c 'import pexpect' 2>/dev/null || fail "python3-pexpect is not installed (apt-get install python3-pexpect)"

ip netns add "$NS" || fail "cannot create namespace $NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 192.0.2.10/24 dev lo || fail "cannot address lo in $NS"

CONF=$WORK/egressd.conf SOCK=$WORK/egressd.sock
cat >"$CONF" <<'CONFIG'
hostname egress-pty
!
interface tgw0
 tunnel connect-peer peer-a source 192.0.2.10 destination 192.0.2.1
 ip address 169.254.6.1/29
!
CONFIG
ip netns exec "$NS" "$EGRESSD_BIN" --config "$CONF" --socket "$SOCK" --socket-group nogroup \
    >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
eg_wait 20 test -S "$SOCK" || fail "egressd did not open $SOCK"
[[ $(stat -c %a:%G "$SOCK") == 660:nogroup ]] || fail "socket mode:group is $(stat -c %a:%G "$SOCK"), not 660:nogroup"

# The pexpect session (prints what failed; checks the kernel through `ip -n NS`).
"$PY" "$NS_TEST_DIR/shell_pty.py" --egsh "$EGSH_BIN" --socket "$SOCK" --netns "$NS" \
    --config "$CONF" --history "$WORK/history" || fail "interactive session (see above)"

# Scripts: -c with a filter, the exit status of a bad command, commands on standard input.
out=$("$EGSH_BIN" --socket "$SOCK" -c "show running-config | include ^interface|ip address") \
    || fail "egsh -c with a filter failed: $out"
[[ $out == $'interface tgw0\n ip address 169.254.7.1/29' ]] || fail "filtered running-config is '$out'"
"$EGSH_BIN" --socket "$SOCK" -c "show bogus" >/dev/null 2>&1 && fail "egsh -c 'show bogus' exited 0"
printf 'configure terminal\ninterface tgw0\n description via stdin\nend\n' \
    | "$EGSH_BIN" --socket "$SOCK" >"$WORK/stdin.out" 2>&1 || fail "stdin script failed: $(cat "$WORK/stdin.out")"
"$EGSH_BIN" --socket "$SOCK" -c "show interfaces tgw0" | grep -q "Description: via stdin" \
    || fail "description typed on standard input did not take effect"
printf 'configure terminal\ninterface tgw0\n ip address 169.254.6.1/40\nend\n' \
    | "$EGSH_BIN" --socket "$SOCK" >/dev/null 2>&1 && fail "stdin script with a bad line exited 0"
ip -n "$NS" -4 addr show dev tgw0 | grep -q "169.254.7.1/29" || fail "a refused line changed the kernel address"
"$EGSH_BIN" --socket "$SOCK" -c "show logging" | grep -q "configuration changed from the shell: ip address 169.254.7.1/29" \
    || fail "show logging lacks the shell's change"
kill -0 "$DAEMON_PID" 2>/dev/null || fail "egressd died"
echo "PASS $TEST_NAME"
