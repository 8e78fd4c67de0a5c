# Shared harness of the BGP namespace tests that build a topology of their own around FRR
# (bgp-frr, bgp-frr-ipv6-as4, bgp-health, bgp-md5-gtsm, drain-frr). Source it after setting TEST_NAME,
# NAMESPACES (the namespaces the test will make) and FAILURE_LOGS (files under WORK whose
# tails are shown when the test fails). It makes WORK and FRR_DIR, defines fail, pass,
# in_ns and vtysh_c, kills PIDS and removes the namespaces and WORK on any exit, checks
# EGRESSD_BIN/EGSH_BIN and installs FRR if it is missing. Below: the topology and start-up
# pieces the tests share (frr_underlay, stub_subnet, tunnel_pair_conf, start_egressd, frr_start,
# frr_bgpd_start, frr_app_conf, frr_tgw_bgpd_conf).
# shellcheck shell=bash
WORK=$(mktemp -d "/tmp/egressd-nstest-$TEST_NAME.XXXXXX")
FRR_DIR=$WORK/frr
PIDS=()
mkdir -p "$FRR_DIR"
chmod 755 "$WORK"  # FRR drops to the frr user, which must reach its run directory

fail() { echo "FAIL $TEST_NAME: $*"; exit 1; }
pass() { echo "PASS $TEST_NAME"; exit 0; }

