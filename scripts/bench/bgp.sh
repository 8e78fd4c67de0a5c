# shellcheck shell=bash
# The BGP table-load benchmark, sourced by scripts/bench.sh (`scripts/bench.sh bgp`).
#
#   ns inj [b0 10.77.0.1/24] ──veth── [b0 10.77.0.2/24] ns rcv
#   eg-bgpfeed (AS 64999)                 receiver (AS 65000): egressd, BIRD 2 or FRR bgpd
#
# For each receiver, in a fresh pair of namespaces: start it, let eg-bgpfeed open an eBGP
# session and send the same N prefixes (identical bytes: the feed is built before connecting,
# from a fixed seed), and poll the receiver every 50 ms with an O(1) count until all N are in:
#   egressd: `show ip route summary json` (bgp rib = Loc-RIB, fib = the engine's published table;
#            then, separately, kernel = routes its writer thread installed)
#   BIRD:    `show protocols all feed` (Routes: N imported; no kernel protocol)
#   FRR:     `show bgp ipv4 unicast summary json` (pfxRcd; bgpd without zebra)
# Time = first poll that sees N - the feeder's Established instant. RSS from /proc after.
# Expects: BENCH_PREFIX, BENCH_STATE, eg_* helpers, EGRESSD_BIN/EGSH_BIN/EG_BGPFEED_BIN resolved.
# Environment: BENCH_BGP_PREFIXES (1000000), BENCH_BGP_SETS (100000 attribute sets),
#   BENCH_BGP_RECEIVERS ("egressd bird frr"), BENCH_BGP_TIMEOUT (seconds per phase, 180).

BENCH_BGP_PREFIXES=${BENCH_BGP_PREFIXES:-1000000}
BENCH_BGP_SETS=${BENCH_BGP_SETS:-100000}
BENCH_BGP_RECEIVERS=${BENCH_BGP_RECEIVERS:-egressd bird frr}
BENCH_BGP_TIMEOUT=${BENCH_BGP_TIMEOUT:-180}
BGP_INJ_ADDR=10.77.0.1
BGP_RCV_ADDR=10.77.0.2
BGP_RCV_PID=
BGP_FEED_PID=

# bgp_label N: 1000000 -> 1M, 10000 -> 10k, 1500 -> 1500.
bgp_label() {
    local n=$1
    if (( n % 1000000 == 0 )); then echo "$(( n / 1000000 ))M"
    elif (( n % 1000 == 0 )); then echo "$(( n / 1000 ))k"
    else echo "$n"; fi
}

bgp_now() { date +%s.%N; }
bgp_sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
bgp_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
# bgp_rss_mb PID: resident set size in MB.
bgp_rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }

bgp_rig_up() {
    local inj rcv
    inj=$(bench_ns inj) rcv=$(bench_ns rcv)
    ip netns add "$inj" && ip netns add "$rcv" || eg_die "cannot create the BGP benchmark namespaces"
    ip -n "$inj" link add b0 type veth peer name b0 netns "$rcv" || eg_die "veth"
    ip -n "$inj" addr add "$BGP_INJ_ADDR/24" dev b0
    ip -n "$rcv" addr add "$BGP_RCV_ADDR/24" dev b0
    for ns in "$inj" "$rcv"; do ip -n "$ns" link set lo up; ip -n "$ns" link set b0 up; done
}

bgp_rig_down() {
    local ns
    for ns in "$(bench_ns inj)" "$(bench_ns rcv)"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    return 0
}

bgp_stop() {
    if [[ -n $BGP_FEED_PID ]]; then eg_kill_pid "$BGP_FEED_PID" 5; wait "$BGP_FEED_PID" 2>/dev/null || true; fi
    # egressd removes a million kernel routes on SIGTERM: give it time.
    if [[ -n $BGP_RCV_PID ]]; then eg_kill_pid "$BGP_RCV_PID" 60; wait "$BGP_RCV_PID" 2>/dev/null || true; fi
    BGP_FEED_PID= BGP_RCV_PID=
    return 0
}

bgp_cleanup() { bgp_stop; bgp_rig_down; }

# (Receivers start with nsenter directly, not through a function: nsenter execs, so $! is the daemon.)
BGP_RCV_NS=

# bgp_start RECEIVER: start the receiver in ns rcv (BGP_RCV_PID), ready to accept the feeder.
bgp_start() {
    local dir=$BENCH_STATE/$1
    mkdir -p "$dir"
    BGP_RCV_NS=/run/netns/$(bench_ns rcv)
    case $1 in
        egressd)
            cat >"$dir/egressd.conf" <<CONF
