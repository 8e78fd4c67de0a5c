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

/// Turns on kernel receive timestamps (SO_TIMESTAMPNS) on a socket; 0 or -errno.
int egressd_enable_receive_timestamps(int fd);
/// recv one packet (up to len bytes, MSG_TRUNC not set) with the kernel's receive time in
/// CLOCK_REALTIME nanoseconds (0 when the kernel attached none); length or -errno.
ssize_t egressd_recv_timestamped(int fd, void *buf, size_t len, uint64_t *realtime_ns);

/// read/write one packet; return length or -errno.
ssize_t egressd_read(int fd, void *buf, size_t len);
ssize_t egressd_write(int fd, const void *buf, size_t len);

/// poll on up to n fds for POLLIN with a timeout in ms; fills `ready` with
/// 1/0 per fd. Returns the number ready, 0 on timeout, or -errno.
int egressd_poll_in(const int *fds, int *ready, int n, int timeout_ms);

/// Pins the calling thread to one CPU. Returns 0 or -errno.
int egressd_pin_to_cpu(int cpu);

/// Thread placement (placement.c). The CPUs thread `tid` (0: the caller) may run on,
/// up to `max` into `out`: their count or -errno.
int egressd_thread_cpus(int tid, int *out, int max);
/// Confines thread `tid` (0: the caller) to `cpus`. Returns 0 or -errno.
int egressd_set_thread_cpus(int tid, const int *cpus, int n);
/// The calling thread's kernel id.
int egressd_gettid(void);
/// Names the calling thread (15 characters at most; /proc/PID/task/TID/comm). 0 or -errno.
int egressd_set_thread_name(const char *name);
/// SCHED_FIFO at `priority` for the calling thread. 0 or -errno (EPERM without CAP_SYS_NICE).
int egressd_set_fifo(int priority);
/// Sleeps `ns` nanoseconds (a SCHED_FIFO worker leaves its CPU to normal threads a moment).
void egressd_sleep_ns(uint64_t ns);

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
    /// Packets the ring delivered shorter than they were (V3: handed out as
    /// they are; V2: skipped unless the socket queue had the whole copy).
    uint64_t truncated;
    /// 3: TPACKET_V3 blocks (above); 2: TPACKET_V2 frames, each handed to
    /// user space as soon as it is written (`current` is then the next frame,
    /// release_from/release_count count frames).
    uint32_t version;
    uint32_t frame_size;
    uint32_t frame_nr;
    /// V2, packets bigger than a frame (PACKET_COPY_THRESH): the frame holds
    /// the head only (TP_STATUS_COPY) and the whole packet waits on the
    /// socket's queue; the batch reads it into copy slot n (n = its place in
    /// the batch): `copy_base + n * copy_stride`, at most `copy_capacity` bytes.
    uint8_t *copy_base;
    uint32_t copy_stride;
    uint32_t copy_capacity;
    /// Packets read whole from the socket queue that way.
    uint64_t copied;
};

/// TPACKET_V2 receive ring: `frame_nr` frames of `frame_size` bytes (a
/// multiple of 16; blocks of max(frame_size, 64 KiB)), `reserve` bytes of
/// headroom before each packet, PACKET_COPY_THRESH for packets bigger than
/// a frame, fanout as egressd_rxring_open. Each frame is the user's as soon
/// as the kernel wrote it (no block to fill, no retire timeout). 0 or -errno.
int egressd_rxring_open_v2(struct egressd_rxring *r, uint16_t fanout_group, uint32_t frame_size, uint32_t frame_nr,
                           uint32_t reserve);

/// Points a V2 ring at memory laid out as the kernel would (unit tests).
void egressd_rxring_attach_v2(struct egressd_rxring *r, int fd, void *memory, uint32_t frame_size, uint32_t frame_nr);

/// Where packets too big for a V2 frame are read to (see `copy_base`).
void egressd_rxring_set_copy(struct egressd_rxring *r, void *base, uint32_t stride, uint32_t capacity);

/// Offset of the network header in a V2 frame for `reserve` bytes of
/// headroom (SOCK_DGRAM): a frame must hold this plus the packet.
uint32_t egressd_rxring_v2_data_offset(uint32_t reserve);

