// The `afxdp` I/O backend's system side: an XDP program written as BPF
// instructions (no BPF compiler at build time), its maps, its attachment
// through a bpf_link (detached when the link's fd closes, so a crashed
// egressd leaves nothing attached), and AF_XDP sockets with their UMEM and
// four rings walked by hand (the layout of <linux/if_xdp.h>; no libxdp).
#define _GNU_SOURCE
#include "CEgressSys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <sys/socket.h>

#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif

static long sys_bpf(int cmd, union bpf_attr *attr) {
    return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

int egressd_bpf_map_create(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const char *name) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = type;
    a.key_size = key_size;
    a.value_size = value_size;
    a.max_entries = max_entries;
    strncpy(a.map_name, name, BPF_OBJ_NAME_LEN - 1);
    int fd = (int)sys_bpf(BPF_MAP_CREATE, &a);
    return fd < 0 ? -errno : fd;
}

// One element operation on a map: the attribute's `value` and `next_key`
// share their place in union bpf_attr, so `value` carries either.
static int map_element(int cmd, int map_fd, const void *key, const void *value, uint64_t flags) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_fd = (uint32_t)map_fd;
    a.key = (uint64_t)(uintptr_t)key;
    a.value = (uint64_t)(uintptr_t)value;
    a.flags = flags;
    return sys_bpf(cmd, &a) < 0 ? -errno : 0;
}

int egressd_bpf_map_update(int map_fd, const void *key, const void *value) {
    return map_element(BPF_MAP_UPDATE_ELEM, map_fd, key, value, BPF_ANY);
}

int egressd_bpf_map_delete(int map_fd, const void *key) {
    return map_element(BPF_MAP_DELETE_ELEM, map_fd, key, NULL, 0);
}

int egressd_bpf_map_lookup(int map_fd, const void *key, void *value) {
    return map_element(BPF_MAP_LOOKUP_ELEM, map_fd, key, value, 0);
}

int egressd_bpf_map_next_key(int map_fd, const void *key, void *next_key) {
    return map_element(BPF_MAP_GET_NEXT_KEY, map_fd, key, next_key, 0);
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

int egressd_bpf_lpm_create(uint32_t max_entries, const char *name) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_LPM_TRIE;
    a.key_size = 8;        // struct bpf_lpm_trie_key_u8 with 4 data bytes
    a.value_size = 4;
    a.max_entries = max_entries;
    a.map_flags = BPF_F_NO_PREALLOC;   // required for LPM tries
    strncpy(a.map_name, name, BPF_OBJ_NAME_LEN - 1);
    int fd = (int)sys_bpf(BPF_MAP_CREATE, &a);
    return fd < 0 ? -errno : fd;
}

// A tiny assembler: instructions, and jumps to labels resolved at the end
// (offsets by hand went wrong once the program grew two branches).
enum { L_PASS, L_REDIRECT, L_SPOKE, L_FIB_OK, L_COUNT };
struct bpf_asm {
    struct bpf_insn p[128];
    int n;
    int label[L_COUNT];
    int fix_at[32], fix_label[32], nfix;
};

static void emit(struct bpf_asm *a, struct bpf_insn i) {
    if (a->n < (int)(sizeof a->p / sizeof a->p[0])) a->p[a->n] = i;
    a->n++;
}

static void emit_jump(struct bpf_asm *a, struct bpf_insn i, int label) {
    if (a->nfix < (int)(sizeof a->fix_at / sizeof a->fix_at[0])) {
        a->fix_at[a->nfix] = a->n;
        a->fix_label[a->nfix] = label;
    }
    a->nfix++;
    emit(a, i);
}

static void emit_map_fd(struct bpf_asm *a, int reg, int fd) {
    emit(a, INSN(BPF_LD | BPF_DW | BPF_IMM, reg, BPF_PSEUDO_MAP_FD, 0, fd));
    emit(a, INSN(0, 0, 0, 0, 0));
}

