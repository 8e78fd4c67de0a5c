#define _GNU_SOURCE
#include <malloc.h>
#include "CEgressSys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>

int egressd_tun_open(const char *name, int multi_queue) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multi_queue ? IFF_MULTI_QUEUE : 0);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

int egressd_tun_open_offload(const char *name, int multi_queue, unsigned *offloads) {
    *offloads = 0;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    int size = 10;  // struct virtio_net_hdr, no num_buffers
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    // The richest set the kernel accepts: USO arrived in Linux 6.2 (EINVAL before).
    static const unsigned sets[] = {
        TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
        TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
        TUN_F_CSUM,
    };
    for (unsigned i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)sets[i]) == 0) { *offloads = sets[i]; break; }
    }
    return fd;
}

ssize_t egressd_readv2(int fd, void *a, size_t alen, void *b, size_t blen) {
    struct iovec v[2] = { { a, alen }, { b, blen } };
    ssize_t r = readv(fd, v, 2);
    return r < 0 ? -errno : r;
}

ssize_t egressd_writev2(int fd, const void *a, size_t alen, const void *b, size_t blen) {
    struct iovec v[2] = { { (void *)a, alen }, { (void *)b, blen } };
    ssize_t r = writev(fd, v, blen ? 2 : 1);
    return r < 0 ? -errno : r;
}

int egressd_set_txqueuelen(const char *name, int length) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    ifr.ifr_qlen = length;
    int r = ioctl(fd, SIOCSIFTXQLEN, &ifr);
    int e = errno;
    close(fd);
    return r < 0 ? -e : 0;
}

static int attach_filter(int fd, struct sock_filter *code, unsigned short len) {
    struct sock_fprog prog = { .len = len, .filter = code };
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) return -errno;
    return 0;
}

// Cooked (SOCK_DGRAM) sockets run the filter on the network header:
// accept IPv4 protocol 47 that is not our own outgoing packet.
static int attach_gre_filter(int fd) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 2, 0),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_GRE, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, 0x40000),
    };
    return attach_filter(fd, code, sizeof code / sizeof code[0]);
}

int egressd_gre_packet_socket(uint16_t fanout_group, int rcvbuf) {
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));
    if (fd < 0) return -errno;
    int r = attach_gre_filter(fd);
    if (r < 0) { close(fd); return r; }
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (fanout_group != 0) {
        int arg = fanout_group | (PACKET_FANOUT_HASH << 16);
        if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
    }
    return fd;
}

int egressd_gre_raw_socket(int rcvbuf) {
    int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_GRE);
    if (fd < 0) return -errno;
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    return fd;
}

int egressd_gre_sink_socket(void) {
    int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_GRE);
    if (fd < 0) return -errno;
    struct sock_filter code[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
    int r = attach_filter(fd, code, 1);
    if (r < 0) { close(fd); return r; }
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    return fd;
}

int egressd_raw_send_socket(int family, int sndbuf) {
    int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
    if (fd < 0) return -errno;
    if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    // Never fragment: the engine checks MTUs itself and answers with ICMP.
    if (family == AF_INET) {
        int pmtu = IP_PMTUDISC_PROBE;
        setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
    }
    return fd;
}

int egressd_l2_send_socket(int sndbuf, int qdisc_bypass) {
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    // Straight to the driver when asked: the engine batches already, a
    // qdisc adds nothing (but taps on this host no longer see the frames).
    int one = 1;
    if (qdisc_bypass) setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    return fd;
}

void egressd_fill_sockaddr_ll(struct sockaddr_ll *a, int ifindex, const uint8_t mac[6]) {
    memset(a, 0, sizeof *a);
    a->sll_family = AF_PACKET;
    a->sll_protocol = htons(ETH_P_IP);
    a->sll_ifindex = ifindex;
    a->sll_halen = 6;
    memcpy(a->sll_addr, mac, 6);
}

int egressd_set_mark(int fd, uint32_t mark) {
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) return -errno;
    return 0;
}

