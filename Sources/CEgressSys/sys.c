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
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>

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

int egressd_gre_packet_socket(uint16_t fanout_group, int rcvbuf) {
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));
    if (fd < 0) return -errno;
    // Cooked (SOCK_DGRAM) sockets run the filter on the network header:
    // accept IPv4 protocol 47 that is not our own outgoing packet.
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 2, 0),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_GRE, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, 0x40000),
    };
    int r = attach_filter(fd, code, sizeof code / sizeof code[0]);
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

int egressd_l2_send_socket(int sndbuf) {
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    // Straight to the driver: the engine batches already, a qdisc adds nothing.
    int one = 1;
    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
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
