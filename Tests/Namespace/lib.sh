# shellcheck shell=bash
# Shared setup for the namespace tests. A test sets TEST_NAME, sources this file, calls lab_up,
# checks things, and ends with `pass`; `fail WHY` ends it early. Each test runs its own lab copy
# (LAB_PREFIX t<pid>-) and always tears it down (trap EXIT), printing the daemon logs on failure.
set -uo pipefail

NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NS_TEST_DIR/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"
LAB=$REPO_DIR/scripts/lab.sh
PY=/usr/bin/python3
export LAB_PREFIX=${LAB_PREFIX_OVERRIDE:-t$$-}
# Tests get the lighter one-appliance lab without proxies unless they ask for more (the
# drill tests do); `scripts/lab.sh up` alone gives the full lab.
export LAB_APPLIANCES=${LAB_APPLIANCES:-1} LAB_PROXIES=${LAB_PROXIES:-0}
LAB_STATE=/run/egressd-lab/$LAB_PREFIX
WORK=$(mktemp -d "/tmp/egressd-nstest-${TEST_NAME}.XXXXXX")
BG_PIDS=()
# Namespaces a test makes beside the lab's (deleted, with what runs in them, before the lab goes down).
TEST_NAMESPACES=()

# fail WHY: report the failure and end the test (cleanup runs from the EXIT trap).
fail() { echo "FAIL $TEST_NAME: $*"; exit 1; }
# pass: report success and end the test.
pass() { echo "PASS $TEST_NAME"; exit 0; }

ns_test_cleanup() {
    local rc=$? f pid name
    trap - EXIT INT TERM
    for pid in "${BG_PIDS[@]}"; do eg_kill_pid "$pid" 3; done
    for f in "${TEST_NAMESPACES[@]}"; do
        ip netns pids "$f" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$f" 2>/dev/null
    done
    if (( rc != 0 )); then
        for f in "$LAB_STATE"/tgw.log "$LAB_STATE"/app1.log "$LAB_STATE"/app2.log "$LAB_STATE"/inet-server.log \
            "$LAB_STATE"/proxy1/cache.log "$LAB_STATE"/proxy2/cache.log "$WORK"/up.log; do
            [[ -s $f ]] || continue
            name=${f#"$LAB_STATE"/}
            echo "--- $TEST_NAME: ${name#"$WORK"/} (last 40 lines)"
            tail -n 40 "$f" | sed 's/^/    /'
        done
    fi
    "$LAB" down >"$WORK/down.log" 2>&1 || { echo "warning: lab down failed:"; cat "$WORK/down.log"; }
    rm -rf -- "$WORK"
    exit "$rc"
}
trap ns_test_cleanup EXIT
trap 'fail "interrupted"' INT TERM

# lab_up: bring up this test's lab (debug binaries from EGRESSD_BIN/EGSH_BIN).
lab_up() {
    [[ -n ${EGRESSD_BIN:-} ]] || fail "EGRESSD_BIN is not set (run through Tests/Namespace/run.sh)"
    "$LAB" up >"$WORK/up.log" 2>&1 || { sed 's/^/    /' "$WORK/up.log"; fail "scripts/lab.sh up failed"; }
}

# proxy_segment NS ROUTER ADDRESS...: namespace NS (the test lists it in TEST_NAMESPACES) on a
# /24 with app1: app1's wc0 has ROUTER, NS's eth0 each ADDRESS (a cache, a second sender...).
proxy_segment() {
    local ns=$1 router=$2 a; shift 2
    ip netns add "$ns" || fail "cannot create namespace $ns"
    ip -n "$ns" link set lo up
    ip -n "${LAB_PREFIX}app1" link add wc0 type veth peer name eth0 netns "$ns" || fail "cannot create the proxy veth"
    ip -n "${LAB_PREFIX}app1" addr add "$router/24" dev wc0
    ip -n "${LAB_PREFIX}app1" link set wc0 up
    for a in "$@"; do ip -n "$ns" addr add "$a/24" dev eth0; done
    ip -n "$ns" link set eth0 up
}

# udp_flows_answered COUNT BASE-PORT WHAT: COUNT UDP echo flows from spoke1 to the origin
# (udp_flows.py, source ports from BASE-PORT, its report in $WORK/flows.json); fails the test,
# naming WHAT, unless every flow was answered.
udp_flows_answered() {
    local count=$1 base=$2 what=$3 answered
    in_node spoke1 "$PY" "$NS_TEST_DIR/udp_flows.py" 198.51.100.80 7 --flows "$count" --base-port "$base" \
        >"$WORK/flows.json" || fail "$what: udp_flows.py failed"
    answered=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["answered"]))' "$WORK/flows.json")
    [[ $answered == "$count" ]] || fail "$what: only $answered of $count UDP flows answered"
}