_Static_assert(sizeof(struct egressd_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");

int egressd_recvmmsg(int fd, struct egressd_mmsghdr *msgs, unsigned int n) {
    int r = recvmmsg(fd, (struct mmsghdr *)msgs, n, MSG_DONTWAIT, NULL);
    return r < 0 ? -errno : r;
}

int egressd_sendmmsg(int fd, struct egressd_mmsghdr *msgs, unsigned int n) {
    int r = sendmmsg(fd, (struct mmsghdr *)msgs, n, MSG_DONTWAIT);
    return r < 0 ? -errno : r;
}

int egressd_enable_receive_timestamps(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0 ? -errno : 0;
}

ssize_t egressd_recv_timestamped(int fd, void *buf, size_t len, uint64_t *realtime_ns) {
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    union { char bytes[CMSG_SPACE(sizeof(struct timespec))]; struct cmsghdr align; } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control.bytes, .msg_controllen = sizeof control.bytes };
    ssize_t r = recvmsg(fd, &msg, 0);
    if (r < 0) return -errno;
    *realtime_ns = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec t;
            memcpy(&t, CMSG_DATA(c), sizeof t);
            *realtime_ns = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
        }
    }
    return r;
}

ssize_t egressd_read(int fd, void *buf, size_t len) {
    ssize_t r = read(fd, buf, len);
    return r < 0 ? -errno : r;
}

ssize_t egressd_write(int fd, const void *buf, size_t len) {
    ssize_t r = write(fd, buf, len);
    return r < 0 ? -errno : r;
}

int egressd_poll_in(const int *fds, int *ready, int n, int timeout_ms) {
    struct pollfd pfd[64];
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++) { pfd[i].fd = fds[i]; pfd[i].events = POLLIN; pfd[i].revents = 0; }
    int r = poll(pfd, (nfds_t)n, timeout_ms);
    if (r < 0) return -errno;
    for (int i = 0; i < n; i++) ready[i] = (pfd[i].revents & (POLLIN | POLLERR)) != 0;
    return r;
}

int egressd_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int r = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    return r == 0 ? 0 : -r;
}

int egressd_write_sysctl(const char *path, const char *value) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t len = (ssize_t)strlen(value);
    ssize_t r = write(fd, value, (size_t)len);
    int e = errno;
    close(fd);
    return r == len ? 0 : -e;
}

int egressd_fix_mmap_threshold(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes);
}

// MARK: AF_PACKET rings

static int fail_close(int fd) {
    int e = errno;
    close(fd);
    return -e;
}

// Maps a receive ring set up on `fd` and joins the fanout group (0: none).
// On failure the socket is closed and -errno returned.
static int map_rx_ring_and_join(int fd, size_t size, uint16_t fanout_group, void **map_out) {
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) return fail_close(fd);
    if (fanout_group != 0) {
        int arg = fanout_group | (PACKET_FANOUT_HASH << 16);
        if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) < 0) {
            int e = errno;
            munmap(map, size);
            close(fd);
            return -e;
        }
    }
    *map_out = map;
    return 0;
}

int egressd_rxring_open(struct egressd_rxring *r, uint16_t fanout_group, uint32_t block_size, uint32_t block_nr,
                        uint32_t timeout_ms, uint32_t reserve) {
    memset(r, 0, sizeof *r);
    r->fd = -1;
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));
    if (fd < 0) return -errno;
    int e = attach_gre_filter(fd);
    if (e < 0) { close(fd); return e; }
    int version = TPACKET_V3;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) return fail_close(fd);
    if (setsockopt(fd, SOL_PACKET, PACKET_RESERVE, &reserve, sizeof reserve) < 0) return fail_close(fd);
    struct tpacket_req3 req;
    memset(&req, 0, sizeof req);
    req.tp_block_size = block_size;
    req.tp_block_nr = block_nr;
    req.tp_frame_size = 2048;
    req.tp_frame_nr = (block_size / 2048) * block_nr;
    req.tp_retire_blk_tov = timeout_ms;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) return fail_close(fd);
    size_t size = (size_t)block_size * block_nr;
    void *map;
    if ((e = map_rx_ring_and_join(fd, size, fanout_group, &map)) < 0) return e;
    r->fd = fd;
    r->map = map;
    r->map_size = size;
    r->block_size = block_size;
    r->block_nr = block_nr;
    r->version = 3;
    return 0;
}

