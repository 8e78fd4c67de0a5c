#!/usr/bin/env bash
# wccp-squid: app1 as the WCCPv2 router of two real Squid proxies (Debian's Squid 5.7 source with
# scripts/squid/wccp2-isy-parser.patch, built once by scripts/squid-build.sh) in namespaces of this
# test, t<pid>-proxy1 (10.0.3.11) and t<pid>-proxy2 (10.0.3.12), on a bridge in app1 (10.0.3.10).
#
# Phase A, dynamic service 80 (TCP 80, source-port hash), L2 forwarding and return, hash
# assignment, MD5: a Squid with a wrong password is refused and counted; both Squids register and
# proxy1 (the designated cache) assigns 128 buckets each; HTTP from both spokes goes through a
# proxy (Via, X-Cache, access.log) and flows spread over both; UDP and TCP to other ports are not
# redirected. Squid 2 is killed: failure detection (TCP probes of port 3128) declares it dead and,
# with `ip wccp 80 failover remaining-caches`, its 128 buckets go to proxy1 within 2 s (measured:
# detection and first of proxy2's flows served by proxy1); proxy1's own flows do not move; then
# proxy1 reassigns all buckets to itself and nothing is failed over any more (measured). Both
# killed: everything fails open.
# Phase B, web-cache (service 0), GRE forwarding and return, mask assignment, no MD5: both Squids
# register, 32 mask values each; a spoke SYN reaches a proxy in GRE 0x883E with the WCCP redirect
# header (tshark); UDP is not redirected; a packet a cache returns by GRE and one it returns by L2
# (scapy) reach the origin and are not redirected again. Every WCCP message egressd sent during
# the test decodes in tshark's WCCP dissector without error.
TEST_NAME="wccp-squid"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"

ROUTER=10.0.3.10
PROXIES=(proxy1 proxy2)
declare -A PROXY_IP=([proxy1]=10.0.3.11 [proxy2]=10.0.3.12)
declare -A SQUID_PID=()
PASSWORD=egsquid
ORIGIN=198.51.100.80

squid_cleanup() {
    local rc=$? p
    for p in "${PROXIES[@]}"; do
        # SIGKILL: a TERMed Squid takes more than 3 s (shutdown_lifetime plus its own work).
        [[ -n ${SQUID_PID[$p]:-} ]] && { kill -KILL "${SQUID_PID[$p]}" 2>/dev/null; eg_wait 5 eg_pid_gone "${SQUID_PID[$p]}"; }
        ip netns del "${LAB_PREFIX}$p" 2>/dev/null
        eg_squid_shm_remove "${LAB_PREFIX}$p"
    done
    (exit "$rc")
    ns_test_cleanup
}
trap squid_cleanup EXIT

SQUID_DIR=$("$REPO_DIR/scripts/squid-build.sh") || fail "scripts/squid-build.sh failed"
SQUID=$SQUID_DIR/sbin/squid
[[ -x $SQUID ]] || fail "no squid binary in $SQUID_DIR"

lab_up
chmod 755 "$WORK"

# --- Topology: a bridge in app1 with the router address, one veth per proxy.
APP1=${LAB_PREFIX}app1
ip -n "$APP1" link add pxbr type bridge || fail "cannot create the proxy bridge"
ip -n "$APP1" addr add "$ROUTER/24" dev pxbr
ip -n "$APP1" link set pxbr up
for p in "${PROXIES[@]}"; do
    ns=${LAB_PREFIX}$p
    ip netns add "$ns" || fail "cannot create namespace $ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    ip -n "$APP1" link add "v$p" type veth peer name eth0 netns "$ns" || fail "cannot create the veth of $p"
    ip -n "$APP1" link set "v$p" master pxbr
    ip -n "$APP1" link set "v$p" up
    ip -n "$ns" addr add "${PROXY_IP[$p]}/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$ROUTER"
    # What an L2-redirected frame carries is the origin's address: NAT it to Squid's intercept port.
    ip netns exec "$ns" nft -f - <<'NFT' || fail "nft in $ns failed"
table ip wccp_intercept {
    chain pre {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "eth0" tcp dport 80 redirect to :3129
    }
}
NFT
    mkdir -p "$WORK/$p"
    printf '%s inet\n127.0.0.1 localhost\n' "$ORIGIN" >"$WORK/$p/hosts"
    chown -R proxy: "$WORK/$p"
