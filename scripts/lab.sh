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
# The drawing is the one-appliance lab (LAB_APPLIANCES=1). The full lab (default) adds:
#  * app2, the second appliance: ENI 10.0.1.20 on its own underlay link (tgw u1 carries the
#    stand-in's Connect addresses 10.0.0.3 and .4, tunnels tgw2/tgw3 = app2's tgw0/tgw1 with
#    169.254.8.0/29 and 169.254.9.0/29), its own firewall link (fw app2 10.0.4.1 - app2 10.0.4.10);
#    the stand-in's BGP has 8 sessions and one ECMP default route over its 4 tunnels;
#  * fw routes replies by the link a connection's original packets last came in on (ct mark,
#    tables 101/102), so return traffic follows flows that ECMP moved to the other appliance;
#  * short BGP timers on the appliances (keepalive 3, hold 9) and the default route tied to an
#    `ip sla` probe of the appliance's firewall link (track 1);
#  * proxy1/proxy2 (Squid, WCCP with both appliances) on 10.0.3.0/24, a bridge in fw
#    (scripts/lib/lab-proxies.sh).
# BGP: the stand-in runs a real BGP daemon (LAB_BGP: FRR or BIRD), AS 64512, from the .2 and .3
# address of each tunnel's /29 (four sessions, as two Connect peers with two BGP addresses
# each); app1's egressd (AS 65000) advertises the default route and learns 10.1/16 and 10.2/16.
# Spoke traffic: spoke -> tgw kernel -> BGP-learned ECMP default route via 169.254.6.1 and
# 169.254.7.1, i.e. into the TUNs tgw0/tgw1 -> tgw's egressd encapsulates -> app1's egressd
# decapsulates and forwards to fw -> NAT -> inet.
# Return: fw -> app1's BGP-learned ECMP route "10.x/16 dev tgw0 dev tgw1" (engine and kernel)
# -> app1's egressd encapsulates (its own ECMP) -> tgw's egressd decapsulates into its kernel -> spoke.
#
# Usage: scripts/lab.sh up | down | status | traffic [SECONDS] | start NODE | exec NODE CMD... | sh NODE [-c "CMD"...]
#   start: start egressd again in NODE (tgw, app1, app2) after it was stopped (drills)
#   NODE: spoke1 spoke2 tgw app1 app2 fw inet proxy1 proxy2 (sh: tgw, app1, app2: egressd's nodes)
#   traffic: a steady mixed load from both spokes (scripts/lib/lab_load.py: HTTP through the
#   proxies, long downloads, TCP echo on 8080 and UDP echo on 7 straight out), a line per
#   second and a summary (also JSON in the state dir); options after SECONDS go to lab_load.py
# Environment:
#   LAB_PREFIX   prefix of namespaces, state dir and daemons (default "eg-"); tests use their own
#   EGRESSD_BIN  egressd binary to run (default: build with `swift build -c release`)
#   EGSH_BIN     egsh binary (default: egsh beside EGRESSD_BIN)
#   LAB_DAEMONS  0 = build the topology only, start no egressd (for working on the lab itself)
#   LAB_LOG_LEVEL  egressd --log-level (default info)
#   LAB_WORKERS  dataplane workers of each egressd (default 1)
#   LAB_IO_BACKEND  dataplane io-backend of the appliances' egressd: tpacket, raw or afxdp
#                (default: egressd's own default)
#   LAB_TGW_IO_BACKEND  dataplane io-backend of the stand-in's egressd (default tpacket: the
#                stand-in is not the product; its TPACKET rings go through the kernel's netdev
#                ingress and egress hooks, so a drill can cut GRE on tgw's side whatever the
#                appliances run: XDP/AF_XDP frames pass before ingress and after egress hooks)
#   LAB_BGP      the stand-in's BGP daemon: frr (default; bgpd + zebra) or bird (BIRD 2)
#   LAB_BGP_GR   1 = the stand-in's daemon announces graceful restart (restart time 15 s)
#   LAB_APPLIANCES  2 (default: the full lab, app1 and app2) or 1 (app1 only, the lighter lab)
#   LAB_PROXIES  1 = two real Squid proxies (proxy1, proxy2) with WCCP registered with every
#                appliance (scripts/lib/lab-proxies.sh); default 1 with 2 appliances, else 0
#   LAB_EGRESSD_USER  run each egressd as this user (--user, its primary group; default root)
#   LAB_DRAIN_TIME, LAB_UPDATE_DELAY  full lab: the appliances' `bgp graceful-shutdown drain-time`
#                (default 5) and `bgp update-delay` (default 60: Squid needs 30-40 s to assign
#                buckets to a restarted appliance), added when egressd accepts them
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
# The full lab (default) has two appliances; LAB_APPLIANCES=1 is the lighter one-appliance lab.
# A running lab's choice is in its state dir, so status/exec/sh/down need no environment.
if [[ -f $STATE/appliances ]]; then LAB_APPLIANCES=$(cat "$STATE/appliances"); fi
LAB_APPLIANCES=${LAB_APPLIANCES:-2}
[[ $LAB_APPLIANCES == 1 || $LAB_APPLIANCES == 2 ]] || eg_die "LAB_APPLIANCES must be 1 or 2, got '$LAB_APPLIANCES'"
APPS=(app1); (( LAB_APPLIANCES == 2 )) && APPS+=(app2)
NODES=(spoke1 spoke2 tgw "${APPS[@]}" fw inet)
ALL_NODES=(spoke1 spoke2 tgw app1 app2 fw inet)   # for down: whatever a lab of either kind made
DAEMON_NODES=(tgw "${APPS[@]}")
# Proxies: on by default in the full lab, off in the one-appliance lab.
if [[ -f $STATE/proxies ]]; then LAB_PROXIES=$(cat "$STATE/proxies"); fi
if (( LAB_APPLIANCES == 2 )); then LAB_PROXIES=${LAB_PROXIES:-1}; else LAB_PROXIES=${LAB_PROXIES:-0}; fi
[[ $LAB_PROXIES == 0 || $LAB_PROXIES == 1 ]] || eg_die "LAB_PROXIES must be 0 or 1, got '$LAB_PROXIES'"
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

