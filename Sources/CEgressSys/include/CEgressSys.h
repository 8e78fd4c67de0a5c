// Thin C shims for the system calls and constants that Swift cannot import
// directly (ioctl request macros, BPF programs, packet-socket options).
// Each function does one system-level thing and returns -errno on failure.
#ifndef EGRESSD_CEGRESSSYS_H
#define EGRESSD_CEGRESSSYS_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <linux/if_packet.h>

/// Opens one queue of a TUN device (IFF_TUN | IFF_NO_PI, IFF_MULTI_QUEUE when
/// multi_queue != 0), non-blocking. Creates the device if it does not exist.
/// Returns the fd, or -errno.
int egressd_tun_open(const char *name, int multi_queue);

/// Sets an interface's transmit queue length (SIOCSIFTXQLEN). For a TUN
/// this is how many packets the kernel queues for the reader.
int egressd_set_txqueuelen(const char *name, int length);

/// An AF_PACKET SOCK_DGRAM socket that receives incoming IPv4 GRE packets
/// (not our own outgoing copies) on every interface, joined to a
/// PACKET_FANOUT_HASH group `fanout_group` (0 = none). Non-blocking.
int egressd_gre_packet_socket(uint16_t fanout_group, int rcvbuf);

/// A raw IPPROTO_GRE socket for receiving GRE (IPv4 header included),
/// non-blocking. With one worker this is the cheapest receive path: the
/// kernel clones each GRE packet once, to this socket, and its existence
/// also stops ICMP "protocol unreachable" answers.
int egressd_gre_raw_socket(int rcvbuf);

/// A raw IPPROTO_GRE socket that accepts nothing (a BPF program drops all):
/// its existence stops the kernel from answering GRE with ICMP "protocol
/// unreachable" (there is no GRE module on this kernel).
int egressd_gre_sink_socket(void);

/// A raw socket for sending complete IP packets (IPPROTO_RAW, header
/// included) of the given family (AF_INET or AF_INET6). Non-blocking.
int egressd_raw_send_socket(int family, int sndbuf);

/// An AF_PACKET SOCK_DGRAM socket for sending IP packets in Ethernet frames
/// to a given MAC (WCCP L2 redirection). Protocol 0: it receives nothing.
int egressd_l2_send_socket(int sndbuf);

/// Fills a sockaddr_ll for sending an IPv4 packet to `mac` out of `ifindex`.
void egressd_fill_sockaddr_ll(struct sockaddr_ll *a, int ifindex, const uint8_t mac[6]);

/// Sets SO_MARK on a socket (so policy routing can tell egressd's packets).
int egressd_set_mark(int fd, uint32_t mark);

/// The layout of struct mmsghdr, declared here so that the header needs no
/// _GNU_SOURCE (which would clash with Swift's own Glibc module).
struct egressd_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

/// recvmmsg/sendmmsg with no timeout; return count or -errno.
int egressd_recvmmsg(int fd, struct egressd_mmsghdr *msgs, unsigned int n);
int egressd_sendmmsg(int fd, struct egressd_mmsghdr *msgs, unsigned int n);

/// read/write one packet; return length or -errno.
ssize_t egressd_read(int fd, void *buf, size_t len);
ssize_t egressd_write(int fd, const void *buf, size_t len);

/// poll on up to n fds for POLLIN with a timeout in ms; fills `ready` with
/// 1/0 per fd. Returns the number ready, 0 on timeout, or -errno.
int egressd_poll_in(const int *fds, int *ready, int n, int timeout_ms);

/// Pins the calling thread to one CPU. Returns 0 or -errno.
int egressd_pin_to_cpu(int cpu);

/// Writes `value` to a /proc/sys file (e.g. disable_ipv6 of a TUN).
int egressd_write_sysctl(const char *path, const char *value);

/// Fixes glibc's mmap threshold at `bytes` (mallopt M_MMAP_THRESHOLD): big arrays stay
/// mmapped and are returned to the kernel when freed. Returns 1 on success.
int egressd_fix_mmap_threshold(int bytes);

#endif