done
# The firewall returns the proxies' own fetches through app1.
ip -n "${LAB_PREFIX}fw" route add 10.0.3.0/24 via 10.0.2.10
ROUTER_MAC=$(ip -n "$APP1" -j link show pxbr | eg_json "d[0]['address']")

# --- app1: WCCP with both services; failure detection probes Squid's http_port.
cat >>"$LAB_STATE/app1.conf" <<EOF
ip access-list extended WEB
 deny tcp 10.0.3.0/24 any
 permit tcp any any eq 80
!
ip wccp router-id $ROUTER
ip wccp failure-detection tcp-port 3128 interval 200 timeout 1000
ip wccp 80 redirect-list WEB password 0 $PASSWORD
ip wccp 80 failover remaining-caches
!
EOF
kill -HUP "$(cat "$LAB_STATE/app1.pid")" || fail "cannot SIGHUP egressd in app1"
eg_wait 10 "$LAB" sh app1 -c "show ip wccp json" || fail "show ip wccp does not answer after SIGHUP"

capture_2048=$WORK/wccp2048.pcap
ip netns exec "$APP1" tshark -n -q -i pxbr -f "udp port 2048" -w "$capture_2048" >"$capture_2048.log" 2>&1 &
CAPTURE_2048_PID=$!
BG_PIDS+=("$CAPTURE_2048_PID")
eg_wait 20 grep -q "Capturing on" "$capture_2048.log" || fail "tshark did not start on pxbr: $(cat "$capture_2048.log")"

# write_squid_conf PROXY FORWARDING(l2|gre) ASSIGNMENT(hash|mask) SERVICE_LINES
write_squid_conf() {
    local p=$1 dir=$WORK/$1
    { eg_squid_base_conf "$dir" "$p"; cat <<EOF; } >"$dir/squid.conf"
debug_options ALL,1 80,3
wccp2_router $ROUTER
wccp2_forwarding_method $2
wccp2_return_method $2
wccp2_assignment_method $3
$4
EOF
    chown proxy: "$dir/squid.conf"
}

start_squid() {
    local p=$1
    eg_squid_start "${LAB_PREFIX}$p" "$SQUID" "$WORK/$p/squid.conf" "$WORK/$p/stdout.log"
    SQUID_PID[$p]=$EG_SQUID_PID
    disown "$EG_SQUID_PID"   # no "Killed" job notice when the test kills it
}
kill_squid() {   # a crash: SIGKILL, sockets close at once
    local p=$1
    [[ -n ${SQUID_PID[$p]:-} ]] || return 0
    kill -KILL "${SQUID_PID[$p]}" 2>/dev/null
    eg_wait 5 eg_pid_gone "${SQUID_PID[$p]}"
    SQUID_PID[$p]=""
}

