#!/usr/bin/env bash
# tun-offload: the TUNs' IFF_VNET_HDR offloads end to end (own topology, no BGP, as the bench's
# TCP rig): spoke -> stand-in egressd (tunnels only) -> GRE -> appliance egressd -> "Internet".
#   ns spoke [eth0 10.1.0.10/16] -- [sp0 10.1.0.1] ns tgw [u0 10.0.0.1/16] -- [u0 10.0.1.10/16]
#   ns app [i0 10.0.2.10/24] -- [eth0 10.0.2.1/24] ns inet (MTU 1500: MSS 1460)
# A 4 MB upload and a 4 MB download (tcp_bulk.py, SHA-256 checked) and 5 UDP GSO sends
# (UDP_SEGMENT, 10 x 1000 bytes each): both daemons log the offloads the kernel took; the
# stand-in read GSO super-packets (upload, UDP) and wrote coalesced ones (download); the
# appliance read super-packets (download); every inner segment on the underlay (tshark, both
# directions) has good IP/TCP/UDP checksums and fits the 1500-byte path; inet got 50 datagrams
# of 1000 bytes.
set -uo pipefail
TEST_NAME=tun-offload
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$HERE/../.." && pwd)
# shellcheck source=../../scripts/lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"
PY=/usr/bin/python3
P=t$$-o
NODES=(spoke tgw app inet)
WORK=$(mktemp -d "/tmp/egressd-nstest-$TEST_NAME.XXXXXX")
PIDS=()

fail() { echo "FAIL $TEST_NAME: $*"; exit 1; }
pass() { echo "PASS $TEST_NAME"; exit 0; }
ns() { printf '%s%s' "$P" "$1"; }
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

cleanup() {
    local rc=$? pid f
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do eg_kill_pid "$pid" 5; done
    if (( rc != 0 )); then
        for f in "$WORK"/*.log; do
            [[ -s $f ]] || continue
            echo "--- $TEST_NAME: ${f##*/} (last 30 lines)"; tail -n 30 "$f" | sed 's/^/    /'
        done
    fi
    eg_netns_delete "$P" "${NODES[@]}"
    rm -rf -- "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

[[ -n ${EGRESSD_BIN:-} ]] || fail "EGRESSD_BIN is not set (run through Tests/Namespace/run.sh)"
EGSH_BIN=${EGSH_BIN:-$(dirname "$EGRESSD_BIN")/egsh}

veth() {
    ip -n "$(ns "$1")" link add "$2" mtu "$5" type veth peer name "$4" mtu "$5" netns "$(ns "$3")" || fail "veth $1/$2"
    ip -n "$(ns "$1")" link set "$2" up
    ip -n "$(ns "$3")" link set "$4" up
}
for node in "${NODES[@]}"; do
    ip netns add "$(ns "$node")" || fail "netns add $(ns "$node")"
    ip -n "$(ns "$node")" link set lo up
    in_ns "$node" sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
        net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null
done
veth spoke eth0 tgw sp0 9000
veth tgw u0 app u0 9001
veth app i0 inet eth0 1500
ip -n "$(ns spoke)" addr add 10.1.0.10/16 dev eth0
ip -n "$(ns spoke)" route add default via 10.1.0.1
ip -n "$(ns tgw)" addr add 10.1.0.1/16 dev sp0
ip -n "$(ns tgw)" addr add 10.0.0.1/16 dev u0
ip -n "$(ns app)" addr add 10.0.1.10/16 dev u0
ip -n "$(ns app)" addr add 10.0.2.10/24 dev i0
ip -n "$(ns inet)" addr add 10.0.2.1/24 dev eth0
ip -n "$(ns inet)" route add 10.1.0.0/16 via 10.0.2.10
in_ns tgw sysctl -q -w net.ipv4.ip_forward=1 >/dev/null
in_ns app sysctl -q -w net.ipv4.ip_forward=1 >/dev/null

cat >"$WORK/tgw.conf" <<CONF
hostname ${P}tgw
interface tgw0
 tunnel connect-peer app source 10.0.0.1 destination 10.0.1.10
 ip address 169.254.6.2/29
