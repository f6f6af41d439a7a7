/* Unit test for util/lock: mutual exclusion and wake-ups under contention (runs under TSan too,
 * through the "stress" label). More threads than cores, so holders get preempted and waiters
 * go through the futex sleep path, not only the spin. */
#include <pthread.h>
#include <sched.h>

#include "test.h"
#include "util/lock.h"

enum { THREADS = 6, ROUNDS = 200000 };

static mlock lock = MLOCK_INIT;
static uint64_t counter;        /* protected by lock */
static uint64_t shadow[THREADS]; /* each thread's own count, to compare */

static void *worker(void *arg)
{
    uint64_t *mine = arg;
    for (int i = 0; i < ROUNDS; i++) {
        mlock_lock(&lock);
        /* a read-modify-write that would lose updates without the lock */
        uint64_t v = counter;
        if ((i & 1023) == 0)
            sched_yield(); /* let another thread find the lock held */
        counter = v + 1;
        mlock_unlock(&lock);
        (*mine)++;
    }
    return NULL;
}

static void test_no_lost_updates(void)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, worker, &shadow[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    uint64_t sum = 0;
    for (int i = 0; i < THREADS; i++)
        sum += shadow[i];
    CHECK_U64_EQ(sum, (uint64_t)THREADS * ROUNDS);
    CHECK_U64_EQ(counter, (uint64_t)THREADS * ROUNDS);
    /* released: the word is back to 0 and can be taken again at once */
    CHECK_EQ(__atomic_load_n(&lock.state, __ATOMIC_RELAXED), 0);
    mlock_lock(&lock);
    CHECK_EQ(__atomic_load_n(&lock.state, __ATOMIC_RELAXED), 1);
    mlock_unlock(&lock);
}

int main(void)
{
    TEST_RUN(test_no_lost_updates);
    return TEST_REPORT();
}
