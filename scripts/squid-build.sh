#!/usr/bin/env bash
# Build (once) a Squid whose WCCPv2 client can talk to a standard router, and print its prefix.
#
# Debian 12's Squid 5.7 rejects every standards-conformant I_SEE_YOU (two parser bugs in
# src/wccp2.cc), so the lab and the Squid namespace tests use Debian's
# own source package with our patch scripts/squid/wccp2-isy-parser.patch applied (README "WCCP"). The result is
# installed under $EG_SQUID_CACHE/squid-<debian-source-version> (default /var/cache/egressd),
# outside the repository, with a stamp naming the source version, the patch and the configure
# options: a second run with the same inputs returns at once.
#
# Usage: scripts/squid-build.sh [--print-prefix] [--force]
#   prints the install prefix on stdout (the binary is PREFIX/sbin/squid); progress on stderr.
# Needs root (apt-get, /var/cache). Build time on 2 busy cores: see README.md.
set -euo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"

force=0
for arg in "$@"; do
    case $arg in
        --print-prefix) ;;
        --force) force=1 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) eg_die "unknown option '$arg'" ;;
    esac
done
(( EUID == 0 )) || eg_die "scripts/squid-build.sh needs root"

PATCH=$REPO_DIR/scripts/squid/wccp2-isy-parser.patch
CACHE_ROOT=${EG_SQUID_CACHE:-/var/cache/egressd}

# Only what the lab needs: WCCPv2, NAT interception (linux-netfilter), a memory cache, access
# log. No TLS, no auth, no helpers, no ICAP/eCAP/ESI, no SNMP/HTCP/ICMP, -O0 (the proxies carry
# a handful of test requests). Changing this list changes the stamp and forces a rebuild.
CONFIGURE_OPTS=(
    --disable-dependency-tracking --disable-optimizations --disable-strict-error-checking
    --disable-arch-native --disable-loadable-modules --disable-translation --disable-auto-locale
    --enable-wccpv2 --disable-wccp --enable-linux-netfilter
    --enable-storeio=ufs --enable-removal-policies=lru
    --disable-auth --disable-auth-basic --disable-auth-digest --disable-auth-negotiate
    --disable-auth-ntlm --disable-external-acl-helpers --disable-url-rewrite-helpers
    --disable-storeid-rewrite-helpers --disable-security-cert-validators
    --disable-security-cert-generators --disable-log-daemon-helpers
    --disable-snmp --disable-htcp --disable-icmp --disable-delay-pools --disable-icap-client
    --disable-ecap --disable-esi --disable-cache-digests --disable-ident-lookups
    --disable-unlinkd --disable-eui --disable-zph-qos --disable-cpu-profiling
    --without-openssl --without-gnutls --without-nettle --without-mit-krb5 --without-heimdal-krb5
    --without-gss --without-ldap --without-sasl --without-netfilter-conntrack --without-systemd
    --without-expat --without-libxml2 --without-tdb --without-valgrind-debug --without-cppunit
    --without-libcap --without-gnugss
)

# No optimisation, no debug info: the proxies carry a handful of test requests, and compile
# time is what counts (part of the CI budget).
BUILD_FLAGS="-O0 -g0"

# Debian source version of the squid package this machine installs (e.g. 5.7-2+deb12u6).
squid_version() {
    apt-cache policy squid 2>/dev/null | awk '/Candidate:/ { print $2; exit }'
}

# autoconf/automake/libtool: Debian's patches edit Makefile.am (e.g. CVE-2023-46728 removes
# Gopher), and Debian regenerates the build files (dh_autoreconf); so do we.
eg_apt_ensure build-essential dpkg-dev perl pkg-config ca-certificates autoconf automake libtool libltdl-dev
version=$(squid_version)
if [[ -z $version || $version == "(none)" ]]; then
    apt-get update -q >/dev/null || true
    version=$(squid_version)
fi
[[ -n $version && $version != "(none)" ]] || eg_die "apt-cache knows no squid package"

# One build at a time (the test suite and a user may both ask): wait for the other one.
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.squid-build.lock"
flock 9

stamp_text=$(printf 'squid %s\npatch %s\nconfigure %s %s autoreconf\n' "$version" \
    "$(sha256sum "$PATCH" | cut -d' ' -f1)" "${CONFIGURE_OPTS[*]}" "$BUILD_FLAGS")
prefix=$CACHE_ROOT/squid-$version
if (( !force )) && [[ -x $prefix/sbin/squid && -f $prefix/.egressd-stamp ]] \
        && [[ $(cat "$prefix/.egressd-stamp") == "$stamp_text" ]]; then
    echo "$prefix"
    exit 0
fi

start=$(date +%s)
eg_log "squid-build: building Squid $version with the WCCPv2 parser patch into $prefix"

# A deb-src entry for the same Debian archive(s) the machine installs from.
src_list=/etc/apt/sources.list.d/egressd-src.sources
if ! apt-get source --print-uris -q squid >/dev/null 2>&1; then
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$src_list"
    elif [[ -f /etc/apt/sources.list ]]; then
        sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >/etc/apt/sources.list.d/egressd-src.list
    else
        eg_die "no Debian apt source found to derive a deb-src entry from"
    fi
    apt-get update -q >/dev/null || eg_log "warning: apt-get update failed"
fi

work=$(mktemp -d /tmp/egressd-squid-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get source -q --only-source "squid=$version" >"$work/source.log" 2>&1 \
    || { cat "$work/source.log" >&2; eg_die "apt-get source squid=$version failed"; }
srcdir=$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'squid-*' | head -n 1)
[[ -d $srcdir ]] || eg_die "apt-get source left no squid-* directory"
cd "$srcdir"
patch -p1 --forward <"$PATCH" >&2 || eg_die "patch $PATCH does not apply to squid $version"

rm -rf "$prefix"
eg_log "squid-build: autoreconf"
autoreconf -fi >"$work/autoreconf.log" 2>&1 || { tail -n 40 "$work/autoreconf.log" >&2; eg_die "autoreconf failed"; }
eg_log "squid-build: configure"
./configure --prefix="$prefix" "${CONFIGURE_OPTS[@]}" CFLAGS="$BUILD_FLAGS" CXXFLAGS="$BUILD_FLAGS" \
    >"$work/configure.log" 2>&1 \
    || { tail -n 40 "$work/configure.log" >&2; eg_die "squid configure failed"; }
eg_log "squid-build: make -j2"
make -j2 >"$work/make.log" 2>&1 || { tail -n 60 "$work/make.log" >&2; eg_die "squid make failed"; }
make install >"$work/install.log" 2>&1 \
    || { tail -n 40 "$work/install.log" >&2; eg_die "squid make install failed"; }
"$prefix/sbin/squid" -v | grep -q 'enable-wccpv2' || eg_die "built squid lacks WCCPv2"
printf '%s\n' "$stamp_text" >"$prefix/.egressd-stamp"
eg_log "squid-build: done in $(( $(date +%s) - start )) s"
echo "$prefix"