/// Largest MTU of this namespace's Ethernet interfaces (the underlay's
/// biggest possible GRE packet), 0 when there is none; -errno on failure.
int egressd_max_ether_mtu(void);

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
/// their lengths in `length`. 0 when the kernel has handed over nothing.
/// Either version (by `version`).
int egressd_rxring_batch(struct egressd_rxring *r, void **data, uint32_t *length, int max);

/// Hands every block read to the end (V2: every frame read) back to the kernel.
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
    /// Bytes of virtio_net_hdr before each frame (PACKET_VNET_HDR: 10, else 0).
    /// Its hdr_len asks the kernel to copy the whole frame into the skb's
    /// linear part instead of attaching ring pages as fragments, which a veth
    /// into another namespace would copy again page by page (skb_copy_ubufs)
    /// and the receiver pull back (__pskb_pull_tail).
    uint32_t vnet;
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

// MARK: XDP and AF_XDP (the `afxdp` I/O backend, xdp.c)

struct bpf_insn;

/// bpf(BPF_MAP_CREATE / UPDATE / DELETE / LOOKUP). fd or 0, else -errno.
int egressd_bpf_map_create(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const char *name);
int egressd_bpf_map_update(int map_fd, const void *key, const void *value);
int egressd_bpf_map_delete(int map_fd, const void *key);
int egressd_bpf_map_lookup(int map_fd, const void *key, void *value);
/// BPF_MAP_GET_NEXT_KEY: the key after `key` (NULL: the first). 0, -ENOENT at the end, else -errno.
int egressd_bpf_map_next_key(int map_fd, const void *key, void *next_key);

/// Map types used (BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_XSKMAP), so Swift needs no <linux/bpf.h>.
enum { EGRESSD_BPF_MAP_HASH = 1, EGRESSD_BPF_MAP_XSKMAP = 17 };
/// Size of one BPF instruction (struct bpf_insn).
enum { EGRESSD_BPF_INSN_SIZE = 8 };

/// Writes the steering program into `out` (room for `capacity` instructions;
/// 8 bytes each): IPv4 GRE frames of at most `max_frame` bytes whose
/// destination is a kind-0 key or whose source is a kind-1 key of the hash
/// map `steer_map_fd` (key: 4 address bytes as on the wire, then a host-order
/// uint32 kind; value: uint32) go to the XSK of their receive queue in
/// `xsk_map_fd` (XDP_PASS when that queue has none). With `spoke_map_fd` >= 0
/// (an LPM trie from egressd_bpf_lpm_create), other IPv4 frames addressed to
/// `mac` (6 bytes; NULL: any) with IHL 5, not a fragment, TTL > 1, whose
/// destination's longest prefix there has a value (uint32, host order) of at
/// least their total length, and that the kernel's route lookup forwards
/// into an interface whose index is a kind-2 key of the steering map (key:
/// the ifindex in host order, then 2), go to the XSK too (spoke-bound
/// traffic to encapsulate; value 0: never). Everything else XDP_PASS. Returns the
/// instruction count, or -ENOSPC when `capacity` is too small.
int egressd_xdp_program(struct bpf_insn *out, int capacity, int xsk_map_fd, int steer_map_fd, uint32_t max_frame,
                        int spoke_map_fd, const uint8_t *mac);

/// BPF_MAP_TYPE_LPM_TRIE of IPv4 prefixes (key: uint32 prefix length in host
/// order, then the 4 address bytes as on the wire; value: uint32), no
/// preallocation. fd or -errno.
int egressd_bpf_lpm_create(uint32_t max_entries, const char *name);

/// BPF_PROG_LOAD of an XDP program; the verifier's log goes to `log`
/// (may be NULL). fd or -errno.
int egressd_xdp_load(const struct bpf_insn *insns, int count, char *log, uint32_t log_size);

/// Attaches the program to the interface by a bpf_link (BPF_LINK_CREATE):
/// native (driver) mode when native_first and the driver has it, else
/// generic (SKB) mode; `native` says which. Closing the returned fd (or the
/// process ending) detaches it. fd or -errno (-EBUSY: another program is attached).
int egressd_xdp_attach(int ifindex, int prog_fd, int native_first, int *native);

