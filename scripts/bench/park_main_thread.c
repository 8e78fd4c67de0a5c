/* LD_PRELOAD shim for the profile suite (scripts/bench/profile.sh), used only under valgrind.
 *
 * egressd ends its start-up in dispatchMain(), which on Linux makes the main thread call
 * pthread_exit(); libdispatch's TSD destructor then parks that thread in sigsuspend().
 * Valgrind 3.19 (Debian 12) crashes on that ("VALGRIND INTERNAL ERROR: signal 11" with the
 * main thread in _dispatch_sig_thread/sigsuspend), even with --tool=none. This shim parks the
 * main thread instead of exiting it: all signals blocked (so they go to the other threads, as
 * libdispatch intends), sleeping forever. Every other thread's pthread_exit is the real one.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

void pthread_exit(void *value) {
    if (syscall(SYS_gettid) == getpid()) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
        for (;;) pause();
    }
    void (*real)(void *) = (void (*)(void *))dlsym(RTLD_NEXT, "pthread_exit");
    real(value);
    __builtin_unreachable();
}
