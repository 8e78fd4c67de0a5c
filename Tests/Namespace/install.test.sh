#!/usr/bin/env bash
# install: scripts/install.sh with DESTDIR into a temporary root (no users or systemd touched):
# binaries 0755, the unit 0644, /etc/egressd 0770 and the config 0660; the installed egressd
# runs (--check on the installed config); the unit passes `systemd-analyze verify` (binary
# paths pointed into the staged root) when systemd-analyze is present.
TEST_NAME="install"
NS_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$NS_TEST_DIR/../.." && pwd)
set -uo pipefail
[[ -n ${EGRESSD_BIN:-} ]] || { echo "FAIL $TEST_NAME: EGRESSD_BIN is not set"; exit 1; }
ROOT=$(mktemp -d /tmp/egressd-nstest-install.XXXXXX)
trap 'rm -rf -- "$ROOT"' EXIT
fail() { echo "FAIL $TEST_NAME: $*"; exit 1; }

DESTDIR=$ROOT "$REPO_DIR/scripts/install.sh" --bin-dir "$(dirname "$EGRESSD_BIN")" >"$ROOT.log" 2>&1 \
    || { cat "$ROOT.log"; rm -f "$ROOT.log"; fail "install.sh failed"; }
rm -f "$ROOT.log"
mode() { stat -c %a "$ROOT$1" 2>/dev/null || echo missing; }
[[ $(mode /usr/local/sbin/egressd) == 755 ]] || fail "egressd mode $(mode /usr/local/sbin/egressd)"
[[ $(mode /usr/local/bin/egsh) == 755 ]] || fail "egsh mode $(mode /usr/local/bin/egsh)"
[[ $(mode /etc/systemd/system/egressd.service) == 644 ]] || fail "unit mode $(mode /etc/systemd/system/egressd.service)"
[[ $(mode /etc/egressd) == 770 ]] || fail "/etc/egressd mode $(mode /etc/egressd)"
[[ $(mode /etc/egressd/egressd.conf) == 660 ]] || fail "config mode $(mode /etc/egressd/egressd.conf)"
[[ -f $ROOT/usr/local/share/doc/egressd/README.md ]] || fail "README not installed"
cmp -s "$EGRESSD_BIN" "$ROOT/usr/local/sbin/egressd" || fail "installed egressd differs from $EGRESSD_BIN"
unit=$ROOT/etc/systemd/system/egressd.service
# The three capabilities egressd always keeps, and the two of the default io-backend afxdp
# (CAP_BPF, CAP_IPC_LOCK; egressd drops them itself when the config pins tpacket or raw).
caps="CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE CAP_BPF CAP_IPC_LOCK"
for key in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes "CapabilityBoundingSet=$caps\$" \
           "AmbientCapabilities=$caps\$" "SystemCallFilter=bpf\$" RestrictAddressFamilies=.*AF_XDP User=egressd; do
    grep -q "^$key" "$unit" || fail "the unit lacks $key"
done
# The example config (configs/egressd.conf) is a complete appliance's: the installed binary accepts it.
cmp -s "$REPO_DIR/configs/egressd.conf" "$ROOT/etc/egressd/egressd.conf" || fail "the example config is not configs/egressd.conf"
"$ROOT/usr/local/sbin/egressd" --check --config "$ROOT/etc/egressd/egressd.conf" >/dev/null || fail "installed egressd --check failed"
# A second run keeps an edited config.
echo "! edited" >>"$ROOT/etc/egressd/egressd.conf"
DESTDIR=$ROOT "$REPO_DIR/scripts/install.sh" --bin-dir "$(dirname "$EGRESSD_BIN")" >/dev/null 2>&1 || fail "second install failed"
grep -q "^! edited" "$ROOT/etc/egressd/egressd.conf" || fail "a second install replaced the config"
if command -v systemd-analyze >/dev/null; then
    sed "s#/usr/local/#$ROOT/usr/local/#g" "$unit" >"$ROOT/egressd.service"
    out=$(systemd-analyze verify "$ROOT/egressd.service" 2>&1) || fail "systemd-analyze verify: $out"
    [[ -z $(grep -i "egressd.service" <<<"$out") ]] || fail "systemd-analyze verify warns: $out"
fi
echo "PASS $TEST_NAME"
