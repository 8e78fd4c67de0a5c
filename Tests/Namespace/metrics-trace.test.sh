#!/usr/bin/env bash
# metrics-trace: app1's Prometheus endpoint (default 127.0.0.1:9108 inside its namespace) serves
# a page `promtool check metrics` accepts, whose tunnel counters match `show interfaces json`
# and rise with spoke traffic; `metrics listen` moves it live, `no metrics listen` stops it.
# `trace packet` explains transit (forwarded to the firewall), a blackholed destination, a
# packet for the appliance itself, and return traffic (route + ECMP tunnel), and its ECMP choice
# is the tunnel the engine really uses for that flow (tshark on app1's underlay); the flow is
# sent from the firewall (10.0.2.1), which routes the spoke prefixes to app1. `show logging
# json` holds the tunnels' state changes with structured fields. configs/prometheus passes
# promtool and names only series egressd exports.
TEST_NAME="metrics-trace"  # used by lib.sh
# shellcheck source=Tests/Namespace/lib.sh
source "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || fail "promtool not installed (Debian package prometheus)"
scrape() { in_node app1 curl -sf -m 5 "http://$1/metrics"; }
metric() { # PAGE NAME{LABELS}: the value of one series
    printf '%s\n' "$1" | awk -v k="$2" '$1 == k { print $2 }'
}

lab_up
in_node spoke1 curl -s -m 5 -o /dev/null http://198.51.100.80/ || fail "spoke1 HTTP failed"
page=$(scrape 127.0.0.1:9108) || fail "no metrics on 127.0.0.1:9108 in app1"
printf '%s\n' "$page" >"$WORK/page1.txt"
lint=$(printf '%s\n' "$page" | promtool check metrics 2>&1) || fail "promtool check metrics: $lint"
for name in egressd_build_info egressd_uptime_seconds egressd_tunnel_receive_packets_total \
            egressd_tunnel_transmit_bytes_total egressd_tunnel_drops_total egressd_engine_drops_total \
            egressd_tunnel_ecmp_packets_total egressd_engine_batches_total egressd_engine_busy_seconds_total; do
    grep -q "^# TYPE $name " "$WORK/page1.txt" || fail "metric $name missing"
done
# The dashboard and rules name only series the page has (BGP/WCCP ones need those services,
# which the lab does not run: their names are checked against the source instead).
lint=$(promtool check config "$REPO_DIR/configs/prometheus/prometheus.yml" 2>&1) || fail "promtool check config: $lint"
missing=$(for n in $(grep -oh 'egressd_[a-z_]*' "$REPO_DIR/configs/prometheus/grafana-dashboard.json" \
                      "$REPO_DIR/configs/prometheus/egressd-rules.yml" | sort -u); do
    case $n in
        egressd_bgp_*|egressd_wccp_*) grep -rq "\"$n\"" "$REPO_DIR/Sources/Control/Observability/" || echo "$n" ;;
        *) grep -q "^# TYPE $n " "$WORK/page1.txt" || echo "$n" ;;
    esac
done)
[[ -z $missing ]] || fail "dashboard/rules name series egressd does not export: $missing"
rx1=$(metric "$page" 'egressd_tunnel_receive_packets_total{tunnel="tgw0"}')
rx2=$(metric "$page" 'egressd_tunnel_receive_packets_total{tunnel="tgw1"}')
[[ -n $rx1 && -n $rx2 ]] || fail "no per-tunnel rx series"
for i in 1 2 3 4 5; do in_node spoke1 curl -s -m 5 -o /dev/null http://198.51.100.80/ || fail "spoke1 HTTP failed"; done
page=$(scrape 127.0.0.1:9108)
after=$(( $(metric "$page" 'egressd_tunnel_receive_packets_total{tunnel="tgw0"}') + $(metric "$page" 'egressd_tunnel_receive_packets_total{tunnel="tgw1"}') ))
(( after >= rx1 + rx2 + 5 )) || fail "rx did not rise with traffic ($((rx1 + rx2)) -> $after)"
# The page and the shell read the same counters.
shown=$(json_get "$(egsh_json app1 "show interfaces tgw0 json")" "d['interfaces'][0]['counters']['rxPackets']")
page=$(scrape 127.0.0.1:9108)
scraped=$(metric "$page" 'egressd_tunnel_receive_packets_total{tunnel="tgw0"}')
(( scraped >= shown && scraped - shown < 5 )) || fail "page says rx $scraped, show interfaces $shown"