detail() { egsh_json app1 "show ip wccp $1 detail json"; }
service_field() {   # SERVICE FIELD: a field of `show ip wccp json` for one service
    json_get "$(egsh_json app1 "show ip wccp json")" "next(s for s in d['services'] if s['serviceId'] == $1)['$2']"
}
client_field() {    # SERVICE PROXY-IP FIELD
    json_get "$(detail "$1")" "next((c['$3'] for c in d['clients'] if c['id'] == '$2'), None)"
}
usable_clients() { json_get "$(detail "$1")" "len([c for c in d['clients'] if c['state'] == 'usable'])"; }
two_usable() { [[ $(usable_clients "$1") == 2 ]]; }
allotment() {       # SERVICE: "A/B" buckets (hash) or mask values of proxy1/proxy2
    json_get "$(detail "$1")" "'/'.join(str(next((c['hashAllotment'] + c['maskValues'] for c in d['clients'] if c['id'] == ip), 0)) for ip in ['${PROXY_IP[proxy1]}', '${PROXY_IP[proxy2]}'])"
}
allotment_is() { [[ $(allotment "$1") == "$2" ]]; }
cache_failed() { [[ $(client_field "$1" "$2" failed) == True ]]; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# fetch NODE PORT: one request from NODE's source port PORT; prints "CODE VIA" (VIA: proxy name
# or -; when curl fails, "000 curl-N" with curl's exit code: 7 refused, 28 timed out).
fetch() {
    local headers code via rc
    headers=$(in_node "$1" curl -s -m 3 --local-port "$2" -D - -o /dev/null "http://$ORIGIN/" 2>/dev/null)
    rc=$?
    (( rc == 0 )) || { echo "000 curl-$rc"; return; }
    code=$(printf '%s' "$headers" | awk 'NR == 1 { print $2 }')
    via=$(printf '%s' "$headers" | tr -d '\r' | awk -F'[ ,]' 'tolower($1) == "via:" { print $3 }')
    xcache=$(printf '%s' "$headers" | tr -d '\r' | awk 'tolower($1) == "x-cache:" { print $4 }')
    if [[ -n $via && $via != "$xcache" ]]; then echo "$code bad-headers"; return; fi
    echo "$code ${via:--}"
}

# ============================ Phase A: service 80, L2, hash, MD5 ============================
SERVICE80="wccp2_service dynamic 80 password=$PASSWORD
wccp2_service_info 80 protocol=tcp flags=source_port_hash priority=240 ports=80"

# A Squid with the wrong password: its HERE_I_AMs are refused and counted, it never joins.
write_squid_conf proxy2 l2 hash "${SERVICE80/password=$PASSWORD/password=wrongpw}"
auth_before=$(service_field 80 authenticationFailures)
start_squid proxy2
auth_rose() { (( $(service_field 80 authenticationFailures) > auth_before )); }
eg_wait 10 auth_rose || fail "a HERE_I_AM with the wrong password was not counted (authenticationFailures $auth_before)"
[[ $(usable_clients 80) == 0 && $(json_get "$(detail 80)" "len(d['clients'])") == 0 ]] \
    || fail "the wrong-password Squid was admitted: $(detail 80)"
kill_squid proxy2

for p in "${PROXIES[@]}"; do write_squid_conf "$p" l2 hash "$SERVICE80"; start_squid "$p"; done
t_start=$(now_ms)
eg_wait 30 two_usable 80 || fail "the two Squids did not both become usable in service 80: $(detail 80)"
eg_wait 45 allotment_is 80 128/128 \
    || fail "no REDIRECT_ASSIGN with 128 buckets each within 45 s: $(allotment 80); $(detail 80); $(grep -h WCCP "$WORK"/proxy*/cache.log | tail -n 5)"
echo "    wccp-squid: registration to assignment: $(( $(now_ms) - t_start )) ms (Squid waits 15 s after a change)"
[[ $(json_get "$(detail 80)" "d['designatedCache']") == "${PROXY_IP[proxy1]}" ]] || fail "proxy1 is not the designated cache"
grep -q "WCCPv2" "$WORK/proxy1/cache.log" || fail "proxy1's cache.log says nothing of WCCPv2"
! grep -q "Ignoring WCCPv2 message" "$WORK"/proxy*/cache.log || fail "a Squid ignored a message: $(grep -h "Ignoring WCCPv2" "$WORK"/proxy*/cache.log | head -n 3)"

# HTTP from both spokes, one source port per request: all 200 through a proxy, spread over both.
# Service 80 hashes the source port only: bucket = high octet XOR low octet (draft §5.6.2).
bucket_of() { echo $(( ($1 >> 8) ^ ($1 & 255) )); }
declare -A via_of=() owner_of_bucket=()
count1=0 count2=0
for port in $(seq 41000 41039); do
    read -r code via < <(fetch spoke1 "$port")
    [[ $code == 200 ]] || fail "spoke1 port $port: HTTP $code ($via)"
    case $via in
        proxy1) count1=$((count1 + 1)) ;;
        proxy2) count2=$((count2 + 1)) ;;
        *) fail "spoke1 port $port: the response did not come through a proxy (Via '$via')" ;;
    esac
    via_of[$port]=$via
    owner_of_bucket[$(bucket_of "$port")]=$via