# create_app2_links: the second appliance's underlay and firewall links (full lab).
# Underlay: app2's ENI is in another subnet (another AZ); the stand-in's two further Connect
# addresses (10.0.0.3, .4) sit on a second link u1 with a host route to app2 (10.0.1.20).
# Firewall: one link per appliance (app0: app1, app2: app2). Return traffic must follow the
# appliance a flow currently uses (the stand-in's ECMP moves flows when an appliance fails),
# so fw marks each connection with the link its original-direction packets last arrived on
# and routes the replies by that mark (tables 101/102); unmarked traffic uses both (ECMP).
create_app2_links() {
    veth tgw u1 app2 u0 9001
    ip -n "$(ns tgw)" addr add 10.0.0.3/32 dev u1
    ip -n "$(ns tgw)" addr add 10.0.0.4/32 dev u1
    ip -n "$(ns tgw)" route add 10.0.1.20/32 dev u1 src 10.0.0.3
    ip -n "$(ns app2)" addr add 10.0.1.20/16 dev u0

    veth app2 fw0 fw app2 1500
    ip -n "$(ns app2)" addr add 10.0.4.10/24 dev fw0
    ip -n "$(ns fw)" addr add 10.0.4.1/24 dev app2
    local spoke
    for spoke in 10.1.0.0/16 10.2.0.0/16; do
        ip -n "$(ns fw)" route add "$spoke" nexthop via 10.0.2.10 nexthop via 10.0.4.10
        ip -n "$(ns fw)" route add "$spoke" via 10.0.2.10 table 101
        ip -n "$(ns fw)" route add "$spoke" via 10.0.4.10 table 102
    done
    ip -n "$(ns fw)" rule add fwmark 1 lookup 101 priority 101
    ip -n "$(ns fw)" rule add fwmark 2 lookup 102 priority 102
    in_ns fw nft -f - <<'NFT'
table ip eglab_return {
    chain pre {
        type filter hook prerouting priority mangle; policy accept;
        ct direction original ct mark set iifname map { "app0" : 1, "app2" : 2 }
        ct direction reply meta mark set ct mark
    }
}
NFT
}

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
    if (( LAB_APPLIANCES == 1 )); then
        ip -n "$(ns fw)" route add 10.1.0.0/16 via 10.0.2.10
        ip -n "$(ns fw)" route add 10.2.0.0/16 via 10.0.2.10
    else
        create_app2_links
    fi

    # fw <-> inet.
    veth fw wan0 inet eth0 1500
    ip -n "$(ns fw)" addr add 198.51.100.1/24 dev wan0
    ip -n "$(ns inet)" addr add 198.51.100.80/24 dev eth0

    for node in tgw "${APPS[@]}" fw; do sysctl_ns "$node" net.ipv4.ip_forward=1; done
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
    # Lines marked #APP2# (the stand-in's tunnels to app2) and #FULL# (app1's short timers and
    # tracked default route) are the full lab's; the one-appliance lab drops them.
    local full=(-e 's/^#APP2#//' -e 's/^#FULL#//')
    (( LAB_APPLIANCES == 2 )) || full=(-e '/^#APP2#/d' -e '/^#FULL#/d')
    sed -e "s/@PREFIX@/$P/g" -e "s/@WORKERS@/$workers/g" "${full[@]}" \
        "$REPO_DIR/configs/lab/$1.conf" >"$STATE/$1.conf"
    local backend=${LAB_IO_BACKEND:-} var=LAB_IO_BACKEND
    [[ $1 == tgw ]] && backend=${LAB_TGW_IO_BACKEND:-tpacket} var=LAB_TGW_IO_BACKEND
    if [[ -n $backend ]]; then
        [[ $backend =~ ^(tpacket|raw|afxdp)$ ]] || eg_die "$var must be tpacket, raw or afxdp, got '$backend'"
        echo "dataplane io-backend $backend" >>"$STATE/$1.conf"
    fi
}