hostname bench-bgp
router bgp 65000
 bgp router-id $BGP_RCV_ADDR
 no bgp ebgp-requires-policy
 neighbor $BGP_INJ_ADDR remote-as 64999
 neighbor $BGP_INJ_ADDR timers 30 90
CONF
            nsenter --net="$BGP_RCV_NS" -- "$EGRESSD_BIN" --config "$dir/egressd.conf" --socket "$dir/egressd.sock" \
                --log-level "${BENCH_LOG_LEVEL:-notice}" </dev/null >"$dir/log" 2>&1 &
            BGP_RCV_PID=$!
            eg_wait 30 "$EGSH_BIN" --socket "$dir/egressd.sock" -c "show version" \
                || { tail -n 20 "$dir/log" >&2; eg_die "egressd did not answer"; }
            ;;
        bird)
            cat >"$dir/bird.conf" <<CONF
router id $BGP_RCV_ADDR;
protocol device {}
protocol bgp feed {
  local $BGP_RCV_ADDR as 65000;
  neighbor $BGP_INJ_ADDR as 64999;
  passive on;
  hold time 90;
  ipv4 { import all; export none; };
}
CONF
            nsenter --net="$BGP_RCV_NS" -- bird -f -c "$dir/bird.conf" -s "$dir/bird.ctl" </dev/null >"$dir/log" 2>&1 &
            BGP_RCV_PID=$!
            eg_wait 30 birdc -s "$dir/bird.ctl" show status || { tail -n 20 "$dir/log" >&2; eg_die "bird did not answer"; }
            ;;
        frr)
            cat >"$dir/bgpd.conf" <<CONF
frr defaults traditional
hostname bench-frr
router bgp 65000
 bgp router-id $BGP_RCV_ADDR
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor $BGP_INJ_ADDR remote-as 64999
 neighbor $BGP_INJ_ADDR passive
 neighbor $BGP_INJ_ADDR timers 30 90
CONF
            nsenter --net="$BGP_RCV_NS" -- /usr/lib/frr/bgpd -Z -S -f "$dir/bgpd.conf" --vty_socket "$dir" -i "$dir/bgpd.pid" \
                -A 127.0.0.1 -P 0 </dev/null >"$dir/log" 2>&1 &
            BGP_RCV_PID=$!
            eg_wait 30 vtysh --vty_socket "$dir" -c "show bgp summary" || { tail -n 20 "$dir/log" >&2; eg_die "bgpd did not answer"; }
            ;;
    esac
}