done
# fresh_ports OWNER: unused source ports (a used one sits in TIME_WAIT) whose bucket OWNER served.
fresh_ports() {
    local port
    for port in $(seq 46000 46511); do
        [[ ${owner_of_bucket[$(bucket_of "$port")]:-} == "$1" ]] && echo "$port"
    done
}
read -r code via < <(fetch spoke2 42000)
[[ $code == 200 && $via == proxy* ]] || fail "spoke2: HTTP $code via '$via'"
echo "    wccp-squid: 40 flows from spoke1: proxy1 $count1, proxy2 $count2"
(( count1 >= 8 && count2 >= 8 )) || fail "flows do not spread over both proxies (proxy1 $count1, proxy2 $count2)"
headers=$(in_node spoke1 curl -s -m 3 --local-port 42001 -D - -o /dev/null "http://$ORIGIN/")
grep -qi "^X-Cache: .* from proxy" <<<"$headers" || fail "no X-Cache header from a proxy: $headers"
for p in "${PROXIES[@]}"; do
    grep -q "10.1.0.10 .*GET http://$ORIGIN/" "$WORK/$p/access.log" || fail "$p's access.log does not show spoke1's request"
done
(( $(client_field 80 "${PROXY_IP[proxy1]}" packetsRedirected) > 0 && $(client_field 80 "${PROXY_IP[proxy2]}" packetsRedirected) > 0 )) \
    || fail "per-cache packetsRedirected did not rise for both: $(detail 80)"

# Non-matching traffic goes straight to the firewall: UDP to port 80 and 7, TCP to another port.
redirected_before=$(service_field 80 packetsRedirected)
in_node spoke1 "$PY" - <<'PYEOF' || fail "UDP echo through app1 failed (UDP was redirected?)"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
for port in (80, 7):
    s.sendto(b"wccp-squid", ("198.51.100.80", port))
s.recvfrom(100)   # the echo from port 7
PYEOF
in_node spoke1 curl -s -m 2 -o /dev/null "http://$ORIGIN:8080/" 2>/dev/null
(( $(service_field 80 packetsRedirected) == redirected_before )) || fail "UDP or TCP/8080 was redirected"

