/*
 * Eviction under concurrency (also run under TSan): writers and readers on a small ceiling
 * while another thread keeps changing the policy, the ceiling and the watermarks, and the
 * background thread evicts. Checks that every write succeeds (no policy leaves the store with
 * nothing to evict: no key here lacks a TTL), memory ends within the margin, and the store's
 * counters add up.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mnemo.h"
#include "test.h"

enum { WRITERS = 3, READERS = 2, PER_WRITER = 40000 };

static mnemo_store *st;
static _Atomic int stop;
static _Atomic uint64_t write_fail, tune_fail;

static void *writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    char k[32], v[48];
    memset(v, 'w', sizeof(v));
    mnemo_set_opts ttl = {.ttl_ms = 3600 * 1000};
    for (int i = 0; i < PER_WRITER; i++) {
        int n = snprintf(k, sizeof(k), "w%d:%08d", id, i);
        int rc = i % 16 == 0
                     ? mnemo_incr(st, (unsigned)(i % 2), k, (size_t)n, 1, NULL)
                     : mnemo_set(st, (unsigned)(i % 2), k, (size_t)n, v, 16 + (size_t)(i % 32),
                                 &ttl, NULL, NULL);
        if (rc != MNEMO_OK && !(i % 16 == 0 && rc == MNEMO_ENOSPACE))
            atomic_fetch_add(&write_fail, 1);
        if (i % 16 == 0)
            (void)mnemo_expire(st, (unsigned)(i % 2), k, (size_t)n, 3600 * 1000, 0);
    }
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    char k[32];
    unsigned x = 1;
    while (!atomic_load(&stop)) {
        x = x * 1103515245u + 12345u;
        int n = snprintf(k, sizeof(k), "w%u:%08u", x % WRITERS, (x >> 8) % PER_WRITER);
        mnemo_value v = {0};
        if (mnemo_get(st, (x >> 4) % 2, k, (size_t)n, &v) == MNEMO_OK)
            mnemo_value_release(&v);
        mnemo_key_meta m;
        (void)mnemo_key_meta_get(st, 0, k, (size_t)n, &m);
    }
    return NULL;
}

static void *tuner(void *arg)
{
    (void)arg;
    int evicting[] = {MNEMO_POLICY_ALLKEYS_LRU,      MNEMO_POLICY_ALLKEYS_LFU,
                      MNEMO_POLICY_ALLKEYS_RANDOM,   MNEMO_POLICY_ALLKEYS_S3FIFO,
                      MNEMO_POLICY_VOLATILE_LRU,     MNEMO_POLICY_VOLATILE_LFU,
                      MNEMO_POLICY_VOLATILE_RANDOM,  MNEMO_POLICY_VOLATILE_TTL,
                      MNEMO_POLICY_VOLATILE_S3FIFO};
    unsigned i = 0;
    while (!atomic_load(&stop)) {
        i++;
        /* (The test's CHECK counters are not thread-safe: count failures here.) */
        mnemo_stats s;
        if (mnemo_set_eviction_policy(st, evicting[i % 9]) ||
            mnemo_set_maxmemory(st, (i % 3 + 3) << 20) ||
            mnemo_set_eviction_marks(st, 90 + i % 10, 80 + i % 10) ||
            mnemo_store_stats(st, &s))
            atomic_fetch_add(&tune_fail, 1);
        if (i % 7 == 0)
            (void)mnemo_swapdb(st, 0, 1);
        if (i % 11 == 0)
            (void)mnemo_store_maintain(st, 100);
    }
    return NULL;
}

static void test_concurrent_eviction(void)
{
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.databases = 2;
    cfg.shards = 8;
    cfg.maxmemory = 4u << 20;
    cfg.hz = 100;
    ASSERT_EQ(mnemo_store_open(&cfg, &st), MNEMO_OK);
    pthread_t w[WRITERS], r[READERS], t;
    for (int i = 0; i < WRITERS; i++)
        ASSERT_EQ(pthread_create(&w[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < READERS; i++)
        ASSERT_EQ(pthread_create(&r[i], NULL, reader, NULL), 0);
    ASSERT_EQ(pthread_create(&t, NULL, tuner, NULL), 0);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(w[i], NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    pthread_join(t, NULL);

    CHECK_EQ(atomic_load(&write_fail), 0);
    CHECK_EQ(atomic_load(&tune_fail), 0);
    /* Settle at a fixed ceiling, then check the margin and the counters. */
    CHECK_EQ(mnemo_set_eviction_policy(st, MNEMO_POLICY_ALLKEYS_LRU), MNEMO_OK);
    CHECK_EQ(mnemo_set_maxmemory(st, 3u << 20), MNEMO_OK);
    CHECK_EQ(mnemo_set(st, 0, "last", 4, "x", 1, NULL, NULL, NULL), MNEMO_OK);
    mnemo_stats s;
    ASSERT_EQ(mnemo_store_stats(st, &s), MNEMO_OK);
    fprintf(stderr, "keys %llu evicted %llu expired %llu memory %llu\n",
            (unsigned long long)s.keys, (unsigned long long)s.evicted,
            (unsigned long long)s.expired, (unsigned long long)s.memory_used);
    CHECK(s.evicted > 0);
    CHECK(s.memory_used <= (5u << 20) + (1u << 20));
    /* Lift the ceiling so that the background thread stops, then compare the counts. */
    CHECK_EQ(mnemo_set_maxmemory(st, 0), MNEMO_OK);
    uint64_t last = 0;
    for (int i = 0; i < 2000; i++) {
        ASSERT_EQ(mnemo_store_stats(st, &s), MNEMO_OK);
        if (s.keys == last)
            break;
        last = s.keys;
        usleep(5000);
    }
    uint64_t k0, k1;
    ASSERT_EQ(mnemo_dbsize(st, 0, &k0), MNEMO_OK);
    ASSERT_EQ(mnemo_dbsize(st, 1, &k1), MNEMO_OK);
    CHECK_U64_EQ(k0 + k1, s.keys);
    mnemo_store_free(st);
}

int main(void)
{
    TEST_RUN(test_concurrent_eviction);
    return TEST_REPORT();
}