void egressd_rxring_attach(struct egressd_rxring *r, void *memory, uint32_t block_size, uint32_t block_nr) {
    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->map = memory;
    r->block_size = block_size;
    r->block_nr = block_nr;
    r->version = 3;
}

// TPACKET_V2 receive: frames the kernel hands over one by one.

uint32_t egressd_rxring_v2_data_offset(uint32_t reserve) {
    // af_packet.c, tpacket_rcv for SOCK_DGRAM: netoff = TPACKET_ALIGN(tp_hdrlen) + 16 + tp_reserve.
    return (uint32_t)TPACKET_ALIGN(TPACKET2_HDRLEN) + 16 + reserve;
}

int egressd_rxring_open_v2(struct egressd_rxring *r, uint16_t fanout_group, uint32_t frame_size, uint32_t frame_nr,
                           uint32_t reserve) {
    memset(r, 0, sizeof *r);
    r->fd = -1;
    uint32_t block_size = frame_size > (1u << 16) ? frame_size : (1u << 16);
    if (frame_size < egressd_rxring_v2_data_offset(reserve) + 64 || frame_size % TPACKET_ALIGNMENT != 0
        || block_size % frame_size != 0 || block_size % (uint32_t)sysconf(_SC_PAGESIZE) != 0) return -EINVAL;
    uint32_t per_block = block_size / frame_size;
    frame_nr = (frame_nr + per_block - 1) / per_block * per_block;
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));
    if (fd < 0) return -errno;
    int e = attach_gre_filter(fd);
    if (e < 0) { close(fd); return e; }
    int version = TPACKET_V2, one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) return fail_close(fd);
    if (setsockopt(fd, SOL_PACKET, PACKET_RESERVE, &reserve, sizeof reserve) < 0) return fail_close(fd);
    // A packet bigger than a frame: its head in the frame (TP_STATUS_COPY),
    // the whole of it on the socket's queue for recv().
    if (setsockopt(fd, SOL_PACKET, PACKET_COPY_THRESH, &one, sizeof one) < 0) return fail_close(fd);
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct tpacket_req req = { .tp_block_size = block_size, .tp_block_nr = frame_nr / per_block,
                               .tp_frame_size = frame_size, .tp_frame_nr = frame_nr };
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) return fail_close(fd);
    size_t size = (size_t)frame_size * frame_nr;
    void *map;
    if ((e = map_rx_ring_and_join(fd, size, fanout_group, &map)) < 0) return e;
    r->fd = fd;
    r->map = map;
    r->map_size = size;
    r->version = 2;
    r->frame_size = frame_size;
    r->frame_nr = frame_nr;
    return 0;
}

void egressd_rxring_attach_v2(struct egressd_rxring *r, int fd, void *memory, uint32_t frame_size, uint32_t frame_nr) {
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->map = memory;
    r->version = 2;
    r->frame_size = frame_size;
    r->frame_nr = frame_nr;
}

void egressd_rxring_set_copy(struct egressd_rxring *r, void *base, uint32_t stride, uint32_t capacity) {
    r->copy_base = base;
    r->copy_stride = stride;
    r->copy_capacity = capacity;
}

int egressd_max_ether_mtu(void) {
    struct if_nameindex *names = if_nameindex();
    if (!names) return -errno;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { int e = errno; if_freenameindex(names); return -e; }
    int best = 0;
    for (struct if_nameindex *i = names; i->if_index != 0 && i->if_name != NULL; i++) {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        strncpy(ifr.ifr_name, i->if_name, IFNAMSIZ - 1);
        if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0 || ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */) continue;
        if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) continue;
        if (ifr.ifr_mtu > best) best = ifr.ifr_mtu;
    }
    close(fd);
    if_freenameindex(names);
    return best;
}

