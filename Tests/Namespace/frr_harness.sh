# Shared harness of the BGP namespace tests that build a topology of their own around FRR
# (bgp-frr, bgp-frr-ipv6-as4, bgp-health, bgp-md5-gtsm, drain-frr). Source it after setting TEST_NAME,
# NAMESPACES (the namespaces the test will make) and FAILURE_LOGS (files under WORK whose
# tails are shown when the test fails). It makes WORK and FRR_DIR, defines fail, pass,
# in_ns and vtysh_c, kills PIDS and removes the namespaces and WORK on any exit, checks
# EGRESSD_BIN/EGSH_BIN and installs FRR if it is missing.
# shellcheck shell=bash
WORK=$(mktemp -d "/tmp/egressd-nstest-$TEST_NAME.XXXXXX")
FRR_DIR=$WORK/frr
PIDS=()

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

# in_ns NS CMD...: run CMD in namespace NS (nsenter execs, so a background $! is CMD's pid).
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
