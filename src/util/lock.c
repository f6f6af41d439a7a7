/* lock.c — the contended path of lock.h. */
#include "util/lock.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

void mlock_lock_slow(mlock *l)
{
    for (int i = 0; i < MLOCK_SPINS; i++) {
        cpu_relax();
        if (__atomic_load_n(&l->state, __ATOMIC_RELAXED) == 0 && mlock_cas(l, 0, 1) == 0)
            return;
    }
    /* Mark the lock contended (2) and sleep until it is free; whoever takes it from here takes
     * it as contended, so its unlock wakes the next waiter. */
    while (__atomic_exchange_n(&l->state, 2, __ATOMIC_ACQUIRE) != 0)
        syscall(SYS_futex, &l->state, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}