static int rx_batch_v2(struct egressd_rxring *r, void **data, uint32_t *length, int max) {
    int n = 0;
    // Never run onto a frame read but not yet handed back (it still says USER).
    while (n < max && r->release_count < r->frame_nr) {
        uint8_t *f = r->map + (size_t)r->current * r->frame_size;
        struct tpacket2_hdr *h = (struct tpacket2_hdr *)f;
        uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
        if ((status & TP_STATUS_USER) == 0) break;
        if (r->release_count == 0) r->release_from = r->current;
        r->release_count++;
        r->current = r->current + 1 == r->frame_nr ? 0 : r->current + 1;
        if (status & TP_STATUS_COPY) {
            // Bigger than a frame: the whole packet is next on the socket's queue.
            if (r->copy_base != NULL && r->fd >= 0) {
                uint8_t *to = r->copy_base + (size_t)n * r->copy_stride;
                ssize_t got = recv(r->fd, to, r->copy_capacity, MSG_DONTWAIT | MSG_TRUNC);
                if (got > 0 && (size_t)got <= r->copy_capacity) {
                    data[n] = to;
                    length[n] = (uint32_t)got;
                    r->copied++;
                    n++;
                    continue;
                }
            }
            r->truncated++;
            continue;
        }
        if (h->tp_snaplen < h->tp_len) {
            // Cut to the frame and no copy (the socket's queue was full): a
            // part of a packet is not forwarded.
            r->truncated++;
            continue;
        }
        data[n] = f + h->tp_net;
        length[n] = h->tp_snaplen;
        n++;
    }
    return n;
}

static inline struct tpacket_block_desc *rx_block(const struct egressd_rxring *r, uint32_t i) {
    return (struct tpacket_block_desc *)(r->map + (size_t)i * r->block_size);
}

static inline void rx_finish_block(struct egressd_rxring *r) {
    if (r->release_count == 0) r->release_from = r->current;
    r->release_count++;
    r->left = 0;
    r->current = r->current + 1 == r->block_nr ? 0 : r->current + 1;
}

