/*
 * lock.h — a 4-byte mutex for the shards: a futex word with the three states of Drepper's
 * "Futexes Are Tricky" (0 free, 1 held, 2 held with waiters), spinning briefly before sleeping
 * because shard critical sections are short.
 *
 * Why not pthread_mutex_t: it is 40 bytes. A shard's hot fields (lock, its index's arrays and
 * sizes, its arena's segment table) then fit in the shard's first cache line, so a lookup on a
 * large store misses once on the shard instead of two or three times.
 *
 * Not recursive, no owner checks; acquire/release ordering, so ThreadSanitizer understands it.
 */
#ifndef MNEMO_UTIL_LOCK_H
#define MNEMO_UTIL_LOCK_H

#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct mlock {
    uint32_t state;
} mlock;

#define MLOCK_INIT {0}
#define MLOCK_SPINS 100

static inline void mlock_init(mlock *l)
{
    __atomic_store_n(&l->state, 0, __ATOMIC_RELAXED);
}

static inline uint32_t mlock_cas(mlock *l, uint32_t expect, uint32_t want)
{
    __atomic_compare_exchange_n(&l->state, &expect, want, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
    return expect;
}

void mlock_lock_slow(mlock *l);

static inline void mlock_lock(mlock *l)
{
    if (__builtin_expect(mlock_cas(l, 0, 1) != 0, 0))
        mlock_lock_slow(l);
}

/* Takes the lock if it is free; never waits. Returns 1 if taken. */
static inline int mlock_trylock(mlock *l)
{
    return mlock_cas(l, 0, 1) == 0;
}

static inline void mlock_unlock(mlock *l)
{
    if (__builtin_expect(__atomic_exchange_n(&l->state, 0, __ATOMIC_RELEASE) == 2, 0))
        syscall(SYS_futex, &l->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

#endif
