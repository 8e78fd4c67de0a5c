#!/usr/bin/env bash
# wccp-flood: a fake cache (wccp_cache.py, MD5, 500 ms hellos) registers with app1 and takes all
# buckets; then a second address in the proxy namespace floods app1 with 8 000 HERE_I_AMs (Squid's
# bytes with a wrong password, plain UDP, 2 000/s for 4 s: longer than the 1.5 s removal time).
# The per-source limit drops the flood before decoding (`show ip wccp json` messagesRateLimited;
# what overflows the socket queue is counted by the kernel's Udp RcvbufErrors), the real cache
# stays usable with all 256 buckets throughout, and egressd's resident memory grows by less than
# 16 MB. Prints the CPU egressd spent. (An unpaced line-rate flood still overflows the shared
# socket queue and starves the real cache's HERE_I_AMs: a kernel-side limit is still to do.)
TEST_NAME="wccp-flood"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"

PROXY_NS=${LAB_PREFIX}proxy
ROUTER=10.0.3.10 CACHE=10.0.3.11 FLOODER=10.0.3.12 PASSWORD=egflood N=8000 RATE=2000
wccp_cleanup() {
    local rc=$?
    ip netns del "$PROXY_NS" 2>/dev/null
    (exit "$rc")
    ns_test_cleanup
}
trap wccp_cleanup EXIT
in_proxy() { ip netns exec "$PROXY_NS" "$@"; }
wccp_json() { egsh_json app1 "show ip wccp json"; }
usable_buckets() {
    json_get "$(egsh_json app1 "show ip wccp web-cache detail json")" \
        "sum(c['hashAllotment'] for c in d['clients'] if c['state'] == 'usable')"
}

lab_up
ip netns add "$PROXY_NS" || fail "cannot create namespace $PROXY_NS"
in_proxy ip link set lo up
ip -n "${LAB_PREFIX}app1" link add wc0 type veth peer name eth0 netns "$PROXY_NS" || fail "cannot create the proxy veth"
ip -n "${LAB_PREFIX}app1" addr add "$ROUTER/24" dev wc0
ip -n "${LAB_PREFIX}app1" link set wc0 up
in_proxy ip addr add "$CACHE/24" dev eth0
in_proxy ip addr add "$FLOODER/24" dev eth0
in_proxy ip link set eth0 up
cat >>"$LAB_STATE/app1.conf" <<EOF
ip wccp router-id $ROUTER
ip wccp timers here-i-am 500
ip wccp web-cache password 0 $PASSWORD
!
EOF
kill -HUP "$(cat "$LAB_STATE/app1.pid")" || fail "cannot SIGHUP egressd in app1"
eg_wait 10 "$LAB" sh app1 -c "show ip wccp json" || fail "show ip wccp does not answer after SIGHUP"

ip netns exec "$PROXY_NS" "$PY" "$NS_TEST_DIR/wccp_cache.py" join --router "$ROUTER" --cache "$CACHE" --password "$PASSWORD" \
    --hello 0.5 >"$WORK/cache.log" 2>&1 &
BG_PIDS+=($!)
eg_wait 10 grep -q assigned "$WORK/cache.log" || fail "the fake cache did not become usable: $(cat "$WORK/cache.log")"
for _ in $(seq 25); do [[ $(usable_buckets) == 256 ]] && break; sleep 0.2; done
[[ $(usable_buckets) == 256 ]] || fail "the cache does not hold all buckets before the flood"

pid=$(cat "$LAB_STATE/app1.pid")
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
rss_before=$(rss) cpu_before=$(cpu)
limited_before=$(json_get "$(wccp_json)" "d['messagesRateLimited']")
# What the kernel drops when the socket's queue is full (a bounded queue too) is counted there.
rcvbuf_errors() { in_node app1 awk '/^Udp:/ && $2 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp; }
rcvbuf_before=$(rcvbuf_errors)
# The flood: Squid's HERE_I_AM from one source that does not know the password.
in_proxy "$PY" -c '
import socket, sys, time
sys.path.insert(0, sys.argv[1])
import wccp_cache
flooder, router, password, n, rate = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
data = wccp_cache.here_i_am(flooder, router, 0, password)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((flooder, 2048))
start = time.monotonic()
for i in range(n):
    s.sendto(data, (router, 2048))
    if i % 20 == 19:   # paced at RATE datagrams/s
        time.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
' "$NS_TEST_DIR" "$FLOODER" "$ROUTER" "not-$PASSWORD" "$N" "$RATE" || fail "the flood could not be sent"
# The real cache keeps all buckets during and after the flood (3 hello intervals later too).
for _ in 1 2 3; do
    [[ $(usable_buckets) == 256 ]] || fail "the real cache lost buckets under the flood: $(egsh_json app1 "show ip wccp web-cache detail json")"
    sleep 0.5
done
limited=$(( $(json_get "$(wccp_json)" "d['messagesRateLimited']") - limited_before ))
queue_drops=$(( $(rcvbuf_errors) - rcvbuf_before ))
# Of the N, the socket queue dropped some (kernel counter) and the rate limit nearly all the rest:
# at most the burst (40) plus 20/s got to the decoder.
(( limited >= 1000 )) || fail "only $limited of $N flood datagrams were rate limited"
(( limited + queue_drops >= N - 40 - 20 * 6 )) \
    || fail "$limited rate limited + $queue_drops dropped by the socket queue: too many of $N reached the decoder"
growth=$(( $(rss) - rss_before ))
(( growth < 16384 )) || fail "egressd's RSS grew by $growth kB during the flood"
echo "    flood: $N HERE_I_AMs sent, $limited rate limited, $queue_drops dropped by the socket queue, RSS +$growth kB, egressd CPU $(( $(cpu) - cpu_before )) ticks"
pass
