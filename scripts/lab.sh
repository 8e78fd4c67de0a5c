#!/usr/bin/env bash
# The egressd lab: AWS centralized egress (Transit Gateway Connect -> appliance -> firewall
# -> Internet) rebuilt in network namespaces on one machine.
#
#                      MTU 9000                  underlay 10.0.0.0/16, MTU 9001
#  +-----------+  10.1.0.0/16   +------------+  10.0.0.1,.2       10.0.1.10  +-------------+
#  | spoke1    |--------------->| tgw        |====== GRE tgw0 ==============>| app1        |
#  | 10.1.0.10 |          .0.1  | TGW stand- |  169.254.6.2/29  169.254.6.1  | egressd:    |
#  +-----------+                | in: egress-|====== GRE tgw1 ==============>| the         |
#  +-----------+  10.2.0.0/16   | d + FRR or |  169.254.7.2/29  169.254.7.1  | appliance   |
#  | spoke2    |--------------->| BIRD, AS   |                               |             |
#  | 10.2.0.10 |          .0.1  | 64512      |                               +------+------+
#  +-----------+                +------------+                                .10 | 10.0.2.0/24
#                                                                                 | MTU 1500
#  +----------------+  198.51.100.0/24  +-------------------------------+     .1  |
#  | inet           |<------------------| fw: nftables masquerade out  |<--------+
#  | 198.51.100.80  | .80           .1  | wan0; spokes via 10.0.2.10    |
#  | HTTP :80, UDP  |                   +-------------------------------+
#  | echo :7        |
#  +----------------+
#
# BGP: the stand-in runs a real BGP daemon (LAB_BGP: FRR or BIRD), AS 64512, from the .2 and .3
# address of each tunnel's /29 (four sessions, as two Connect peers with two BGP addresses
# each); app1's egressd (AS 65000) advertises the default route and learns 10.1/16 and 10.2/16.
# Spoke traffic: spoke -> tgw kernel -> BGP-learned ECMP default route via 169.254.6.1 and
# 169.254.7.1, i.e. into the TUNs tgw0/tgw1 -> tgw's egressd encapsulates -> app1's egressd
# decapsulates and forwards to fw -> NAT -> inet.
# Return: fw -> app1's BGP-learned ECMP route "10.x/16 dev tgw0 dev tgw1" (engine and kernel)
# -> app1's egressd encapsulates (its own ECMP) -> tgw's egressd decapsulates into its kernel -> spoke.
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
#   LAB_IO_BACKEND  dataplane io-backend of each egressd: tpacket or raw (default: the config's, tpacket)
#   LAB_BGP      the stand-in's BGP daemon: frr (default; bgpd + zebra) or bird (BIRD 2)
#   LAB_BGP_GR   1 = the stand-in's daemon announces graceful restart (restart time 15 s)
#   LAB_PROXIES  1 = also two real Squid proxies (proxy1, proxy2) with WCCP (scripts/lib/lab-proxies.sh)
#   LAB_EGRESSD_USER  run each egressd as this user (--user, its primary group; default root)
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$LAB_DIR/.." && pwd)
# shellcheck source=lib/common.sh
source "$LAB_DIR/lib/common.sh"
# shellcheck source=lib/lab-proxies.sh
source "$LAB_DIR/lib/lab-proxies.sh"

P=${LAB_PREFIX-eg-}
[[ $P =~ ^[A-Za-z0-9_-]{1,12}$ ]] || eg_die "LAB_PREFIX must be 1-12 of [A-Za-z0-9_-], got '$P'"
STATE=/run/egressd-lab/$P
NODES=(spoke1 spoke2 tgw app1 fw inet)
DAEMON_NODES=(tgw app1)
PY=/usr/bin/python3   # Debian's python (scapy lives there), not whatever python3 is first in PATH

ns() { printf '%s%s' "$P" "$1"; }
in_ns() { local node=$1; shift; ip netns exec "$(ns "$node")" "$@"; }
is_node() { local n; for n in "${NODES[@]}" "${LAB_PROXY_NODES[@]}"; do [[ $n == "$1" ]] && return 0; done; return 1; }

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
    if [[ -n ${LAB_IO_BACKEND:-} ]]; then
        [[ $LAB_IO_BACKEND =~ ^(tpacket|raw)$ ]] || eg_die "LAB_IO_BACKEND must be tpacket or raw, got '$LAB_IO_BACKEND'"
        echo "dataplane io-backend $LAB_IO_BACKEND" >>"$STATE/$1.conf"
    fi
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

# ---------------------------------------------------------------------------------------------
# The stand-in's BGP daemon (FRR or BIRD) and the appliance's sessions to it.