/// Whether the interface is up, Ethernet and not loopback, how many receive
/// queues it has (ethtool channels, rx + combined; 1 when unknown) and its
/// Ethernet address (6 bytes into `mac`), in the calling thread's network
/// namespace. 0 or -errno.
int egressd_xdp_interface_info(const char *name, int *ether_up, uint32_t *rx_queues, uint8_t *mac);

/// One ring shared with the kernel: producer/consumer indexes and descriptors.
/// `cached` is our own index (producer of fill/tx, consumer of rx/comp).
struct egressd_xring {
    uint32_t *producer;
    uint32_t *consumer;
    uint32_t *flags;
    void *ring;
    uint32_t mask;
    uint32_t size;
    uint32_t cached;
    void *map;
    size_t map_size;
};

/// One AF_XDP socket bound to (ifindex, queue), copy mode, with its own UMEM
/// of `frame_nr` frames: the first half receive (fill ring), the second half
/// transmit (free stack, refilled from the completion ring).
struct egressd_xsk {
    int fd;
    int ifindex;
    uint32_t queue;
    uint8_t source_mac[6];
    uint8_t *umem;
    size_t umem_size;
    uint32_t frame_size;
    uint32_t frame_nr;
    uint32_t headroom;
    struct egressd_xring fill, comp, rx, tx;
    uint64_t *free_frames;
    uint32_t free_count;
    /// Receive frames read in the current batch, back to the fill ring on release.
    uint64_t *held;
    uint32_t held_count;
    uint32_t tx_pending;
    uint64_t rx_packets;
    uint64_t short_frames;
    uint64_t kicks;
    uint64_t kick_errors;
    uint64_t wakeups;
};

/// Opens the socket, registers and maps the UMEM and rings (`ring_size`
/// entries each, a power of two, at least frame_nr / 2), binds it to
/// (ifindex, queue) in copy mode with need-wakeup, and enters it in
/// `xsk_map_fd` at `queue`. `headroom` bytes are kept free before every
/// received frame. 0 or -errno (then nothing is left open).
int egressd_xsk_open(struct egressd_xsk *x, int ifindex, uint32_t queue, uint32_t frame_size, uint32_t frame_nr,
                     uint32_t ring_size, uint32_t headroom, int xsk_map_fd);

/// Up to `max` received frames: their IPv4 headers (after Ethernet) in
/// `data`, lengths in `length`. The frames stay ours until egressd_xsk_rx_release.
int egressd_xsk_rx_batch(struct egressd_xsk *x, void **data, uint32_t *length, int max);

/// Returns the frames of the last batches to the fill ring (and wakes the
/// kernel when it asks for it).
void egressd_xsk_rx_release(struct egressd_xsk *x);

/// Copies one IPv4/IPv6 packet into a free transmit frame for `mac` and queues
/// it on the TX ring. 1 queued; 0 when no frame or ring slot is free or it does not fit.
int egressd_xsk_tx_put(struct egressd_xsk *x, uint64_t mac, const void *packet, uint32_t length);

/// Publishes the queued frames to the kernel, kicks it (sendto) while it has
/// some left, and takes completed frames back. Returns the frames published.
int egressd_xsk_tx_flush(struct egressd_xsk *x);

/// XDP_STATISTICS: rx_dropped, rx_invalid_descs, tx_invalid_descs,
/// rx_ring_full, rx_fill_ring_empty_descs, tx_ring_empty_descs. 0 or -errno.
int egressd_xsk_stats(const struct egressd_xsk *x, uint64_t out[6]);

/// Unmaps, closes and frees (the XSK map entry goes with the socket).
void egressd_xsk_close(struct egressd_xsk *x);

/// Unit tests: points a socket at plain memory (fd -1): `rings` holds the
/// fill, completion, RX and TX rings in that order, each 64 bytes of
/// [producer, consumer, flags] then its descriptors
/// (egressd_xsk_test_rings_size bytes). Nothing is put on the fill ring.
void egressd_xsk_attach_memory(struct egressd_xsk *x, void *umem, uint32_t frame_size, uint32_t frame_nr,
                               void *rings, uint32_t ring_size, uint64_t *free_frames, uint64_t *held,
                               const uint8_t source_mac[6]);
size_t egressd_xsk_test_rings_size(uint32_t ring_size);

#endif
