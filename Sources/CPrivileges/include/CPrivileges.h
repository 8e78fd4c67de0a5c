// Least privilege for egressd: switch user and group, and keep only the
// capabilities it needs, in one step while the process has one thread (Linux
// credentials are per thread; threads made later inherit them).
#ifndef CPRIVILEGES_H
#define CPRIVILEGES_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// Bit mask of capability numbers (1ULL << CAP_x).
#define EGRESSD_CAP_NET_BIND_SERVICE 10
#define EGRESSD_CAP_NET_ADMIN 12
#define EGRESSD_CAP_NET_RAW 13

/// Threads of the calling process (from /proc/self/status), or -1.
int egressd_thread_count(void);

/// The effective, permitted, inheritable and bounding capability masks of the calling thread.
int egressd_capabilities(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable, uint64_t *bounding);

/// Drops to `keep` (effective = permitted = keep, inheritable and ambient empty,
/// bounding set = keep when CAP_SETPCAP allows), after switching to uid/gid with
/// supplementary `groups` when `change_user` is set; sets no_new_privs.
/// Returns 0, or -1 with `message` (one line) saying what failed.
int egressd_drop_privileges(uint64_t keep, int change_user, uid_t uid, gid_t gid,
                            const gid_t *groups, size_t group_count, char *message, size_t message_size);

#endif
