#!/usr/bin/env bash
# The egressd lab: AWS centralized egress (Transit Gateway Connect -> appliance -> firewall
# -> Internet) rebuilt in network namespaces on one machine.
#
#                      MTU 9000                  underlay 10.0.0.0/16, MTU 9001
#  +-----------+  10.1.0.0/16   +------------+  10.0.0.1,.2       10.0.1.10  +-------------+
#  | spoke1    |--------------->| tgw        |====== GRE tgw0 ==============>| app1        |
#  | 10.1.0.10 |          .0.1  | TGW stand- |  169.254.6.2/29  169.254.6.1  | egressd:    |
#  +-----------+                | in: egress-|====== GRE tgw1 ==============>| the         |
#  +-----------+  10.2.0.0/16   | d, tunnels |  169.254.7.2/29  169.254.7.1  | appliance   |
#  | spoke2    |--------------->| only, ECMP |                               |             |
#  | 10.2.0.10 |          .0.1  | default    |                               +------+------+
#  +-----------+                +------------+                                .10 | 10.0.2.0/24
#                                                                                 | MTU 1500
#  +----------------+  198.51.100.0/24  +-------------------------------+     .1  |
#  | inet           |<------------------| fw: nftables masquerade out  |<--------+
#  | 198.51.100.80  | .80           .1  | wan0; spokes via 10.0.2.10    |
#  | HTTP :80, UDP  |                   +-------------------------------+
#  | echo :7        |
#  +----------------+
#
# Spoke traffic: spoke -> tgw kernel -> default route into the TUNs tgw0/tgw1 -> tgw's egressd
# encapsulates (ECMP) -> app1's egressd decapsulates and forwards to fw -> NAT -> inet.
# Return: fw -> app1 kernel route "10.x/16 dev tgw0 dev tgw1" -> app1's egressd encapsulates
# (its own ECMP) -> tgw's egressd decapsulates into its kernel -> spoke.
#
# Usage: scripts/lab.sh up | down | status | exec NODE CMD... | sh NODE [-c "CMD"...]
#   NODE: spoke1 spoke2 tgw app1 fw inet (sh: tgw or app1, the nodes running egressd)
# Environment:
#   LAB_PREFIX   prefix of namespaces, state dir and daemons (default "eg-"); tests use their own
#   EGRESSD_BIN  egressd binary to run (default: build with `swift build -c release`)
#   EGSH_BIN     egsh binary (default: egsh beside EGRESSD_BIN)
#   LAB_DAEMONS  0 = build the topology only, start no egressd (for working on the lab itself)
#   LAB_LOG_LEVEL  egressd --log-level (default info)
#   LAB_WORKERS  dataplane workers of each egressd (default 1)
#   LAB_EGRESSD_USER  run each egressd as this user (--user, its primary group; default root)
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/.." && pwd)
# shellcheck source=lib/common.sh
source "$LAB_DIR/lib/common.sh"

P=${LAB_PREFIX-eg-}
[[ $P =~ ^[A-Za-z0-9_-]{1,12}$ ]] || eg_die "LAB_PREFIX must be 1-12 of [A-Za-z0-9_-], got '$P'"
STATE=/run/egressd-lab/$P
NODES=(spoke1 spoke2 tgw app1 fw inet)
DAEMON_NODES=(tgw app1)
PY=/usr/bin/python3   # Debian's python (scapy lives there), not whatever python3 is first in PATH

ns() { printf '%s%s' "$P" "$1"; }
in_ns() { local node=$1; shift; ip netns exec "$(ns "$node")" "$@"; }
is_node() { local n; for n in "${NODES[@]}"; do [[ $n == "$1" ]] && return 0; done; return 1; }

# ---------------------------------------------------------------------------------------------
# Binaries

# resolve_binaries: set EGRESSD_BIN/EGSH_BIN, building a release build when not given.
resolve_binaries() {
    if [[ -z ${EGRESSD_BIN:-} ]]; then
        eg_log "building egressd (swift build -c release)"
        (cd "$REPO_DIR" && swift build -c release --product egressd >&2 \
            && swift build -c release --product egsh >&2) || eg_die "swift build failed"
        EGRESSD_BIN=$(cd "$REPO_DIR" && swift build -c release --show-bin-path)/egressd
    fi
    EGSH_BIN=${EGSH_BIN:-$(dirname "$EGRESSD_BIN")/egsh}
    [[ -x $EGRESSD_BIN ]] || eg_die "egressd binary not found: $EGRESSD_BIN"
    [[ -x $EGSH_BIN ]] || eg_die "egsh binary not found: $EGSH_BIN"
}

