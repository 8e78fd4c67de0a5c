#define _GNU_SOURCE
#include "CPrivileges.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef CAP_SETPCAP
#define CAP_SETPCAP 8
#endif

int egressd_thread_count(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    int threads = -1;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "Threads: %d", &threads) == 1) break;
    }
    fclose(f);
    return threads;
}

static int cap_get(struct __user_cap_data_struct data[2]) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    return (int)syscall(SYS_capget, &header, data);
}

static int cap_set(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    data[0].effective = (uint32_t)effective; data[1].effective = (uint32_t)(effective >> 32);
    data[0].permitted = (uint32_t)permitted; data[1].permitted = (uint32_t)(permitted >> 32);
    data[0].inheritable = (uint32_t)inheritable; data[1].inheritable = (uint32_t)(inheritable >> 32);
    return (int)syscall(SYS_capset, &header, data);
}

static int last_cap(void) {
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
    int n = 40;
    if (f) { if (fscanf(f, "%d", &n) != 1) n = 40; fclose(f); }
    return n > 63 ? 63 : n;
}

int egressd_capabilities(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable, uint64_t *bounding) {
    struct __user_cap_data_struct data[2];
    if (cap_get(data) != 0) return -1;
    *effective = (uint64_t)data[1].effective << 32 | data[0].effective;
    *permitted = (uint64_t)data[1].permitted << 32 | data[0].permitted;
    *inheritable = (uint64_t)data[1].inheritable << 32 | data[0].inheritable;
    uint64_t b = 0;
    for (int cap = 0; cap <= last_cap(); cap++) {
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) b |= 1ULL << cap;
    }
    *bounding = b;
    return 0;
}

#define FAIL(...) do { snprintf(message, message_size, __VA_ARGS__); return -1; } while (0)

int egressd_drop_privileges(uint64_t keep, int change_user, uid_t uid, gid_t gid,
                            const gid_t *groups, size_t group_count, char *message, size_t message_size) {
    uint64_t effective, permitted, inheritable, bounding;
    if (egressd_capabilities(&effective, &permitted, &inheritable, &bounding) != 0)
        FAIL("capget: %s", strerror(errno));
    if ((permitted & keep) != keep)
        FAIL("missing capabilities (have %#llx, need %#llx)", (unsigned long long)permitted, (unsigned long long)keep);
    // Raise what we keep (it is permitted) so the steps below are allowed.
    if (cap_set(permitted, permitted, 0) != 0) FAIL("capset: %s", strerror(errno));
    // The bounding set first: dropping from it needs CAP_SETPCAP, which goes below.
    if (permitted & (1ULL << CAP_SETPCAP)) {
        for (int cap = 0; cap <= last_cap(); cap++) {
            if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
                FAIL("dropping capability %d from the bounding set: %s", cap, strerror(errno));
        }
    }
    // Supplementary groups (the shell socket's group: chown to it needs no CAP_CHOWN then).
    if ((change_user || group_count > 0) && setgroups(group_count, groups) != 0)
        FAIL("setgroups: %s", strerror(errno));
    if (change_user) {
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) FAIL("PR_SET_KEEPCAPS: %s", strerror(errno));
        if (setresgid(gid, gid, gid) != 0) FAIL("setresgid(%u): %s", (unsigned)gid, strerror(errno));
        if (setresuid(uid, uid, uid) != 0) FAIL("setresuid(%u): %s", (unsigned)uid, strerror(errno));
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) FAIL("PR_SET_KEEPCAPS: %s", strerror(errno));
    }
    if (cap_set(keep, keep, 0) != 0) FAIL("capset: %s", strerror(errno));
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) FAIL("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    // Check the result rather than trust it.
    if (egressd_capabilities(&effective, &permitted, &inheritable, &bounding) != 0)
        FAIL("capget: %s", strerror(errno));
    if (effective != keep || permitted != keep || inheritable != 0)
        FAIL("capabilities after the drop are %#llx, not %#llx", (unsigned long long)effective, (unsigned long long)keep);
    if (change_user && (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid))
        FAIL("user or group did not change");
    return 0;
}