daemon_answers() { "$EGSH_BIN" --socket "$STATE/$1.sock" -c "show interfaces json"; }

# start_daemon NODE: render NODE's config and start egressd in NODE (daemon_wait: until it answers).
start_daemon() {
    local node=$1
    render_config "$node"
    if [[ $node == app* && ${LAB_PROXIES} == 1 ]]; then lab_proxies_config "$node" >>"$STATE/$node.conf"; fi
    [[ $node == app* ]] && lab_drain_config "$node"
    launch_daemon "$node"
}

# lab_drain_config APP: in the full lab, graceful shutdown and update delay on the appliance
# (`bgp graceful-shutdown drain-time`, `bgp update-delay`; the appliance-restart drill), when
# this egressd has them (probed with --check, so the lab works with binaries without them).
lab_drain_config() {
    (( LAB_APPLIANCES == 2 )) || return 0
    local conf=$STATE/$1.conf probe=$STATE/$1.drain-probe.conf
    { cat "$conf"; printf 'router bgp 65000\n bgp graceful-shutdown drain-time %s\n bgp update-delay %s\n!\n' \
        "${LAB_DRAIN_TIME:-5}" "${LAB_UPDATE_DELAY:-60}"; } >"$probe"
    if "$EGRESSD_BIN" --config "$probe" --check >/dev/null 2>&1; then
        mv "$probe" "$conf"
        echo 1 >"$STATE/drain.supported"
    else
        rm -f "$probe"
        echo 0 >"$STATE/drain.supported"
    fi
}

# launch_daemon NODE: start egressd in NODE with its rendered config in the state dir.
launch_daemon() {
    local node=$1
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
}

# daemon_wait NODE: bounded wait until NODE's egressd answers on its shell socket.
daemon_wait() {
    local node=$1 pid deadline
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

# The stand-in's BGP addresses (the appliances' neighbours): .2 and .3 of each tunnel's /29.
# app1: tunnels 169.254.6.0/29 and 169.254.7.0/29; app2: 169.254.8.0/29 and 169.254.9.0/29.
lab_bgp_peers() { case $1 in
    app1) echo 169.254.6.2 169.254.6.3 169.254.7.2 169.254.7.3 ;;
    app2) echo 169.254.8.2 169.254.8.3 169.254.9.2 169.254.9.3 ;; esac; }