# saved_egsh: the egsh that `up` used (recorded in the state dir), unless EGSH_BIN is set.
saved_egsh() {
    if [[ -n ${EGSH_BIN:-} ]]; then printf '%s' "$EGSH_BIN"; return; fi
    [[ -f $STATE/egsh.path ]] || eg_die "lab ${P} is not up (no $STATE/egsh.path)"
    cat "$STATE/egsh.path"
}

# ---------------------------------------------------------------------------------------------
# Topology

# veth NODE_A IF_A NODE_B IF_B MTU: a veth pair created directly inside the two namespaces.
veth() {
    ip -n "$(ns "$1")" link add "$2" mtu "$5" type veth peer name "$4" mtu "$5" netns "$(ns "$3")"
    ip -n "$(ns "$1")" link set "$2" up
    ip -n "$(ns "$3")" link set "$4" up
}

# sysctl_ns NODE KEY=VALUE...
sysctl_ns() { local node=$1; shift; in_ns "$node" sysctl -q -w "$@" >/dev/null; }

create_topology() {
    local node
    for node in "${NODES[@]}"; do
        ip netns add "$(ns "$node")"
        ip -n "$(ns "$node")" link set lo up
        # Loose checks: asymmetric ECMP paths must not be dropped by reverse-path filtering.
        sysctl_ns "$node" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    done

    # Spokes <-> tgw (MTU 9000, as inside a VPC).
    veth spoke1 eth0 tgw sp1 9000
    veth spoke2 eth0 tgw sp2 9000
    ip -n "$(ns spoke1)" addr add 10.1.0.10/16 dev eth0
    ip -n "$(ns spoke1)" route add default via 10.1.0.1
    ip -n "$(ns spoke2)" addr add 10.2.0.10/16 dev eth0
    ip -n "$(ns spoke2)" route add default via 10.2.0.1
    ip -n "$(ns tgw)" addr add 10.1.0.1/16 dev sp1
    ip -n "$(ns tgw)" addr add 10.2.0.1/16 dev sp2

    # Underlay tgw <-> app1 (MTU 9001, as an AWS ENI): one TGW Connect address per tunnel.
    veth tgw u0 app1 u0 9001
    ip -n "$(ns tgw)" addr add 10.0.0.1/16 dev u0
    ip -n "$(ns tgw)" addr add 10.0.0.2/16 dev u0
    ip -n "$(ns app1)" addr add 10.0.1.10/16 dev u0

    # app1 <-> fw (MTU 1500).
    veth app1 fw0 fw app0 1500
    ip -n "$(ns app1)" addr add 10.0.2.10/24 dev fw0
    ip -n "$(ns fw)" addr add 10.0.2.1/24 dev app0
    ip -n "$(ns fw)" route add 10.1.0.0/16 via 10.0.2.10
    ip -n "$(ns fw)" route add 10.2.0.0/16 via 10.0.2.10

    # fw <-> inet.
    veth fw wan0 inet eth0 1500
    ip -n "$(ns fw)" addr add 198.51.100.1/24 dev wan0
    ip -n "$(ns inet)" addr add 198.51.100.80/24 dev eth0

    for node in tgw app1 fw; do sysctl_ns "$node" net.ipv4.ip_forward=1; done
    in_ns fw nft -f - <<'NFT'
table ip eglab_nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan0" masquerade
    }
}
NFT
}

# start_bg NODE NAME CMD...: run CMD in NODE in the background; pid and log in the state dir.
# nsenter execs CMD, so $! is CMD's own pid.
start_bg() {
    local node=$1 name=$2; shift 2
    nsenter --net="/run/netns/$(ns "$node")" -- "$@" </dev/null >>"$STATE/$name.log" 2>&1 &
    echo $! >"$STATE/$name.pid"
}

