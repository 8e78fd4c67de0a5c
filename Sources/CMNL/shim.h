#ifndef EGRESSD_CMNL_SHIM_H
#define EGRESSD_CMNL_SHIM_H
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <unistd.h>
#include <sys/syscall.h>

/* Glibc's Swift overlay hides setns(2) (it needs _GNU_SOURCE); Netlink uses it
   to open a socket inside another network namespace. */
#define CMNL_CLONE_NEWNET 0x40000000
static inline int cmnl_setns(int fd, int nstype) {
    return (int)syscall(SYS_setns, fd, nstype);
}
#endif
