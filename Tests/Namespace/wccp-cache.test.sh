#!/usr/bin/env bash
# wccp-cache: app1 as a WCCPv2 router (UDP 2048 on 10.0.3.10) with a fake cache in a "proxy"
# namespace of this test (10.0.3.11, wccp_cache.py: real Squid HERE_I_AM bytes, MD5). The cache
# joins and assigns every bucket to itself; spoke1's HTTP SYN to 198.51.100.80 then reaches the
# proxy GRE-encapsulated (0x883E, service 0) from 10.0.3.10, and the web-cache counters rise;
# UDP is not redirected; a HERE_I_AM with the wrong password is dropped and counted; `clear ip
# wccp` zeroes the counters; when the cache goes silent it is removed after 3 x 500 ms and
# traffic fails open (curl works again, counted as unassigned); adding a service is applied in
# place (the endpoint keeps listening, no second bind). Data-path failure evidence
# (`failure-detection ... data-path`): while its proxy port still answers the TCP probes, the
# cache's host starts refusing GRE (nftables: ICMP protocol unreachable); a redirected SYN makes
# egressd declare it dead within 2 s (measured) and the retransmitted SYN fails open. A
# redirect-list change applies to the first packet after it, also when the worker slept through it.
TEST_NAME="wccp-cache"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"

PROXY_NS=${LAB_PREFIX}proxy
ROUTER=10.0.3.10
CACHE=10.0.3.11
PASSWORD=egwccp

TEST_NAMESPACES+=("$PROXY_NS")  # the proxy namespace is this test's own

# in_proxy CMD...: run CMD in the proxy namespace (background jobs call ip netns exec directly, so $! is the program).
in_proxy() { ip netns exec "$PROXY_NS" "$@"; }
wccp_json() { egsh_json app1 "show ip wccp json"; }
web_cache() { json_get "$(wccp_json)" "next(s for s in d['services'] if s['serviceId'] == 0)['$1']"; }
clients_are() { [[ $(web_cache clients) == "$1" ]]; }
test_auth_rose() { (( $(web_cache authenticationFailures) == auth_before + 1 )); }
all_buckets_assigned() {
    [[ $(json_get "$(egsh_json app1 "show ip wccp web-cache detail json")" \
        "sum(c['hashAllotment'] for c in d['clients'] if c['state'] == 'usable')") == 256 ]]
}

lab_up

proxy_segment "$PROXY_NS" "$ROUTER" "$CACHE"

cat >>"$LAB_STATE/app1.conf" <<EOF
ip access-list extended WEB
 deny tcp host $CACHE any
 permit tcp any any eq 80
!
ip wccp router-id $ROUTER
ip wccp timers here-i-am 500
ip wccp web-cache redirect-list WEB password 0 $PASSWORD
!
EOF
kill -HUP "$(cat "$LAB_STATE/app1.pid")" || fail "cannot SIGHUP egressd in app1"
eg_wait 10 "$LAB" sh app1 -c "show ip wccp json" || fail "show ip wccp does not answer after SIGHUP"
[[ $(json_get "$(wccp_json)" "d['routerIdentifier']") == "$ROUTER" ]] || fail "router identifier is not $ROUTER"
running=$(egsh_json app1 "show running-config")
[[ $running == *"ip wccp web-cache redirect-list WEB password 0 $PASSWORD"* ]] || fail "running-config lacks the ip wccp line"

capture_pcap=$WORK/proxy.pcap
ip netns exec "$PROXY_NS" tshark -n -q -i eth0 -f "ip proto 47 or udp port 2048" -w "$capture_pcap" >"$capture_pcap.log" 2>&1 &
CAPTURE_PID=$!
BG_PIDS+=("$CAPTURE_PID")
eg_wait 20 grep -q "Capturing on" "$capture_pcap.log" || fail "tshark did not start in $PROXY_NS: $(cat "$capture_pcap.log")"