start_inet_services() {
    start_bg inet inet-server "$PY" "$LAB_DIR/lib/inet_server.py" --address 198.51.100.80
    eg_wait 10 in_ns inet "$PY" -c 'import socket; socket.create_connection(("198.51.100.80", 80), 1)' \
        || { tail -n 20 "$STATE/inet-server.log" >&2; eg_die "inet HTTP server did not start"; }
}

# render_config NODE: configs/lab/NODE.conf with @PREFIX@ replaced, into the state dir.
render_config() {
    local workers=${LAB_WORKERS:-1}
    [[ $workers =~ ^[1-9][0-9]?$ ]] || eg_die "LAB_WORKERS must be 1-99, got '$workers'"
    sed -e "s/@PREFIX@/$P/g" -e "s/@WORKERS@/$workers/g" "$REPO_DIR/configs/lab/$1.conf" >"$STATE/$1.conf"
}

daemon_answers() { "$EGSH_BIN" --socket "$STATE/$1.sock" -c "show interfaces json"; }

# start_daemon NODE: start egressd in NODE and wait until its shell socket answers.
start_daemon() {
    local node=$1 pid deadline
    render_config "$node"
    "$EGRESSD_BIN" --config "$STATE/$node.conf" --check >&2 \
        || eg_die "$STATE/$node.conf does not pass egressd --check"
    local as_user=()
    if [[ -n ${LAB_EGRESSD_USER:-} ]]; then
        # egressd switches to this user itself; it creates its socket in the state dir.
        local group
        group=$(id -gn "$LAB_EGRESSD_USER") || eg_die "LAB_EGRESSD_USER: no user '$LAB_EGRESSD_USER'"
        chgrp "$group" "$STATE" && chmod 0770 "$STATE" || eg_die "cannot open $STATE to group $group"
        as_user=(--user "$LAB_EGRESSD_USER" --group "$group")
        # /dev/net/tun for that group only in egressd's own mount namespace (deployments:
        # the udev rule scripts/install.sh installs), leaving the host's node as it is.
        start_bg "$node" "$node" unshare --mount --propagation private -- bash -c \
            'mount -t tmpfs -o mode=0755 egressd-dev /dev/net && mknod -m 0660 /dev/net/tun c 10 200 &&
             chgrp "$0" /dev/net/tun && exec "$@"' "$group" \
            "$EGRESSD_BIN" --config "$STATE/$node.conf" \
            --socket "$STATE/$node.sock" --log-level "${LAB_LOG_LEVEL:-info}" "${as_user[@]}"
    else
        start_bg "$node" "$node" "$EGRESSD_BIN" --config "$STATE/$node.conf" \
            --socket "$STATE/$node.sock" --log-level "${LAB_LOG_LEVEL:-info}"
    fi
    pid=$(cat "$STATE/$node.pid")
    deadline=$(( $(date +%s) + 30 ))
    until daemon_answers "$node" >/dev/null 2>&1; do
        if eg_pid_gone "$pid"; then
            eg_log "--- $STATE/$node.log (last 30 lines)"; tail -n 30 "$STATE/$node.log" >&2
            eg_die "egressd in $(ns "$node") exited during start-up"
        fi
        if (( $(date +%s) >= deadline )); then
            eg_log "--- $STATE/$node.log (last 30 lines)"; tail -n 30 "$STATE/$node.log" >&2
            eg_die "egressd in $(ns "$node") did not answer on $STATE/$node.sock within 30 s"
        fi
        sleep 0.2
    done
    eg_log "egressd up in $(ns "$node") (pid $pid)"
}

