#!/usr/bin/env bash
# Unit tests under a sanitizer, in a scratch path of its own (a full rebuild the first time).
#   scripts/sanitize.sh address|thread [FILTER]
# FILTER: swift test --filter (default: all tests). Exits non-zero when a test fails or the
# sanitizer reports anything (halt_on_error: the first report fails the run).
# address: AddressSanitizer with LeakSanitizer, in the build scripts/fuzz.sh uses (.build-fuzz,
# scripts/lib/asan-build.sh: one ASan build for both). thread: ThreadSanitizer in .build-tsan.
set -uo pipefail
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/common.sh
source "$REPO_DIR/scripts/lib/common.sh"
command -v swift >/dev/null || [[ ! -x /opt/swift/usr/bin/swift ]] || export PATH=/opt/swift/usr/bin:$PATH

# shellcheck source=lib/asan-build.sh
source "$REPO_DIR/scripts/lib/asan-build.sh"
case ${1:-} in
    address) scratch=$EG_ASAN_SCRATCH ;;
    thread) scratch=$REPO_DIR/.build-tsan ;;
    -h|--help|"") sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) eg_die "unknown sanitizer '$1' (use address or thread)" ;;
esac
sanitizer=$1 filter=${2:-}
cd "$REPO_DIR" || exit 1
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$REPO_DIR/scripts/lsan.supp:print_suppressions=0}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
start=$(date +%s)
if [[ $sanitizer == address ]]; then
    eg_asan_build --build-tests
else
    swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"
fi || eg_die "build with --sanitize=$sanitizer failed"
eg_log "built with --sanitize=$sanitizer in $(( $(date +%s) - start )) s"
args=(--skip-build --sanitize="$sanitizer" --scratch-path "$scratch")
[[ -n $filter ]] && args+=(--filter "$filter")
start=$(date +%s)
swift test "${args[@]}"
rc=$?
eg_log "tests under --sanitize=$sanitizer: exit $rc in $(( $(date +%s) - start )) s"
exit "$rc"