// r2 = fp - 8 (the stack key), r1 = map, call bpf_map_lookup_elem.
static void emit_lookup(struct bpf_asm *a, int map_fd) {
    emit(a, INSN(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0));
    emit(a, INSN(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8));
    emit_map_fd(a, 1, map_fd);
    emit(a, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
}

int egressd_xdp_program(struct bpf_insn *out, int capacity, int xsk_map_fd, int steer_map_fd, uint32_t max_frame,
                        int spoke_map_fd, const uint8_t *mac) {
    // r6 = ctx; r2 = data; r3 = data_end. Frames shorter than Ethernet +
    // IPv4, longer than a UMEM frame holds (all fragments counted: a
    // multi-buffer frame would not fit a frame) or not IPv4 go to the kernel
    // (XDP_PASS). IPv4 GRE: the steering keys, by destination (kind 0: a
    // tunnel's local end) or source (kind 1: a cache returning GRE). Other
    // IPv4 (spoke-bound traffic, when `spoke_map_fd` >= 0): addressed to this
    // interface's MAC (`mac`, when given), IHL 5, not a fragment, TTL > 1,
    // its destination's longest prefix in the LPM trie holds a length limit
    // (0: not steered) that the total length does not pass, and the kernel's
    // own route lookup (bpf_fib_lookup) sends it into an interface that is a
    // kind-2 key of the steering map (our TUNs). A match
    // goes to the XSK of the receiving queue, or to the kernel when that
    // queue has none (bpf_redirect_map's fallback action).
    struct bpf_asm a;
    memset(&a, 0, sizeof a);
    emit(&a, INSN(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0));
    emit(&a, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_xdp_get_buff_len));     // whole frame, all fragments
    emit_jump(&a, INSN(BPF_JMP | BPF_JGT | BPF_K, 0, 0, 0, (int32_t)max_frame), L_PASS);
    emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 6, offsetof(struct xdp_md, data), 0));
    emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_W, 3, 6, offsetof(struct xdp_md, data_end), 0));
    emit(&a, INSN(BPF_ALU64 | BPF_MOV | BPF_X, 4, 2, 0, 0));
    emit(&a, INSN(BPF_ALU64 | BPF_ADD | BPF_K, 4, 0, 0, 34));
    emit_jump(&a, INSN(BPF_JMP | BPF_JGT | BPF_X, 4, 3, 0, 0), L_PASS);        // short
    emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_H, 5, 2, 12, 0));
    emit_jump(&a, INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, 0x0008), L_PASS);   // ethertype 0x0800 (LE load)
    emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_B, 5, 2, 23, 0));
    emit_jump(&a, INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, 47), spoke_map_fd >= 0 ? L_SPOKE : L_PASS);
    // GRE: our tunnel ends and caches.
    emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_W, 5, 2, 30, 0));                     // destination
    emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_W, 7, 2, 26, 0));                     // source (kept across the call)
    emit(&a, INSN(BPF_STX | BPF_MEM | BPF_W, 10, 5, -8, 0));
    emit(&a, INSN(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0));
    emit_lookup(&a, steer_map_fd);
    emit_jump(&a, INSN(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 0, 0), L_REDIRECT);    // tunnel end
    emit(&a, INSN(BPF_STX | BPF_MEM | BPF_W, 10, 7, -8, 0));
    emit(&a, INSN(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 1));
    emit_lookup(&a, steer_map_fd);
    emit_jump(&a, INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0, 0), L_PASS);        // no key
    a.label[L_REDIRECT] = a.n;
    emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 6, offsetof(struct xdp_md, rx_queue_index), 0));
    emit_map_fd(&a, 1, xsk_map_fd);
    emit(&a, INSN(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, XDP_PASS));
    emit(&a, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect_map));
    emit(&a, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    a.label[L_PASS] = a.n;
    emit(&a, INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_PASS));
    emit(&a, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    if (spoke_map_fd >= 0) {
        // Spoke-bound IPv4 (r2 = data, bounds checked to byte 34).
        a.label[L_SPOKE] = a.n;
        if (mac) {
            // Unicast to us (32-bit moves zero-extend, so the compare is of the loaded bytes).
            uint32_t lo = (uint32_t)mac[0] | (uint32_t)mac[1] << 8 | (uint32_t)mac[2] << 16 | (uint32_t)mac[3] << 24;
            uint32_t hi = (uint32_t)mac[4] | (uint32_t)mac[5] << 8;
            emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_W, 5, 2, 0, 0));
            emit(&a, INSN(BPF_ALU | BPF_MOV | BPF_K, 4, 0, 0, (int32_t)lo));
            emit_jump(&a, INSN(BPF_JMP | BPF_JNE | BPF_X, 5, 4, 0, 0), L_PASS);
            emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_H, 5, 2, 4, 0));
            emit_jump(&a, INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, (int32_t)hi), L_PASS);
        }
        emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_B, 5, 2, 14, 0));
        emit_jump(&a, INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, 0x45), L_PASS);   // IPv4, no options
        emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_H, 5, 2, 20, 0));
        emit(&a, INSN(BPF_ALU64 | BPF_AND | BPF_K, 5, 0, 0, 0xFF3F));             // MF | offset (LE load)
        emit_jump(&a, INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, 0), L_PASS);      // a fragment
        emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_B, 5, 2, 22, 0));
        emit_jump(&a, INSN(BPF_JMP | BPF_JLE | BPF_K, 5, 0, 0, 1), L_PASS);      // TTL expires here: the kernel answers
        emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_B, 7, 2, 16, 0));                   // total length, big-endian
        emit(&a, INSN(BPF_ALU64 | BPF_LSH | BPF_K, 7, 0, 0, 8));
        emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_B, 5, 2, 17, 0));
        emit(&a, INSN(BPF_ALU64 | BPF_OR | BPF_X, 7, 5, 0, 0));
        // The kernel's route lookup's question, at fp-64 (struct bpf_fib_lookup), filled
        // while the packet is readable: IPv4, total length, ingress interface, TOS, addresses.
        const int f = -64;
        for (int o = 0; o < 64; o += 8) emit(&a, INSN(BPF_ST | BPF_MEM | BPF_DW, 10, 0, f + o, 0));
        emit(&a, INSN(BPF_ST | BPF_MEM | BPF_B, 10, 0, f + (int)offsetof(struct bpf_fib_lookup, family), AF_INET));
        emit(&a, INSN(BPF_STX | BPF_MEM | BPF_H, 10, 7, f + (int)offsetof(struct bpf_fib_lookup, tot_len), 0));
        emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_B, 5, 2, 15, 0));
        emit(&a, INSN(BPF_STX | BPF_MEM | BPF_B, 10, 5, f + (int)offsetof(struct bpf_fib_lookup, tos), 0));
        emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_W, 5, 2, 26, 0));
        emit(&a, INSN(BPF_STX | BPF_MEM | BPF_W, 10, 5, f + (int)offsetof(struct bpf_fib_lookup, ipv4_src), 0));
        emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_W, 5, 2, 30, 0));                   // destination
        emit(&a, INSN(BPF_STX | BPF_MEM | BPF_W, 10, 5, f + (int)offsetof(struct bpf_fib_lookup, ipv4_dst), 0));
        emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_W, 4, 6, offsetof(struct xdp_md, ingress_ifindex), 0));
        emit(&a, INSN(BPF_STX | BPF_MEM | BPF_W, 10, 4, f + (int)offsetof(struct bpf_fib_lookup, ifindex), 0));
        // Our table first: the trie (key at fp-8: prefix length 32, then the address bytes).
        emit(&a, INSN(BPF_ST | BPF_MEM | BPF_W, 10, 0, -72, 32));
        emit(&a, INSN(BPF_STX | BPF_MEM | BPF_W, 10, 5, -68, 0));
        emit(&a, INSN(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0));
        emit(&a, INSN(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -72));
        emit_map_fd(&a, 1, spoke_map_fd);
        emit(&a, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
        emit_jump(&a, INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0, 0), L_PASS);      // no prefix
        emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_W, 1, 0, 0, 0));                    // the length limit (0: pass)
        emit_jump(&a, INSN(BPF_JMP | BPF_JGT | BPF_X, 7, 1, 0, 0), L_PASS);      // too long for the tunnel
        // Then the kernel's: would it forward this packet (not deliver it locally, forwarding
        // on, within the route's MTU) into one of our TUNs? Its local addresses, connected
        // subnets and other routes win as they do without XDP. NO_NEIGH still names the device.
        emit(&a, INSN(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0));
        emit(&a, INSN(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0));
        emit(&a, INSN(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, f));
        emit(&a, INSN(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, (int32_t)sizeof(struct bpf_fib_lookup)));
        emit(&a, INSN(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0));
        emit(&a, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_fib_lookup));
        emit_jump(&a, INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0, BPF_FIB_LKUP_RET_SUCCESS), L_FIB_OK);
        emit_jump(&a, INSN(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 0, BPF_FIB_LKUP_RET_NO_NEIGH), L_PASS);
        a.label[L_FIB_OK] = a.n;
        emit(&a, INSN(BPF_LDX | BPF_MEM | BPF_W, 5, 10, f + (int)offsetof(struct bpf_fib_lookup, ifindex), 0));
        emit(&a, INSN(BPF_STX | BPF_MEM | BPF_W, 10, 5, -8, 0));                  // steering key: the egress
        emit(&a, INSN(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 2));                   // interface, kind 2 (a TUN)
        emit_lookup(&a, steer_map_fd);
        emit_jump(&a, INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0, 0), L_PASS);      // not into a TUN of ours
        emit_jump(&a, INSN(BPF_JMP | BPF_JA, 0, 0, 0, 0), L_REDIRECT);
    }
    if (a.n > (int)(sizeof a.p / sizeof a.p[0]) || a.nfix > (int)(sizeof a.fix_at / sizeof a.fix_at[0])) return -E2BIG;
    for (int i = 0; i < a.nfix; i++) a.p[a.fix_at[i]].off = (int16_t)(a.label[a.fix_label[i]] - (a.fix_at[i] + 1));
    if (a.n > capacity) return -ENOSPC;
    memcpy(out, a.p, (size_t)a.n * sizeof a.p[0]);
    return a.n;
}