!
ip route 10.0.2.1/32 tgw0
! The stand-in on tpacket, as in the lab: the underlay capture below is on its u0, where its
! TPACKET rings pass the packet taps (the appliance's default afxdp passes them by).
dataplane io-backend tpacket
CONF
cat >"$WORK/app.conf" <<CONF
hostname ${P}app
interface tgw0
 tunnel connect-peer tgw source 10.0.1.10 destination 10.0.0.1
 ip address 169.254.6.1/29
!
ip route 0.0.0.0/0 10.0.2.1
ip route 10.1.0.0/16 tgw0
! Pinned to tpacket: with afxdp (the default) the XDP program is attached to every Ethernet
! interface, the "Internet" veth too, and a native XDP program on a veth turns off its peer's
! TSO (veth_xdp_set), so the server's kernel sends MSS-sized segments and the appliance's
! TUN gets no super-packet to read: this test is about the TUN offloads, not the underlay.
dataplane io-backend tpacket
CONF
for node in tgw app; do
    in_ns "$node" "$EGRESSD_BIN" --config "$WORK/$node.conf" --socket "$WORK/$node.sock" --log-level info \
        </dev/null >"$WORK/egressd-$node.log" 2>&1 &
    PIDS+=("$!")
done
for node in tgw app; do
    eg_wait 30 "$EGSH_BIN" --socket "$WORK/$node.sock" -c "show interfaces json" >/dev/null 2>&1 \
        || fail "egressd in $node did not answer"
done
dp() { "$EGSH_BIN" --socket "$WORK/$1.sock" -c "show dataplane json" | eg_json "d['io']['$2']"; }
for node in tgw app; do
    grep -q "TUN offloads csum tso4 tso6" "$WORK/egressd-$node.log" \
        || fail "$node: no TSO offloads logged: $(grep -o 'TUN offloads.*' "$WORK/egressd-$node.log")"
done
USO=0
grep -q "TUN offloads csum tso4 tso6 uso4" "$WORK/egressd-tgw.log" && USO=1
in_ns spoke ping -c 3 -i 0.2 -W 2 -q 10.0.2.1 >/dev/null || fail "no ping from the spoke to 10.0.2.1"

in_ns inet "$PY" "$HERE/tcp_bulk.py" serve 10.0.2.1 5001 >"$WORK/bulk-server.log" 2>&1 &
PIDS+=("$!")
eg_wait 10 bash -c "ip netns exec $(ns inet) ss -Htln 'sport = :5001' | grep -q LISTEN" || fail "bulk server did not start"

# On the stand-in's end of the underlay veth (same packets): the appliance runs afxdp (the
# default), whose XDP program takes GRE before packet taps and whose AF_XDP TX passes them.
in_ns tgw tshark -n -q -i u0 -f "ip proto 47" -w "$WORK/u0.pcap" >"$WORK/tshark.log" 2>&1 &
CAP=$!
PIDS+=("$CAP")
eg_wait 20 grep -q "Capturing on" "$WORK/tshark.log" || fail "tshark did not start"

up=$(in_ns spoke "$PY" "$HERE/tcp_bulk.py" client 10.0.2.1 5001 up 4000000) || fail "upload: $up"
down=$(in_ns spoke "$PY" "$HERE/tcp_bulk.py" client 10.0.2.1 5001 down 4000000) || fail "download: $down"
echo "  upload: $up; download: $down"
if (( USO )); then
    in_ns inet "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.0.2.1", 9999)); s.settimeout(10)
sizes = []
try:
    while True: sizes.append(len(s.recv(65535))); s.settimeout(2)
except socket.timeout: pass
print(len(sizes), sorted(set(sizes)))' >"$WORK/udp-recv.out" 2>"$WORK/udp-recv.log" &
    UDP_PID=$!
    PIDS+=("$UDP_PID")
    eg_wait 10 bash -c "ip netns exec $(ns inet) ss -Hunl 'sport = :9999' | grep -q 9999" || fail "UDP receiver did not start"
    in_ns spoke "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, 1000)   # UDP_SEGMENT: the kernel sends one GSO packet per send
for i in range(5): s.sendto(bytes([i]) * 10000, ("10.0.2.1", 9999))' || fail "UDP GSO send failed"
    wait "$UDP_PID" 2>/dev/null
fi
sleep 1
kill -INT "$CAP" 2>/dev/null
for _ in $(seq 50); do eg_pid_gone "$CAP" && break; sleep 0.2; done