# Move the endpoint live, then switch it off.
"$LAB" sh app1 -c "configure terminal" -c "metrics listen 127.0.0.1:9555" -c "end" >/dev/null || fail "metrics listen failed"
eg_wait 10 scrape 127.0.0.1:9555 >/dev/null || fail "endpoint did not move to 9555"
scrape 127.0.0.1:9108 >/dev/null && fail "old endpoint 9108 still answers"
"$LAB" sh app1 -c "show running-config" | grep -qx "metrics listen 127.0.0.1:9555" || fail "running-config lacks metrics listen"
"$LAB" sh app1 -c "configure terminal" -c "no metrics listen" -c "end" >/dev/null || fail "no metrics listen failed"
sleep 0.5
scrape 127.0.0.1:9555 >/dev/null && fail "endpoint still answers after no metrics listen"
"$LAB" sh app1 -c "configure terminal" -c "metrics listen 127.0.0.1:9108" -c "end" >/dev/null || fail "metrics listen back failed"
eg_wait 10 scrape 127.0.0.1:9108 >/dev/null || fail "endpoint did not come back"

# trace packet: transit, own address, blackhole, return traffic.
t=$(egsh_json app1 "trace packet tunnel tgw0 tcp 10.1.0.10:40000 198.51.100.80:80 json")
[[ $(json_get "$t" "d['outcome']") == forwarded ]] || fail "transit trace: $t"
json_get "$t" "[s['stage'] for s in d['stages']]" | grep -q "route" || fail "transit trace has no route stage: $t"
json_get "$t" "next(s['result'] for s in d['stages'] if s['stage'] == 'route')" | grep -q "0.0.0.0/0" \
    || fail "transit trace does not name the default route: $t"
t=$(egsh_json app1 "trace packet tunnel tgw1 icmp 10.1.0.10 169.254.7.1 json")
[[ $(json_get "$t" "d['outcome']") == kernel ]] || fail "own-address trace: $t"
t=$(egsh_json app1 "trace packet tunnel tgw0 udp 10.1.0.10:5000 10.9.9.9:53 json")
[[ $(json_get "$t" "d['outcome']") == forwarded ]] || fail "10.9.9.9 before the blackhole: $t"
"$LAB" sh app1 -c "configure terminal" -c "ip route 10.9.9.9/32 blackhole" -c "end" >/dev/null || fail "blackhole route"
t=$(egsh_json app1 "trace packet tunnel tgw0 udp 10.1.0.10:5000 10.9.9.9:53 json")
[[ $(json_get "$t" "d['outcome']") == drop:blackhole ]] || fail "blackhole trace: $t"
# Return traffic: the trace's ECMP choice is the tunnel a real flow takes (tshark on the underlay).
# Captured on the stand-in's end of app1's underlay link (same packets, same addresses): with
# afxdp (the default) app1's XDP program takes GRE before packet taps see it and its AF_XDP TX
# passes them; the stand-in runs tpacket (scripts/lab.sh), whose rings go past the taps.
capture_start tgw u0 "$WORK/ret.pcap" "ip proto 47"
in_node fw "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.2.1", 4444))
s.sendto(b"egressd trace", ("10.1.0.10", 5555))' || fail "fw could not send"
capture_stop
real=$(tshark -n -r "$WORK/ret.pcap" -Y "udp.srcport == 4444" -T fields -e ip.dst 2>/dev/null | head -n 1 | cut -d, -f1)
case $real in
    10.0.0.1) real=tgw0 ;; 10.0.0.2) real=tgw1 ;; *) fail "return packet not seen on the underlay ($real)" ;;
esac
t=$(egsh_json app1 "trace packet udp 10.0.2.1:4444 10.1.0.10:5555 json")
[[ $(json_get "$t" "d['outcome']") == encapsulated ]] || fail "return trace: $t"
json_get "$t" "next(s['result'] for s in d['stages'] if s['stage'] == 'decision')" | grep -q "into $real:" \
    || fail "trace picks another tunnel than the engine used ($real): $t"
text=$("$LAB" sh app1 -c "trace packet tunnel tgw0 tcp 10.1.0.10:40000 198.51.100.80:80")
grep -q "1. decap" <<<"$text" || fail "text trace: $text"

# show logging: structured fields of the tunnels' state changes.
logs=$(egsh_json app1 "show logging json")
json_get "$logs" "[r for r in d['records'] if r['fields'].get('interface') == 'tgw0' and r['fields'].get('state') == 'up']" \
    | grep -q "tgw0" || fail "show logging json lacks tgw0's up event: $(printf '%s' "$logs" | head -c 600)"
json_get "$logs" "[r for r in d['records'] if r['fields'].get('listen') == '127.0.0.1:9108']" | grep -q 9108 \
    || fail "show logging json lacks the metrics endpoint event"
pass