# The cache joins and assigns every bucket to itself; it keeps saying HERE_I_AM until killed.
ip netns exec "$PROXY_NS" "$PY" "$NS_TEST_DIR/wccp_cache.py" join --router "$ROUTER" --cache "$CACHE" --password "$PASSWORD" \
    --hello 0.5 >"$WORK/cache.log" 2>&1 &
CACHE_PID=$!
BG_PIDS+=("$CACHE_PID")
eg_wait 10 grep -q assigned "$WORK/cache.log" || fail "the fake cache did not become usable: $(cat "$WORK/cache.log")"
eg_wait 5 all_buckets_assigned || fail "app1 did not take the assignment: $(egsh_json app1 "show ip wccp web-cache detail json")"
clients_are 1 || fail "web-cache does not list 1 client"
text=$("$LAB" sh app1 -c "show ip wccp web-cache detail") || fail "show ip wccp web-cache detail failed"
[[ $text == *"WCCP Client ID:          $CACHE"* && $text == *"Hash Allotment:          256 (100.00%)"* ]] \
    || fail "unexpected show ip wccp web-cache detail: $text"

# Wrong password: dropped and counted as an authentication failure (sent from another port:
# the joined cache holds UDP 2048 in the proxy namespace).
auth_before=$(web_cache authenticationFailures)
in_proxy "$PY" "$NS_TEST_DIR/wccp_cache.py" badpass --router "$ROUTER" --cache "$CACHE" --password wrong \
    || fail "could not send the bad-password HERE_I_AM"
eg_wait 3 test_auth_rose || fail "authenticationFailures did not rise by 1 ($auth_before -> $(web_cache authenticationFailures))"

# HTTP from spoke1: redirected to the cache, which does not answer (curl fails: fine).
redirected_before=$(web_cache packetsRedirected)
in_node spoke1 curl -s -m 2 -o /dev/null http://198.51.100.80/ && fail "curl succeeded: the SYN was not redirected"
# UDP to port 80: not part of service 0, forwarded normally.
in_node spoke1 "$PY" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"x", ("198.51.100.80", 80)) for _ in range(5)]'
redirected_after=$(web_cache packetsRedirected)
(( redirected_after > redirected_before )) || fail "packetsRedirected did not rise ($redirected_before -> $redirected_after)"
buckets=$(egsh_json app1 "show ip wccp web-cache buckets json")
per_bucket=$(json_get "$buckets" "sum(b['packetsRedirected'] for b in d['buckets'])")
(( per_bucket == redirected_after )) || fail "per-bucket counts ($per_bucket) do not add up to packetsRedirected ($redirected_after)"

sleep 1
kill -INT "$CAPTURE_PID" 2>/dev/null
eg_wait 10 eg_pid_gone "$CAPTURE_PID"
tshark -n -r "$capture_pcap" -Y "gre.proto == 0x883e" -T fields -E separator=';' \
    -e ip.src -e ip.dst -e gre.wccp.service_id -e gre.wccp.dynamic_service -e tcp.dstport -e tcp.flags.syn -e udp.dstport \
    >"$WORK/gre.txt" 2>"$WORK/gre.err" || fail "tshark could not read the capture: $(cat "$WORK/gre.err")"
why=$("$PY" - "$WORK/gre.txt" "$ROUTER" "$CACHE" "$redirected_after" <<'PYEOF'
import sys
path, router, cache, redirected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = [line.rstrip("\n").split(";") for line in open(path) if line.strip()]
problems = []
syns = [r for r in rows if r[0].startswith(router + ",") and r[1].startswith(cache + ",") and r[1].endswith(",198.51.100.80")
        and r[2] == "0" and r[3] in ("0", "False") and r[4] == "80" and r[5] in ("1", "True")]
if not syns:
    problems.append("no GRE 0x883E (service 0) carrying the SYN to 198.51.100.80:80 from %s to %s; saw %s" % (router, cache, rows[:3]))
if any(r[6] for r in rows):
    problems.append("UDP was redirected: %s" % [r for r in rows if r[6]][:3])
if len(rows) != redirected:
    problems.append("capture saw %d redirected packets, show ip wccp counted %d" % (len(rows), redirected))
print("; ".join(problems))
PYEOF
) || fail "checking the capture failed"
[[ -z $why ]] || fail "$why"