# The stand-in's BGP addresses (the appliance's neighbours) and the tunnel each is on.
LAB_BGP_PEERS=(169.254.6.2 169.254.6.3 169.254.7.2 169.254.7.3)

lab_bgp_kind() {
    local kind=${LAB_BGP:-frr}
    [[ $kind == frr || $kind == bird ]] || eg_die "LAB_BGP must be frr or bird, got '$kind'"
    printf '%s' "$kind"
}

# bgp_render TEMPLATE OUT KEY=VALUE...: configs/lab/TEMPLATE with @PREFIX@ and each @KEY@ replaced.
bgp_render() {
    local template=$1 out=$2 kv args=(-e "s|@PREFIX@|$P|g"); shift 2
    for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
    sed "${args[@]}" "$REPO_DIR/configs/lab/$template" >"$out"
}

# bgp_add_addresses: the stand-in's second BGP address (.3) on each TUN (egressd configures one).
bgp_add_addresses() {
    ip -n "$(ns tgw)" addr replace 169.254.6.3/29 dev tgw0
    ip -n "$(ns tgw)" addr replace 169.254.7.3/29 dev tgw1
}

bgp_start_frr() {
    local gr="bgp graceful-restart-disable" dir inst host hops
    [[ ${LAB_BGP_GR:-0} == 1 ]] && gr="bgp graceful-restart\n bgp graceful-restart restart-time 15"
    [[ -x /usr/lib/frr/bgpd ]] || eg_apt_ensure frr
    chmod 755 "$STATE"   # FRR drops to the frr user, which must reach its run directories
    # Instance a (.2 addresses) with zebra: the learned default goes into tgw's kernel.
    for inst in a b; do
        dir=$STATE/frr-$inst; host=2 hops="ebgp-multihop 2"
        # Without zebra, bgpd cannot track a multihop peer's next hop and never connects.
        [[ $inst == b ]] && host=3 hops=disable-connected-check
        mkdir -p "$dir"
        bgp_render tgw-bgpd.conf "$dir/bgpd.conf" "INSTANCE=$inst" "HOST=$host" "DIR=$dir" "GR=$gr" "HOPS=$hops"
        chown -R frr:frr "$dir"
    done
    dir=$STATE/frr-a
    echo "hostname ${P}tgw-zebra" >"$dir/zebra.conf"; chown frr:frr "$dir/zebra.conf"
    start_bg tgw zebra /usr/lib/frr/zebra -u frr -g frr -f "$dir/zebra.conf" -z "$dir/zserv.api" \
        --vty_socket "$dir" -i "$dir/zebra.pid" -A 127.0.0.1 -P 0
    eg_wait 10 test -S "$dir/zserv.api" || { tail -n 20 "$STATE/zebra.log" >&2; eg_die "zebra did not start"; }
    start_bg tgw bgpd-a /usr/lib/frr/bgpd -u frr -g frr -z "$dir/zserv.api" -f "$dir/bgpd.conf" \
        --vty_socket "$dir" -i "$dir/bgpd.pid" -A 127.0.0.1 -P 0 -p 0
    dir=$STATE/frr-b
    start_bg tgw bgpd-b /usr/lib/frr/bgpd -Z -S -f "$dir/bgpd.conf" \
        --vty_socket "$dir" -i "$dir/bgpd.pid" -A 127.0.0.1 -P 0 -p 0
}

# bgp_start_bird_instance a|b: one BIRD (a: .2 addresses + kernel protocol; b: .3 addresses).
bgp_start_bird_instance() {
    local inst=$1 gr=off host=2 conf=$STATE/bird-$1.conf
    [[ ${LAB_BGP_GR:-0} == 1 ]] && gr=on
    [[ $inst == b ]] && host=3
    bgp_render tgw-bird.conf "$conf" "GR=$gr" "GR_TIME=15" "HOST=$host"
    [[ $inst == a ]] && sed -i 's/^#KERNEL#//' "$conf"
    start_bg tgw "bird-$inst" bird -f -c "$conf" -s "$STATE/bird-$inst.ctl"
    eg_wait 10 test -S "$STATE/bird-$inst.ctl" || { tail -n 20 "$STATE/bird-$inst.log" >&2; eg_die "bird ($inst) did not start"; }
}

bgp_start_bird() {
    command -v bird >/dev/null || eg_apt_ensure bird2
    bgp_start_bird_instance a
    bgp_start_bird_instance b
}

# lab_bgp_start: the stand-in's BGP daemon. Its kernel must hash ECMP by ports (flows spread).
lab_bgp_start() {
    local kind; kind=$(lab_bgp_kind)
    printf '%s' "$kind" >"$STATE/bgp.kind"
    sysctl_ns tgw net.ipv4.fib_multipath_hash_policy=1
    bgp_add_addresses
    "bgp_start_$kind"
    eg_log "$kind started in $(ns tgw) (AS 64512, 4 sessions toward app1)"
}

