#!/usr/bin/env bash
# least-privilege: the lab with both egressd started as root with --user nobody: app1's daemon
# (the default io-backend afxdp) runs as uid/gid nobody with exactly CAP_NET_ADMIN, CAP_NET_RAW,
# CAP_NET_BIND_SERVICE plus the two afxdp needs, CAP_IPC_LOCK and CAP_BPF (effective = permitted
# = bounding, no inheritable or ambient, no_new_privs), and really runs afxdp (no fallback); the
# stand-in's (pinned to `dataplane io-backend tpacket` by scripts/lab.sh) keeps only the three;
# its shell answers; spoke traffic flows; a config change by SIGHUP (tgw1 shut: TUN down, kernel
# multipath route loses it; restored) still works through netlink after the drop.
TEST_NAME="least-privilege"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"

id nobody >/dev/null 2>&1 || fail "no user 'nobody' on this machine"
export LAB_EGRESSD_USER=nobody
lab_up
uid=$(id -u nobody) gid=$(id -g nobody)
base_caps=0000000000003400   # bits 10, 12, 13
xdp_caps=0000008000007400    # and 14 (CAP_IPC_LOCK), 39 (CAP_BPF)
# check_daemon NODE CAPS: NODE's egressd and each of its threads run as nobody with exactly CAPS.
check_daemon() {
    local node=$1 want_caps=$2 pid status
    pid=$(cat "$LAB_STATE/$node.pid")
    status=/proc/$pid/status
    [[ -r $status ]] || fail "$node's egressd (pid $pid) is not running"
    field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$status"; }
    [[ $(field Uid) == "$uid $uid $uid $uid" ]] || fail "$node: Uid is '$(field Uid)', want $uid everywhere"
    [[ $(field Gid) == "$gid $gid $gid $gid" ]] || fail "$node: Gid is '$(field Gid)', want $gid everywhere"
    for f in CapEff CapPrm CapBnd; do
        [[ $(field $f) == "$want_caps" ]] || fail "$node: $f is $(field $f), want $want_caps"
    done
    [[ $(field CapInh) == 0000000000000000 ]] || fail "$node: CapInh is $(field CapInh)"
    [[ $(field CapAmb) == 0000000000000000 ]] || fail "$node: CapAmb is $(field CapAmb)"
    [[ $(field NoNewPrivs) == 1 ]] || fail "$node: NoNewPrivs is $(field NoNewPrivs)"
    # Every thread (workers, the control event loop) has the same credentials.
    for t in /proc/$pid/task/*/status; do
        grep -q "^CapEff:[[:space:]]*$want_caps\$" "$t" || fail "$node: thread ${t%/status} has $(grep CapEff "$t")"
    done
}
check_daemon app1 "$xdp_caps"
check_daemon tgw "$base_caps"
# app1 loaded its XDP program and AF_XDP sockets with just these.
dp=$(egsh_json app1 "show dataplane json")
[[ $(json_get "$dp" "d['ioBackend'], d['ioBackendFallback']") == "('afxdp', None)" ]] \
    || fail "app1 as nobody does not run afxdp: $(json_get "$dp" "d['ioBackend'], d['ioBackendFallback']")"

# Traffic both ways through the tunnels.
body=$(in_node spoke1 curl -s -m 10 http://198.51.100.80/) || fail "curl from spoke1 failed after the drop"
[[ $body == "egressd lab origin" ]] || fail "unexpected body: '$body'"

# A config change after the drop: tgw1 shut (netlink: link down, routes replaced), then restored.
routes() { in_node app1 ip route show proto 218 10.1.0.0/16; }
routes | grep -q tgw1 || fail "kernel route for 10.1.0.0/16 lacks tgw1 at start: $(routes)"
set_shutdown app1 tgw1 on
eg_wait 10 bash -c "! '$LAB' exec app1 ip route show proto 218 10.1.0.0/16 | grep -q tgw1" \
    || fail "after shutdown + SIGHUP the kernel route still uses tgw1: $(routes)"
set_shutdown app1 tgw1 off
eg_wait 10 bash -c "'$LAB' exec app1 ip route show proto 218 10.1.0.0/16 | grep -q tgw1" \
    || fail "after no shutdown + SIGHUP the kernel route lacks tgw1: $(routes)"
grep -q "reload failed\|reload rejected" "$LAB_STATE/app1.log" && fail "a reload failed: $(grep reload "$LAB_STATE/app1.log" | tail -1)"
body=$(in_node spoke2 curl -s -m 10 http://198.51.100.80/) || fail "curl from spoke2 failed after the reloads"
pass