# The stand-in's TUNs (one per Connect tunnel) and their /29s' third octet.
TGW_TUNS=(tgw0 tgw1); (( LAB_APPLIANCES == 2 )) && TGW_TUNS+=(tgw2 tgw3)

lab_bgp_kind() {
    local kind=${LAB_BGP:-frr}
    [[ $kind == frr || $kind == bird ]] || eg_die "LAB_BGP must be frr or bird, got '$kind'"
    printf '%s' "$kind"
}

# lab_full_markers FILE: enable the full lab's #APP2# lines in FILE, or drop them.
lab_full_markers() {
    if (( LAB_APPLIANCES == 2 )); then sed -i 's/^#APP2#//' "$1"; else sed -i '/^#APP2#/d' "$1"; fi
}

# bgp_render TEMPLATE OUT KEY=VALUE...: configs/lab/TEMPLATE with @PREFIX@ and each @KEY@ replaced.
bgp_render() {
    local template=$1 out=$2 kv args=(-e "s|@PREFIX@|$P|g"); shift 2
    for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
    sed "${args[@]}" "$REPO_DIR/configs/lab/$template" >"$out"
}

# bgp_add_addresses: the stand-in's second BGP address (.3) on each TUN (egressd configures one).
bgp_add_addresses() {
    local i
    for i in "${!TGW_TUNS[@]}"; do
        ip -n "$(ns tgw)" addr replace "169.254.$((6 + i)).3/29" dev "${TGW_TUNS[$i]}"
    done
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
        lab_full_markers "$dir/bgpd.conf"
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
    lab_full_markers "$conf"
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
    eg_log "$kind started in $(ns tgw) (AS 64512, 4 sessions toward each of ${APPS[*]})"
}

# bgp_established_count [APP]: how many of APP's (default app1) sessions to the stand-in are Established.
bgp_established_count() {
    local app=${1:-app1} peers
    read -ra peers <<<"$(lab_bgp_peers "$app")"
    "$EGSH_BIN" --socket "$STATE/$app.sock" -c "show ip bgp summary json" | eg_json \
        "sum(1 for p in ($(printf "'%s'," "${peers[@]}")) if d['ipv4Unicast']['peers'].get(p, {}).get('state') == 'Established')"
}
bgp_all_established() {
    local app
    for app in "${APPS[@]}"; do [[ $(bgp_established_count "$app" 2>/dev/null) == 4 ]] || return 1; done
}
# tgw_default_ecmp: the stand-in's kernel has the default route via every tunnel.
tgw_default_ecmp() {
    local r t; r=$(ip -n "$(ns tgw)" route show 0.0.0.0/0)
    for t in "${TGW_TUNS[@]}"; do [[ $r == *"dev $t "* || $r == *"dev $t" ]] || return 1; done
}

