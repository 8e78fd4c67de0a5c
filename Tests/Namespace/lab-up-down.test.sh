#!/usr/bin/env bash
# lab-up-down: the full lab a newcomer gets (`scripts/lab.sh up` with no options: two appliances,
# two Squids) comes up: status shows, per appliance, two tunnels up, four BGP sessions
# Established and both proxies with buckets; the stand-in routes over its four tunnels;
# `lab.sh traffic 6` carries HTTP through both proxies and TCP/UDP echo with no error. Then
# `down` leaves no namespace, no process and no state dir behind, and a second `down` succeeds.
TEST_NAME="lab-up-down"  # used by lib.sh
export LAB_APPLIANCES=2 LAB_PROXIES=1   # the defaults of scripts/lab.sh (lib.sh would pick the light lab)
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"

start=$(date +%s)
lab_up
echo "    full lab up in $(( $(date +%s) - start )) s (load average $(cut -d' ' -f1 /proc/loadavg))"
pids=$(cat "$LAB_STATE"/*.pid 2>/dev/null | tr '\n' ' ')
[[ $(wc -w <<<"$pids") -ge 9 ]] || fail "expected pid files for tgw, app1, app2, FRR (3), 2 Squids and inet-server, found: $pids"
"$LAB" status >"$WORK/status.log" 2>&1 || fail "scripts/lab.sh status failed: $(cat "$WORK/status.log")"
for app in app1 app2; do
    section=$(sed -n "/^${LAB_PREFIX}$app /,/^${LAB_PREFIX}[a-z0-9]* /p" "$WORK/status.log")
    [[ $(grep -c '^   tunnel tgw[01] *up ' <<<"$section") == 2 ]] || fail "status: $app has not two tunnels up: $section"
    [[ $(grep -c '^   bgp .* Established ' <<<"$section") == 4 ]] || fail "status: $app has not four sessions Established: $section"
    grep -q '^   wccp   80  10.0.3.11 usable 128 buckets, 10.0.3.12 usable 128 buckets' <<<"$section" \
        || fail "status: $app's WCCP does not show both proxies with 128 buckets: $section"
done
for t in tgw0 tgw1 tgw2 tgw3; do
    grep -q "tgw kernel: .*dev $t " "$WORK/status.log" || fail "status: the stand-in's default route does not use $t"
done
"$LAB" traffic 6 >"$WORK/traffic.log" 2>&1 || fail "lab.sh traffic failed: $(tail -n 5 "$WORK/traffic.log")"
for want in "http_errors: 0 " "tcp_errors: 0 " "udp_errors: 0 " "dl_errors: 0 "; do
    grep -q "^$want" "$WORK/traffic.log" || fail "traffic: no '$want': $(grep -E '^[a-z0-9_]+: ' "$WORK/traffic.log" | paste -sd ' ' -)"
done
for p in proxy1 proxy2; do
    grep -Eq "^http_via_$p: [1-9]" "$WORK/traffic.log" || fail "traffic: no request went through $p: $(grep via "$WORK/traffic.log")"
done
[[ -s $LAB_STATE/traffic.json ]] || fail "traffic wrote no JSON summary"

"$LAB" down >"$WORK/down1.log" 2>&1 || fail "scripts/lab.sh down failed: $(cat "$WORK/down1.log")"
left=$(ip netns list | awk '{print $1}' | grep -c -- "^$LAB_PREFIX")
(( left == 0 )) || fail "$left namespaces with prefix $LAB_PREFIX left: $(ip netns list | grep "^$LAB_PREFIX")"
for pid in $pids; do
    eg_pid_gone "$pid" || fail "process $pid still runs after down: $(ps -o args= -p "$pid")"
done
# No process may still name this lab's state dir on its command line.
for cmdline in /proc/[0-9]*/cmdline; do
    tr '\0' ' ' 2>/dev/null <"$cmdline" | grep -qF -- "$LAB_STATE/" \
        && fail "process ${cmdline//[^0-9]/} still refers to $LAB_STATE: $(tr '\0' ' ' <"$cmdline")"
done
[[ ! -e $LAB_STATE ]] || fail "state dir $LAB_STATE left behind"
"$LAB" down >"$WORK/down2.log" 2>&1 || fail "second scripts/lab.sh down failed: $(cat "$WORK/down2.log")"
pass
