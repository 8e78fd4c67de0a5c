# Counting over a fixed window, sourced by scripts/bench.sh: interface counters in the rig's
# namespaces, per-CPU busy time from /proc/stat, a process's CPU time, and medians.

# bench_counter NODE IF NAME: /sys/class/net/IF/statistics/NAME inside NODE's namespace.
bench_counter() { bench_in "$1" cat "/sys/class/net/$2/statistics/$3"; }

# bench_cpu_times CPU: "busy total" jiffies of one CPU (busy = user+nice+system+irq+softirq;
# total = busy+idle+iowait; steal is left out of both, it is the neighbours' time).
bench_cpu_times() {
    awk -v cpu="cpu$1" '$1 == cpu { busy = $2 + $3 + $4 + $7 + $8; print busy, busy + $5 + $6 }' /proc/stat
}

# bench_process_ticks PID: user+system clock ticks of a process and all its threads (0 if gone).
bench_process_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    # Fields after the ")" of the command name: utime is the 12th, stime the 13th.
    awk '{ print $12 + $13 }' <<<"${stat##*) }"
}

# bench_snapshot [PID]: one line "time sink_rx_packets sink_rx_bytes gen_tx_packets
# fwd_rx_dropped cpu0_busy cpu0_total cpu1_busy cpu1_total process_ticks".
bench_snapshot() {
    local now rx rxb tx drop c0 c1 ticks=0
    rx=$(bench_counter sink d0 rx_packets)
    rxb=$(bench_counter sink d0 rx_bytes)
    now=$(date +%s.%N)
    c0=$(bench_cpu_times 0)
    c1=$(bench_cpu_times 1)
    [[ -n ${1:-} ]] && ticks=$(bench_process_ticks "$1")
    tx=$(bench_counter gen s0 tx_packets)
    drop=$(bench_counter fwd f0 rx_dropped)
    echo "$now $rx $rxb $tx $drop $c0 $c1 $ticks"
}

# bench_window_figures BEFORE AFTER: from two snapshots, "pps offered_pps cpu0_busy cpu1_busy
# process_busy" (busy as fractions 0..1; process_busy in CPUs, from clock ticks).
bench_window_figures() {
    awk -v hz="$(getconf CLK_TCK)" '
        NR == 1 { for (i = 1; i <= NF; i++) a[i] = $i }
        NR == 2 {
            dt = $1 - a[1]
            pps = ($2 - a[2]) / dt
            offered = ($4 - a[4]) / dt
            c0 = ($7 - a[7]) > 0 ? ($6 - a[6]) / ($7 - a[7]) : 0
            c1 = ($9 - a[9]) > 0 ? ($8 - a[8]) / ($9 - a[9]) : 0
            proc = ($10 - a[10]) / hz / dt
            printf "%.0f %.0f %.4f %.4f %.4f\n", pps, offered, c0, c1, proc
        }' <(echo "$1") <(echo "$2")
}

# bench_median: the median of the numbers on stdin (one per line; lower middle when even).
bench_median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
