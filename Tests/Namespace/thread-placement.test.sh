#!/usr/bin/env bash
# thread-placement: `dataplane worker cpus 1` with egressd allowed on CPUs 0,1 (taskset): the
# worker thread (egressd-w0) may run on CPU 1 only and every other thread of egressd on CPU 0
# only (/proc/PID/task/*/status Cpus_allowed_list), also the threads made after start (shell
# sessions, a metrics scrape); `dataplane worker realtime` puts the worker on SCHED_FIFO 1 and
# nothing else; refused without CAP_SYS_NICE (a log line, the worker runs SCHED_OTHER); a CPU
# the process may not use is refused at --check and start (one line) and in `configure
# terminal` (running config unchanged). Namespaces egressd-tp<pid>-a/-b (a veth between them).
TEST_NAME="thread-placement"
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$NS_TEST_DIR/../../scripts/lib/common.sh"
set -uo pipefail
[[ -n ${EGRESSD_BIN:-} ]] || { echo "FAIL $TEST_NAME: EGRESSD_BIN is not set"; exit 1; }
EGSH_BIN=${EGSH_BIN:-$(dirname "$EGRESSD_BIN")/egsh}
NSA=egressd-tp$$-a NSB=egressd-tp$$-b
WORK=$(mktemp -d /tmp/egressd-nstest-thread-placement.XXXXXX)
PID=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $PID ]] && eg_kill_pid "$PID" 3
    ip netns del "$NSA" 2>/dev/null; ip netns del "$NSB" 2>/dev/null
    rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM
fail() {
    echo "FAIL $TEST_NAME: $*"
    [[ -f $WORK/egressd.log ]] && tail -n 20 "$WORK/egressd.log" | sed 's/^/    log: /'
    exit 1
}

if (( $(nproc) < 2 )); then echo "PASS $TEST_NAME (skipped: one CPU, nothing to place)"; exit 0; fi

ip netns add "$NSA" && ip netns add "$NSB" || fail "cannot create namespaces"
ip -n "$NSA" link add tp0 type veth peer name tp1 netns "$NSB" || fail "cannot create the veth"
ip -n "$NSA" link set lo up && ip -n "$NSA" link set tp0 up && ip -n "$NSB" link set tp1 up || fail "cannot set the veth up"
ip -n "$NSA" addr add 10.97.0.1/24 dev tp0 && ip -n "$NSB" addr add 10.97.0.2/24 dev tp1 || fail "cannot address the veth"
base() {
    cat <<CONF
hostname tp
interface tgw0
 tunnel connect-peer p1 source 10.97.0.1 destination 10.97.0.2
 ip address 169.254.9.1/29
metrics listen 127.0.0.1:9561
CONF
}
egsh() { "$EGSH_BIN" --socket "$WORK/a.sock" "$@"; }

# start CONF [PREFIX...]: egressd in NSA on CPUs 0,1 (PREFIX runs it, e.g. setpriv); sets PID.
start() {
    local conf=$1; shift
    ip netns exec "$NSA" taskset -c 0,1 "$@" "$EGRESSD_BIN" --config "$conf" --socket "$WORK/a.sock" \
        >"$WORK/egressd.log" 2>&1 &
    PID=$!
    eg_wait 20 egsh -c "show interfaces json" >/dev/null 2>&1 || fail "egressd did not start"
}
stop() { eg_kill_pid "$PID" 5; PID=; }

# threads: "TID COMM CPUS POLICY" per thread of egressd (policy: 0 other, 1 fifo).
threads() {
    local t
    for t in /proc/"$PID"/task/*; do
        printf '%s %s %s %s\n' "${t##*/}" "$(cat "$t/comm")" \
            "$(awk '/^Cpus_allowed_list/ { print $2 }' "$t/status")" "$(awk '$1 == "policy" { print $3 }' "$t/sched")"
    done
}

# check_placement WHAT: one worker, on CPU 1 alone; every other thread on CPU 0 alone.
check_placement() {
    local all workers others
    all=$(threads)
    workers=$(awk '$2 == "egressd-w0"' <<<"$all")
    [[ $(wc -l <<<"$workers") == 1 && -n $workers ]] || fail "$1: no single worker thread egressd-w0 in: $all"
    [[ $(awk '{ print $3 }' <<<"$workers") == 1 ]] || fail "$1: the worker may run on CPUs $(awk '{ print $3 }' <<<"$workers"), want 1"
    others=$(awk '$2 != "egressd-w0" && $3 != "0"' <<<"$all")
    [[ -z $others ]] || fail "$1: threads not confined to CPU 0: $others"
    echo "    $1: worker on CPU 1, $(( $(wc -l <<<"$all") - 1 )) other threads on CPU 0"
}

