#!/usr/bin/env bash
# Installs egressd: binaries, systemd unit, config, and the dedicated user and
# group (the group may use the shell socket).
#   scripts/install.sh [--bin-dir DIR] [--no-build] [--no-user]
# Environment: DESTDIR (stage into a root, e.g. for packaging or a test; users and
# systemd are then not touched), PREFIX (default /usr/local).
# Puts in place (under DESTDIR):
#   $PREFIX/sbin/egressd, $PREFIX/bin/egsh                      mode 0755
#   /etc/systemd/system/egressd.service                           mode 0644
#   /etc/egressd/egressd.conf (kept if present; else an example)  root:egressd 0660, dir 0770
#   $PREFIX/share/doc/egressd/README.md
# and, without DESTDIR: system user and group `egressd`, then `systemctl daemon-reload`.
set -uo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
bin_dir="" build=1 make_user=1
while (( $# )); do
    case $1 in
        --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift 2 ;;
        --no-build) build=0; shift ;;
        --no-user) make_user=0; shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) eg_die "unknown option '$1' (see --help)" ;;
    esac
done
[[ -n $DESTDIR ]] && make_user=0
(( EUID == 0 )) || [[ -n $DESTDIR ]] || eg_die "installing into / needs root (or set DESTDIR to stage)"

if [[ -z $bin_dir ]]; then
    command -v swift >/dev/null || [[ ! -x /opt/swift/usr/bin/swift ]] || export PATH=/opt/swift/usr/bin:$PATH
    if (( build )); then
        (cd "$REPO_DIR" && swift build -c release --product egressd && swift build -c release --product egsh) \
            || eg_die "release build failed"
    fi
    bin_dir=$(cd "$REPO_DIR" && swift build -c release --show-bin-path)
fi
for b in egressd egsh; do [[ -x $bin_dir/$b ]] || eg_die "$bin_dir/$b not found (build first, or give --bin-dir)"; done

if (( make_user )); then
    getent group egressd >/dev/null || groupadd --system egressd || eg_die "groupadd egressd failed"
    getent passwd egressd >/dev/null \
        || useradd --system --gid egressd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin egressd \
        || eg_die "useradd egressd failed"
fi
# Staged installs name the group by number 0 when it does not exist here.
group=egressd
getent group egressd >/dev/null || group=0

install -d -m 0755 "$DESTDIR$PREFIX/sbin" "$DESTDIR$PREFIX/bin" "$DESTDIR/etc/systemd/system" "$DESTDIR$PREFIX/share/doc/egressd"
install -m 0755 "$bin_dir/egressd" "$DESTDIR$PREFIX/sbin/egressd"
install -m 0755 "$bin_dir/egsh" "$DESTDIR$PREFIX/bin/egsh"
sed "s#/usr/local/#$PREFIX/#g" "$REPO_DIR/configs/systemd/egressd.service" >"$DESTDIR/etc/systemd/system/egressd.service"
chmod 0644 "$DESTDIR/etc/systemd/system/egressd.service"
install -m 0644 "$REPO_DIR/README.md" "$DESTDIR$PREFIX/share/doc/egressd/README.md"
install -d -m 0770 -o 0 -g "$group" "$DESTDIR/etc/egressd"
if [[ ! -e $DESTDIR/etc/egressd/egressd.conf ]]; then
    install -m 0660 -o 0 -g "$group" "$REPO_DIR/configs/egressd.conf" "$DESTDIR/etc/egressd/egressd.conf"
    eg_log "installed an example /etc/egressd/egressd.conf: edit it for this machine"
fi
if [[ -z $DESTDIR ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload || eg_log "warning: systemctl daemon-reload failed"
    eg_log "installed: systemctl enable --now egressd; egsh as a member of group egressd"
else
    eg_log "installed into ${DESTDIR:-/}"
fi
