#!/usr/bin/env bash
# Benchmarks of egressd on a namespace rig, beside the kernel's own forwarding.
#
#   ns gen ──veth── ns fwd ──veth── ns sink      (scripts/bench/rig.sh)
#   generator (eg-trafgen) pinned to cpu0, forwarder (kernel, or egressd's worker) to cpu1;
#   delivered packets counted on the sink's veth over a fixed window, median of runs.
#
#   tcp: iperf3 spoke -> stand-in egressd (encap) -> appliance egressd (decap, forward) ->
#   server, beside the same namespaces forwarding in the kernel          (scripts/bench/tcp.sh)
#   latency: one-way latency at half load, stamped by eg-trafgen, read by eg-latency
#   (kernel, decap, encap; egressd's added latency = its figure - the kernel's) (bench/latency.sh)
#   profile: instructions per packet of egressd's worker under valgrind's callgrind, top
#   functions, ARC/allocation/lock calls per packet                   (scripts/bench/profile.sh)
#
#   bgp: eg-bgpfeed ──eBGP── egressd | BIRD | FRR bgpd    (scripts/bench/bgp.sh)
#   time from Established until N IPv4 prefixes are in each receiver's RIB (egressd: and its
#   engine table; its kernel routes are timed separately), and each receiver's RSS after.
#
# Usage: scripts/bench.sh [dataplane|tcp|latency|profile|bgp|all]...   (default dataplane)
#   several suites in one run: e.g. `scripts/bench.sh dataplane latency` (latency then uses the
#   dataplane suite's maximum rates instead of measuring them again)
# Prints one figure per line as `name: value unit` on stdout (notes start with `#`);
# progress goes to stderr.
# Environment:
#   EGRESSD_BIN      egressd binary (default: the repo's release build, built if missing)
#   EGSH_BIN         egsh binary (default: egsh beside EGRESSD_BIN)
#   EG_TRAFGEN_BIN   generator (default: eg-trafgen beside EGRESSD_BIN, else built in the repo)
#   BENCH_CASES      dataplane cases to run (default "kernel decap encap redirect decap2w";
#                    "kernel" needs no egressd; decap2w = decap with 2 workers, first size only)
#   BENCH_BACKENDS   I/O backends to compare (e.g. "tpacket raw"): each egressd case runs once per
#                    backend with `dataplane io-backend B`, figures named CASE_B (decap_tpacket_pps_64B,
#                    ratio_decap_tpacket_vs_kernel_64B); default: none, the engine's default backend
#   BENCH_IO_BACKEND one backend for every egressd the suites start (latency, profile too)
#   BENCH_XDP_GENERIC 1 = the forwarder's input interface is a macvlan (no native XDP), so
#                    afxdp runs its XDP program in generic (SKB) mode there (scripts/bench/rig.sh)
#   EGRESSD_RX_RING  v3: the egressd started inherit it and read a TPACKET_V3 receive ring instead
#                    of the default V2 (to compare the two, e.g. their latency)
#   BENCH_SIZES      inner IPv4 packet lengths (default "64 1400")
#   BENCH_RUNS / BENCH_WARMUP / BENCH_WINDOW   runs per figure (3), seconds (1, 5)
#   BENCH_FLOWS      UDP source ports the generator cycles through (default 256)
#   BENCH_LOG_LEVEL  egressd --log-level (default notice)
#   BENCH_PLACEMENT  threads (default): one-worker egressd on cpus 0,1 with `dataplane worker cpus 1`
#                    (worker alone on cpu1, other threads on cpu0); process: all of egressd on cpu1
#   BENCH_REALTIME   1 = `dataplane worker realtime` (SCHED_FIFO workers) in every egressd config
#   EG_LATENCY_BIN   latency receiver (default: eg-latency beside EGRESSD_BIN, else built in the repo)
#   BENCH_TCP_SECONDS / BENCH_TCP_RUNS   iperf3 seconds per run (8) and runs per mode (3)
#   BENCH_TCP_EGRESSD_CPUS / BENCH_TCP_IPERF_CPUS   taskset lists of the two egressd ("0,1") and iperf3 ("0")
#   BENCH_LATENCY_CASES / BENCH_LATENCY_SECONDS / BENCH_LATENCY_SIZE   ("kernel decap encap", 6, 64)
#   BENCH_PROFILE_CASES / BENCH_PROFILE_PACKETS / BENCH_PROFILE_PPS    ("decap encap redirect", 20000, 10000)
#   EG_BGPFEED_BIN   BGP feeder (default: eg-bgpfeed beside EGRESSD_BIN, else built in the repo)
#   BENCH_BGP_PREFIXES / BENCH_BGP_SETS   feed size (1000000) and attribute sets (100000)
#   BENCH_BGP_RECEIVERS   receivers to measure (default "egressd bird frr")
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=lib/common.sh
source "$BENCH_DIR/lib/common.sh"
# shellcheck source=bench/rig.sh
source "$BENCH_DIR/bench/rig.sh"
# shellcheck source=bench/measure.sh
source "$BENCH_DIR/bench/measure.sh"
# shellcheck source=bench/dataplane.sh
source "$BENCH_DIR/bench/dataplane.sh"
# shellcheck source=bench/bgp.sh
source "$BENCH_DIR/bench/bgp.sh"
# shellcheck source=bench/tcp.sh
source "$BENCH_DIR/bench/tcp.sh"
# shellcheck source=bench/latency.sh
source "$BENCH_DIR/bench/latency.sh"
# shellcheck source=bench/profile.sh
source "$BENCH_DIR/bench/profile.sh"