cleanup() {
    local rc=$? pid f ns
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do eg_kill_pid "$pid" 5; wait "$pid" 2>/dev/null; done
    if (( rc != 0 )); then
        for f in "${FAILURE_LOGS[@]}"; do
            [[ -s $WORK/$f ]] || continue
            echo "--- $TEST_NAME: ${f##*/} (last 40 lines)"
            tail -n 40 "$WORK/$f" | sed 's/^/    /'
        done
    fi
    for ns in "${NAMESPACES[@]}"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

[[ -n ${EGRESSD_BIN:-} && -n ${EGSH_BIN:-} ]] || fail "EGRESSD_BIN and EGSH_BIN must be set"
[[ -x /usr/lib/frr/bgpd ]] || eg_apt_ensure frr

# in_ns NS CMD...: run CMD in namespace NS. Not for a daemon started with & whose pid is kept:
# a function run in the background is a subshell, and $! would be that shell's pid, not CMD's.
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" -- "$@"; }
vtysh_c() { vtysh --vty_socket "$FRR_DIR" "$@" 2>&1; }

# The two-namespace topology these tests share: TGW (the stand-in: 10.0.0.1 and .2, one
# Connect address per tunnel) and APP (the appliance: 10.0.1.10) joined by the underlay u0
# (MTU 9001, as an AWS ENI). Spoke and "firewall" networks are connected subnets made by
# stub_subnet (veth pairs standing in for dummy interfaces: no dummy module here), created
# before egressd starts, which hands traffic for connected subnets to the kernel.
frr_underlay() {  # TGW APP
    ip netns add "$1" && ip netns add "$2" || fail "cannot create namespaces"
    ip -n "$1" link add u0 mtu 9001 type veth peer name u0 mtu 9001 netns "$2" || fail "veth"
    ip -n "$1" addr add 10.0.0.1/16 dev u0
    ip -n "$1" addr add 10.0.0.2/16 dev u0
    ip -n "$2" addr add 10.0.1.10/16 dev u0
}
stub_subnet() {  # NS IFACE ADDRESS/LEN [ADDRESS6/LEN]
    ip -n "$1" link add "$2" type veth peer name "$2-peer" && ip -n "$1" addr add "$3" dev "$2" \
        && { [[ -z ${4:-} ]] || ip -n "$1" -6 addr add "$4" dev "$2" nodad; } \
        && ip -n "$1" link set "$2-peer" up && ip -n "$1" link set "$2" up || fail "cannot create $2 in $1"
}
frr_underlay_up() {  # NS...: lo and u0 up, IPv4 and IPv6 forwarding on
    local ns
    for ns in "$@"; do
        ip -n "$ns" link set lo up
        ip -n "$ns" link set u0 up
        in_ns "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    done
}

# egsh NODE CMD: one command to the egressd of NODE (its socket is $WORK/NODE.sock).
egsh() { "$EGSH_BIN" --socket "$WORK/$1.sock" -c "$2"; }

# tunnel_pair_conf tgw|app [v6]: the two Connect tunnels of this topology, as the config
# lines of that side (tgw0 over 10.0.0.1, tgw1 over 10.0.0.2; inside /29s 169.254.6.0 and
# 169.254.7.0, the stand-in .2 and the appliance .1; with v6 also the /125s fd00:6:: and fd00:7::).
tunnel_pair_conf() {
    local side=$1 v6=${2:-} i self peer name
    for i in 0 1; do
        if [[ $side == tgw ]]; then self=2 name=app-$((i + 1)) peer="source 10.0.0.$((i + 1)) destination 10.0.1.10"
        else self=1 name=tgw-$((i + 1)) peer="source 10.0.1.10 destination 10.0.0.$((i + 1))"; fi
        printf 'interface tgw%s\n tunnel connect-peer %s %s\n ip address 169.254.%s.%s/29\n' "$i" "$name" "$peer" "$((i + 6))" "$self"
        [[ -z $v6 ]] || printf ' ipv6 address fd00:%s::%s/125\n' "$((i + 6))" "$self"
    done
}

# start_egressd NODE NS: egressd with $WORK/NODE.conf (checked first) in namespace NS, its log
# appended to $WORK/NODE.log; waits until it answers. EGRESSD_PID is the new daemon's pid.
EGRESSD_PID=
start_egressd() {
    local node=$1 ns=$2
    "$EGRESSD_BIN" --config "$WORK/$node.conf" --check >"$WORK/$node.check" 2>&1 \
        || fail "$node.conf does not pass --check: $(cat "$WORK/$node.check")"
    nsenter --net="/run/netns/$ns" -- "$EGRESSD_BIN" --config "$WORK/$node.conf" --socket "$WORK/$node.sock" \
        --log-level info </dev/null >>"$WORK/$node.log" 2>&1 &
    EGRESSD_PID=$!
    PIDS+=("$EGRESSD_PID")
    # The binary, not the egsh function: some tests define an egsh of their own.
    eg_wait 30 "$EGSH_BIN" --socket "$WORK/$node.sock" -c "show interfaces json" >/dev/null \
        || fail "egressd in $node did not start"
}

# frr_start NS: FRR's zebra and bgpd in NS with the bgpd.conf the test wrote to $FRR_DIR
# (zebra, so routes bgpd learns land in the namespace's kernel). BGPD_PID is bgpd's pid.
BGPD_PID=
frr_start() {
    echo "hostname tgw-zebra" >"$FRR_DIR/zebra.conf"
    chown -R frr:frr "$FRR_DIR"
    nsenter --net="/run/netns/$1" -- /usr/lib/frr/zebra -u frr -g frr -f "$FRR_DIR/zebra.conf" -z "$FRR_DIR/zserv.api" \
        --vty_socket "$FRR_DIR" -i "$FRR_DIR/zebra.pid" -A 127.0.0.1 -P 0 >"$FRR_DIR/zebra.log" 2>&1 &
    PIDS+=($!)
    eg_wait 10 test -S "$FRR_DIR/zserv.api" || fail "zebra did not start"
    nsenter --net="/run/netns/$1" -- /usr/lib/frr/bgpd -u frr -g frr -f "$FRR_DIR/bgpd.conf" -z "$FRR_DIR/zserv.api" \
        --vty_socket "$FRR_DIR" -i "$FRR_DIR/bgpd.pid" -A 127.0.0.1 -P 0 >>"$FRR_DIR/bgpd.out" 2>&1 &
    BGPD_PID=$!
    PIDS+=("$BGPD_PID")
}

# frr_bgpd_start NS: FRR's bgpd alone in NS (-Z: no zebra, -S: no kernel routes) with the
# bgpd.conf the test wrote to $FRR_DIR (bgp-health, bgp-md5-gtsm). BGPD_PID is bgpd's pid.
frr_bgpd_start() {
    nsenter --net="/run/netns/$1" -- /usr/lib/frr/bgpd -Z -S -f "$FRR_DIR/bgpd.conf" --vty_socket "$FRR_DIR" \
        -i "$FRR_DIR/bgpd.pid" -A 127.0.0.1 -P 0 >"$FRR_DIR/bgpd.out" 2>&1 &
    BGPD_PID=$!
    PIDS+=("$BGPD_PID")
}

# frr_app_conf HOSTNAME [TIMERS [ROUTER-LINES [AF-LINES [GLOBAL-LINES]]]]: the appliance's
# config in this topology (bgp-frr, drain-frr): its tunnels (tunnel_pair_conf app) and
# `router bgp 65000` with the stand-in's two addresses as eBGP neighbours (AS 64512, multihop 2,
# `timers TIMERS` when given), default-originate to both, maximum-paths 2. The optional lines
# (several separated by newlines, each with its indentation) go at the end of the router's
# lines before the neighbours, of the address family, and after the router. Empty lines dropped.
frr_app_conf() {
    echo "hostname $1"
    tunnel_pair_conf app
    sed '/^$/d' <<EOF
!
router bgp 65000
 bgp router-id 10.0.1.10
 no bgp ebgp-requires-policy
${3:-}
 neighbor 169.254.6.2 remote-as 64512
 neighbor 169.254.6.2 ebgp-multihop 2
${2:+ neighbor 169.254.6.2 timers $2}
 neighbor 169.254.7.2 remote-as 64512
 neighbor 169.254.7.2 ebgp-multihop 2
${2:+ neighbor 169.254.7.2 timers $2}
 address-family ipv4 unicast
  neighbor 169.254.6.2 default-originate
  neighbor 169.254.7.2 default-originate
  maximum-paths 2
${4:-}
 exit-address-family
${5:-}
EOF
}

# frr_tgw_bgpd_conf TIMERS CONNECT [GLOBAL-LINES]: $FRR_DIR/bgpd.conf for the stand-in's FRR in
# this topology: AS 64512 (router ID 10.66.0.1), the appliance's two tunnel addresses as eBGP
# neighbours (AS 65000, multihop 2, `timers TIMERS`, `timers connect CONNECT`), announcing the
# spoke networks 10.1.0.0/16 and 10.2.0.0/16, maximum-paths 2; GLOBAL-LINES (each with its
# indentation) after the router's `no bgp network import-check`.
frr_tgw_bgpd_conf() {
    sed '/^$/d' >"$FRR_DIR/bgpd.conf" <<EOF
frr defaults traditional
hostname tgw-bgpd
log file $FRR_DIR/bgpd.log
router bgp 64512
 bgp router-id 10.66.0.1
 no bgp ebgp-requires-policy
 no bgp network import-check
${3:-}
 neighbor 169.254.6.1 remote-as 65000
 neighbor 169.254.6.1 ebgp-multihop 2
 neighbor 169.254.6.1 timers $1
 neighbor 169.254.6.1 timers connect $2
 neighbor 169.254.7.1 remote-as 65000
 neighbor 169.254.7.1 ebgp-multihop 2
 neighbor 169.254.7.1 timers $1
 neighbor 169.254.7.1 timers connect $2
 address-family ipv4 unicast
  network 10.1.0.0/16
  network 10.2.0.0/16
  maximum-paths 2
 exit-address-family
EOF
}
