// libFuzzer's entry for programs that keep their own main (LLVM >= 11):
// eg-fuzz links libclang_rt.fuzzer_no_main in fuzzing builds (scripts/fuzz.sh)
// and calls this with the libFuzzer arguments. Declaration only: the symbol is
// referenced solely when eg-fuzz is compiled with -DFUZZING.
#ifndef CFUZZDRIVER_H
#define CFUZZDRIVER_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv,
                        int (*callback)(const uint8_t *data, size_t size));

#endif
