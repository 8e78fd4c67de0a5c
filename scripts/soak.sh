#!/usr/bin/env bash
# Soak: the mixed load for MINUTES with drills repeated at random, then the verdict:
#   * no crash: every daemon (egressd in tgw/app1/app2, bgpd/zebra or BIRD, Squids, the origin)
#     still runs with the pid it had, except where a drill restarted it (then the new one runs);
#   * memory flat: each egressd's VmRSS (/proc/PID/status, sampled every SOAK_SAMPLE s) after
#     the warm-up (the first SOAK_WARMUP s, default a fifth of the run, at least 60 s) grows by
#     at most 5 % (median of the first three samples vs the last three) for every process that
#     ran the whole time after the warm-up;
#   * accounting: per tunnel of every egressd
#       rxPackets + kernelInput == decapForwarded + decapToKernel + decapRedirected
#                                  + encapFromKernel + sum(drops by reason)
#     and engine-wide greReceived == sum(rxPackets) + unknown-peer + bad-outer drops
#     (show interfaces json / show dataplane json; read after the load stops, re-read until
#     stable, as packets in flight land between the reads);
#   * every drill's verdict (scripts/drill.sh) is printed; a failed drill fails the soak.
# Usage: scripts/soak.sh MINUTES
# Uses the running lab (LAB_PREFIX, default eg-) or brings the full lab up (and leaves it up).
# Environment: SOAK_DRILLS (space-separated; default: all that the lab supports),
#   SOAK_SEED (random seed, default: the time), SOAK_PAUSE (max seconds between drills, 20),
#   SOAK_WARMUP, SOAK_SAMPLE (RSS sample period, default 10 s).
# Not in CI (too long). Exit 0 when every check passed.
set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$SCRIPTS/lib/common.sh"
# shellcheck source=lib/lab_state.sh
source "$SCRIPTS/lib/lab_state.sh"

