/*
 * clock.h — wall-clock and monotonic time, and the hybrid logical clock (HLC) that versions
 * every write.
 *
 * HLC value: (Unix ms << 16) | logical counter. hlc_next() returns a value greater than every
 * value it returned before on the same clock word, and at least the physical time: when the
 * wall clock stands still or steps back, the counter advances (and carries into the ms part if
 * more than 65535 writes land in one ms), so versions never repeat and never go backwards.
 */
#ifndef MNEMO_UTIL_CLOCK_H
#define MNEMO_UTIL_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>

/* Unix time in ms (CLOCK_REALTIME). Thread-safe. */
int64_t clock_realtime_ms(void);

/* Monotonic time in ns (CLOCK_MONOTONIC). Thread-safe. */
uint64_t clock_monotonic_ns(void);

#define HLC_LOGICAL_BITS 16

/* Next HLC value after *clk given the physical time now_ms. Lock-free, thread-safe. */
static inline uint64_t hlc_next(_Atomic uint64_t *clk, int64_t now_ms)
{
    uint64_t phys = now_ms > 0 ? (uint64_t)now_ms << HLC_LOGICAL_BITS : 0;
    uint64_t cur = atomic_load_explicit(clk, memory_order_relaxed);
    for (;;) {
        uint64_t next = cur + 1 > phys ? cur + 1 : phys;
        if (atomic_compare_exchange_weak_explicit(clk, &cur, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return next;
    }
}

/* Next value of a clock that only its owner writes (a shard's, under the shard lock): above
 * `last` and above `floor` (a shared word that only moves when versions arrive from elsewhere
 * or are handed out store-wide), and at least the physical time. */
static inline uint64_t hlc_tick(uint64_t last, uint64_t floor, int64_t now_ms)
{
    uint64_t phys = now_ms > 0 ? (uint64_t)now_ms << HLC_LOGICAL_BITS : 0;
    uint64_t next = (last > floor ? last : floor) + 1;
    return next > phys ? next : phys;
}

/* Makes *clk at least v (for versions that arrive from elsewhere, e.g. a replica's log). */
static inline void hlc_observe(_Atomic uint64_t *clk, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(clk, memory_order_relaxed);
    while (cur < v && !atomic_compare_exchange_weak_explicit(clk, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
}

#endif