# --- Squid 2 dies: its flows go to proxy1 within 2 s (failover), proxy1's stay; then proxy1 reassigns.
failed_over() { json_get "$(detail 80)" "d['entriesFailedOver']"; }
[[ $(failed_over) == 0 ]] || fail "buckets failed over while both proxies are alive: $(detail 80)"
mapfile -t proxy2_ports < <(fresh_ports proxy2)
mapfile -t proxy1_ports < <(fresh_ports proxy1)
(( ${#proxy2_ports[@]} >= 10 && ${#proxy1_ports[@]} >= 3 )) || fail "too few ports per proxy to measure (${#proxy1_ports[@]}/${#proxy2_ports[@]})"
t_kill=$(now_ms)
kill_squid proxy2
t_detected="" t_moved="" i=0
while (( $(now_ms) - t_kill < 5000 )); do
    if [[ -z $t_detected ]] && cache_failed 80 "${PROXY_IP[proxy2]}"; then t_detected=$(( $(now_ms) - t_kill )); fi
    if [[ -z $t_moved ]] && (( i < ${#proxy2_ports[@]} )); then
        read -r code via < <(fetch spoke1 "${proxy2_ports[$i]}")
        i=$((i + 1))
        [[ $code == 200 && $via == proxy1 ]] && t_moved=$(( $(now_ms) - t_kill ))
        [[ $code == 200 && $via == - ]] && fail "a proxy2 flow failed open although failover is configured"
    fi
    [[ -n $t_detected && -n $t_moved ]] && break
    sleep 0.1
done
echo "    wccp-squid: proxy2 killed: declared dead after ${t_detected:-never} ms, first of its flows served by proxy1 (failover) after ${t_moved:-never} ms"
[[ -n $t_detected ]] && (( t_detected < 2000 )) || fail "proxy2 not declared dead within 2 s (${t_detected:-never})"
[[ -n $t_moved ]] && (( t_moved < 2000 )) || fail "proxy2's flows did not move to proxy1 within 2 s (${t_moved:-never})"
[[ $(failed_over) == 128 ]] || fail "not exactly proxy2's 128 buckets failed over: $(detail 80)"
# Only the dead cache's flows moved: every proxy1 flow is still served by proxy1.
for port in "${proxy1_ports[@]:0:3}"; do
    read -r code via < <(fetch spoke1 "$port")
    [[ $code == 200 && $via == proxy1 ]] || fail "a flow of the healthy proxy1 moved: HTTP $code via '$via'"
done
[[ $(allotment 80) == 256/0 ]] || fail "proxy1 does not serve all buckets during the failover: $(allotment 80)"
no_failover() { [[ $(failed_over) == 0 ]]; }
eg_wait 40 no_failover || fail "proxy1 did not reassign proxy2's buckets within 40 s: $(detail 80)"
[[ $(allotment 80) == 256/0 ]] || fail "after the reassignment proxy1 does not hold all buckets: $(allotment 80)"
echo "    wccp-squid: proxy1 reassigned proxy2's buckets after $(( $(now_ms) - t_kill )) ms (designated cache's reassignment)"
read -r code via < <(fetch spoke1 "${proxy2_ports[-1]}")
[[ $code == 200 && $via == proxy1 ]] || fail "a former proxy2 flow is not served by proxy1: HTTP $code via '$via'"

# --- Both die: everything fails open.
t_kill=$(now_ms)
kill_squid proxy1
eg_wait 3 cache_failed 80 "${PROXY_IP[proxy1]}" || fail "proxy1 not declared dead within 3 s"
echo "    wccp-squid: proxy1 killed: declared dead after $(( $(now_ms) - t_kill )) ms"
read -r code via < <(fetch spoke1 44000)
if [[ $code != 200 || $via != - ]]; then
    # The evidence: what the router holds now, and whether a second request (1 s later) fails open.
    state=$(detail 80)
    sleep 1
    read -r code2 via2 < <(fetch spoke1 44001)
    fail "with both proxies dead the request did not fail open: HTTP $code via '$via' (1 s later: HTTP $code2 via '$via2'); $state"
fi
(( $(service_field 80 packetsUnassigned) > 0 )) || fail "packetsUnassigned did not rise"

# ==================== Phase B: web-cache, GRE, mask, no MD5 ====================
# Service 80 leaves, web-cache comes (one at a time: both match TCP 80 at priority 240).
sed -i "/^ip wccp 80 failover/d; s/^ip wccp 80 .*/ip wccp web-cache redirect-list WEB/" "$LAB_STATE/app1.conf"
kill -HUP "$(cat "$LAB_STATE/app1.pid")" || fail "cannot SIGHUP egressd in app1"
only_web_cache() { [[ $(json_get "$(egsh_json app1 "show ip wccp json")" "len(d['services'])") == 1 ]]; }
eg_wait 5 only_web_cache || fail "service 80 was not removed"
for p in "${PROXIES[@]}"; do write_squid_conf "$p" gre mask "wccp2_service standard 0"; start_squid "$p"; done
eg_wait 30 two_usable 0 || fail "the two Squids did not both become usable in web-cache: $(detail 0)"
eg_wait 45 allotment_is 0 32/32 || fail "no mask assignment with 32 values each within 45 s: $(allotment 0); $(detail 0)"
[[ $(json_get "$(detail 0)" "sorted({c['forwarding'] + '/' + c['assignment'] for c in d['clients']})") == '["gre/mask"]' ]] \
    || fail "web-cache caches do not use GRE and mask: $(detail 0)"

for p in "${PROXIES[@]}"; do
    ip netns exec "${LAB_PREFIX}$p" tshark -n -q -i eth0 -f "ip proto 47" -w "$WORK/$p.gre.pcap" >"$WORK/$p.gre.log" 2>&1 &
    BG_PIDS+=("$!")
    eval "GRE_CAPTURE_$p=$!"
    eg_wait 20 grep -q "Capturing on" "$WORK/$p.gre.log" || fail "tshark did not start in $p"
done
redirected_before=$(service_field 0 packetsRedirected)
in_node spoke1 curl -s -m 2 -o /dev/null "http://$ORIGIN/" && fail "curl succeeded: the SYN was not GRE-redirected"
in_node spoke1 "$PY" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.sendto(b"x", ("198.51.100.80", 7)); s.recvfrom(10)' \
    || fail "UDP echo failed during GRE redirection"
(( $(service_field 0 packetsRedirected) > redirected_before )) || fail "web-cache packetsRedirected did not rise"

# Returned packets (as a cache sends them back): GRE 0x883E and L2, each with a marked sequence number.
capture_start inet eth0 "$WORK/inet.pcap" "tcp dst port 80"
ip netns exec "${LAB_PREFIX}proxy1" "$PY" - "${PROXY_IP[proxy1]}" "$ROUTER" "$ROUTER_MAC" <<'PYEOF' || fail "scapy could not send the returned packets"
import sys
from scapy.all import Ether, IP, TCP, GRE, Raw, send, sendp, conf
conf.verb = 0
cache, router, router_mac = sys.argv[1:4]
inner = lambda seq, sport: IP(src="10.1.0.10", dst="198.51.100.80", ttl=63) / TCP(sport=sport, dport=80, flags="S", seq=seq)
# GRE return: 0x883E and the 4-byte redirect header (service 0, bucket 0), then the packet.
send(IP(src=cache, dst=router) / GRE(proto=0x883E) / Raw(b"\x00\x00\x00\x00") / inner(111111111, 45001), iface="eth0")
# L2 return: the packet itself to the router's MAC.
sendp(Ether(dst=router_mac) / inner(222222222, 45002), iface="eth0")
PYEOF
capture_stop
seqs=$(tshark -n -r "$WORK/inet.pcap" -T fields -e tcp.seq_raw 2>/dev/null | sort -u | tr '\n' ' ')
[[ $seqs == *111111111* ]] || fail "the GRE-returned packet did not reach the origin (seen: $seqs)"
[[ $seqs == *222222222* ]] || fail "the L2-returned packet did not reach the origin (seen: $seqs)"
(( $(service_field 0 packetsReturned) >= 1 )) || fail "packetsReturned did not count the GRE return"

for p in "${PROXIES[@]}"; do
    pid_var=GRE_CAPTURE_$p
    kill -INT "${!pid_var}" 2>/dev/null
    eg_wait 10 eg_pid_gone "${!pid_var}"
done
gre_rows=$(for p in "${PROXIES[@]}"; do
    tshark -n -r "$WORK/$p.gre.pcap" -Y "gre.proto == 0x883e" -T fields -E separator=';' \
        -e ip.src -e ip.dst -e gre.wccp.service_id -e tcp.dstport -e tcp.flags.syn -e udp.port 2>/dev/null; done)
grep -q "^$ROUTER,10\.1\.0\.10;10\.0\.3\.1[12],$ORIGIN;0;80;\(1\|True\);$" <<<"$gre_rows" \
    || fail "no GRE 0x883E (service 0) carrying the spoke's SYN to port 80 from $ROUTER; saw: $(head -n 3 <<<"$gre_rows")"
! grep -q ";[0-9]\+$" <<<"$gre_rows" || fail "UDP was GRE-redirected: $(grep ";[0-9]\+$" <<<"$gre_rows" | head -n 2)"
# The returned packets went to the origin only, never back to a cache. (The spoke's RST to the
# origin's SYN-ACK is a new packet of the flow and may well be redirected: not checked here.)
again=$(for p in "${PROXIES[@]}"; do
    tshark -n -r "$WORK/$p.gre.pcap" -Y "ip.src == $ROUTER && (tcp.seq_raw == 111111111 || tcp.seq_raw == 222222222)" 2>/dev/null
done | wc -l)
(( again == 0 )) || fail "a returned packet was redirected again ($again times)"

# Every message egressd sent decodes cleanly (tshark's WCCP dissector, no malformed/error).
kill -INT "$CAPTURE_2048_PID" 2>/dev/null
eg_wait 10 eg_pid_gone "$CAPTURE_2048_PID"
types=$(tshark -n -r "$capture_2048" -Y "ip.src == $ROUTER && wccp" -T fields -e wccp.message 2>/dev/null | sort | uniq -c | tr -s ' \n' ' ')
bad=$(tshark -n -r "$capture_2048" -Y "ip.src == $ROUTER && (_ws.malformed || _ws.expert.severity >= 0x00800000)" 2>/dev/null | wc -l)
echo "    wccp-squid: messages from egressd (count type): $types"
[[ $types == *11* ]] || fail "tshark saw no I_SEE_YOU from egressd: '$types'"
(( bad == 0 )) || fail "$bad messages from egressd are malformed in tshark"
pass
