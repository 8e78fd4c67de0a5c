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
/// Opens a TUN queue with IFF_VNET_HDR (10-byte virtio_net_hdr before every
/// packet) and the richest TUNSETOFFLOAD set the kernel accepts, stored in
/// *offloads (TUN_F_* bits; 0 when none). Returns the fd or -errno.
int egressd_tun_open_offload(const char *name, int multi_queue, unsigned *offloads);
/// readv/writev of two buffers (writev: one when blen is 0); length or -errno.
ssize_t egressd_readv2(int fd, void *a, size_t alen, void *b, size_t blen);
ssize_t egressd_writev2(int fd, const void *a, size_t alen, const void *b, size_t blen);

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
/// qdisc_bypass != 0: PACKET_QDISC_BYPASS (straight to the driver; packet
/// taps such as tcpdump on the sending host then do not see the frames).
int egressd_l2_send_socket(int sndbuf, int qdisc_bypass);

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


// MARK: AF_PACKET rings (the `tpacket` I/O backend)

/// A TPACKET_V3 receive ring of one AF_PACKET socket: the kernel fills
/// blocks of packets, the worker reads whole blocks and hands them back.
/// Packets handed out by `egressd_rxring_batch` stay valid (and writable,
/// with `reserve` bytes of headroom before each) until `egressd_rxring_release`.
struct egressd_rxring {
    int fd;
    uint8_t *map;
    size_t map_size;
    uint32_t block_size;
    uint32_t block_nr;
    /// The block being read, and the packets left in it (0: not opened yet).
    uint32_t current;
    uint32_t left;
    uint8_t *next;
    /// Blocks read to the end but not yet handed back, from `release_from` on.
    uint32_t release_from;
    uint32_t release_count;
    /// Packets the ring delivered shorter than they were (never with these sizes).
    uint64_t truncated;
};

/// Opens an AF_PACKET SOCK_DGRAM socket for incoming IPv4 GRE (the BPF
/// filter of egressd_gre_packet_socket), with a TPACKET_V3 receive ring of
/// `block_nr` blocks of `block_size` bytes (retired after `timeout_ms` when
/// not full), `reserve` bytes of headroom before each packet, joined to the
/// PACKET_FANOUT_HASH group `fanout_group` (0 = none). 0 or -errno (then
/// nothing is left open).
int egressd_rxring_open(struct egressd_rxring *r, uint16_t fanout_group, uint32_t block_size, uint32_t block_nr,
                        uint32_t timeout_ms, uint32_t reserve);

/// Points a ring at memory laid out as the kernel would (unit tests); fd -1.
void egressd_rxring_attach(struct egressd_rxring *r, void *memory, uint32_t block_size, uint32_t block_nr);

/// Up to `max` packets from the ring: their network headers in `data`,
/// their lengths in `length`. 0 when the kernel has handed over no block.
int egressd_rxring_batch(struct egressd_rxring *r, void **data, uint32_t *length, int max);

/// Hands every block read to the end back to the kernel.
void egressd_rxring_release(struct egressd_rxring *r);

/// Unmaps and closes (fd -1: only forgets the memory).
void egressd_rxring_close(struct egressd_rxring *r);

/// Kernel statistics of a packet socket (PACKET_STATISTICS, reset on read):
/// packets and drops since the last call. 0 or -errno.
int egressd_packet_stats(int fd, uint64_t *packets, uint64_t *drops);

/// A TPACKET_V2 transmit ring of one AF_PACKET SOCK_RAW socket bound to one
/// interface, with PACKET_LOSS (and optionally PACKET_QDISC_BYPASS): the worker writes
/// Ethernet frames (its own source MAC, the next hop's MAC, IPv4) into the
/// frames and one send() hands the batch to the driver.
struct egressd_txring {
    int fd;
    int ifindex;
    uint8_t source_mac[6];
    uint8_t *map;
    size_t map_size;
    uint32_t frame_size;
    uint32_t frame_nr;
    /// The next frame to fill, and frames filled since the last flush.
    uint32_t head;
    uint32_t pending;
};

/// Opens the ring for `ifindex` (`frame_nr` frames of `frame_size` bytes),
/// with PACKET_QDISC_BYPASS when qdisc_bypass != 0 (see egressd_l2_send_socket).
/// 0 or -errno (then nothing is left open).
int egressd_txring_open(struct egressd_txring *t, int ifindex, uint32_t frame_size, uint32_t frame_nr, int qdisc_bypass);

/// Points a ring at memory (unit tests); fd -1, flush sends nothing.
void egressd_txring_attach(struct egressd_txring *t, void *memory, uint32_t frame_size, uint32_t frame_nr,
                           const uint8_t source_mac[6]);

/// Largest IP packet one frame holds.
uint32_t egressd_txring_max_packet(const struct egressd_txring *t);

/// Queues one IPv4 (ethertype 0x0800) or IPv6 (0x86DD, by the version nibble)
/// packet for `mac` (48 bits, first octet highest). 1 queued; 0 when the next
/// frame is still the kernel's (ring full) or the packet does not fit.
int egressd_txring_put(struct egressd_txring *t, uint64_t mac, const void *packet, uint32_t length);

/// Sends the queued frames (fd -1: none is sent) and reports, in queue
/// order, 1 (the kernel took it) or 0 (refused or not sent) per frame in
/// `ok`. Returns the number taken.
int egressd_txring_flush(struct egressd_txring *t, uint8_t *ok);

/// Unmaps and closes (fd -1: only forgets the memory).
void egressd_txring_close(struct egressd_txring *t);

/// Status word of frame `i` of a ring (unit tests: what the kernel would see).
uint32_t egressd_txring_frame_status(const struct egressd_txring *t, uint32_t i);
/// Sets it (unit tests: play the kernel).
void egressd_txring_set_frame_status(struct egressd_txring *t, uint32_t i, uint32_t status);
/// Byte offset of the Ethernet frame inside each TX frame.
uint32_t egressd_txring_data_offset(void);

#endif