int egressd_xdp_load(const struct bpf_insn *insns, int count, char *log, uint32_t log_size) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_XDP;
    a.insns = (uint64_t)(uintptr_t)insns;
    a.insn_cnt = (uint32_t)count;
    a.license = (uint64_t)(uintptr_t)"GPL";
    a.expected_attach_type = BPF_XDP;
    // Fragment-aware: drivers then keep native mode with an MTU above a page
    // (veth at 9001); the program reads only the first buffer.
    a.prog_flags = BPF_F_XDP_HAS_FRAGS;
    strncpy(a.prog_name, "egressd_xdp", BPF_OBJ_NAME_LEN - 1);
    if (log && log_size > 0) {
        log[0] = 0;
        a.log_buf = (uint64_t)(uintptr_t)log;
        a.log_size = log_size;
        a.log_level = 1;
    }
    int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
    if (fd < 0 && errno == EINVAL) {
        // A kernel without fragment-aware XDP (before 5.18).
        a.prog_flags = 0;
        fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
    }
    if (fd < 0 && log && log_size > 0 && errno == ENOSPC) {
        // The log did not fit (only a failed load writes much): load again without it.
        a.log_buf = 0; a.log_size = 0; a.log_level = 0;
        fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
    }
    return fd < 0 ? -errno : fd;
}