# bgp_established_count: how many of app1's sessions to the stand-in are Established.
bgp_established_count() {
    "$EGSH_BIN" --socket "$STATE/app1.sock" -c "show ip bgp summary json" | eg_json \
        "sum(1 for p in ($(printf "'%s'," "${LAB_BGP_PEERS[@]}")) if d['ipv4Unicast']['peers'].get(p, {}).get('state') == 'Established')"
}
bgp_all_established() { [[ $(bgp_established_count 2>/dev/null) == "${#LAB_BGP_PEERS[@]}" ]]; }
# tgw_default_ecmp: the stand-in's kernel has the default route via both tunnels.
tgw_default_ecmp() {
    local r; r=$(ip -n "$(ns tgw)" route show 0.0.0.0/0)
    [[ $r == *"dev tgw0"* && $r == *"dev tgw1"* ]]
}

# lab_bgp_wait: bounded wait for all sessions and the stand-in's ECMP default route.
lab_bgp_wait() {
    if ! eg_wait 45 bgp_all_established; then
        "$EGSH_BIN" --socket "$STATE/app1.sock" -c "show ip bgp summary" >&2 || true
        eg_die "app1's BGP sessions not all Established within 45 s (lab left up for inspection; run down)"
    fi
    eg_wait 20 tgw_default_ecmp || { ip -n "$(ns tgw)" route >&2
        eg_die "the stand-in's kernel has no ECMP default route over tgw0 and tgw1 (lab left up; run down)"; }
    eg_log "BGP: 4 sessions Established, ECMP default route in $(ns tgw)"
}

# lab_bgp_status: the stand-in's view of the sessions and routes.
lab_bgp_status() {
    local kind inst
    kind=$(cat "$STATE/bgp.kind" 2>/dev/null) || return 0
    printf '== BGP (%s in %s)\n' "$kind" "$(ns tgw)"
    if [[ $kind == frr ]]; then
        for inst in a b; do
            [[ -d $STATE/frr-$inst ]] || continue
            vtysh --vty_socket "$STATE/frr-$inst" -c "show bgp ipv4 unicast summary" 2>&1 \
                | sed -n '/^Neighbor/,/^$/p' | sed "s/^/   [$inst] /" || true
        done
    else
        for inst in a b; do
            birdc -s "$STATE/bird-$inst.ctl" show protocols 2>&1 | grep BGP | sed "s/^/   [$inst] /" || true
        done
    fi
    ip -n "$(ns tgw)" route show 0.0.0.0/0 2>&1 | sed 's/^/   tgw kernel: /'
}

spoke_reaches_inet() {
    [[ $(in_ns spoke1 curl -s -m 3 -o /dev/null -w '%{http_code}' http://198.51.100.80/) == 200 ]]
}

cmd_up() {
    [[ -e /run/netns/$(ns app1) ]] \
        && eg_die "lab '$P' is already up (scripts/lab.sh down first)"
    # The build's system libraries too: a fresh VM builds egressd here.
    eg_apt_ensure libmnl-dev libpcap-dev libedit-dev pkg-config \
        iproute2 nftables curl tshark python3-scapy iperf3 procps util-linux frr bird2
    local daemons=${LAB_DAEMONS:-1}
    lab_bgp_kind >/dev/null   # a bad LAB_BGP fails before anything is made
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
    lab_bgp_start
    lab_bgp_wait
    if ! eg_wait 30 spoke_reaches_inet; then
        for node in "${DAEMON_NODES[@]}"; do
            eg_log "--- $STATE/$node.log (last 30 lines)"; tail -n 30 "$STATE/$node.log" >&2
        done
        eg_die "spoke1 cannot fetch http://198.51.100.80/ within 30 s (lab left up for inspection; run down)"
    fi
    eg_log "lab '$P' up: spoke1 reaches http://198.51.100.80/"
    if [[ ${LAB_PROXIES:-0} == 1 ]]; then lab_proxies_up; fi
}

# ---------------------------------------------------------------------------------------------
# Teardown: safe to run twice and after a half-failed up.

cmd_down() {
    local pidfile node pid
    lab_proxies_down
    # Daemons first (by recorded pid), so they can remove their TUNs and routes cleanly.
    for node in bgpd-a bgpd-b bird-a bird-b zebra "${DAEMON_NODES[@]}" inet-server; do
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
        if [[ $node == app1 ]] && [[ -S $STATE/$node.sock ]]; then
            "$egsh" --socket "$STATE/$node.sock" -c "show ip bgp summary" 2>&1 | sed 's/^/   /' || true
        fi
    done
    [[ -e /run/netns/$(ns tgw) ]] && lab_bgp_status
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