# lab_bgp_wait: bounded wait for all sessions and the stand-in's ECMP default route.
lab_bgp_wait() {
    local app
    if ! eg_wait 45 bgp_all_established; then
        for app in "${APPS[@]}"; do "$EGSH_BIN" --socket "$STATE/$app.sock" -c "show ip bgp summary" >&2 || true; done
        eg_die "the appliances' BGP sessions not all Established within 45 s (lab left up for inspection; run down)"
    fi
    # With `bgp update-delay` (full lab, when egressd has it) an appliance advertises its
    # default route only once its WCCP service has an assignment (Squid: 15 s after joining).
    eg_wait 75 tgw_default_ecmp || { ip -n "$(ns tgw)" route >&2
        eg_die "the stand-in's kernel has no ECMP default route over ${TGW_TUNS[*]} (lab left up; run down)"; }
    eg_log "BGP: $(( 4 * ${#APPS[@]} )) sessions Established, ECMP default route over ${TGW_TUNS[*]} in $(ns tgw)"
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
    LAB_T0=$(date +%s)
    [[ -e /run/netns/$(ns app1) ]] \
        && eg_die "lab '$P' is already up (scripts/lab.sh down first)"
    # The build's system libraries too: a fresh VM builds egressd here.
    eg_apt_ensure libmnl-dev libpcap-dev libedit-dev pkg-config \
        iproute2 nftables curl tshark python3-scapy iperf3 procps util-linux frr bird2
    local daemons=${LAB_DAEMONS:-1}
    lab_bgp_kind >/dev/null   # a bad LAB_BGP fails before anything is made
    [[ $daemons == 0 ]] || resolve_binaries
    mkdir -p "$STATE"
    printf '%s' "$LAB_APPLIANCES" >"$STATE/appliances"
    printf '%s' "$LAB_PROXIES" >"$STATE/proxies"
    [[ $daemons == 0 ]] || printf '%s' "$EGSH_BIN" >"$STATE/egsh.path"
    [[ $daemons == 0 ]] || printf '%s' "$EGRESSD_BIN" >"$STATE/egressd.path"
    eg_log "creating lab '$P' (state in $STATE)"
    create_topology
    start_inet_services
    if [[ $daemons == 0 ]]; then
        eg_log "lab '$P' up without egressd (LAB_DAEMONS=0)"
        return 0
    fi
    local node squid_dir=""
    if [[ $LAB_PROXIES == 1 ]]; then
        squid_dir=$(lab_squid_dir) || exit 1
        lab_proxies_topology
    fi
    # Everything starts at once; then bounded waits for each part.
    for node in "${DAEMON_NODES[@]}"; do start_daemon "$node"; done
    for node in "${DAEMON_NODES[@]}"; do daemon_wait "$node"; done
    lab_bgp_start
    [[ $LAB_PROXIES == 1 ]] && lab_proxies_start "$squid_dir"
    lab_bgp_wait
    if ! eg_wait 30 spoke_reaches_inet; then
        for node in "${DAEMON_NODES[@]}"; do
            eg_log "--- $STATE/$node.log (last 30 lines)"; tail -n 30 "$STATE/$node.log" >&2
        done
        eg_die "spoke1 cannot fetch http://198.51.100.80/ within 30 s (lab left up for inspection; run down)"
    fi
    eg_log "lab '$P' up: spoke1 reaches http://198.51.100.80/"
    if [[ $LAB_PROXIES == 1 ]]; then
        for node in "${APPS[@]}"; do
            eg_wait 60 wccp_assigned "$node" || { "$EGSH_BIN" --socket "$STATE/$node.sock" -c "show ip wccp 80 detail" >&2
                lab_proxies_report >&2
                eg_die "WCCP on $(ns "$node"): the two proxies have no buckets within 60 s (lab left up; run down)"; }
        done
        eg_log "WCCP: both proxies assigned buckets on ${APPS[*]}"
    fi
    eg_log "lab '$P' up in $(( $(date +%s) - LAB_T0 )) s (${#APPS[@]} appliance(s), proxies: $LAB_PROXIES)"
}

# ---------------------------------------------------------------------------------------------
# Teardown: safe to run twice and after a half-failed up.

cmd_down() {
    local pidfile node
    lab_proxies_down
    # Daemons first (by recorded pid), so they can remove their TUNs and routes cleanly.
    # A load (lab.sh traffic) first, so it does not count the teardown as failures.
    [[ -f $STATE/traffic.pid ]] && eg_kill_pid "$(cat "$STATE/traffic.pid")" 3
    for node in bgpd-a bgpd-b bird-a bird-b zebra tgw app1 app2 inet-server; do
        pidfile=$STATE/$node.pid
        [[ -f $pidfile ]] && eg_kill_pid "$(cat "$pidfile")" 10
    done
    # Anything else still running inside our namespaces (captures, test helpers) is ours too.
    eg_netns_delete "$P" "${ALL_NODES[@]}"
    rm -rf -- "$STATE"
    rmdir /run/egressd-lab 2>/dev/null || true
    eg_log "lab '$P' down"
}

# ---------------------------------------------------------------------------------------------
# Inspection