# Observability (issue 6): trace packet explains the redirect (same processor code), the
# metrics page has the cache, its buckets and its redirected packets, the log has the cache's
# state change with structured fields.
t=$(egsh_json app1 "trace packet tunnel tgw0 tcp 10.1.0.10:40000 198.51.100.80:80 json")
[[ $(json_get "$t" "d['outcome']") == redirected ]] || fail "trace of HTTP: $t"
json_get "$t" "next(s['result'] for s in d['stages'] if s['stage'] == 'wccp')" | grep -q "cache $CACHE" || fail "trace names no cache: $t"
json_get "$t" "d['decision']" | grep -q "GRE" || fail "trace decision lacks the GRE method: $t"
t=$(egsh_json app1 "trace packet tunnel tgw0 udp 10.1.0.10:40000 198.51.100.80:80 json")
[[ $(json_get "$t" "d['outcome']") == forwarded ]] || fail "trace of UDP: $t"
page=$(in_node app1 curl -sf -m 5 http://127.0.0.1:9108/metrics) || fail "no metrics page"
lint=$(printf '%s\n' "$page" | promtool check metrics 2>&1) || fail "promtool check metrics: $lint"
series() { printf '%s\n' "$page" | awk -v k="$1" '$1 == k { print $2 + 0 }'; }
[[ $(series "egressd_wccp_cache_usable{service=\"0\",cache=\"$CACHE\"}") == 1 ]] || fail "metrics: cache not usable: $(printf '%s\n' "$page" | grep ^egressd_wccp)"
[[ $(series "egressd_wccp_cache_buckets{service=\"0\",cache=\"$CACHE\"}") == 256 ]] || fail "metrics: cache buckets"
[[ $(series "egressd_wccp_cache_redirected_packets_total{service=\"0\",cache=\"$CACHE\"}") == "$redirected_after" ]] \
    || fail "metrics: redirected to the cache $(series "egressd_wccp_cache_redirected_packets_total{service=\"0\",cache=\"$CACHE\"}"), shown $redirected_after"
logs=$(egsh_json app1 "show logging json")
json_get "$logs" "[r for r in d['records'] if r['fields'].get('cache') == '$CACHE' and r['fields'].get('service') == '0']" \
    | grep -q "$CACHE" || fail "show logging json has no structured event for cache $CACHE"

# A change applies to the very next packet. app1's worker sleeps in poll() while idle; the
# redirect-list changes (published while it sleeps) and one request goes out at once: the packet
# that wakes the worker must be judged by the new tables, not by those it held before its sleep.
# Ten rounds each way (with the old tables many rounds would go the wrong way).
acl() { "$LAB" sh app1 -c "configure terminal" -c "ip access-list extended WEB" -c "$1" >/dev/null || fail "acl '$1' not applied"; }
for round in $(seq 10); do
    before=$(web_cache packetsRedirected)
    acl "no permit tcp any any eq 80"
    in_node spoke1 curl -s -m 2 -o /dev/null http://198.51.100.80/ \
        || fail "round $round: the request right after 'no permit' was not forwarded (redirected by the old list?)"
    (( $(web_cache packetsRedirected) == before )) || fail "round $round: redirected after the list stopped permitting it"
    acl "permit tcp any any eq 80"
    in_node spoke1 curl -s -m 0.5 -o /dev/null http://198.51.100.80/ \
        && fail "round $round: the request right after 'permit' reached the origin (the old list kept it from the cache)"
    (( $(web_cache packetsRedirected) > before )) || fail "round $round: the SYN after 'permit' was not redirected"
done
echo "    wccp-cache: 20 redirect-list changes, each applied to the next packet"

# Data-path evidence: the cache's proxy port answers the probes, then its host refuses GRE.
in_proxy "$PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 3128)); s.listen(64)
while True:
    c, _ = s.accept(); c.close()
' "$CACHE" >"$WORK/listener.log" 2>&1 &
BG_PIDS+=($!)
printf 'ip wccp failure-detection tcp-port 3128 interval 200 timeout 3000 data-path\n!\n' >>"$LAB_STATE/app1.conf"
kill -HUP "$(cat "$LAB_STATE/app1.pid")" || fail "cannot SIGHUP egressd in app1"
has_data_path() { egsh_json app1 "show running-config" | grep -q "failure-detection tcp-port 3128 interval 200 timeout 3000 data-path"; }
eg_wait 5 has_data_path || fail "the data-path failure detection line was not applied"
cache_failed() {
    [[ $(json_get "$(egsh_json app1 "show ip wccp web-cache detail json")" "next(c['failed'] for c in d['clients'] if c['id'] == '$CACHE')") == True ]]
}
sleep 1
cache_failed && fail "the cache was declared dead while its probes answer and no GRE was refused"
in_proxy nft -f - <<'NFT' || fail "cannot add the nftables rule that refuses GRE in $PROXY_NS"
table inet egwccp {
  chain input { type filter hook input priority 0; ip protocol gre reject with icmp type prot-unreachable; }
}
NFT
t0=$(( $(date +%s%N) / 1000000 ))
in_node spoke1 curl -s -m 6 -o "$WORK/datapath.body" http://198.51.100.80/ &
curl_pid=$!
eg_wait 4 cache_failed || fail "the cache refusing GRE was not declared dead: $(egsh_json app1 "show ip wccp web-cache detail json")"
t_dead=$(( $(date +%s%N) / 1000000 - t0 ))
wait "$curl_pid" || fail "the request did not fail open after the cache was declared dead"
[[ $(cat "$WORK/datapath.body") == "egressd lab origin" ]] || fail "unexpected body after the data-path failure: $(cat "$WORK/datapath.body")"
grep -q "redirected traffic refused by the cache (data path)" "$LAB_STATE/app1.log" || fail "the log does not give the data-path reason"
(( t_dead < 2000 )) || fail "declared dead after $t_dead ms (> 2 s)"
echo "    wccp-cache: cache refusing GRE (ICMP) declared dead after $t_dead ms from the first redirected SYN"
in_proxy nft delete table inet egwccp

# clear ip wccp: the shown counters restart from zero.
"$LAB" sh app1 -c "clear ip wccp" >/dev/null || fail "clear ip wccp failed"
(( $(web_cache packetsRedirected) == 0 )) || fail "packetsRedirected is not 0 after clear ip wccp"

# The cache goes silent: removed after 3 x 500 ms, its buckets fail open, HTTP works again.
eg_kill_pid "$CACHE_PID" 3
eg_wait 5 clients_are 0 || fail "the silent cache was not removed within 5 s"
body=$(in_node spoke1 curl -s -m 5 http://198.51.100.80/) || fail "curl failed after the cache was removed (no fail-open)"
[[ $body == "egressd lab origin" ]] || fail "unexpected body after fail-open: '$body'"
(( $(web_cache packetsUnassigned) > 0 )) || fail "packetsUnassigned did not rise after the cache was removed"
(( $(web_cache packetsRedirected) == 0 )) || fail "packets were redirected after the cache was removed"

# A new service group is applied in place: the endpoint is not rebuilt.
printf 'ip wccp 61\n!\n' >>"$LAB_STATE/app1.conf"
kill -HUP "$(cat "$LAB_STATE/app1.pid")" || fail "cannot SIGHUP egressd in app1"
services_are_two() { [[ $(json_get "$(wccp_json)" "len(d['services'])") == 2 ]]; }
eg_wait 5 services_are_two || fail "service 61 did not appear after SIGHUP"
(( $(grep -c 'wccp: listening on' "$LAB_STATE/app1.log") == 1 )) || fail "the endpoint was rebuilt for a new service"
! grep -q "wccp: cannot bind" "$LAB_STATE/app1.log" || fail "$(grep "wccp: cannot bind" "$LAB_STATE/app1.log")"
pass
