# shellcheck shell=bash
# The lab a script runs against (scripts/drill.sh, scripts/soak.sh). Source it after
# lib/common.sh; it defines functions only (no side effects).

# eg_lab_attach SCRIPTS LOGFN: set LAB (scripts/lab.sh), PY, P (the lab prefix: LAB_PREFIX,
# default eg-, exported) and STATE (/run/egressd-lab/$P); bring the full lab up when it is not
# up (announced through LOGFN, e.g. the caller's `log`); then read the lab's state into
# APPLIANCES (1 or 2), PROXIES (0 or 1) and EGSH (the egsh binary the lab runs).
# shellcheck disable=SC2034  # the variables are the caller's
eg_lab_attach() {
    local scripts=$1 logfn=$2
    LAB=$scripts/lab.sh
    PY=/usr/bin/python3
    P=${LAB_PREFIX-eg-}
    export LAB_PREFIX=$P
    STATE=/run/egressd-lab/$P
    if [[ ! -f $STATE/appliances ]]; then
        "$logfn" "lab '$P' is not up: bringing it up (scripts/lab.sh up)"
        "$LAB" up || eg_die "scripts/lab.sh up failed"
    fi
    APPLIANCES=$(cat "$STATE/appliances")
    PROXIES=$(cat "$STATE/proxies")
    EGSH=$(cat "$STATE/egsh.path")
}