static int link_create(int ifindex, int prog_fd, uint32_t flags) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.link_create.prog_fd = (uint32_t)prog_fd;
    a.link_create.target_ifindex = (uint32_t)ifindex;
    a.link_create.attach_type = BPF_XDP;
    a.link_create.flags = flags;
    int fd = (int)sys_bpf(BPF_LINK_CREATE, &a);
    return fd < 0 ? -errno : fd;
}

int egressd_xdp_attach(int ifindex, int prog_fd, int native_first, int *native) {
    int fd = -EOPNOTSUPP;
    if (native_first) {
        fd = link_create(ifindex, prog_fd, XDP_FLAGS_DRV_MODE);
        if (fd >= 0) { *native = 1; return fd; }
        // Busy: someone else's program is there; generic mode would not replace it either.
        if (fd == -EBUSY || fd == -EEXIST) return fd;
    }
    fd = link_create(ifindex, prog_fd, XDP_FLAGS_SKB_MODE);
    if (fd >= 0) *native = 0;
    return fd;
}

// MARK: AF_XDP sockets

static int map_ring(int fd, struct egressd_xring *r, const struct xdp_ring_offset *o, uint32_t size, size_t entry,
                    off_t pgoff) {
    r->map_size = o->desc + size * entry;
    void *m = mmap(NULL, r->map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
    if (m == MAP_FAILED) { r->map = NULL; return -errno; }
    r->map = m;
    r->producer = (uint32_t *)((uint8_t *)m + o->producer);
    r->consumer = (uint32_t *)((uint8_t *)m + o->consumer);
    r->flags = (uint32_t *)((uint8_t *)m + o->flags);
    r->ring = (uint8_t *)m + o->desc;
    r->mask = size - 1;
    r->size = size;
    return 0;
}

static void unmap_ring(struct egressd_xring *r) {
    if (r->map) munmap(r->map, r->map_size);
    r->map = NULL;
}

void egressd_xsk_close(struct egressd_xsk *x) {
    unmap_ring(&x->rx); unmap_ring(&x->tx); unmap_ring(&x->fill); unmap_ring(&x->comp);
    if (x->fd >= 0) close(x->fd);
    x->fd = -1;
    if (x->umem) munmap(x->umem, x->umem_size);
    x->umem = NULL;
    free(x->free_frames); x->free_frames = NULL;
    free(x->held); x->held = NULL;
}

int egressd_xsk_open(struct egressd_xsk *x, int ifindex, uint32_t queue, uint32_t frame_size, uint32_t frame_nr,
                     uint32_t ring_size, uint32_t headroom, int xsk_map_fd) {
    memset(x, 0, sizeof *x);
    x->fd = -1;
    x->ifindex = ifindex;
    x->queue = queue;
    x->frame_size = frame_size;
    x->frame_nr = frame_nr;
    x->headroom = headroom;
    int e = 0;
    uint32_t fill_frames = frame_nr / 2;
    if (ring_size < fill_frames || (ring_size & (ring_size - 1)) || (frame_size & (frame_size - 1))) return -EINVAL;
    x->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (x->fd < 0) return -errno;
    x->umem_size = (size_t)frame_size * frame_nr;
    void *u = mmap(NULL, x->umem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (u == MAP_FAILED) { e = -errno; x->umem = NULL; goto fail; }
    x->umem = u;
    x->free_frames = calloc(frame_nr, sizeof(uint64_t));
    x->held = calloc(fill_frames, sizeof(uint64_t));
    if (!x->free_frames || !x->held) { e = -ENOMEM; goto fail; }

    struct xdp_umem_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.addr = (uint64_t)(uintptr_t)u;
    reg.len = x->umem_size;
    reg.chunk_size = frame_size;
    reg.headroom = headroom;
    if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof reg) < 0) { e = -errno; goto fail; }
    int sz = (int)ring_size;
    if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_FILL_RING, &sz, sizeof sz) < 0 ||
        setsockopt(x->fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &sz, sizeof sz) < 0 ||
        setsockopt(x->fd, SOL_XDP, XDP_RX_RING, &sz, sizeof sz) < 0 ||
        setsockopt(x->fd, SOL_XDP, XDP_TX_RING, &sz, sizeof sz) < 0) { e = -errno; goto fail; }
    struct xdp_mmap_offsets off;
    socklen_t ol = sizeof off;
    if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol) < 0) { e = -errno; goto fail; }
    if ((e = map_ring(x->fd, &x->fill, &off.fr, ring_size, sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING)) < 0 ||
        (e = map_ring(x->fd, &x->comp, &off.cr, ring_size, sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING)) < 0 ||
        (e = map_ring(x->fd, &x->rx, &off.rx, ring_size, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING)) < 0 ||
        (e = map_ring(x->fd, &x->tx, &off.tx, ring_size, sizeof(struct xdp_desc), XDP_PGOFF_TX_RING)) < 0) goto fail;

    // The first half of the frames receive (all on the fill ring), the second half transmit.
    uint64_t *fill = x->fill.ring;
    for (uint32_t i = 0; i < fill_frames; i++) fill[i] = (uint64_t)i * frame_size;
    __atomic_store_n(x->fill.producer, fill_frames, __ATOMIC_RELEASE);
    x->fill.cached = fill_frames;
    for (uint32_t i = fill_frames; i < frame_nr; i++) x->free_frames[x->free_count++] = (uint64_t)i * frame_size;

    struct sockaddr_xdp sa;
    memset(&sa, 0, sizeof sa);
    sa.sxdp_family = AF_XDP;
    sa.sxdp_ifindex = (uint32_t)ifindex;
    sa.sxdp_queue_id = queue;
    sa.sxdp_flags = XDP_COPY | XDP_USE_NEED_WAKEUP;
    if (bind(x->fd, (struct sockaddr *)&sa, sizeof sa) < 0) { e = -errno; goto fail; }

    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (!if_indextoname((unsigned)ifindex, ifr.ifr_name)) { e = -errno; goto fail; }
    if (ioctl(x->fd, SIOCGIFHWADDR, &ifr) < 0) {
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        int r = s < 0 ? -1 : ioctl(s, SIOCGIFHWADDR, &ifr);
        if (r < 0) e = -errno;
        if (s >= 0) close(s);
        if (r < 0) goto fail;
    }
    memcpy(x->source_mac, ifr.ifr_hwaddr.sa_data, 6);

    uint32_t key = queue;
    int value = x->fd;
    if ((e = egressd_bpf_map_update(xsk_map_fd, &key, &value)) < 0) goto fail;
    return 0;
