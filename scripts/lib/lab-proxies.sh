# shellcheck shell=bash
# Proxy part of scripts/lab.sh (LAB_PROXIES=1, the default of the full lab): two real Squid
# proxies, namespaces ${P}proxy1 (10.0.3.11) and ${P}proxy2 (10.0.3.12), on a proxy subnet
# 10.0.3.0/24: a bridge pxbr in fw (10.0.3.1, the proxies' way out, through the firewall as in
# AWS) with each appliance on it (px0: app1 10.0.3.10, app2 10.0.3.20). Each Squid registers
# with every appliance's WCCP router (wccp2_router per appliance) as dynamic service 80 (TCP 80,
# source-port hash, L2 forwarding and return, hash assignment, MD5); the appliances detect a
# dead proxy fast (TCP probes to port 3128).
# Return traffic of intercepted connections goes back through the appliance that redirected
# them (WCCP L2 return): each proxy marks a connection with the MAC address its
# original-direction packets last came from (the appliances' px0 have fixed MACs) and routes
# its replies by that mark, so replies follow flows the stand-in's ECMP moved to the other
# appliance.
# Squid is Debian's 5.7 with our WCCPv2 parser patch (scripts/squid-build.sh, cached).
# Sourced by lab.sh after its helpers (ns, in_ns, start_bg, sysctl_ns, STATE, REPO_DIR, P, APPS)
# exist.

LAB_PROXY_NODES=(proxy1 proxy2)
LAB_WCCP_PASSWORD=eglab

lab_proxy_ip() { case $1 in proxy1) echo 10.0.3.11 ;; proxy2) echo 10.0.3.12 ;; esac; }
# lab_router_ip APP: the appliance's address on the proxy subnet (its WCCP router ID).
lab_router_ip() { case $1 in app1) echo 10.0.3.10 ;; app2) echo 10.0.3.20 ;; esac; }
lab_router_mac() { case $1 in app1) echo 02:00:0a:00:03:0a ;; app2) echo 02:00:0a:00:03:14 ;; esac; }
LAB_ROUTER_ID=$(lab_router_ip app1)

# lab_squid_dir: build (or reuse) Squid; says so when the slow first build is coming.
lab_squid_dir() {
    if ! compgen -G "${EG_SQUID_CACHE:-/var/cache/egressd}/squid-*/sbin/squid" >/dev/null; then
        eg_log "building Squid 5.7 with the WCCPv2 patch (first time only, about 10-20 min on 2 busy cores; cached in ${EG_SQUID_CACHE:-/var/cache/egressd})"
    fi
    "$REPO_DIR/scripts/squid-build.sh" || eg_die "scripts/squid-build.sh failed"
}

# lab_proxies_topology: the proxy subnet, the proxies' namespaces and their nftables.
lab_proxies_topology() {
    local p app mark=0 marks="" routes=() ip
    ip -n "$(ns fw)" link add pxbr type bridge
    ip -n "$(ns fw)" addr add 10.0.3.1/24 dev pxbr
    ip -n "$(ns fw)" link set pxbr up
    for app in "${APPS[@]}"; do
        ip -n "$(ns "$app")" link add px0 address "$(lab_router_mac "$app")" type veth \
            peer name "p$app" netns "$(ns fw)"
        ip -n "$(ns fw)" link set "p$app" master pxbr
        ip -n "$(ns fw)" link set "p$app" up
        ip -n "$(ns "$app")" addr add "$(lab_router_ip "$app")/24" dev px0
        ip -n "$(ns "$app")" link set px0 up
        mark=$((mark + 1))
        marks+="ct direction original ether saddr $(lab_router_mac "$app") ct mark set $mark"$'\n'
        routes+=(nexthop via "$(lab_router_ip "$app")")
    done
    for p in "${LAB_PROXY_NODES[@]}"; do
        ip netns add "$(ns "$p")"
        ip -n "$(ns "$p")" link set lo up
        sysctl_ns "$p" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        ip -n "$(ns fw)" link add "v$p" type veth peer name eth0 netns "$(ns "$p")"
        ip -n "$(ns fw)" link set "v$p" master pxbr
        ip -n "$(ns fw)" link set "v$p" up
        ip -n "$(ns "$p")" addr add "$(lab_proxy_ip "$p")/24" dev eth0
        ip -n "$(ns "$p")" link set eth0 up
        ip -n "$(ns "$p")" route add default via 10.0.3.1
        mark=0
        for app in "${APPS[@]}"; do
            mark=$((mark + 1)); ip=$(lab_router_ip "$app")
            for net in 10.1.0.0/16 10.2.0.0/16; do
                ip -n "$(ns "$p")" route add "$net" via "$ip" table $((100 + mark))
            done
            ip -n "$(ns "$p")" rule add fwmark "$mark" lookup $((100 + mark)) priority $((100 + mark))
        done
        for net in 10.1.0.0/16 10.2.0.0/16; do ip -n "$(ns "$p")" route add "$net" "${routes[@]}"; done
        in_ns "$p" nft -f - <<NFT
table ip wccp_intercept {
    chain pre {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "eth0" tcp dport 80 redirect to :3129
    }
}
table ip eglab_return {
    chain pre {
        type filter hook prerouting priority mangle; policy accept;
        $marks
    }
    chain out {
        type route hook output priority mangle; policy accept;
        ct mark != 0 meta mark set ct mark
    }
}
NFT
    done
}

