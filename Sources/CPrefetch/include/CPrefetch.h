// Cache prefetch hints, which Swift cannot emit, for the control plane's
// tables of a full BGP table (tens of MB, probed at random): a batch starts
// loading the slots of the prefixes a few ahead, so their cache misses
// overlap instead of following one another. Hints only: no fault, no effect
// on any result.
#ifndef CPREFETCH_H
#define CPREFETCH_H

/// Starts loading the cache line holding `p`, which is about to be written.
static inline void egressd_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }

/// Starts loading the cache line holding `p`, which is about to be read.
static inline void egressd_prefetch_read(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