fail:
    egressd_xsk_close(x);
    return e;
}

int egressd_xsk_rx_batch(struct egressd_xsk *x, void **data, uint32_t *length, int max) {
    uint32_t cons = x->rx.cached;
    uint32_t avail = __atomic_load_n(x->rx.producer, __ATOMIC_ACQUIRE) - cons;
    if (avail == 0) return 0;
    uint32_t n = avail < (uint32_t)max ? avail : (uint32_t)max;
    uint32_t room = x->frame_nr / 2 - x->held_count;
    if (n > room) n = room;
    const struct xdp_desc *d = x->rx.ring;
    int out = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct xdp_desc *e = &d[(cons + i) & x->rx.mask];
        x->held[x->held_count++] = e->addr & ~((uint64_t)x->frame_size - 1);
        if (e->len < ETH_HLEN + 20) { x->short_frames++; continue; }
        data[out] = x->umem + e->addr + ETH_HLEN;
        length[out] = e->len - ETH_HLEN;
        out++;
    }
    x->rx.cached = cons + n;
    __atomic_store_n(x->rx.consumer, cons + n, __ATOMIC_RELEASE);
    x->rx_packets += n;
    return out;
}

void egressd_xsk_rx_release(struct egressd_xsk *x) {
    if (x->held_count == 0) return;
    // Every receive frame is on the fill ring, the RX ring or held here, and
    // there are no more than the ring holds: the fill ring always has room.
    uint64_t *fill = x->fill.ring;
    uint32_t prod = x->fill.cached;
    for (uint32_t i = 0; i < x->held_count; i++) fill[(prod + i) & x->fill.mask] = x->held[i];
    x->fill.cached = prod + x->held_count;
    __atomic_store_n(x->fill.producer, x->fill.cached, __ATOMIC_RELEASE);
    x->held_count = 0;
    if (__atomic_load_n(x->fill.flags, __ATOMIC_RELAXED) & XDP_RING_NEED_WAKEUP) {
        recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
        x->wakeups++;
    }
}