# lab_proxies_config APP: the WCCP lines for APP's config (appended before egressd starts).
lab_proxies_config() {
    cat <<EOF
! Proxies (scripts/lib/lab-proxies.sh): the Squids' WCCP service.
ip access-list extended WEB
 deny tcp 10.0.3.0/24 any
 permit tcp any any eq 80
!
ip wccp router-id $(lab_router_ip "$1")
ip wccp failure-detection tcp-port 3128 interval 200 timeout 1000
ip wccp 80 redirect-list WEB password 0 $LAB_WCCP_PASSWORD
!
EOF
}

# lab_proxy_start SQUID_DIR PROXY: write PROXY's squid.conf and start it.
lab_proxy_start() {
    local squid_dir=$1 p=$2 dir=$STATE/$2 app
    mkdir -p "$dir"
    printf '198.51.100.80 inet\n127.0.0.1 localhost\n' >"$dir/hosts"
    {
        eg_squid_base_conf "$dir" "$(ns "$p")"
        for app in "${APPS[@]}"; do echo "wccp2_router $(lab_router_ip "$app")"; done
        cat <<EOF
wccp2_forwarding_method l2
wccp2_return_method l2
wccp2_assignment_method hash
wccp2_service dynamic 80 password=$LAB_WCCP_PASSWORD
wccp2_service_info 80 protocol=tcp flags=source_port_hash priority=240 ports=80
EOF
    } >"$dir/squid.conf"
    chmod 755 "$STATE"
    chown -R proxy: "$dir"
    echo "$squid_dir" >"$STATE/squid.dir"
    eg_squid_start "$(ns "$p")" "$squid_dir/sbin/squid" "$dir/squid.conf" "$STATE/squid-$p.log"
    echo "$EG_SQUID_PID" >"$STATE/squid-$p.pid"
}

lab_proxies_start() {
    local squid_dir=$1 p
    for p in "${LAB_PROXY_NODES[@]}"; do lab_proxy_start "$squid_dir" "$p"; done
    eg_log "proxies started; Squid assigns buckets about 15 s after both have joined (show ip wccp 80 detail)"
}

LAB_WCCP_READY_EXPR="sum(1 for c in d.get('clients', []) if c['state'] == 'usable' and c['hashAllotment'] > 0)"
# wccp_assigned APP: APP's WCCP service 80 has both proxies usable with buckets assigned.
wccp_assigned() {
    "$EGSH_BIN" --socket "$STATE/$1.sock" -c "show ip wccp 80 detail json" 2>/dev/null | eg_json "$LAB_WCCP_READY_EXPR" | grep -qx 2
}

# lab_proxies_report: whether each Squid still runs, and the end of its cache.log (for a
# failed wait).
lab_proxies_report() {
    local p pid
    for p in "${LAB_PROXY_NODES[@]}"; do
        pid=$(cat "$STATE/squid-$p.pid" 2>/dev/null) || continue
        if eg_pid_gone "$pid"; then echo "--- squid in $(ns "$p") (pid $pid) has exited; its cache.log:"
        else echo "--- squid in $(ns "$p") (pid $pid) runs; its cache.log:"; fi
        tail -n 15 "$STATE/$p/cache.log" 2>/dev/null | sed 's/^/    /'
    done
}

# lab_proxies_down: stop the Squids, delete the proxy namespaces (if any).
lab_proxies_down() {
    local p
    eg_netns_delete "$P" "${LAB_PROXY_NODES[@]}"
    for p in "${LAB_PROXY_NODES[@]}"; do eg_squid_shm_remove "$(ns "$p")"; done
}