(( EUID == 0 )) || eg_die "the soak needs root (the lab)"
[[ ${1:-} =~ ^[0-9]+$ ]] && (( $1 >= 1 )) || { sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
MINUTES=$1
SECONDS_TOTAL=$(( MINUTES * 60 ))
WARMUP=${SOAK_WARMUP:-$(( SECONDS_TOTAL / 5 > 60 ? SECONDS_TOTAL / 5 : 60 ))}
(( WARMUP < SECONDS_TOTAL )) || WARMUP=$(( SECONDS_TOTAL / 2 ))
SAMPLE=${SOAK_SAMPLE:-10}
SEED=${SOAK_SEED:-$(date +%s)}
RANDOM=$SEED
log() { printf '[soak %s] %s\n' "$(date +%T)" "$*" >&2; }

eg_lab_attach "$SCRIPTS" log   # LAB PY P STATE APPLIANCES PROXIES EGSH
APPS=(app1); (( APPLIANCES == 2 )) && APPS+=(app2)
EGRESSD_NODES=(tgw "${APPS[@]}")

if [[ -n ${SOAK_DRILLS:-} ]]; then
    read -ra DRILLS <<<"$SOAK_DRILLS"
else
    DRILLS=(config-reload)
    (( APPLIANCES == 2 )) && DRILLS+=(tunnel-down appliance-down egress-path-down)
    [[ $(cat "$STATE/drain.supported" 2>/dev/null) == 1 ]] && DRILLS+=(appliance-restart)
    [[ $PROXIES == 1 ]] && DRILLS+=(proxy-down)   # always followed by proxy-up
fi

WORK=$(mktemp -d /tmp/egressd-soak.XXXXXX)
OUT=$STATE/soak; mkdir -p "$OUT"
LOAD_PID=""
cleanup() {
    local rc=$?
    [[ -n $LOAD_PID ]] && eg_kill_pid "$LOAD_PID" 5
    rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Daemons and their pids at the start (name -> pid); drills that restart one update it.
declare -A PID
for f in "$STATE"/*.pid; do
    name=$(basename "$f" .pid)
    [[ $name == traffic ]] && continue
    PID[$name]=$(cat "$f")
done
declare -A RESTARTED=()

log "soak of $MINUTES min on lab '$P' (seed $SEED; drills: ${DRILLS[*]}; warm-up ${WARMUP} s; results in $OUT)"
"$PY" "$SCRIPTS/lib/lab_load.py" --spokes "${P}spoke1,${P}spoke2" --prefix "$P" --quiet \
    --json "$OUT/load.json" >"$OUT/load.log" 2>&1 &
LOAD_PID=$!

# RSS sampler: "seconds node pid kB" lines.
sample_rss() {
    local t=$1 node pid kb
    for node in "${EGRESSD_NODES[@]}"; do
        pid=$(cat "$STATE/$node.pid" 2>/dev/null) || continue
        kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
        [[ -n $kb ]] && echo "$t $node $pid $kb" >>"$OUT/rss.txt"
    done
}
: >"$OUT/rss.txt"
: >"$OUT/drills.txt"
START=$(date +%s)
next_sample=0
failed_drills=0
run_drill() {
    local d=$1 rc=0
    log "drill $d"
    "$SCRIPTS/drill.sh" "$d" >"$OUT/drill-$(date +%s)-$d.log" 2>&1 || rc=$?
    local verdict
    verdict=$(grep -h '^result: ' "$OUT"/drill-*-"$d".log | tail -n 1)
    echo "$(( $(date +%s) - START )) s: $d: ${verdict:-no verdict (exit $rc)} $(grep -h '^time_disturbed: ' "$OUT"/drill-*-"$d".log | tail -n 1)" | tee -a "$OUT/drills.txt" >&2
    (( rc == 0 )) || failed_drills=$((failed_drills + 1))
    case $d in
        appliance-down|appliance-restart) RESTARTED[app1]=1 ;;
        proxy-up) RESTARTED[squid-${DRILL_PROXY:-proxy2}]=1 ;;
    esac
}
while (( $(date +%s) - START < SECONDS_TOTAL )); do
    now=$(( $(date +%s) - START ))
    if (( now >= next_sample )); then sample_rss "$now"; next_sample=$(( now + SAMPLE )); fi
    # A drill now and then (not in the warm-up, none that would outlast the run).
    if (( now >= WARMUP / 2 && SECONDS_TOTAL - now > 90 && RANDOM % 100 < 10 )); then
        d=${DRILLS[RANDOM % ${#DRILLS[@]}]}
        run_drill "$d"
        [[ $d == proxy-down ]] && run_drill proxy-up
        sleep $(( RANDOM % ${SOAK_PAUSE:-20} ))
        continue
    fi
    sleep 1
done
sample_rss "$(( $(date +%s) - START ))"
kill -TERM "$LOAD_PID"; eg_wait 20 eg_pid_gone "$LOAD_PID" || true; LOAD_PID=""
sleep 2

# --- verdict ----------------------------------------------------------------------------------
bad=0
echo "--- drills (seed $SEED)"
cat "$OUT/drills.txt"
(( failed_drills == 0 )) || { echo "FAIL: $failed_drills drill(s) failed"; bad=1; }

echo "--- daemons"
for name in "${!PID[@]}"; do
    now_pid=$(cat "$STATE/$name.pid" 2>/dev/null || echo gone)
    if [[ $now_pid != "${PID[$name]}" && -z ${RESTARTED[$name]:-} ]]; then
        echo "FAIL: $name: pid ${PID[$name]} -> $now_pid without a drill restarting it"; bad=1
    elif [[ $now_pid == gone ]] || eg_pid_gone "$now_pid"; then
        echo "FAIL: $name (pid $now_pid) is not running"; bad=1
    else
        echo "ok: $name pid $now_pid running$([[ $now_pid != "${PID[$name]}" ]] && echo " (restarted by a drill, was ${PID[$name]})")"
    fi
done

echo "--- memory (VmRSS after the ${WARMUP} s warm-up)"
"$PY" - "$OUT/rss.txt" "$WARMUP" <<'PY' || bad=1
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
warm = float(sys.argv[2])
series = {}
for t, node, pid, kb in rows:
    series.setdefault((node, pid), []).append((float(t), int(kb)))
ok = True
for (node, pid), s in sorted(series.items()):
    after = [kb for t, kb in s if t >= warm]
    if s[0][0] > warm or len(after) < 6:
        print("skip: %s pid %s: %d samples after the warm-up (started or ended within the run)" % (node, pid, len(after)))
        continue
    first, last = statistics.median(after[:3]), statistics.median(after[-3:])
    growth = (last - first) / first * 100
    verdict = "ok" if growth <= 5 else "FAIL"
    ok = ok and growth <= 5
    print("%s: %s pid %s rss_after_warmup: %d kB rss_end: %d kB rss_growth: %.1f %%" % (verdict, node, pid, first, last, growth))
sys.exit(0 if ok else 1)
PY

echo "--- accounting (per tunnel: rx + kernelInput == forwarded + toKernel + redirected + encapFromKernel + drops)"
for node in "${EGRESSD_NODES[@]}"; do
    pid=$(cat "$STATE/$node.pid")
    result=""
    for _ in 1 2 3 4 5; do
        # The engine's totals are read before and after the tunnels', so packets that land
        # between the reads (BGP keepalives go on) leave the check bracketed, not off by one.
        result=$(printf '{"before": %s, "interfaces": %s, "after": %s}' \
            "$("$EGSH" --socket "$STATE/$node.sock" -c "show dataplane json")" \
            "$("$EGSH" --socket "$STATE/$node.sock" -c "show interfaces json")" \
            "$("$EGSH" --socket "$STATE/$node.sock" -c "show dataplane json")" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
wrong, lines, rx = [], [], 0
for i in d["interfaces"]["interfaces"]:
    c = i["counters"]
    inputs = c["rxPackets"] + c["kernelInput"]
    drops = sum(c["drops"].values())
    outcomes = c["decapForwarded"] + c["decapToKernel"] + c["decapRedirected"] + c["encapFromKernel"] + drops
    rx += c["rxPackets"]
    lines.append("%s: in %d = fwd %d + kernel %d + redirected %d + encap %d + drops %d%s" % (
        i["name"], inputs, c["decapForwarded"], c["decapToKernel"], c["decapRedirected"],
        c["encapFromKernel"], drops, "" if inputs == outcomes else "  MISMATCH %+d" % (inputs - outcomes)))
    if inputs != outcomes: wrong.append(i["name"])
def other(e): return e["greReceived"] - e["drops"]["unknown-peer"] - e["drops"]["bad-outer"]
b, a = d["before"]["counters"], d["after"]["counters"]
ok = other(b) <= rx <= other(a)
lines.append("engine: greReceived %d..%d - unknown-peer - bad-outer = %d..%d, tunnels rx %d%s" % (
    b["greReceived"], a["greReceived"], other(b), other(a), rx, "" if ok else "  MISMATCH"))
if not ok: wrong.append("engine")
print(("ok" if not wrong else "FAIL") + "\n" + "\n".join(lines))')
        [[ $result == ok* ]] && break
        sleep 1
    done
    echo "$node (pid $pid): ${result%%$'\n'*}"
    printf '%s\n' "$result" | tail -n +2 | sed 's/^/   /'
    [[ $result == ok* ]] || bad=1
done

echo "--- load over the whole soak (drills included)"
grep -E '^[a-z0-9_]+: ' "$OUT/load.log" || true
echo "result: $( ((bad == 0)) && echo PASS || echo FAIL ) soak $MINUTES min (lab '$P', seed $SEED, load avg $(cut -d' ' -f1-3 /proc/loadavg))"
exit "$bad"