static void reclaim(struct egressd_xsk *x) {
    uint32_t cons = x->comp.cached;
    uint32_t n = __atomic_load_n(x->comp.producer, __ATOMIC_ACQUIRE) - cons;
    if (n == 0) return;
    const uint64_t *c = x->comp.ring;
    for (uint32_t i = 0; i < n; i++) x->free_frames[x->free_count++] = c[(cons + i) & x->comp.mask];
    x->comp.cached = cons + n;
    __atomic_store_n(x->comp.consumer, cons + n, __ATOMIC_RELEASE);
}

int egressd_xsk_tx_put(struct egressd_xsk *x, uint64_t mac, const void *packet, uint32_t length) {
    if (length + ETH_HLEN > x->frame_size - x->headroom || length == 0) return 0;
    if (x->free_count == 0) reclaim(x);
    if (x->free_count == 0) return 0;
    uint32_t prod = x->tx.cached;
    if (prod - __atomic_load_n(x->tx.consumer, __ATOMIC_ACQUIRE) >= x->tx.size) return 0;
    uint64_t addr = x->free_frames[--x->free_count];
    uint8_t *f = x->umem + addr;
    for (int i = 0; i < 6; i++) f[i] = (uint8_t)(mac >> (40 - 8 * i));
    memcpy(f + 6, x->source_mac, 6);
    int v6 = (((const uint8_t *)packet)[0] >> 4) == 6;
    f[12] = v6 ? 0x86 : 0x08;
    f[13] = v6 ? 0xDD : 0x00;
    memcpy(f + ETH_HLEN, packet, length);
    struct xdp_desc *d = x->tx.ring;
    d[prod & x->tx.mask] = (struct xdp_desc){ .addr = addr, .len = length + ETH_HLEN, .options = 0 };
    x->tx.cached = prod + 1;
    x->tx_pending++;
    return 1;
}

