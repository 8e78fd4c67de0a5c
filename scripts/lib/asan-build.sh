# shellcheck shell=bash
# The one AddressSanitizer build that fuzzing and the unit tests under ASan share (sourced by
# scripts/fuzz.sh and scripts/sanitize.sh): scratch path .build-fuzz, ASan, libFuzzer's
# coverage instrumentation and -DFUZZING on every module, libFuzzer (without its main) linked
# into every binary. -DFUZZING changes only eg-fuzz (it then calls LLVMFuzzerRunDriver); the
# coverage hooks cost the tests some speed but no behaviour, so one build serves both:
#   eg_asan_build [--build-tests | --product eg-fuzz]
# With the same flags, building eg-fuzz after the tests (or the tests after eg-fuzz) only
# compiles what the first build left out.
EG_ASAN_SCRATCH=$REPO_DIR/.build-fuzz

eg_asan_fuzzer_lib() {
    ls "$(dirname "$(readlink -f "$(command -v swift)")")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-"$(uname -m)".a \
        2>/dev/null | head -n 1
}

eg_asan_build() {
    local lib
    lib=$(eg_asan_fuzzer_lib)
    [[ -f $lib ]] || eg_die "libclang_rt.fuzzer_no_main not found in the Swift toolchain (need Swift 5.9+ on Linux)"
    swift build "$@" --scratch-path "$EG_ASAN_SCRATCH" --sanitize=address \
        -Xswiftc -DFUZZING -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
        -Xlinker --whole-archive -Xlinker "$lib" -Xlinker --no-whole-archive -Xlinker -lstdc++
}