int egressd_rxring_batch(struct egressd_rxring *r, void **data, uint32_t *length, int max) {
    if (r->version == 2) return rx_batch_v2(r, data, length, max);
    int n = 0;
    while (n < max) {
        if (r->left == 0) {
            // Every block read and none handed back yet: wait for a release.
            if (r->release_count >= r->block_nr) break;
            struct tpacket_block_desc *bd = rx_block(r, r->current);
            if ((__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;
            uint32_t count = bd->hdr.bh1.num_pkts;
            uint32_t first = bd->hdr.bh1.offset_to_first_pkt;
            if (count == 0 || first >= r->block_size) { rx_finish_block(r); continue; }
            r->left = count;
            r->next = (uint8_t *)bd + first;
        }
        struct tpacket3_hdr *h = (struct tpacket3_hdr *)r->next;
        data[n] = r->next + h->tp_net;
        length[n] = h->tp_snaplen;
        if (h->tp_snaplen < h->tp_len) r->truncated++;
        n++;
        r->left--;
        uint8_t *end = (uint8_t *)rx_block(r, r->current) + r->block_size;
        if (r->left == 0 || h->tp_next_offset == 0 || r->next + h->tp_next_offset >= end) {
            rx_finish_block(r);
        } else {
            r->next += h->tp_next_offset;
        }
    }
    return n;
}

void egressd_rxring_release(struct egressd_rxring *r) {
    uint32_t i = r->release_from;
    if (r->version == 2) {
        for (uint32_t k = 0; k < r->release_count; k++) {
            struct tpacket2_hdr *h = (struct tpacket2_hdr *)(r->map + (size_t)i * r->frame_size);
            __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
            i = i + 1 == r->frame_nr ? 0 : i + 1;
        }
        r->release_count = 0;
        return;
    }
    for (uint32_t k = 0; k < r->release_count; k++) {
        __atomic_store_n(&rx_block(r, i)->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        i = i + 1 == r->block_nr ? 0 : i + 1;
    }
    r->release_count = 0;
}

void egressd_rxring_close(struct egressd_rxring *r) {
    if (r->fd >= 0) {
        if (r->map) munmap(r->map, r->map_size);
        close(r->fd);
    }
    r->fd = -1;
    r->map = NULL;
}

int egressd_packet_stats(int fd, uint64_t *packets, uint64_t *drops) {
    struct tpacket_stats_v3 st;
    socklen_t len = sizeof st;
    memset(&st, 0, sizeof st);
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) return -errno;
    *packets = st.tp_packets;
    *drops = st.tp_drops;
    return 0;
}

// TPACKET_V2 TX: the frame's data starts after the aligned header (no PACKET_TX_HAS_OFF).
#define TX_DATA_OFFSET (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))

uint32_t egressd_txring_data_offset(void) { return (uint32_t)TX_DATA_OFFSET; }

int egressd_txring_open(struct egressd_txring *t, int ifindex, uint32_t frame_size, uint32_t frame_nr, int qdisc_bypass) {
    memset(t, 0, sizeof *t);
    t->fd = -1;
    char name[IF_NAMESIZE];
    if (!if_indextoname((unsigned)ifindex, name)) return -errno;
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) return fail_close(fd);
    if (ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */) { close(fd); return -EPROTONOSUPPORT; }
    int version = TPACKET_V2, one = 1;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) return fail_close(fd);
    // Straight to the driver when asked (the engine batches already), and a
    // frame the kernel refuses is skipped (marked TP_STATUS_WRONG_FORMAT)
    // instead of stopping the ring.
    if (qdisc_bypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0) return fail_close(fd);
    if (setsockopt(fd, SOL_PACKET, PACKET_LOSS, &one, sizeof one) < 0) return fail_close(fd);
    // A virtio_net_hdr before each frame, whose hdr_len makes the kernel copy
    // the frame into the skb's linear part (see egressd_txring.vnet); kernels
    // without it for TX rings just send the frames as page fragments.
    int vnet = setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0;
    uint32_t block_size = 1u << 16;
    if (frame_size > block_size || block_size % frame_size != 0) { close(fd); return -EINVAL; }
    uint32_t per_block = block_size / frame_size;
    frame_nr = (frame_nr + per_block - 1) / per_block * per_block;
    struct tpacket_req req = { .tp_block_size = block_size, .tp_block_nr = frame_nr / per_block,
                               .tp_frame_size = frame_size, .tp_frame_nr = frame_nr };
    if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) < 0) return fail_close(fd);
    size_t size = (size_t)frame_size * frame_nr;
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) return fail_close(fd);
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex;
    sll.sll_protocol = 0;  // sends only: no receive hook
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        int e = errno;
        munmap(map, size);
        close(fd);
        return -e;
    }
    t->fd = fd;
    t->ifindex = ifindex;
    memcpy(t->source_mac, ifr.ifr_hwaddr.sa_data, 6);
    t->map = map;
    t->map_size = size;
    t->frame_size = frame_size;
    t->frame_nr = frame_nr;
    t->vnet = vnet ? (uint32_t)sizeof(struct virtio_net_hdr) : 0;
    return 0;
}

void egressd_txring_attach(struct egressd_txring *t, void *memory, uint32_t frame_size, uint32_t frame_nr,
                           const uint8_t source_mac[6]) {
    memset(t, 0, sizeof *t);
    t->fd = -1;
    t->map = memory;
    t->frame_size = frame_size;
    t->frame_nr = frame_nr;
    memcpy(t->source_mac, source_mac, 6);
}

uint32_t egressd_txring_max_packet(const struct egressd_txring *t) {
    return t->frame_size - (uint32_t)TX_DATA_OFFSET - t->vnet - 14;
}

