// Thread placement (Engine/ThreadPlacement.swift): the CPUs the process may run
// on, one thread's affinity by its kernel id, the calling thread's id and name,
// and SCHED_FIFO for a worker.
#define _GNU_SOURCE
#include "CEgressSys.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int egressd_thread_cpus(int tid, int *out, int max) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity((pid_t)tid, sizeof set, &set) < 0) return -errno;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++) if (CPU_ISSET(c, &set)) out[n++] = c;
    return n;
}

int egressd_set_thread_cpus(int tid, const int *cpus, int n) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < n; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return -EINVAL;
        CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity((pid_t)tid, sizeof set, &set) < 0 ? -errno : 0;
}

int egressd_gettid(void) { return (int)syscall(SYS_gettid); }

int egressd_set_thread_name(const char *name) {
    char n[16];
    strncpy(n, name, sizeof n - 1);
    n[sizeof n - 1] = 0;
    return -pthread_setname_np(pthread_self(), n);
}

int egressd_set_fifo(int priority) {
    struct sched_param p;
    memset(&p, 0, sizeof p);
    p.sched_priority = priority;
    int r = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
    return -r;
}

void egressd_sleep_ns(uint64_t ns) {
    struct timespec t = { .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };
    clock_nanosleep(CLOCK_MONOTONIC, 0, &t, NULL);
}
