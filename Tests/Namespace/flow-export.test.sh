#!/usr/bin/env bash
# flow-export: app1 exports IPFIX to a collector address inside its namespace (127.0.0.1:4739,
# captured on lo; tshark's cflow dissector is the decoder). A UDP flow of N packets from spoke1 to
# inet's echo port must appear as one record (5-tuple, packets, bytes, the tunnel it arrived on,
# forwarded: no next hop), its echoed return as one record encapsulated toward the Transit
# Gateway (next hop = the tunnel's remote end), after the inactive timeout; templates precede
# data; sequence numbers count the records.
TEST_NAME="flow-export"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"
N=10

lab_up
capture_start app1 lo "$WORK/ipfix.pcap" "udp port 4739"
"$LAB" sh app1 -c "configure terminal" -c "ip flow-export destination 127.0.0.1 4739" \
    -c "ip flow-cache timeout inactive 1" -c "end" >/dev/null || fail "flow-export config failed"
"$LAB" sh app1 -c "show running-config" | grep -qx "ip flow-export destination 127.0.0.1 4739" \
    || fail "running-config lacks the flow-export destination"
sleep 1
in_node spoke1 "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.1.0.10", 40123))
s.settimeout(2)
got = 0
for i in range('"$N"'):
    s.sendto(b"egressd flow %02d" % i, ("198.51.100.80", 7))
    try:
        s.recvfrom(100); got += 1
    except socket.timeout:
        pass
sys.exit(0 if got == '"$N"' else 1)' || fail "UDP echo through the appliance failed"
# Inactive timeout 1 s, expiry scan and the exporter's 1 s tick: allow a few seconds.
sleep 5
capture_stop
fields=$(tshark -n -r "$WORK/ipfix.pcap" -d udp.port==4739,cflow -T fields -E separator='|' -E occurrence=a -E aggregator=';' \
    -e cflow.srcaddr -e cflow.dstaddr -e cflow.srcport -e cflow.dstport -e cflow.protocol -e cflow.packets \
    -e cflow.octets -e cflow.if_name -e cflow.nexthop -e cflow.template_id -e cflow.sequence 2>"$WORK/tshark.err") \
    || fail "tshark failed: $(cat "$WORK/tshark.err")"
printf '%s\n' "$fields" >"$WORK/fields.txt"
why=$(FIELDS=$fields N=$N "$PY" -c '
import os
n = int(os.environ["N"])
records, templates, problems = [], 0, []
expected_seq = 0
for line in os.environ["FIELDS"].splitlines():
    f = [c.split(";") if c else [] for c in line.split("|")]
    if f[9]: templates += 1
    seq = int(f[10][0]) if f[10] else None
    if seq is not None and seq != expected_seq and f[0]:
        problems.append("sequence %d, want %d" % (seq, expected_seq))
    for i in range(len(f[0])):
        records.append(dict(src=f[0][i], dst=f[1][i], sport=f[2][i], dport=f[3][i], proto=f[4][i], packets=f[5][i],
                            octets=f[6][i], ifname=f[7][i], nexthop=f[8][i]))
    if seq is not None: expected_seq = seq + len(f[0])
if templates == 0: problems.append("no template set")
out = [r for r in records if r["src"] == "10.1.0.10" and r["dst"] == "198.51.100.80" and r["sport"] == "40123" and r["dport"] == "7"]
back = [r for r in records if r["src"] == "198.51.100.80" and r["dst"] == "10.1.0.10" and r["sport"] == "7" and r["dport"] == "40123"]
if len(out) != 1: problems.append("want 1 outbound record, got %s" % out)
elif out[0]["packets"] != str(n) or out[0]["octets"] != str(n * 43) or out[0]["proto"] != "17" \
        or out[0]["ifname"] not in ("tgw0", "tgw1") or out[0]["nexthop"] != "0.0.0.0":
    problems.append("outbound record wrong: %s" % out[0])
if len(back) != 1: problems.append("want 1 return record, got %s" % back)
elif back[0]["packets"] != str(n) or back[0]["nexthop"] not in ("10.0.0.1", "10.0.0.2") or back[0]["ifname"] not in ("tgw0", "tgw1"):
    problems.append("return record wrong: %s" % back[0])
print("; ".join(problems))')
[[ -z $why ]] || fail "$why (records: $(head -c 1500 "$WORK/fields.txt"))"
pass