spoke_reaches_inet() {
    [[ $(in_ns spoke1 curl -s -m 3 -o /dev/null -w '%{http_code}' http://198.51.100.80/) == 200 ]]
}

cmd_up() {
    [[ -e /run/netns/$(ns app1) ]] \
        && eg_die "lab '$P' is already up (scripts/lab.sh down first)"
    eg_apt_ensure iproute2 nftables curl tshark python3-scapy iperf3 procps util-linux
    local daemons=${LAB_DAEMONS:-1}
    [[ $daemons == 0 ]] || resolve_binaries
    mkdir -p "$STATE"
    [[ $daemons == 0 ]] || printf '%s' "$EGSH_BIN" >"$STATE/egsh.path"
    eg_log "creating lab '$P' (state in $STATE)"
    create_topology
    start_inet_services
    if [[ $daemons == 0 ]]; then
        eg_log "lab '$P' up without egressd (LAB_DAEMONS=0)"
        return 0
    fi
    local node
    for node in "${DAEMON_NODES[@]}"; do start_daemon "$node"; done
    if ! eg_wait 30 spoke_reaches_inet; then
        for node in "${DAEMON_NODES[@]}"; do
            eg_log "--- $STATE/$node.log (last 30 lines)"; tail -n 30 "$STATE/$node.log" >&2
        done
        eg_die "spoke1 cannot fetch http://198.51.100.80/ within 30 s (lab left up for inspection; run down)"
    fi
    eg_log "lab '$P' up: spoke1 reaches http://198.51.100.80/"
}

# ---------------------------------------------------------------------------------------------
# Teardown: safe to run twice and after a half-failed up.

cmd_down() {
    local pidfile node pid
    # Daemons first (by recorded pid), so they can remove their TUNs and routes cleanly.
    for node in "${DAEMON_NODES[@]}" inet-server; do
        pidfile=$STATE/$node.pid
        [[ -f $pidfile ]] && eg_kill_pid "$(cat "$pidfile")" 10
    done
    # Anything else still running inside our namespaces (captures, test helpers) is ours too.
    for node in "${NODES[@]}"; do
        [[ -e /run/netns/$(ns "$node") ]] || continue
        for pid in $(ip netns pids "$(ns "$node")" 2>/dev/null); do eg_kill_pid "$pid" 3; done
        ip netns del "$(ns "$node")" 2>/dev/null || eg_log "warning: could not delete netns $(ns "$node")"
    done
    rm -rf -- "$STATE"
    rmdir /run/egressd-lab 2>/dev/null || true
    eg_log "lab '$P' down"
}

# ---------------------------------------------------------------------------------------------
# Inspection

cmd_status() {
    local node pid any=0 egsh
    for node in "${NODES[@]}"; do
        [[ -e /run/netns/$(ns "$node") ]] || continue
        any=1
        printf '== %s\n' "$(ns "$node")"
        for pid in $(ip netns pids "$(ns "$node")" 2>/dev/null); do
            ps -o pid=,etime=,args= -p "$pid" 2>/dev/null | cut -c1-150 | sed 's/^/   /' || true
        done
        if [[ $node == tgw || $node == app1 ]] && [[ -S $STATE/$node.sock ]]; then
            egsh=$(saved_egsh)
            "$egsh" --socket "$STATE/$node.sock" -c "show interfaces" 2>&1 | sed 's/^/   /' || true
        fi
    done
    (( any )) || echo "lab '$P' is down"
}

cmd_exec() {
    (( $# >= 2 )) || eg_die "usage: lab.sh exec NODE CMD..."
    is_node "$1" || eg_die "unknown node '$1' (nodes: ${NODES[*]})"
    local node=$1; shift
    [[ -e /run/netns/$(ns "$node") ]] || eg_die "lab '$P' is not up (no netns $(ns "$node"))"
    exec ip netns exec "$(ns "$node")" "$@"
}

cmd_sh() {
    (( $# >= 1 )) || eg_die "usage: lab.sh sh NODE [-c \"CMD\"...]"
    [[ $1 == tgw || $1 == app1 ]] || eg_die "egressd runs in tgw and app1, not in '$1'"
    local node=$1 egsh; shift
    egsh=$(saved_egsh)
    [[ -S $STATE/$node.sock ]] || eg_die "no egressd socket $STATE/$node.sock (is lab '$P' up?)"
    exec "$egsh" --socket "$STATE/$node.sock" "$@"
}

# usage [EXIT_STATUS]: print the header's usage text (default status 2, a usage error).
usage() {
    sed -n '/^# Usage:/,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

(( EUID == 0 )) || eg_die "the lab needs root (network namespaces)"
(( $# >= 1 )) || usage
command=$1; shift
case $command in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    exec) cmd_exec "$@" ;;
    sh) cmd_sh "$@" ;;
    -h|--help|help) usage 0 ;;
    *) eg_log "unknown command '$command'"; usage ;;
esac
