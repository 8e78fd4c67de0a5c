#!/usr/bin/env bash
# lab-up-down: `scripts/lab.sh up` then `down` leaves no namespace, no process and no state dir
# behind, and a second `down` succeeds.
TEST_NAME="lab-up-down"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"

lab_up
pids=$(cat "$LAB_STATE"/*.pid 2>/dev/null | tr '\n' ' ')
[[ $(wc -w <<<"$pids") -ge 3 ]] || fail "expected pid files for tgw, app1 and inet-server, found: $pids"
"$LAB" status >"$WORK/status.log" 2>&1 || fail "scripts/lab.sh status failed: $(cat "$WORK/status.log")"
grep -q tgw0 "$WORK/status.log" || fail "status shows no tunnel tgw0: $(cat "$WORK/status.log")"

"$LAB" down >"$WORK/down1.log" 2>&1 || fail "scripts/lab.sh down failed: $(cat "$WORK/down1.log")"
left=$(ip netns list | awk '{print $1}' | grep -c -- "^$LAB_PREFIX")
(( left == 0 )) || fail "$left namespaces with prefix $LAB_PREFIX left: $(ip netns list | grep "^$LAB_PREFIX")"
for pid in $pids; do
    eg_pid_gone "$pid" || fail "process $pid still runs after down: $(ps -o args= -p "$pid")"
done
# No process may still name this lab's state dir on its command line.
for cmdline in /proc/[0-9]*/cmdline; do
    tr '\0' ' ' <"$cmdline" 2>/dev/null | grep -qF -- "$LAB_STATE/" \
        && fail "process ${cmdline//[^0-9]/} still refers to $LAB_STATE: $(tr '\0' ' ' <"$cmdline")"
done
[[ ! -e $LAB_STATE ]] || fail "state dir $LAB_STATE left behind"
"$LAB" down >"$WORK/down2.log" 2>&1 || fail "second scripts/lab.sh down failed: $(cat "$WORK/down2.log")"
pass
