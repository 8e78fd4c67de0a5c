#!/usr/bin/env bash
# startup-errors: each way egressd can fail to start exits non-zero with exactly one line on
# standard error that names the problem and what to do: missing config, unreadable config, bad
# config line, no /dev/net/tun (a mount namespace without it), no permission (an unprivileged
# user), the shell socket in use by a live egressd, unknown --user. Runs in namespaces of its
# own (egressd-se<pid>-a/-b); nothing is left behind.
TEST_NAME="startup-errors"
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$NS_TEST_DIR/../../scripts/lib/common.sh"
set -uo pipefail
[[ -n ${EGRESSD_BIN:-} ]] || { echo "FAIL $TEST_NAME: EGRESSD_BIN is not set"; exit 1; }
NSA=egressd-se$$-a NSB=egressd-se$$-b
WORK=$(mktemp -d /tmp/egressd-nstest-startup-errors.XXXXXX)
PIDS=()
cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do eg_kill_pid "$pid" 3; done
    ip netns del "$NSA" 2>/dev/null; ip netns del "$NSB" 2>/dev/null
    rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM
fail() { echo "FAIL $TEST_NAME: $*"; exit 1; }

ip netns add "$NSA" && ip netns add "$NSB" || fail "cannot create namespaces"
# An Ethernet interface that is up in NSA, as on any appliance: without one the default
# io-backend afxdp has nothing to attach its XDP program to and logs its fallback to tpacket
# (an info line on stderr) before the start-up failure a case looks at.
ip -n "$NSA" link add se0 type veth peer name se1 && ip -n "$NSA" link set se0 up && ip -n "$NSA" link set se1 up \
    || fail "cannot create the veth in $NSA"
chmod 0755 "$WORK"
cat >"$WORK/good.conf" <<'CONF'
hostname se
interface tgw0
 tunnel connect-peer p1 source 10.99.0.1 destination 10.99.0.2
 ip address 169.254.9.1/29
CONF
printf 'hostname se\ninterface tgw0\n tunnel connect-peer p1 source 10.99.0.1 destinaton 10.99.0.2\n' >"$WORK/bad.conf"
cp "$WORK/good.conf" "$WORK/secret.conf" && chmod 0600 "$WORK/secret.conf"
chmod 0644 "$WORK/good.conf" "$WORK/bad.conf"

# expect CASE PATTERN CMD...: CMD exits non-zero within 20 s with one stderr line matching PATTERN.
expect() {
    local name=$1 pattern=$2 rc lines; shift 2
    timeout 20 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    rc=$?
    (( rc != 0 && rc != 124 )) || fail "$name: exit status $rc (want a quick non-zero exit)"
    lines=$(wc -l <"$WORK/$name.err")
    (( lines == 1 )) || fail "$name: $lines lines on stderr (want 1): $(head -c 600 "$WORK/$name.err")"
    grep -Eq "^egressd: .*$pattern" "$WORK/$name.err" || fail "$name: '$(cat "$WORK/$name.err")' does not match '$pattern'"
    echo "    $name: $(cat "$WORK/$name.err")"
}
IN_A=(ip netns exec "$NSA")
RUN_A=(ip netns exec "$NSA" "$EGRESSD_BIN" --socket "$WORK/a.sock")

expect missing-config "cannot read the configuration file $WORK/none.conf .*: create it" \
    "${RUN_A[@]}" --config "$WORK/none.conf"
expect unreadable-config "cannot read the configuration file .*secret.conf .*: make it readable" \
    "${IN_A[@]}" setpriv --reuid=nobody --regid=nogroup --clear-groups "$EGRESSD_BIN" --config "$WORK/secret.conf" --socket "$WORK/n.sock"
expect bad-config "bad.conf:3:[0-9]+: .*: fix the file \\(egressd --check" \
    "${RUN_A[@]}" --config "$WORK/bad.conf"
expect no-tun "/dev/net/tun" \
    "${IN_A[@]}" unshare --mount --propagation private -- bash -c \
    'mount -t tmpfs egressd-empty /dev/net && exec "$@"' _ "$EGRESSD_BIN" --config "$WORK/good.conf" --socket "$WORK/t.sock"
expect no-permission "not enough privileges .*run it as root" \
    "${IN_A[@]}" setpriv --reuid=nobody --regid=nogroup --clear-groups "$EGRESSD_BIN" --config "$WORK/good.conf" --socket "$WORK/p.sock"
expect unknown-user "unknown user 'egressd-no-such-user-$$' for --user" \
    "${RUN_A[@]}" --config "$WORK/good.conf" --user "egressd-no-such-user-$$"

# The socket of a live egressd: a second one must not take it over.
ip netns exec "$NSA" "$EGRESSD_BIN" --config "$WORK/good.conf" --socket "$WORK/live.sock" >"$WORK/live.log" 2>&1 &
PIDS+=($!)
eg_wait 20 test -S "$WORK/live.sock" || fail "the first egressd did not start: $(cat "$WORK/live.log")"
expect socket-in-use "another egressd is running on $WORK/live.sock: stop it, or give this one another --socket" \
    ip netns exec "$NSB" "$EGRESSD_BIN" --config "$WORK/good.conf" --socket "$WORK/live.sock"
kill -0 "${PIDS[0]}" 2>/dev/null || fail "the first egressd died"
[[ -S $WORK/live.sock ]] || fail "the second egressd removed the live socket"
echo "PASS $TEST_NAME"