cmd_status() {
    local node pid any=0 egsh p
    for node in "${NODES[@]}"; do [[ -e /run/netns/$(ns "$node") ]] && any=1; done
    (( any )) || { echo "lab '$P' is down"; return 0; }
    printf "lab '%s': %s appliance(s), proxies %s, stand-in BGP %s\n" "$P" "${#APPS[@]}" \
        "$( [[ $LAB_PROXIES == 1 ]] && echo on || echo off)" "$(cat "$STATE/bgp.kind" 2>/dev/null || echo -)"
    if [[ -f $STATE/egsh.path ]]; then
        egsh=$(saved_egsh)
        "$PY" "$LAB_DIR/lib/lab_status.py" "$egsh" "$STATE" "$P" "${DAEMON_NODES[@]}" || true
    fi
    if [[ $LAB_PROXIES == 1 ]]; then
        for p in "${LAB_PROXY_NODES[@]}"; do
            pid=$(cat "$STATE/squid-$p.pid" 2>/dev/null || echo -)
            if [[ $pid != - ]] && ! eg_pid_gone "$pid"; then
                printf '%s%s  Squid pid %s running\n' "$P" "$p" "$pid"
            else
                printf '%s%s  Squid NOT RUNNING\n' "$P" "$p"
            fi
        done
    fi
    [[ -e /run/netns/$(ns tgw) ]] && lab_bgp_status
    return 0
}

# cmd_traffic [SECONDS] [lab_load.py options]: the steady mixed load from both spokes (until
# Ctrl-C when no SECONDS); the summary also goes to $STATE/traffic.json (TRAFFIC_JSON).
cmd_traffic() {
    [[ -e /run/netns/$(ns spoke1) ]] || eg_die "lab '$P' is not up (scripts/lab.sh up first)"
    local duration=0
    if [[ ${1:-} =~ ^[0-9]+$ ]]; then duration=$1; shift; fi
    local json=${TRAFFIC_JSON:-$STATE/traffic.json} rc=0
    echo $$ >"$STATE/traffic.pid"
    "$PY" "$LAB_DIR/lib/lab_load.py" --spokes "$(ns spoke1),$(ns spoke2)" --prefix "$P" \
        --duration "$duration" --json "$json" "$@" &
    local pid=$!
    trap 'kill -TERM $pid 2>/dev/null' INT TERM
    wait "$pid" || rc=$?
    # A signal interrupts the first wait; the load then prints its summary and ends.
    if kill -0 "$pid" 2>/dev/null; then wait "$pid" || rc=$?; fi
    rm -f "$STATE/traffic.pid"
    eg_log "summary as JSON: $json"
    return "$rc"
}

# cmd_start NODE: start egressd again in NODE (after a drill killed or stopped it), with the
# config in the state dir, and wait until it answers.
cmd_start() {
    (( $# == 1 )) || eg_die "usage: lab.sh start NODE"
    [[ " ${DAEMON_NODES[*]} " == *" $1 "* ]] || eg_die "egressd runs in ${DAEMON_NODES[*]}, not in '$1'"
    [[ -f $STATE/egsh.path ]] || eg_die "lab '$P' is not up"
    if [[ -f $STATE/$1.pid ]] && ! eg_pid_gone "$(cat "$STATE/$1.pid")"; then
        eg_die "egressd in $(ns "$1") still runs (pid $(cat "$STATE/$1.pid"))"
    fi
    EGSH_BIN=$(saved_egsh)
    EGRESSD_BIN=${EGRESSD_BIN:-$(cat "$STATE/egressd.path")}
    launch_daemon "$1"
    daemon_wait "$1"
    # A new TUN has none of the stand-in's extra addresses; only the stand-in needs them.
    [[ $1 == tgw ]] && bgp_add_addresses
    return 0
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
    [[ " ${DAEMON_NODES[*]} " == *" $1 "* ]] || eg_die "egressd runs in ${DAEMON_NODES[*]}, not in '$1'"
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
    traffic) cmd_traffic "$@" ;;
    start) cmd_start "$@" ;;
    exec) cmd_exec "$@" ;;
    sh) cmd_sh "$@" ;;
    -h|--help|help) usage 0 ;;
    *) eg_log "unknown command '$command'"; usage ;;
esac
