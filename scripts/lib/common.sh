# shellcheck shell=bash
# Shared bash helpers for scripts/lab.sh, scripts/test.sh and Tests/Namespace/.
# Source it; it defines functions only (no side effects).

# eg_log MESSAGE...: progress message on stderr.
eg_log() { printf '%s\n' "$*" >&2; }

# eg_die MESSAGE...: print an error on stderr and exit 1.
eg_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# eg_wait SECONDS CMD...: run CMD every 0.2 s until it succeeds; 1 if SECONDS pass first.
eg_wait() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        (( $(date +%s) >= deadline )) && return 1
        sleep 0.2
    done
}

# eg_apt_ensure PKG...: install the Debian packages that are missing, without questions.
eg_apt_ensure() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    (( ${#missing[@]} == 0 )) && return 0
    eg_log "installing: ${missing[*]}"
    # tshark asks whether non-root users may capture; answer it up front so nothing blocks.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' \
        | debconf-set-selections 2>/dev/null || true
    export DEBIAN_FRONTEND=noninteractive
    if [[ -z ${EG_APT_UPDATED:-} ]]; then
        apt-get update -q >/dev/null || eg_log "warning: apt-get update failed"
        export EG_APT_UPDATED=1
    fi
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
        || eg_die "apt-get install ${missing[*]} failed"
}

# eg_kill_pid PID [SECONDS]: SIGTERM; after 1 s a second SIGTERM (an egressd draining under
# `bgp graceful-shutdown drain-time` then stops at once) when SECONDS > 1; SIGKILL after
# SECONDS (default 5).
eg_kill_pid() {
    local pid=$1 secs=${2:-5}
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    if (( secs > 1 )) && ! eg_wait 1 eg_pid_gone "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
    fi
    if ! eg_wait "$secs" eg_pid_gone "$pid"; then
        eg_log "pid $pid did not stop on SIGTERM within ${secs}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        eg_wait 3 eg_pid_gone "$pid" || true
    fi
}

# eg_netns_delete PREFIX NODE...: for each namespace PREFIX+NODE that exists, stop every process
# in it (eg_kill_pid, 3 s) and delete it; a warning when it cannot be deleted.
eg_netns_delete() {
    local prefix=$1 node pid
    shift
    for node in "$@"; do
        [[ -e /run/netns/$prefix$node ]] || continue
        for pid in $(ip netns pids "$prefix$node" 2>/dev/null); do eg_kill_pid "$pid" 3; done
        ip netns del "$prefix$node" 2>/dev/null || eg_log "warning: could not delete netns $prefix$node"
    done
}

# eg_pid_gone PID: true when no process PID exists (zombies count as gone).
eg_pid_gone() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
    [[ -z $state || $state == Z* ]]
}

# eg_json EXPR: read JSON on stdin and print the Python expression EXPR over it (named d).
eg_json() {
    /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1], {"d": d})
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1"
}

# eg_squid_service NETNS: the Squid service name (squid -n) of the Squid in namespace NETNS.
# Squid names its shared-memory segments after the service (/dev/shm/NAME-cf__*.shm), and two
# Squids started at once under the same (default) name race on them: one dies with "FATAL:
# Ipc::Mem::Segment::create failed to shm_open(/squid-cf__metadata.shm): (17) File exists"
# (3 of 30 starts here). Squid accepts only letters and digits.
eg_squid_service() { printf 'eg%s' "${1//[^A-Za-z0-9]/}"; }

# eg_squid_start NETNS SQUID CONF LOG: start SQUID (the binary) in the foreground mode (-N)
# inside namespace NETNS, in the background, under its own service name; its pid in
# EG_SQUID_PID, its stdout/stderr appended to LOG.
eg_squid_start() {
    nsenter --net="/run/netns/$1" -- "$2" -N -n "$(eg_squid_service "$1")" -f "$3" </dev/null >>"$4" 2>&1 &
    EG_SQUID_PID=$!
}

# eg_squid_shm_remove NETNS: delete the shared-memory segments a killed Squid of NETNS left.
eg_squid_shm_remove() { rm -f -- /dev/shm/"$(eg_squid_service "$1")"-*; }

# eg_squid_base_conf DIR NAME: the squid.conf lines every lab and test proxy shares (an
# intercepting Squid named NAME, its files under DIR, origin names from DIR/hosts); the caller
# appends its WCCP lines.
eg_squid_base_conf() {
    cat <<EOF
http_port 3128
http_port 3129 intercept
visible_hostname $2
cache_effective_user proxy
pinger_enable off
dns_nameservers 127.0.0.1
hosts_file $1/hosts
http_access allow all
cache_mem 8 MB
access_log stdio:$1/access.log
cache_log $1/cache.log
pid_filename $1/squid.pid
coredump_dir $1
shutdown_lifetime 1 seconds
EOF
}
