#!/usr/bin/env bash
# icmp-errors: app1's engine answers for transit packets it cannot forward. A ping with TTL 2
# from spoke1 (1 after tgw's kernel) gets "Time to live exceeded" from a tunnel inside address
# of app1; a 2028-byte DF ping gets "Frag needed" with mtu 1500 (app1 -> fw is 1500, the
# spokes and tunnels are bigger). app1's ttl-expired and too-big counters each rise by one.
# Then a 2 MB download and a 1 MB upload (big TCP segments from spoke2) complete.
TEST_NAME="icmp-errors"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"

# drops_total JSON REASON: the drop counter summed over app1's tunnels.
drops_total() { json_get "$1" "sum(i['counters']['drops']['$2'] for i in d['interfaces'])"; }
icmp_total() { json_get "$1" "sum(i['counters']['icmpSent'] for i in d['interfaces'])"; }

lab_up
before=$(egsh_json app1 "show interfaces json")

out=$(in_node spoke1 ping -n -c1 -W2 -t 2 198.51.100.80 2>&1)
grep -Eq '^From 169\.254\.[67]\.1 .*Time to live exceeded' <<<"$out" \
    || fail "TTL-2 ping got no time exceeded from app1's tunnel address: $(tr '\n' ' ' <<<"$out")"

out=$(in_node spoke1 ping -n -c1 -W2 -M "do" -s 2000 198.51.100.80 2>&1)
grep -Eq '^From 169\.254\.[67]\.1 .*Frag needed and DF set \(mtu = 1500\)' <<<"$out" \
    || fail "2028-byte DF ping got no frag-needed (mtu 1500) from app1: $(tr '\n' ' ' <<<"$out")"

after=$(egsh_json app1 "show interfaces json")
for reason in ttl-expired too-big; do
    delta=$(( $(drops_total "$after" "$reason") - $(drops_total "$before" "$reason") ))
    (( delta == 1 )) || fail "app1 $reason rose by $delta, want 1"
done
delta=$(( $(icmp_total "$after") - $(icmp_total "$before") ))
(( delta == 2 )) || fail "app1 icmpSent rose by $delta, want 2"

# The path still works for normal-size packets after the errors.
in_node spoke1 ping -n -c1 -W2 198.51.100.80 >/dev/null || fail "plain ping from spoke1 fails"

# TCP both ways with big segments: spoke2's MSS (MTU 9000) is above the 1500 path, so the upload
# only completes if app1's frag-needed (or MSS clamping) brings the segments down.
size=$(in_node spoke2 curl -s -m 20 -o /dev/null -w '%{size_download}' http://198.51.100.80/bytes/2000000) \
    || fail "2 MB download to spoke2 failed"
(( size == 2000000 )) || fail "2 MB download to spoke2 got $size bytes"
head -c 1000000 /dev/zero >"$WORK/upload.bin"
reply=$(in_node spoke2 curl -s -m 20 --data-binary @"$WORK/upload.bin" \
    -H 'Content-Type: application/octet-stream' http://198.51.100.80/) \
    || fail "1 MB upload from spoke2 failed (path MTU discovery through app1?)"
[[ $reply == "received 1000000" ]] || fail "1 MB upload from spoke2: server answered '$reply'"
pass
