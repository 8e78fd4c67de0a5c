#!/usr/bin/env bash
# wccp-flood: a fake cache (wccp_cache.py, MD5, 500 ms hellos) registers with app1 and takes all
# buckets; then a second address in the proxy namespace floods app1 with HERE_I_AMs (Squid's bytes
# with a wrong password, plain UDP) as fast as one sender can for 4 s, unpaced: longer than the
# 1.5 s removal time. The real cache has a socket of its own (connected to it), so the flood can
# fill only the shared socket's queue; the per-source limit drops the flood's datagrams before
# their bytes are copied (`show ip wccp json`: messagesRateLimited, and what the full shared queue
# lost: messagesDroppedSharedQueueFull). Checked: the real cache stays usable with all 256 buckets
# during and after the flood, its own queue dropped nothing, nearly every flood datagram is
# accounted for by a counter, and egressd's resident memory grows by less than 16 MB. Prints the
# datagrams sent, the counters and the CPU egressd spent.
TEST_NAME="wccp-flood"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"

PROXY_NS=${LAB_PREFIX}proxy
ROUTER=10.0.3.10 CACHE=10.0.3.11 FLOODER=10.0.3.12 PASSWORD=egflood SECONDS_FLOOD=4
TEST_NAMESPACES+=("$PROXY_NS")  # the proxy namespace is this test's own
in_proxy() { ip netns exec "$PROXY_NS" "$@"; }
wccp_json() { egsh_json app1 "show ip wccp json"; }
usable_buckets() {
    json_get "$(egsh_json app1 "show ip wccp web-cache detail json")" \
        "sum(c['hashAllotment'] for c in d['clients'] if c['state'] == 'usable')"
}

lab_up
proxy_segment "$PROXY_NS" "$ROUTER" "$CACHE" "$FLOODER"
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
shared_before=$(json_get "$(wccp_json)" "d['messagesDroppedSharedQueueFull']")
(( $(json_get "$(wccp_json)" "d['cacheSockets']") == 1 )) || fail "the real cache has no socket of its own: $(wccp_json)"
# What the kernel drops when a socket's queue is full (a bounded queue too) is also counted there.
# (Udp InErrors: every datagram dropped after it reached a socket, the full queues' included.)
rcvbuf_errors() { in_node app1 awk '/^Udp:/ && $2 ~ /^[0-9]+$/ { print $4 }' /proc/net/snmp; }
rcvbuf_before=$(rcvbuf_errors)
# The flood, unpaced: Squid's HERE_I_AM from one source that does not know the password.
in_proxy "$PY" -c '
import socket, sys, time
sys.path.insert(0, sys.argv[1])
import wccp_cache
flooder, router, password, seconds = sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
data = wccp_cache.here_i_am(flooder, router, 0, password)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((flooder, 2048))
n, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    for _ in range(200):
        try:
            s.sendto(data, (router, 2048))
            n += 1
        except OSError:
            pass
print(n)
' "$NS_TEST_DIR" "$FLOODER" "$ROUTER" "not-$PASSWORD" "$SECONDS_FLOOD" >"$WORK/flood.out" 2>&1 &
flood_pid=$!
BG_PIDS+=("$flood_pid")
# The real cache keeps all buckets during the flood (checked every 0.5 s) and after it (3 hello
# intervals later too).
during=0
while kill -0 "$flood_pid" 2>/dev/null; do
    b=$(usable_buckets 2>/dev/null)
    [[ -z $b ]] && { sleep 0.2; continue; }   # the shell timed out under the flood: no verdict
    [[ $b == 256 ]] || fail "the real cache lost buckets under the flood ($b usable): $(egsh_json app1 "show ip wccp web-cache detail json")"
    during=$(( during + 1 ))
    sleep 0.5
done
wait "$flood_pid" || fail "the flood could not be sent: $(cat "$WORK/flood.out")"
N=$(tail -n 1 "$WORK/flood.out")
[[ $N =~ ^[0-9]+$ ]] && (( N > 0 )) || fail "the flood sent nothing: $(cat "$WORK/flood.out")"
(( during >= 2 )) || fail "the cache's buckets could be read only $during times during the flood"
for _ in 1 2 3; do
    [[ $(usable_buckets) == 256 ]] || fail "the real cache lost buckets after the flood: $(egsh_json app1 "show ip wccp web-cache detail json")"
    sleep 0.5
done
j=$(wccp_json)
limited=$(( $(json_get "$j" "d['messagesRateLimited']") - limited_before ))
shared=$(( $(json_get "$j" "d['messagesDroppedSharedQueueFull']") - shared_before ))
cache_drops=$(json_get "$j" "d['messagesDroppedCacheQueueFull']")
queue_drops=$(( $(rcvbuf_errors) - rcvbuf_before ))
(( cache_drops == 0 )) || fail "the real cache's own queue dropped $cache_drops datagrams"
# Of the N, the shared queue dropped some and the rate limit nearly all the rest: at most the
# burst (40) plus 20/s (the flood plus margin) got to the decoder.
(( limited >= 1000 )) || fail "only $limited of $N flood datagrams were rate limited"
(( limited + shared >= N - 40 - 20 * (SECONDS_FLOOD + 4) )) \
    || fail "$limited rate limited + $shared dropped by the shared queue: too many of $N reached the decoder"
(( shared <= queue_drops )) || fail "egressd counts $shared shared-queue drops, the kernel only $queue_drops"
growth=$(( $(rss) - rss_before ))
(( growth < 16384 )) || fail "egressd's RSS grew by $growth kB during the flood"
echo "    flood: $N HERE_I_AMs sent unpaced in ${SECONDS_FLOOD}s, $limited rate limited, $shared dropped by the full shared queue (kernel: $queue_drops), 0 by the cache's queue, RSS +$growth kB, egressd CPU $(( $(cpu) - cpu_before )) ticks"
pass