static inline struct tpacket2_hdr *tx_frame(const struct egressd_txring *t, uint32_t i) {
    return (struct tpacket2_hdr *)(t->map + (size_t)i * t->frame_size);
}

int egressd_txring_put(struct egressd_txring *t, uint64_t mac, const void *packet, uint32_t length) {
    if (length == 0 || length > egressd_txring_max_packet(t)) return 0;
    struct tpacket2_hdr *h = tx_frame(t, t->head);
    if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE) return 0;
    uint8_t *d = (uint8_t *)h + TX_DATA_OFFSET;
    if (t->vnet) {
        // No offload asked; hdr_len: the whole frame goes into the linear part.
        struct virtio_net_hdr v;
        memset(&v, 0, sizeof v);
        v.gso_type = VIRTIO_NET_HDR_GSO_NONE;
        v.hdr_len = (uint16_t)(length + 14);  // little-endian host (virtio 1.0 / vnet_hdr_le on x86 and arm64)
        memcpy(d, &v, sizeof v);
        d += t->vnet;
    }
    for (int k = 0; k < 6; k++) d[k] = (uint8_t)(mac >> (40 - 8 * k));
    memcpy(d + 6, t->source_mac, 6);
    int v6 = (((const uint8_t *)packet)[0] >> 4) == 6;
    d[12] = v6 ? 0x86 : 0x08;
    d[13] = v6 ? 0xDD : 0x00;
    memcpy(d + 14, packet, length);
    h->tp_len = length + 14 + t->vnet;
    h->tp_snaplen = length + 14 + t->vnet;
    __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
    t->head = t->head + 1 == t->frame_nr ? 0 : t->head + 1;
    t->pending++;
    return 1;
}

int egressd_txring_flush(struct egressd_txring *t, uint8_t *ok) {
    uint32_t pending = t->pending;
    if (pending == 0) return 0;
    int err = 0;
    if (t->fd >= 0) {
        ssize_t r = sendto(t->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
        if (r < 0) err = -errno;
    }
    uint32_t start = (t->head + t->frame_nr - pending) % t->frame_nr;
    int taken = 0;
    uint32_t rewind = pending;  // queue position of the first frame the kernel did not reach
    for (uint32_t k = 0; k < pending; k++) {
        struct tpacket2_hdr *h = tx_frame(t, (start + k) % t->frame_nr);
        uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
        if (status == TP_STATUS_SEND_REQUEST) {
            // The kernel stops at the first frame it cannot send and keeps
            // its own head there: give these frames back and start the next
            // batch from the same frame, so both heads stay together.
            if (rewind == pending) rewind = k;
            ok[k] = 0;
        } else if (status & TP_STATUS_WRONG_FORMAT) {
            __atomic_store_n(&h->tp_status, TP_STATUS_AVAILABLE, __ATOMIC_RELEASE);
            ok[k] = 0;
        } else {
            ok[k] = 1;
            taken++;
        }
    }
    if (rewind < pending) {
        for (uint32_t k = rewind; k < pending; k++) {
            ok[k] = 0;
            __atomic_store_n(&tx_frame(t, (start + k) % t->frame_nr)->tp_status, TP_STATUS_AVAILABLE, __ATOMIC_RELEASE);
        }
        t->head = (start + rewind) % t->frame_nr;
    }
    t->pending = 0;
    (void)err;
    return taken;
}

void egressd_txring_close(struct egressd_txring *t) {
    if (t->fd >= 0) {
        if (t->map) munmap(t->map, t->map_size);
        close(t->fd);
    }
    t->fd = -1;
    t->map = NULL;
}

uint32_t egressd_txring_frame_status(const struct egressd_txring *t, uint32_t i) {
    return __atomic_load_n(&tx_frame(t, i)->tp_status, __ATOMIC_ACQUIRE);
}

void egressd_txring_set_frame_status(struct egressd_txring *t, uint32_t i, uint32_t status) {
    __atomic_store_n(&tx_frame(t, i)->tp_status, status, __ATOMIC_RELEASE);
}