int egressd_xsk_tx_flush(struct egressd_xsk *x) {
    int n = (int)x->tx_pending;
    if (n > 0) {
        __atomic_store_n(x->tx.producer, x->tx.cached, __ATOMIC_RELEASE);
        x->tx_pending = 0;
    }
    // Copy mode sends only on a kick, at most 32 frames per call (EAGAIN: more to do).
    if (__atomic_load_n(x->tx.consumer, __ATOMIC_ACQUIRE) != x->tx.cached) {
        for (int tries = 0; tries < 64; tries++) {
            x->kicks++;
            if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0) {
                if (__atomic_load_n(x->tx.consumer, __ATOMIC_ACQUIRE) == x->tx.cached) break;
                continue;
            }
            if (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS) { x->kick_errors++; break; }
            if (__atomic_load_n(x->tx.consumer, __ATOMIC_ACQUIRE) == x->tx.cached) break;
        }
    }
    reclaim(x);
    return n;
}

int egressd_xsk_stats(const struct egressd_xsk *x, uint64_t out[6]) {
    struct xdp_statistics s;
    memset(&s, 0, sizeof s);
    socklen_t l = sizeof s;
    if (getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &s, &l) < 0) return -errno;
    out[0] = s.rx_dropped;
    out[1] = s.rx_invalid_descs;
    out[2] = s.tx_invalid_descs;
    out[3] = s.rx_ring_full;
    out[4] = s.rx_fill_ring_empty_descs;
    out[5] = s.tx_ring_empty_descs;
    return 0;
}

void egressd_xsk_attach_memory(struct egressd_xsk *x, void *umem, uint32_t frame_size, uint32_t frame_nr,
                               void *rings, uint32_t ring_size, uint64_t *free_frames, uint64_t *held,
                               const uint8_t source_mac[6]) {
    memset(x, 0, sizeof *x);
    x->fd = -1;
    x->umem = umem;
    x->frame_size = frame_size;
    x->frame_nr = frame_nr;
    x->free_frames = free_frames;
    x->held = held;
    memcpy(x->source_mac, source_mac, 6);
    // rings: four blocks of [producer, consumer, flags, pad] + descriptors.
    struct egressd_xring *rs[4] = { &x->fill, &x->comp, &x->rx, &x->tx };
    size_t entry[4] = { sizeof(uint64_t), sizeof(uint64_t), sizeof(struct xdp_desc), sizeof(struct xdp_desc) };
    uint8_t *m = rings;
    for (int i = 0; i < 4; i++) {
        rs[i]->producer = (uint32_t *)m;
        rs[i]->consumer = (uint32_t *)(m + 4);
        rs[i]->flags = (uint32_t *)(m + 8);
        rs[i]->ring = m + 64;
        rs[i]->mask = ring_size - 1;
        rs[i]->size = ring_size;
        m += 64 + ring_size * entry[i];
    }
    uint32_t fill_frames = frame_nr / 2;
    for (uint32_t i = fill_frames; i < frame_nr; i++) x->free_frames[x->free_count++] = (uint64_t)i * frame_size;
}

size_t egressd_xsk_test_rings_size(uint32_t ring_size) {
    return 4 * 64 + 2 * ring_size * sizeof(uint64_t) + 2 * ring_size * sizeof(struct xdp_desc);
}

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if_arp.h>

int egressd_xdp_interface_info(const char *name, int *ether_up, uint32_t *rx_queues, uint8_t *mac) {
    // ioctls on a socket of the calling thread's network namespace (/sys may
    // show another one when egressd was started by nsenter).
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    int e = 0;
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) { e = -errno; close(s); return e; }
    int flags = ifr.ifr_flags;
    if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) { e = -errno; close(s); return e; }
    *ether_up = (flags & IFF_UP) && !(flags & IFF_LOOPBACK) && ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER;
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    struct ethtool_channels ch;
    memset(&ch, 0, sizeof ch);
    ch.cmd = ETHTOOL_GCHANNELS;
    ifr.ifr_data = (void *)&ch;
    uint32_t q = 1;
    if (ioctl(s, SIOCETHTOOL, &ifr) == 0) {
        uint32_t n = ch.rx_count + ch.combined_count;
        if (n > q) q = n;
    }
    *rx_queues = q;
    close(s);
    return 0;
}
