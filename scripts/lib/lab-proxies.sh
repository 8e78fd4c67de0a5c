# shellcheck shell=bash
# Opt-in part of scripts/lab.sh (LAB_PROXIES=1): two real Squid proxies, namespaces
# ${P}proxy1 (10.0.3.11) and ${P}proxy2 (10.0.3.12), on a bridge pxbr in app1 (10.0.3.10),
# registered with app1's WCCP router as dynamic service 80 (TCP 80, source-port hash, L2
# forwarding and return, hash assignment, MD5), with fast failure detection on port 3128.
# Squid is Debian's 5.7 with our WCCPv2 parser patch (scripts/squid-build.sh, cached).
# Sourced by lab.sh after its helpers (ns, in_ns, start_bg, STATE, REPO_DIR, P) exist.

LAB_PROXY_NODES=(proxy1 proxy2)
LAB_ROUTER_ID=10.0.3.10
LAB_WCCP_PASSWORD=eglab

lab_proxy_ip() { case $1 in proxy1) echo 10.0.3.11 ;; proxy2) echo 10.0.3.12 ;; esac; }

# lab_proxies_up: build (or reuse) Squid, wire the proxies, start them, turn WCCP on in app1.
lab_proxies_up() {
    local squid_dir p dir
    squid_dir=$("$REPO_DIR/scripts/squid-build.sh") || eg_die "scripts/squid-build.sh failed"
    ip -n "$(ns app1)" link add pxbr type bridge
    ip -n "$(ns app1)" addr add "$LAB_ROUTER_ID/24" dev pxbr
    ip -n "$(ns app1)" link set pxbr up
    ip -n "$(ns fw)" route add 10.0.3.0/24 via 10.0.2.10
    for p in "${LAB_PROXY_NODES[@]}"; do
        ip netns add "$(ns "$p")"
        ip -n "$(ns "$p")" link set lo up
        sysctl_ns "$p" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        ip -n "$(ns app1)" link add "v$p" type veth peer name eth0 netns "$(ns "$p")"
        ip -n "$(ns app1)" link set "v$p" master pxbr
        ip -n "$(ns app1)" link set "v$p" up
        ip -n "$(ns "$p")" addr add "$(lab_proxy_ip "$p")/24" dev eth0
        ip -n "$(ns "$p")" link set eth0 up
        ip -n "$(ns "$p")" route add default via "$LAB_ROUTER_ID"
        in_ns "$p" nft -f - <<'NFT'
table ip wccp_intercept {
    chain pre {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "eth0" tcp dport 80 redirect to :3129
    }
}
NFT
        dir=$STATE/$p
        mkdir -p "$dir"
        printf '198.51.100.80 inet\n127.0.0.1 localhost\n' >"$dir/hosts"
        cat >"$dir/squid.conf" <<EOF
http_port 3128
http_port 3129 intercept
visible_hostname $(ns "$p")
cache_effective_user proxy
pinger_enable off
dns_nameservers 127.0.0.1
hosts_file $dir/hosts
http_access allow all
cache_mem 8 MB
access_log stdio:$dir/access.log
cache_log $dir/cache.log
pid_filename $dir/squid.pid
coredump_dir $dir
shutdown_lifetime 1 seconds
wccp2_router $LAB_ROUTER_ID
wccp2_forwarding_method l2
wccp2_return_method l2
wccp2_assignment_method hash
wccp2_service dynamic 80 password=$LAB_WCCP_PASSWORD
wccp2_service_info 80 protocol=tcp flags=source_port_hash priority=240 ports=80
EOF
        chmod 755 "$STATE"
        chown -R proxy: "$dir"
        start_bg "$p" "squid-$p" "$squid_dir/sbin/squid" -N -f "$dir/squid.conf"
    done
    cat >>"$STATE/app1.conf" <<EOF
! LAB_PROXIES=1: the proxies' WCCP service (scripts/lib/lab-proxies.sh).
ip access-list extended WEB
 deny tcp 10.0.3.0/24 any
 permit tcp any any eq 80
!
ip wccp router-id $LAB_ROUTER_ID
ip wccp failure-detection tcp-port 3128 interval 200 timeout 1000
ip wccp 80 redirect-list WEB password 0 $LAB_WCCP_PASSWORD
!
EOF
    kill -HUP "$(cat "$STATE/app1.pid")"
    eg_log "proxies started; Squid assigns buckets about 15 s after both have joined (show ip wccp 80 detail)"
}

# lab_proxies_down: stop the Squids, delete the proxy namespaces (if any).
lab_proxies_down() {
    local p pid
    for p in "${LAB_PROXY_NODES[@]}"; do
        [[ -e /run/netns/$(ns "$p") ]] || continue
        for pid in $(ip netns pids "$(ns "$p")" 2>/dev/null); do eg_kill_pid "$pid" 3; done
        ip netns del "$(ns "$p")" 2>/dev/null || eg_log "warning: could not delete netns $(ns "$p")"
    done
}