for node in tgw app; do
    echo "  $node: tunSuperRead $(dp "$node" tunSuperRead) tunSegments $(dp "$node" tunSegments)" \
         "tunSuperWritten $(dp "$node" tunSuperWritten) tunCoalesced $(dp "$node" tunCoalesced)"
done
(( $(dp tgw tunSuperRead) > 0 )) || fail "the stand-in read no GSO super-packet (upload)"
(( $(dp tgw tunSegments) > $(dp tgw tunSuperRead) )) || fail "the stand-in's super-packets gave no more segments than packets"
(( $(dp tgw tunSuperWritten) > 0 )) || fail "the stand-in wrote no coalesced super-packet (download)"
(( $(dp tgw tunCoalesced) >= 2 * $(dp tgw tunSuperWritten) )) || fail "coalesced counts inconsistent"
(( $(dp app tunSuperRead) > 0 )) || fail "the appliance read no GSO super-packet (download)"

# Every inner segment on the underlay: checksums good (tshark verifies), at most 1500 bytes.
tshark -n -r "$WORK/u0.pcap" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE \
    -T fields -E separator=';' -e frame.number -e ip.src -e ip.len -e ip.checksum.status -e tcp.len -e tcp.checksum.status \
    -e udp.length -e udp.checksum.status >"$WORK/u0.txt" 2>"$WORK/tshark-read.log" || fail "tshark could not read the capture"
verdict=$("$PY" - "$WORK/u0.txt" "$USO" <<'PY'
import sys
good = {"1", "Good"}
up = down = udp = acks = 0
bad = []
frames = []   # frame numbers of the bad ones, for the hex dump
for line in open(sys.argv[1]):
    frame, src, iplen, ipsum, tcplen, tcpsum, udplen, udpsum = line.rstrip("\n").split(";")
    srcs, lens, sums = src.split(","), iplen.split(","), ipsum.split(",")
    if len(srcs) < 2:
        continue   # not an IPv4-in-GRE frame
    inner_src, inner_len = srcs[1], int(lens[1])
    if any(s not in good for s in sums):
        bad.append("ip checksum %s" % line.strip())
        frames.append(frame)
    if inner_len > 1500:
        bad.append("inner packet of %d bytes" % inner_len)
    if tcplen:
        if tcpsum not in good:
            bad.append("tcp checksum %s" % line.strip())
            frames.append(frame)
        if int(tcplen) == 0:
            acks += 1
        else:
            if inner_src == "10.1.0.10": up += 1
            elif inner_src == "10.0.2.1": down += 1
    elif udplen:
        if udpsum not in good:
            bad.append("udp checksum %s" % line.strip())
            frames.append(frame)
        if int(udplen) == 1008: udp += 1
if bad:
    print("BAD %d: %s [frames %s]" % (len(bad), "; ".join(bad[:3]), ",".join(frames[:3])))
elif up < 1000 or down < 1000 or (sys.argv[2] == "1" and udp < 50):
    print("BAD too few segments: up %d down %d udp %d" % (up, down, udp))
else:
    print("OK up %d down %d udp %d, %d segments without payload" % (up, down, udp, acks))
PY
)
echo "  underlay: $verdict"
if [[ $verdict != OK* ]]; then
    # The evidence: the bad frames in hex, and the capture kept with the test's log.
    if [[ $verdict =~ \[frames\ ([0-9,]+)\] ]]; then
        for f in ${BASH_REMATCH[1]//,/ }; do
            echo "  frame $f:"; tshark -n -r "$WORK/u0.pcap" -Y "frame.number == $f" -x 2>/dev/null | sed 's/^/    /'
        done
    fi
    [[ -n ${NS_LOG_DIR:-} ]] && cp "$WORK/u0.pcap" "$NS_LOG_DIR/$TEST_NAME-u0.pcap"
    fail "underlay segments: $verdict"
fi
if (( USO )); then
    read -r count sizes <"$WORK/udp-recv.out" || fail "no UDP receiver output"
    [[ $count == 50 && $sizes == "[1000]" ]] || fail "inet got $count datagrams of sizes $sizes, want 50 of 1000"
    echo "  UDP GSO: 50 datagrams of 1000 bytes"
else
    echo "  UDP GSO: skipped, the kernel took no USO offload"
fi
pass