# 1. Placement at start, and for threads made afterwards.
base >"$WORK/place.conf"
echo "dataplane worker cpus 1" >>"$WORK/place.conf"
start "$WORK/place.conf"
check_placement "at start"
for _ in 1 2 3; do egsh -c "show running-config" >/dev/null; egsh -c "show dataplane" >/dev/null; done
ip netns exec "$NSA" curl -s --max-time 5 http://127.0.0.1:9561/metrics | grep -q '^egressd_' || fail "no metrics page"
check_placement "after shell sessions and a scrape"
egsh -c "show running-config" | grep -qx "dataplane worker cpus 1" || fail "running-config lacks 'dataplane worker cpus 1'"
grep -q "thread placement: 1 worker(s) on CPU 1" "$WORK/egressd.log" || fail "no thread placement log line"
egsh -c "show dataplane" | grep -q "threads: workers on CPU 1, other threads on CPU 0; worker scheduling normal" \
    || fail "show dataplane: $(egsh -c "show dataplane" | grep threads)"
[[ $(threads | awk '$4 != 0' | wc -l) == 0 ]] || fail "a thread is not SCHED_OTHER without realtime: $(threads)"

# 2. A CPU the process may not use: refused in configure terminal, running config unchanged.
out=$(egsh -c "configure terminal" -c "dataplane worker cpus 7" -c "end" 2>&1)
grep -q "CPU 7 is not among the CPUs egressd may run on (0,1" <<<"$out" || fail "configure terminal accepted CPU 7: $out"
egsh -c "show running-config" | grep -qx "dataplane worker cpus 1" || fail "running-config changed after the refused line"
stop

# 3. ... and at --check and start: one line naming it.
base >"$WORK/bad.conf"
echo "dataplane worker cpus 1,7" >>"$WORK/bad.conf"
for mode in --check ""; do
    ip netns exec "$NSA" taskset -c 0,1 timeout 20 "$EGRESSD_BIN" --config "$WORK/bad.conf" --socket "$WORK/b.sock" $mode \
        >"$WORK/bad.out" 2>"$WORK/bad.err" && fail "egressd ${mode:-start} accepted CPU 7"
    [[ $(wc -l <"$WORK/bad.err") == 1 ]] && grep -q "^egressd: .*CPU 7 is not among the CPUs egressd may run on (0,1" "$WORK/bad.err" \
        || fail "egressd ${mode:-start} with CPU 7: $(cat "$WORK/bad.err")"
done
echo "    CPU 7 refused: $(cat "$WORK/bad.err")"

# 4. realtime: the worker alone on SCHED_FIFO 1; without CAP_SYS_NICE refused and said.
if ! chrt -f 1 true 2>/dev/null; then
    # A container without realtime bandwidth refuses SCHED_FIFO even to root.
    echo "    realtime: SCHED_FIFO refused to root here (chrt -f 1), realtime checks skipped"
    echo "PASS $TEST_NAME"
    exit 0
fi
echo "dataplane worker realtime" >>"$WORK/place.conf"
start "$WORK/place.conf"
check_placement "realtime"
fifo=$(threads | awk '$4 == 1 { print $2 }')
[[ $fifo == egressd-w0 ]] || fail "SCHED_FIFO threads: '${fifo//$'\n'/ }' (want the worker only)"
[[ $(awk '$1 == "prio" { print $3 }' /proc/"$PID"/task/"$(threads | awk '$4 == 1 { print $1 }')"/sched) == 98 ]] \
    || fail "the worker's priority is not FIFO 1 (kernel prio 98)"
egsh -c "show running-config" | grep -qx "dataplane worker realtime" || fail "running-config lacks 'dataplane worker realtime'"
egsh -c "show dataplane json" | grep -q '"workerScheduling": *"SCHED_FIFO 1"' || fail "show dataplane json: $(egsh -c "show dataplane json" | grep -o '"worker[A-Za-z]*": [^]]*')"
stop
start "$WORK/place.conf" setpriv --inh-caps=-sys_nice --bounding-set=-sys_nice
grep -q "SCHED_FIFO refused for worker 0: not permitted" "$WORK/egressd.log" || fail "no log line for the refused SCHED_FIFO"
[[ $(threads | awk '$4 != 0' | wc -l) == 0 ]] || fail "a thread runs SCHED_FIFO without CAP_SYS_NICE"
check_placement "realtime refused"
stop
echo "PASS $TEST_NAME"
