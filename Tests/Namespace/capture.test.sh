#!/usr/bin/env bash
# capture: `capture NAME interface tgw0 outer file F` in app1 writes a pcap tshark reads: only GRE
# between tgw0's ends, both directions (24 UDP flows make sure ECMP uses tgw0 both ways), with
# the spoke's UDP echo requests and replies inside; `no capture` closes it.
# `capture NAME interface any inner count 5 file F filter tcp port 80` stops by itself after 5
# decapsulated/inner packets that all match the BPF filter (`show capture json`: finished, 5
# written); a bad BPF filter, an existing file and a second concurrent capture are refused.
TEST_NAME="capture"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"

lab_up
sh1() { "$LAB" sh app1 -c "$1"; }
out=$(sh1 "capture c1 interface tgw0 outer file $WORK/outer.pcap") || fail "capture c1 refused: $out"
sh1 "capture c9 interface tgw1 file $WORK/other.pcap" >/dev/null 2>&1 && fail "a second concurrent capture was accepted"
for i in 1 2 3 4; do in_node spoke1 curl -s -m 5 -o /dev/null http://198.51.100.80/ || fail "spoke1 HTTP failed"; done
# 24 UDP echo flows: ECMP puts some of them (both ways) on tgw0 (all avoiding it: 2^-24).
in_node spoke1 "$PY" -c '
import socket
for port in range(41000, 41024):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.1.0.10", port)); s.settimeout(2)
    s.sendto(b"egressd capture", ("198.51.100.80", 7))
    s.recvfrom(100)' || fail "UDP echo flows failed"
sleep 0.5
out=$(sh1 "no capture c1") || fail "no capture c1: $out"
n=$(tshark -n -r "$WORK/outer.pcap" 2>/dev/null | wc -l)
(( n >= 8 )) || fail "outer capture has $n packets, want >= 8"
bad=$(tshark -n -r "$WORK/outer.pcap" -Y '!(gre && ((ip.src == 10.0.0.1 && ip.dst == 10.0.1.10) || (ip.src == 10.0.1.10 && ip.dst == 10.0.0.1)))' 2>"$WORK/ts.err" | wc -l)
(( bad == 0 )) || fail "$bad packets in the outer capture are not tgw0 GRE: $(tshark -n -r "$WORK/outer.pcap" | head -n 20)"
dirs=$(tshark -n -r "$WORK/outer.pcap" -T fields -e ip.src 2>/dev/null | cut -d, -f1 | sort -u | tr '\n' ' ')
[[ $dirs == "10.0.0.1 10.0.1.10 " ]] || fail "outer capture directions: $dirs"
# The inner packets decode under GRE: the echo flows' requests and replies.
(( $(tshark -n -r "$WORK/outer.pcap" -Y 'gre && udp.dstport == 7' 2>/dev/null | wc -l) > 0 )) || fail "no echo request inside the GRE capture"
(( $(tshark -n -r "$WORK/outer.pcap" -Y 'gre && udp.srcport == 7' 2>/dev/null | wc -l) > 0 )) || fail "no echo reply inside the GRE capture"

sh1 "capture c3 interface any inner file $WORK/x.pcap filter tcp port" >/dev/null 2>&1 && fail "a bad BPF filter was accepted"
echo keep >"$WORK/exists.txt"
sh1 "capture c4 interface any file $WORK/exists.txt" >/dev/null 2>&1 && fail "a capture overwrote an existing file"
[[ $(cat "$WORK/exists.txt") == keep ]] || fail "an existing file was changed"
out=$(sh1 "capture c2 interface any inner count 5 file $WORK/inner.pcap filter tcp port 80") || fail "capture c2 refused: $out"
for i in 1 2 3 4; do in_node spoke1 curl -s -m 5 -o /dev/null http://198.51.100.80/ || fail "spoke1 HTTP failed"; done
eg_wait 10 bash -c "'$LAB' sh app1 -c 'show capture json' | grep -q '\"finished\"'" || fail "c2 did not finish: $(sh1 'show capture')"
state=$(egsh_json app1 "show capture json")
[[ $(json_get "$state" "next(c['written'] for c in d['captures'] if c['name'] == 'c2')") == 5 ]] || fail "c2 state: $state"
n=$(tshark -n -r "$WORK/inner.pcap" 2>/dev/null | wc -l)
(( n == 5 )) || fail "inner capture has $n packets, want 5"
other=$(tshark -n -r "$WORK/inner.pcap" -Y '!(tcp.port == 80) || gre' 2>/dev/null | wc -l)
(( other == 0 )) || fail "$other packets in the inner capture do not match 'tcp port 80' or are GRE"
pass