# bgp_count RECEIVER: prefixes from the feeder in its RIB (and, for egressd, its engine table):
# prints "count [kernel pending]".
bgp_count() {
    local dir=$BENCH_STATE/$1 out rib fib kernel pending
    case $1 in
        egressd)
            out=$("$EGSH_BIN" --socket "$dir/egressd.sock" -c "show ip route summary json" 2>/dev/null | tr -d ' \n') || { echo 0; return; }
            [[ $out =~ \"type\":\"bgp\",\"rib\":([0-9]+),\"fib\":([0-9]+),\"learned\":[0-9]+,\"kernel\":([0-9]+),\"kernelPending\":([0-9]+) ]] || { echo 0; return; }
            rib=${BASH_REMATCH[1]} fib=${BASH_REMATCH[2]} kernel=${BASH_REMATCH[3]} pending=${BASH_REMATCH[4]}
            echo "$(( rib < fib ? rib : fib )) $kernel $pending"
            ;;
        bird)
            birdc -s "$dir/bird.ctl" show protocols all feed 2>/dev/null | awk '/Routes:/ { print $2; found = 1 } END { if (!found) print 0 }'
            ;;
        frr)
            out=$(vtysh --vty_socket "$dir" -c "show bgp ipv4 unicast summary json" 2>/dev/null | tr -d ' \n')
            [[ $out =~ \"pfxRcd\":([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo 0
            ;;
    esac
}

# bgp_run RECEIVER: one load; prints its figures and sets BGP_TIME[RECEIVER], BGP_RSS[RECEIVER].
bgp_run() {
    local receiver=$1 label established done_at count kernel pending deadline feed_out
    label=$(bgp_label "$BENCH_BGP_PREFIXES")
    feed_out=$BENCH_STATE/feed-$receiver.out
    bgp_rig_up
    bgp_start "$receiver"
    eg_log "bgp: $receiver: feeding $BENCH_BGP_PREFIXES prefixes ($BENCH_BGP_SETS attribute sets)"
    nsenter --net="/run/netns/$(bench_ns inj)" -- "$EG_BGPFEED_BIN" --connect "$BGP_RCV_ADDR" \
        --source "$BGP_INJ_ADDR" --next-hop "$BGP_INJ_ADDR" --local-as 64999 \
        --prefixes "$BENCH_BGP_PREFIXES" --attribute-sets "$BENCH_BGP_SETS" \
        >"$feed_out" 2>"$feed_out.err" &
    BGP_FEED_PID=$!
    deadline=$(( $(date +%s) + BENCH_BGP_TIMEOUT ))
    until grep -q '^established_at:' "$feed_out" 2>/dev/null; do
        if eg_pid_gone "$BGP_FEED_PID" || (( $(date +%s) >= deadline )); then
            cat "$feed_out.err" >&2; tail -n 20 "$BENCH_STATE/$receiver/log" >&2
            eg_die "bgp: $receiver: the feeder got no session"
        fi
        sleep 0.05
    done
    established=$(awk '/^established_at:/ { print $2 }' "$feed_out")
    while :; do
        read -r count kernel pending < <(bgp_count "$receiver")
        done_at=$(bgp_now)
        (( count >= BENCH_BGP_PREFIXES )) && break
        if (( $(date +%s) >= deadline )) || eg_pid_gone "$BGP_RCV_PID"; then
            tail -n 20 "$BENCH_STATE/$receiver/log" >&2
            eg_die "bgp: $receiver: only $count of $BENCH_BGP_PREFIXES prefixes after ${BENCH_BGP_TIMEOUT}s"
        fi
        sleep 0.05
    done
    BGP_TIME[$receiver]=$(bgp_sub "$done_at" "$established")
    BGP_RSS[$receiver]=$(bgp_rss_mb "$BGP_RCV_PID")
    echo "bgp_${label}_time_$receiver: ${BGP_TIME[$receiver]} s"
    echo "bgp_${label}_rss_$receiver: ${BGP_RSS[$receiver]} MB"
    if [[ $receiver == egressd ]]; then
        # The kernel's copy, written by its own thread, measured to its completion.
        deadline=$(( $(date +%s) + BENCH_BGP_TIMEOUT ))
        while :; do
            read -r count kernel pending < <(bgp_count egressd)
            done_at=$(bgp_now)
            (( ${kernel:-0} >= BENCH_BGP_PREFIXES && ${pending:-1} == 0 )) && break
            (( $(date +%s) >= deadline )) && eg_die "bgp: egressd: only ${kernel:-0} kernel routes after ${BENCH_BGP_TIMEOUT}s"
            sleep 0.1
        done
        echo "bgp_${label}_kernel_time_egressd: $(bgp_sub "$done_at" "$established") s"
        echo "bgp_${label}_kernel_routes_egressd: $(ip -n "$(bench_ns rcv)" -4 route show proto 218 | wc -l)"
        echo "bgp_${label}_rss_after_kernel_egressd: $(bgp_rss_mb "$BGP_RCV_PID") MB"
    fi
    bgp_stop
    bgp_rig_down
}

# bench_suite_bgp: every receiver in turn, then egressd's ratios against BIRD and FRR.
bench_suite_bgp() {
    declare -gA BGP_TIME=() BGP_RSS=()
    local receiver label
    label=$(bgp_label "$BENCH_BGP_PREFIXES")
    [[ " $BENCH_BGP_RECEIVERS " == *" bird "* ]] && eg_apt_ensure bird2
    [[ " $BENCH_BGP_RECEIVERS " == *" frr "* ]] && eg_apt_ensure frr
    "$EG_BGPFEED_BIN" --next-hop "$BGP_INJ_ADDR" --prefixes "$BENCH_BGP_PREFIXES" \
        --attribute-sets "$BENCH_BGP_SETS" --dry-run | sed 's/^/bgp_/'
    for receiver in $BENCH_BGP_RECEIVERS; do bgp_run "$receiver"; done
    for receiver in bird frr; do
        [[ -n ${BGP_TIME[egressd]:-} && -n ${BGP_TIME[$receiver]:-} ]] || continue
        echo "ratio_bgp_${label}_time_vs_$receiver: $(bgp_ratio "${BGP_TIME[egressd]}" "${BGP_TIME[$receiver]}")"
        echo "ratio_bgp_${label}_rss_vs_$receiver: $(bgp_ratio "${BGP_RSS[egressd]}" "${BGP_RSS[$receiver]}")"
    done
}