BENCH_PREFIX=bn$$-
BENCH_STATE=/run/egressd-bench/$BENCH_PREFIX
BENCH_CASES=${BENCH_CASES:-kernel decap encap redirect decap2w}
BENCH_SIZES=${BENCH_SIZES:-64 1400}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_WARMUP=${BENCH_WARMUP:-1}
BENCH_WINDOW=${BENCH_WINDOW:-5}
BENCH_FLOWS=${BENCH_FLOWS:-256}
BENCH_EGRESSD_PID=

usage() {
    sed -n '/^# Usage:/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

# repo_release_build PRODUCT: build PRODUCT in release mode in the repo if its binary is missing,
# and print the binary's path.
repo_release_build() {
    local bin
    bin=$(cd "$REPO_DIR" && swift build -c release --show-bin-path)/$1
    if [[ ! -x $bin ]]; then
        eg_log "building $1 (swift build -c release --product $1)"
        (cd "$REPO_DIR" && swift build -c release --product "$1" >&2) || eg_die "swift build of $1 failed"
    fi
    printf '%s' "$bin"
}

# beside_or_build PRODUCT: PRODUCT's binary beside EGRESSD_BIN when there is one, else the
# repo's release build of it.
beside_or_build() {
    if [[ -n ${EGRESSD_BIN:-} && -x $(dirname "$EGRESSD_BIN")/$1 ]]; then
        printf '%s' "$(dirname "$EGRESSD_BIN")/$1"
    else
        repo_release_build "$1"
    fi
}

# resolve_binaries SUITE...: what the suites need: EGRESSD_BIN/EGSH_BIN when a suite runs
# egressd, EG_TRAFGEN_BIN for the rig's suites, EG_LATENCY_BIN, EG_BGPFEED_BIN.
resolve_binaries() {
    local needs_egressd=0 case suite
    for suite in "$@"; do
        case $suite in
            dataplane) for case in $BENCH_CASES; do [[ $case == kernel ]] || needs_egressd=1; done ;;
            tcp|profile) needs_egressd=1 ;;
            latency) [[ $BENCH_LATENCY_CASES == kernel ]] || needs_egressd=1 ;;
            bgp) [[ " $BENCH_BGP_RECEIVERS " == *" egressd "* ]] && needs_egressd=1 ;;
        esac
    done
    if (( needs_egressd )); then
        if [[ -z ${EGRESSD_BIN:-} ]]; then
            EGRESSD_BIN=$(repo_release_build egressd)
            [[ -n ${EGSH_BIN:-} ]] || EGSH_BIN=$(repo_release_build egsh)
        fi
        EGSH_BIN=${EGSH_BIN:-$(dirname "$EGRESSD_BIN")/egsh}
        [[ -x $EGRESSD_BIN ]] || eg_die "egressd binary not found: $EGRESSD_BIN"
        [[ -x $EGSH_BIN ]] || eg_die "egsh binary not found: $EGSH_BIN"
    fi
    for suite in "$@"; do
        case $suite in
            dataplane|latency|profile)
                EG_TRAFGEN_BIN=${EG_TRAFGEN_BIN:-$(beside_or_build eg-trafgen)}
                [[ -x $EG_TRAFGEN_BIN ]] || eg_die "eg-trafgen binary not found: $EG_TRAFGEN_BIN" ;;
        esac
        case $suite in
            latency)
                EG_LATENCY_BIN=${EG_LATENCY_BIN:-$(beside_or_build eg-latency)}
                [[ -x $EG_LATENCY_BIN ]] || eg_die "eg-latency binary not found: $EG_LATENCY_BIN" ;;
            bgp)
                EG_BGPFEED_BIN=${EG_BGPFEED_BIN:-$(beside_or_build eg-bgpfeed)}
                [[ -x $EG_BGPFEED_BIN ]] || eg_die "eg-bgpfeed binary not found: $EG_BGPFEED_BIN" ;;
        esac
    done
}

