/* Unit tests for util/clock: the hybrid logical clock. */
#include "test.h"
#include "util/clock.h"

#include <pthread.h>

static void test_hlc_monotonic(void)
{
    _Atomic uint64_t c = 0;
    uint64_t v1 = hlc_next(&c, 1000);
    CHECK_U64_EQ(v1, 1000ull << 16);
    uint64_t v2 = hlc_next(&c, 1000); /* same ms: logical counter */
    CHECK_U64_EQ(v2, v1 + 1);
    uint64_t v3 = hlc_next(&c, 999); /* clock stepped back: still increasing */
    CHECK_U64_EQ(v3, v2 + 1);
    uint64_t v4 = hlc_next(&c, 2000);
    CHECK_U64_EQ(v4, 2000ull << 16);
    hlc_observe(&c, 5000ull << 16);
    CHECK(hlc_next(&c, 2000) > 5000ull << 16);
    /* More than 65536 writes in one ms carry into the ms part and still increase. */
    uint64_t prev = hlc_next(&c, 0);
    for (int i = 0; i < 70000; i++) {
        uint64_t v = hlc_next(&c, 0);
        CHECK(v > prev);
        prev = v;
    }
}

static void test_hlc_tick(void)
{
    /* A shard's clock: physical time when it moved on, else last + 1; never below the floor. */
    CHECK_U64_EQ(hlc_tick(0, 0, 1000), 1000ull << 16);
    CHECK_U64_EQ(hlc_tick(1000ull << 16, 0, 1000), (1000ull << 16) + 1);
    CHECK_U64_EQ(hlc_tick((1000ull << 16) + 1, 0, 999), (1000ull << 16) + 2); /* stepped back */
    CHECK_U64_EQ(hlc_tick((1000ull << 16) + 7, 0, 1001), 1001ull << 16);
    CHECK_U64_EQ(hlc_tick(1000ull << 16, 5000ull << 16, 1001), (5000ull << 16) + 1);
    CHECK_U64_EQ(hlc_tick(6000ull << 16, 5000ull << 16, 1001), (6000ull << 16) + 1);
    CHECK_U64_EQ(hlc_tick(0, 0, 0), 1);
    uint64_t prev = 0;
    for (int i = 0; i < 70000; i++) {
        uint64_t v = hlc_tick(prev, 0, 5);
        CHECK(v > prev);
        prev = v;
    }
}

static _Atomic uint64_t shared_clock;

static void *hammer(void *arg)
{
    uint64_t *out = arg, prev = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t v = hlc_next(&shared_clock, clock_realtime_ms());
        if (v <= prev)
            *out = 1;
        prev = v;
    }
    return NULL;
}

static void test_hlc_threads(void)
{
    pthread_t t[4];
    uint64_t bad[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, &bad[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(bad[i], 0);
    }
    CHECK(clock_realtime_ms() > 1600000000000ll);
    uint64_t a = clock_monotonic_ns(), b = clock_monotonic_ns();
    CHECK(b >= a);
}

int main(void)
{
    TEST_RUN(test_hlc_monotonic);
    TEST_RUN(test_hlc_tick);
    TEST_RUN(test_hlc_threads);
    return TEST_REPORT();
}
