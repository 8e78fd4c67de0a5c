#!/usr/bin/env bash
# least-privilege: the lab with both egressd started as root with --user nobody: app1's daemon
# runs as uid/gid nobody with exactly CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE
# (effective = permitted = bounding, no inheritable or ambient, no_new_privs); its shell answers;
# spoke traffic flows; a config change by SIGHUP (tgw1 shut: TUN down, kernel multipath route
# loses it; restored) still works through netlink after the drop.
TEST_NAME="least-privilege"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"

id nobody >/dev/null 2>&1 || fail "no user 'nobody' on this machine"
export LAB_EGRESSD_USER=nobody
lab_up
pid=$(cat "$LAB_STATE/app1.pid")
status=/proc/$pid/status
[[ -r $status ]] || fail "app1's egressd (pid $pid) is not running"
uid=$(id -u nobody) gid=$(id -g nobody)
want_caps=0000000000003400   # bits 10, 12, 13
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$status"; }
[[ $(field Uid) == "$uid $uid $uid $uid" ]] || fail "Uid is '$(field Uid)', want $uid everywhere"
[[ $(field Gid) == "$gid $gid $gid $gid" ]] || fail "Gid is '$(field Gid)', want $gid everywhere"
for f in CapEff CapPrm CapBnd; do
    [[ $(field $f) == "$want_caps" ]] || fail "$f is $(field $f), want $want_caps"
done
[[ $(field CapInh) == 0000000000000000 ]] || fail "CapInh is $(field CapInh)"
[[ $(field CapAmb) == 0000000000000000 ]] || fail "CapAmb is $(field CapAmb)"
[[ $(field NoNewPrivs) == 1 ]] || fail "NoNewPrivs is $(field NoNewPrivs)"
# Every thread (workers, the control event loop) has the same credentials.
for t in /proc/$pid/task/*/status; do
    grep -q "^CapEff:[[:space:]]*$want_caps\$" "$t" || fail "thread ${t%/status} has $(grep CapEff "$t")"
done

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