print_machine() {
    local model
    model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    echo "machine: $(nproc) cores, ${model:-unknown CPU}, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# print_load WHEN: the 1-minute load average; above ~0.5 before the run, other work shares
# the two cores and every figure is low and noisy.
print_load() { echo "load_average_1min_$1: $(cut -d' ' -f1 /proc/loadavg)"; }

cleanup() {
    local status=$? log
    bench_stop_egressd || true
    if (( status != 0 )); then
        for log in "$BENCH_STATE"/egressd-*.log; do
            [[ -s $log ]] || continue
            eg_log "--- $log (last 20 lines)"; tail -n 20 "$log" >&2
        done
    fi
    bench_rig_down || true
    bench_tcp_rig_down || true
    bgp_cleanup || true
    rm -rf -- "$BENCH_STATE"
    rmdir /run/egressd-bench 2>/dev/null || true
}

(( EUID == 0 )) || eg_die "the benchmark needs root (network namespaces)"
suites=("$@")
(( ${#suites[@]} )) || suites=(dataplane)
if [[ ${suites[*]} == all ]]; then suites=(dataplane tcp latency profile bgp); fi
for suite in "${suites[@]}"; do
    case $suite in
        dataplane|tcp|latency|profile|bgp) ;;
        -h|--help|help) usage ;;
        *) eg_log "unknown suite '$suite'"; usage ;;
    esac
done
(( $(nproc) >= 2 )) || eg_die "the rig pins the generator and the forwarder to cpu0 and cpu1: needs 2 CPUs"

eg_apt_ensure iproute2 procps util-linux nftables
resolve_binaries "${suites[@]}"
mkdir -p "$BENCH_STATE"
trap cleanup EXIT
trap 'exit 130' INT TERM
print_machine
print_load start
declare -gA BENCH_PPS=() BENCH_NSPP=()
rig_up=0
for suite in "${suites[@]}"; do
    case $suite in
        dataplane|latency|profile)
            (( rig_up )) || { bench_rig_up; rig_up=1; }
            "bench_suite_$suite" ;;
        tcp|bgp) "bench_suite_$suite" ;;
    esac
done
print_load end