# counters_snapshot NODE: NODE's `show interfaces json` and `show dataplane json` as one
# document {"interfaces": ..., "dataplane": ...}.
counters_snapshot() {
    printf '{"interfaces": %s, "dataplane": %s}' \
        "$(egsh_json "$1" "show interfaces json")" "$(egsh_json "$1" "show dataplane json")"
}

# in_node NODE CMD...: run CMD inside the lab node.
in_node() { "$LAB" exec "$@"; }

# egsh_json NODE CMD: the JSON output of an egsh command on NODE's daemon (fails the test on error).
egsh_json() {
    local out
    out=$("$LAB" sh "$1" -c "$2" 2>&1) || fail "egsh on $1: '$2' failed: $out"
    printf '%s' "$out"
}

# json_get JSON EXPR: evaluate the Python expression EXPR over the parsed JSON (named d).
json_get() { printf '%s' "$1" | eg_json "$2"; }

# capture_start NODE IFACE FILE BPF: start tshark on NODE's IFACE, writing FILE; wait until it captures.
capture_start() {
    "$LAB" exec "$1" tshark -n -q -i "$2" -f "$4" -w "$3" >"$3.log" 2>&1 &
    CAPTURE_PID=$!
    BG_PIDS+=("$CAPTURE_PID")
    eg_wait 20 grep -q "Capturing on" "$3.log" \
        || fail "tshark did not start on $1/$2: $(cat "$3.log")"
}

# capture_stop: let the last packets land, then stop tshark and wait for it to write the file.
capture_stop() {
    sleep 1
    kill -INT "$CAPTURE_PID" 2>/dev/null
    local i
    for i in $(seq 50); do eg_pid_gone "$CAPTURE_PID" && break; sleep 0.2; done
    eg_kill_pid "$CAPTURE_PID" 2
    wait "$CAPTURE_PID" 2>/dev/null || true
}

# set_shutdown NODE IFACE on|off: add or remove `shutdown` under IFACE in NODE's live config, SIGHUP.
set_shutdown() {
    local conf=$LAB_STATE/$1.conf
    if [[ $3 == on ]]; then
        sed -i "/^interface $2\$/a\\ shutdown" "$conf"
    else
        sed -i "/^interface $2\$/,/^!/{/^ shutdown\$/d}" "$conf"
    fi
    kill -HUP "$(cat "$LAB_STATE/$1.pid")" || fail "cannot SIGHUP egressd in $1"
}

# tunnel_state NODE IFACE: the state field of IFACE in NODE's show interfaces json.
tunnel_state() {
    json_get "$(egsh_json "$1" "show interfaces json")" \
        "next(i['state'] for i in d['interfaces'] if i['name'] == '$2')"
}

# lab_bgp_silence: stop BGP in the lab (the stand-in's daemons, then app1's `router bgp`), for
# tests that count every packet decapsulated to the kernel and must not see keepalives. The
# spoke routes go with it; app1's default route to fw stays.
lab_bgp_silence() {
    local name pid
    for name in bgpd-a bgpd-b bird-a bird-b zebra; do
        [[ -f $LAB_STATE/$name.pid ]] || continue
        pid=$(cat "$LAB_STATE/$name.pid")
        eg_kill_pid "$pid" 5
    done
    "$LAB" sh app1 -c "configure terminal" -c "no router bgp" -c "end" >/dev/null 2>&1 \
        || fail "cannot remove router bgp on app1"
    sleep 1   # the last BGP packets (NOTIFICATION, FIN) land
}

# lab_bgp_wait_ecmp [SECONDS]: after tunnels were shut and restored, wait (bounded) until BGP has
# healed: app1 routes both spoke prefixes over tgw0 and tgw1 again and the stand-in's kernel has
# its default route over both. Re-adds the stand-in's .3 addresses, which a re-created TUN lacks.
lab_bgp_wait_ecmp() {
    in_node tgw ip addr replace 169.254.6.3/29 dev tgw0 2>/dev/null
    in_node tgw ip addr replace 169.254.7.3/29 dev tgw1 2>/dev/null
    healed() {
        local routes r
        routes=$("$LAB" sh app1 -c "show ip route json" 2>/dev/null) || return 1
        for p in 10.1.0.0/16 10.2.0.0/16; do
            json_get "$routes" "sorted(next((r['nexthops'] for r in d['routes'] if r['prefix'] == '$p'), []))" \
                | grep -q '"tgw0", "tgw1"' || return 1
        done
        r=$(in_node tgw ip route show 0.0.0.0/0)
        [[ $r == *"dev tgw0"* && $r == *"dev tgw1"* ]]
    }
    eg_wait "${1:-60}" healed || fail "BGP did not restore ECMP over tgw0 and tgw1 within ${1:-60} s"
}
