#!/usr/bin/env bash
# Benchmarks of egressd on a namespace rig, beside the kernel's own forwarding.
#
#   ns gen ──veth── ns fwd ──veth── ns sink      (scripts/bench/rig.sh)
#   generator (eg-trafgen) pinned to cpu0, forwarder (kernel, or egressd's worker) to cpu1;
#   delivered packets counted on the sink's veth over a fixed window, median of runs.
#
#   bgp: eg-bgpfeed ──eBGP── egressd | BIRD | FRR bgpd    (scripts/bench/bgp.sh)
#   time from Established until N IPv4 prefixes are in each receiver's RIB (egressd: and its
#   engine table; its kernel routes are timed separately), and each receiver's RSS after.
#
# Usage: scripts/bench.sh [dataplane|bgp|all]      (default dataplane)
# Prints one figure per line as `name: value unit` on stdout (notes start with `#`);
# progress goes to stderr.
# Environment:
#   EGRESSD_BIN      egressd binary (default: the repo's release build, built if missing)
#   EGSH_BIN         egsh binary (default: egsh beside EGRESSD_BIN)
#   EG_TRAFGEN_BIN   generator (default: eg-trafgen beside EGRESSD_BIN, else built in the repo)
#   BENCH_CASES      dataplane cases to run (default "kernel decap encap redirect"; "kernel" needs no egressd)
#   BENCH_SIZES      inner IPv4 packet lengths (default "64 1400")
#   BENCH_RUNS / BENCH_WARMUP / BENCH_WINDOW   runs per figure (3), seconds (1, 5)
#   BENCH_FLOWS      UDP source ports the generator cycles through (default 256)
#   BENCH_LOG_LEVEL  egressd --log-level (default notice)
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

BENCH_PREFIX=bn$$-
BENCH_STATE=/run/egressd-bench/$BENCH_PREFIX
BENCH_CASES=${BENCH_CASES:-kernel decap encap redirect}
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

# resolve_binaries [bgp]: EG_TRAFGEN_BIN always (EG_BGPFEED_BIN for bgp); EGRESSD_BIN/EGSH_BIN
# when a case needs egressd.
resolve_binaries() {
    local needs_egressd=0 case
    for case in $BENCH_CASES; do [[ $case == kernel ]] || needs_egressd=1; done
    if [[ ${1:-} == bgp ]]; then
        needs_egressd=0
        [[ " $BENCH_BGP_RECEIVERS " == *" egressd "* ]] && needs_egressd=1
        if [[ -z ${EG_BGPFEED_BIN:-} ]]; then
            if [[ -n ${EGRESSD_BIN:-} && -x $(dirname "$EGRESSD_BIN")/eg-bgpfeed ]]; then
                EG_BGPFEED_BIN=$(dirname "$EGRESSD_BIN")/eg-bgpfeed
            else
                EG_BGPFEED_BIN=$(repo_release_build eg-bgpfeed)
            fi
        fi
        [[ -x $EG_BGPFEED_BIN ]] || eg_die "eg-bgpfeed binary not found: $EG_BGPFEED_BIN"
    fi
    if (( needs_egressd )); then
        if [[ -z ${EGRESSD_BIN:-} ]]; then
            EGRESSD_BIN=$(repo_release_build egressd)
            [[ -n ${EGSH_BIN:-} ]] || EGSH_BIN=$(repo_release_build egsh)
        fi
        EGSH_BIN=${EGSH_BIN:-$(dirname "$EGRESSD_BIN")/egsh}
        [[ -x $EGRESSD_BIN ]] || eg_die "egressd binary not found: $EGRESSD_BIN"
        [[ -x $EGSH_BIN ]] || eg_die "egsh binary not found: $EGSH_BIN"
    fi
    [[ ${1:-} == bgp ]] && return 0
    if [[ -z ${EG_TRAFGEN_BIN:-} ]]; then
        if [[ -n ${EGRESSD_BIN:-} && -x $(dirname "$EGRESSD_BIN")/eg-trafgen ]]; then
            EG_TRAFGEN_BIN=$(dirname "$EGRESSD_BIN")/eg-trafgen
        else
            EG_TRAFGEN_BIN=$(repo_release_build eg-trafgen)
        fi
    fi
    [[ -x $EG_TRAFGEN_BIN ]] || eg_die "eg-trafgen binary not found: $EG_TRAFGEN_BIN"
}

print_machine() {
    local model
    model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    echo "machine: $(nproc) cores, ${model:-unknown CPU}, kernel $(uname -r)"
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
    bgp_cleanup || true
    rm -rf -- "$BENCH_STATE"
    rmdir /run/egressd-bench 2>/dev/null || true
}

(( EUID == 0 )) || eg_die "the benchmark needs root (network namespaces)"
suite=${1:-dataplane}
case $suite in
    dataplane|bgp|all) ;;
    -h|--help|help) usage ;;
    *) eg_log "unknown suite '$suite'"; usage ;;
esac
(( $(nproc) >= 2 )) || eg_die "the rig pins the generator and the forwarder to cpu0 and cpu1: needs 2 CPUs"

eg_apt_ensure iproute2 procps util-linux nftables
[[ $suite == bgp ]] || resolve_binaries
[[ $suite == dataplane ]] || resolve_binaries bgp
mkdir -p "$BENCH_STATE"
trap cleanup EXIT
trap 'exit 130' INT TERM
print_machine
print_load start
if [[ $suite == dataplane || $suite == all ]]; then
    bench_rig_up
    bench_suite_dataplane
fi
if [[ $suite == bgp || $suite == all ]]; then
    bench_suite_bgp
fi
print_load end
