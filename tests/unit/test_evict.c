/*
 * Unit tests for the memory ceiling (engine/evict): every policy under a write flood stays
 * within the documented margin and evicts only what it may; noeviction refuses writes and loses
 * nothing; hooks see every eviction; hot keys survive a scan under the recency/frequency
 * policies; lowering the ceiling at run time evicts down to it; OBJECT-style metadata.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mnemo.h"
#include "test.h"

#define CEILING (4u << 20)
/* One segment per writing thread plus a table resize, and slack for the shard's heads. */
#define MARGIN (256u << 10)

static mnemo_store *open_limited(int policy, int bg, uint64_t maxmem)
{
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.databases = 2;
    cfg.shards = 16;
    cfg.background_thread = bg;
    cfg.maxmemory = maxmem;
    cfg.eviction_policy = policy;
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(&cfg, &st), MNEMO_OK);
    return st;
}

static uint64_t used(mnemo_store *st)
{
    mnemo_stats s;
    ASSERT_EQ(mnemo_store_stats(st, &s), MNEMO_OK);
    return s.memory_used;
}

static void key_of(char *k, int i)
{
    snprintf(k, 17, "key:%012d", i);
}

static void test_policy_names(void)
{
    for (int p = 0; p < MNEMO_POLICY_COUNT_; p++) {
        const char *n = mnemo_policy_name(p);
        ASSERT(n != NULL);
        CHECK_EQ(mnemo_policy_parse(n, strlen(n)), p);
    }
    CHECK_EQ(mnemo_policy_parse("ALLKEYS-LRU", 11), MNEMO_POLICY_ALLKEYS_LRU);
    CHECK_EQ(mnemo_policy_parse("allkeys-lr", 10), -1);
    CHECK_EQ(mnemo_policy_parse("lru", 3), -1);
    CHECK(mnemo_policy_name(MNEMO_POLICY_COUNT_) == NULL);
    CHECK(mnemo_policy_name(-1) == NULL);
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    CHECK(cfg.maxmemory > 0); /* the library's default ceiling */
    CHECK_EQ(cfg.eviction_policy, MNEMO_POLICY_ALLKEYS_S3FIFO);
    cfg.evict_high_pct = 50;
    cfg.evict_low_pct = 60;
    mnemo_store *st;
    CHECK_EQ(mnemo_store_open(&cfg, &st), MNEMO_EINVAL);
    cfg.evict_low_pct = 50;
    cfg.eviction_policy = 99;
    CHECK_EQ(mnemo_store_open(&cfg, &st), MNEMO_EINVAL);
    st = open_limited(MNEMO_POLICY_NOEVICTION, 0, 0);
    CHECK_EQ(mnemo_set_eviction_policy(st, 99), MNEMO_EINVAL);
    CHECK_EQ(mnemo_set_eviction_marks(st, 101, 50), MNEMO_EINVAL);
    CHECK_EQ(mnemo_set_eviction_marks(st, 0, 0), MNEMO_EINVAL);
    CHECK_EQ(mnemo_set_eviction_marks(st, 95, 85), MNEMO_OK);
    mnemo_store_close(st);
    CHECK_EQ(mnemo_set_maxmemory(st, 1), MNEMO_ECLOSED);
    mnemo_store_free(st);
}

struct counts {
    _Atomic uint64_t evicted, expired;
};

static void count_hook(void *ctx, mnemo_event ev, unsigned db, const void *key, size_t klen,
                       uint64_t version)
{
    (void)db, (void)key, (void)klen, (void)version;
    struct counts *c = ctx;
    if (ev == MNEMO_EVENT_EVICT)
        atomic_fetch_add(&c->evicted, 1);
    else if (ev == MNEMO_EVENT_EXPIRE)
        atomic_fetch_add(&c->expired, 1);
}

/* A flood of 4x the ceiling under every evicting policy, with and without the background
 * thread. 7 keys in 8 have a (long) TTL: volatile policies may evict only those (the others
 * fit in half the ceiling). */
static void flood(int policy, int bg)
{
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.databases = 2;
    cfg.shards = 16;
    cfg.background_thread = bg;
    cfg.maxmemory = CEILING;
    cfg.eviction_policy = policy;
    struct counts c = {0, 0};
    cfg.hook = count_hook;
    cfg.hook_ctx = &c;
    cfg.hook_events = MNEMO_EVENT_EVICT | MNEMO_EVENT_EXPIRE;
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(&cfg, &st), MNEMO_OK);
    int vol = policy >= MNEMO_POLICY_VOLATILE_LRU;
    enum { N = 240000 };
    char k[17], v[32];
    memset(v, 'v', sizeof(v));
    mnemo_set_opts ttl = {.ttl_ms = 3600 * 1000};
    uint64_t peak = 0;
    int refused = 0;
    for (int i = 0; i < N; i++) {
        key_of(k, i);
        int rc = mnemo_set(st, 0, k, 16, v, 32, (i % 8) ? &ttl : NULL, NULL, NULL);
        if (rc != MNEMO_OK) {
            CHECK_EQ(rc, MNEMO_OK);
            break;
        }
        if (i % 512 == 0) {
            uint64_t u = used(st);
            if (u > peak)
                peak = u;
        }
    }
    /* The background thread may still be working down to the low mark: let it finish. */
    mnemo_stats s;
    uint64_t last = UINT64_MAX;
    for (int ms = 0; ms < 10000; ms += 5) {
        ASSERT_EQ(mnemo_store_stats(st, &s), MNEMO_OK);
        if (s.evicted == last && atomic_load(&c.evicted) == s.evicted)
            break;
        last = s.evicted;
        usleep(5000);
    }
    fprintf(stderr, "  %-16s bg=%d: keys %llu, evicted %llu, peak %llu (ceiling %u), refused %d\n",
            mnemo_policy_name(policy), bg, (unsigned long long)s.keys,
            (unsigned long long)s.evicted, (unsigned long long)peak, CEILING, refused);
    CHECK(peak <= CEILING + MARGIN);
    CHECK(s.memory_used <= CEILING + MARGIN);
    CHECK(s.evicted > 0);
    CHECK_U64_EQ(atomic_load(&c.evicted), s.evicted);
    CHECK(s.keys > 20000); /* about 60-70k keys fit: eviction did not empty the store */
    CHECK_U64_EQ(s.keys + s.evicted + (uint64_t)refused + s.expired, N);
    if (vol) {
        /* Every key without a TTL that was accepted is still there. */
        int missing = 0;
        for (int i = 0; i < N; i += 8) {
            key_of(k, i);
            if (mnemo_exists(st, 0, k, 16) != MNEMO_OK)
                missing++;
        }
        CHECK_EQ(missing, refused);
    }
    mnemo_store_free(st);
}

static void test_flood_every_policy(void)
{
    for (int p = MNEMO_POLICY_ALLKEYS_LRU; p < MNEMO_POLICY_COUNT_; p++) {
        flood(p, 0);
        flood(p, 1);
    }
}

static void test_noeviction(void)
{
    mnemo_store *st = open_limited(MNEMO_POLICY_NOEVICTION, 1, 1u << 20);
    char k[17], v[32];
    memset(v, 'n', sizeof(v));
    int i, rc = MNEMO_OK;
    for (i = 0; i < 100000 && rc == MNEMO_OK; i++) {
        key_of(k, i);
        rc = mnemo_set(st, 0, k, 16, v, 32, NULL, NULL, NULL);
    }
    CHECK_EQ(rc, MNEMO_ENOSPACE);
    int stored = i - 1;
    CHECK(stored > 1000);
    mnemo_stats s;
    mnemo_store_stats(st, &s);
    CHECK_EQ(s.evicted, 0);
    CHECK_U64_EQ(s.keys, (uint64_t)stored);
    CHECK(s.memory_used <= (1u << 20) + MARGIN);
    /* Every write that needs memory is refused; reads, deletes and TTL changes work. */
    key_of(k, 0);
    CHECK_EQ(mnemo_append(st, 0, k, 16, "x", 1, NULL), MNEMO_ENOSPACE);
    CHECK_EQ(mnemo_incr(st, 0, "ctr", 3, 1, NULL), MNEMO_ENOSPACE);
    mnemo_kv kv = {k, 16, v, 32};
    CHECK_EQ(mnemo_mset(st, 0, &kv, 1, NULL), MNEMO_ENOSPACE);
    CHECK_EQ(mnemo_copy(st, 0, k, 16, 1, k, 16, 0), MNEMO_ENOSPACE);
    mnemo_value got = {0};
    CHECK_EQ(mnemo_get(st, 0, k, 16, &got), MNEMO_OK);
    CHECK_MEM_EQ(got.data, got.len, v, 32);
    mnemo_value_release(&got);
    CHECK_EQ(mnemo_expire(st, 0, k, 16, 100000, 0), MNEMO_OK);
    CHECK_EQ(mnemo_persist(st, 0, k, 16), MNEMO_OK);
    for (int j = 0; j < stored; j++) {
        key_of(k, j);
        if (j % 2 == 0)
            CHECK_EQ(mnemo_del(st, 0, k, 16), MNEMO_OK);
        else
            CHECK_EQ(mnemo_exists(st, 0, k, 16), MNEMO_OK);
    }
    /* Room again after the deletes (compaction gave the memory back). */
    key_of(k, 0);
    CHECK_EQ(mnemo_set(st, 0, k, 16, v, 32, NULL, NULL, NULL), MNEMO_OK);
    /* Raising the ceiling at run time lets writes through; lowering it under noeviction
     * refuses writes at once. */
    CHECK_EQ(mnemo_set_maxmemory(st, 0), MNEMO_OK);
    key_of(k, 999999);
    CHECK_EQ(mnemo_set(st, 0, k, 16, v, 32, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_set_maxmemory(st, 4096), MNEMO_OK);
    CHECK_EQ(mnemo_set(st, 0, k, 16, v, 32, NULL, NULL, NULL), MNEMO_ENOSPACE);
    CHECK_EQ(mnemo_del(st, 0, k, 16), MNEMO_OK);
    mnemo_store_free(st);
}

/* Volatile policies with no key that has a TTL: nothing to evict, writes are refused. */
static void test_volatile_without_candidates(void)
{
    int pols[] = {MNEMO_POLICY_VOLATILE_LRU, MNEMO_POLICY_VOLATILE_TTL,
                  MNEMO_POLICY_VOLATILE_RANDOM, MNEMO_POLICY_VOLATILE_S3FIFO};
    for (size_t p = 0; p < sizeof(pols) / sizeof(pols[0]); p++) {
        mnemo_store *st = open_limited(pols[p], 0, 1u << 20);
        char k[17], v[32];
        memset(v, 'p', sizeof(v));
        int i, rc = MNEMO_OK;
        for (i = 0; i < 100000 && rc == MNEMO_OK; i++) {
            key_of(k, i);
            rc = mnemo_set(st, 0, k, 16, v, 32, NULL, NULL, NULL);
        }
        CHECK_EQ(rc, MNEMO_ENOSPACE);
        mnemo_stats s;
        mnemo_store_stats(st, &s);
        CHECK_EQ(s.evicted, 0);
        CHECK_U64_EQ(s.keys, (uint64_t)(i - 1));
        mnemo_store_free(st);
    }
}

/* Expired keys go before live ones: with everything expired, nothing is evicted. */
static int64_t fake_now = 1700000000000;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static void test_expired_before_evicted(void)
{
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.databases = 1;
    cfg.shards = 16;
    cfg.background_thread = 0;
    cfg.maxmemory = 2u << 20;
    cfg.clock = fake_clock;
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(&cfg, &st), MNEMO_OK);
    char k[17], v[32];
    memset(v, 'e', sizeof(v));
    mnemo_set_opts ttl = {.ttl_ms = 1000};
    int i;
    for (i = 0; used(st) < (2u << 20) * 85 / 100; i++) {
        key_of(k, i);
        ASSERT_EQ(mnemo_set(st, 0, k, 16, v, 32, &ttl, NULL, NULL), MNEMO_OK);
    }
    fake_now += 2000; /* all of them expired, none collected yet */
    for (int j = 0; j < i; j++) {
        key_of(k, 1000000 + j);
        ASSERT_EQ(mnemo_set(st, 0, k, 16, v, 32, NULL, NULL, NULL), MNEMO_OK);
    }
    mnemo_stats s;
    mnemo_store_stats(st, &s);
    CHECK_EQ(s.evicted, 0);
    CHECK(s.expired > 0);
    mnemo_store_free(st);
}

/* A hot set read between writes of a stream of one-time keys: the recency and frequency
 * policies keep (nearly all of) it; random eviction does not. */
static double hot_retention(int policy)
{
    mnemo_store *st = open_limited(policy, 1, CEILING);
    enum { HOT = 2000, STREAM = 300000 };
    char k[17], v[32];
    memset(v, 'h', sizeof(v));
    for (int i = 0; i < HOT; i++) {
        key_of(k, i);
        ASSERT_EQ(mnemo_set(st, 0, k, 16, v, 32, NULL, NULL, NULL), MNEMO_OK);
    }
    for (int i = 0; i < STREAM; i++) {
        key_of(k, HOT + i);
        ASSERT_EQ(mnemo_set(st, 0, k, 16, v, 32, NULL, NULL, NULL), MNEMO_OK);
        key_of(k, i % HOT);
        (void)mnemo_exists(st, 0, k, 16);
    }
    int kept = 0;
    for (int i = 0; i < HOT; i++) {
        key_of(k, i);
        mnemo_key_meta m;
        kept += mnemo_key_meta_get(st, 0, k, 16, &m) == MNEMO_OK;
    }
    mnemo_store_free(st);
    fprintf(stderr, "  %-16s keeps %d of %d hot keys\n", mnemo_policy_name(policy), kept, HOT);
    return (double)kept / HOT;
}

static void test_hot_keys_survive(void)
{
    CHECK(hot_retention(MNEMO_POLICY_ALLKEYS_LRU) > 0.95);
    CHECK(hot_retention(MNEMO_POLICY_ALLKEYS_LFU) > 0.95);
    CHECK(hot_retention(MNEMO_POLICY_ALLKEYS_S3FIFO) > 0.95);
    CHECK(hot_retention(MNEMO_POLICY_ALLKEYS_RANDOM) < 0.9);
}

static void test_lowering_the_ceiling(void)
{
    mnemo_store *st = open_limited(MNEMO_POLICY_ALLKEYS_LRU, 1, 0);
    char k[17], v[32];
    memset(v, 'l', sizeof(v));
    for (int i = 0; i < 200000; i++) {
        key_of(k, i);
        ASSERT_EQ(mnemo_set(st, 0, k, 16, v, 32, NULL, NULL, NULL), MNEMO_OK);
    }
    uint64_t before = used(st);
    CHECK(before > (8u << 20));
    CHECK_EQ(mnemo_set_maxmemory(st, 4u << 20), MNEMO_OK);
    /* The background thread works it off; wait (a liveness bound, not a speed check: 20 s
     * ran out once under ASan in a clean-clone CI run, with ctest -j2 on a loaded machine). */
    for (int ms = 0; ms < 120000 && used(st) > (4u << 20) * 9 / 10; ms += 10)
        usleep(10000);
    if (used(st) > (4u << 20) * 9 / 10)
        fprintf(stderr, "  used %llu after 120 s\n", (unsigned long long)used(st));
    CHECK(used(st) <= (4u << 20) * 9 / 10);
    mnemo_stats s;
    mnemo_store_stats(st, &s);
    CHECK(s.evicted > 0);
    CHECK_U64_EQ(s.maxmemory, 4u << 20);
    CHECK_EQ(s.eviction_policy, MNEMO_POLICY_ALLKEYS_LRU);
    CHECK_EQ(mnemo_set_eviction_policy(st, MNEMO_POLICY_ALLKEYS_S3FIFO), MNEMO_OK);
    mnemo_store_stats(st, &s);
    CHECK_EQ(s.eviction_policy, MNEMO_POLICY_ALLKEYS_S3FIFO);
    mnemo_store_free(st);
}

static void test_key_meta(void)
{
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.databases = 1;
    cfg.shards = 4;
    cfg.background_thread = 0;
    cfg.clock = fake_clock;
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(&cfg, &st), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "a", 1, "1", 1, NULL, NULL, NULL), MNEMO_OK);
    mnemo_key_meta m;
    ASSERT_EQ(mnemo_key_meta_get(st, 0, "a", 1, &m), MNEMO_OK);
    CHECK_EQ(m.freq, 0);
    CHECK_EQ(m.queue, 0); /* S3-FIFO (the default): new keys start on probation */
    CHECK_EQ(m.age_ms, 0);
    ASSERT_EQ(mnemo_key_meta_get(st, 0, "a", 1, &m), MNEMO_OK);
    CHECK_EQ(m.freq, 0); /* looking is not an access */
    fake_now += 1500;
    for (int i = 1; i <= 5; i++) {
        ASSERT_EQ(mnemo_exists(st, 0, "a", 1), MNEMO_OK);
        ASSERT_EQ(mnemo_key_meta_get(st, 0, "a", 1, &m), MNEMO_OK);
        CHECK_EQ(m.freq, i < 3 ? i : 3);
    }
    CHECK_EQ(m.age_ms, 1500);
    /* Overwrites, TTL changes and compaction keep the count. */
    ASSERT_EQ(mnemo_set(st, 0, "a", 1, "longer value", 12, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_expire(st, 0, "a", 1, 100000, 0), MNEMO_OK);
    ASSERT_EQ(mnemo_key_meta_get(st, 0, "a", 1, &m), MNEMO_OK);
    CHECK_EQ(m.freq, 3);
    CHECK_EQ(mnemo_key_meta_get(st, 0, "b", 1, &m), MNEMO_ENOTFOUND);
    mnemo_store_free(st);
}

/* Every key hot (read three times, the most the count holds): the FIFO policies need up to
 * three passes over the whole store before anything can go. Aging passes are progress, so
 * writes never see MNEMO_ENOSPACE for it. */
static void test_all_keys_hot(void)
{
    int pols[] = {MNEMO_POLICY_ALLKEYS_LRU, MNEMO_POLICY_ALLKEYS_LFU,
                  MNEMO_POLICY_ALLKEYS_S3FIFO};
    for (int bg = 0; bg <= 1; bg++) {
        for (size_t p = 0; p < sizeof(pols) / sizeof(pols[0]); p++) {
            mnemo_store *st = open_limited(pols[p], bg, CEILING);
            char k[17], v[32];
            memset(v, 'h', sizeof(v));
            int n = 0, fails = 0;
            for (; used(st) < CEILING * 85 / 100; n++) {
                key_of(k, n);
                ASSERT_EQ(mnemo_set(st, 0, k, 16, v, 32, NULL, NULL, NULL), MNEMO_OK);
            }
            for (int r = 0; r < 3; r++)
                for (int i = 0; i < n; i++) {
                    key_of(k, i);
                    (void)mnemo_exists(st, 0, k, 16);
                }
            for (int i = 0; i < 3 * n; i++) {
                key_of(k, 1000000 + i);
                fails += mnemo_set(st, 0, k, 16, v, 32, NULL, NULL, NULL) != MNEMO_OK;
            }
            CHECK_EQ(fails, 0);
            CHECK(used(st) <= CEILING + MARGIN);
            mnemo_store_free(st);
        }
    }
}

/* Several threads writing against a small ceiling: the margin holds per writer. */
struct writer {
    mnemo_store *st;
    int id;
    int fails;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    char k[17], v[32];
    memset(v, 'w', sizeof(v));
    for (int i = 0; i < 60000; i++) {
        snprintf(k, sizeof(k), "w%d:%012d", w->id, i);
        if (mnemo_set(w->st, 0, k, 16, v, 32, NULL, NULL, NULL) != MNEMO_OK)
            w->fails++;
    }
    return NULL;
}

#include <pthread.h>

static void test_concurrent_writers(void)
{
    mnemo_store *st = open_limited(MNEMO_POLICY_ALLKEYS_S3FIFO, 1, CEILING);
    struct writer w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct writer){st, i, 0};
        ASSERT_EQ(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(w[i].fails, 0);
    }
    CHECK(used(st) <= CEILING + 4 * MARGIN);
    mnemo_store_free(st);
}

int main(void)
{
    TEST_RUN(test_policy_names);
    TEST_RUN(test_flood_every_policy);
    TEST_RUN(test_noeviction);
    TEST_RUN(test_volatile_without_candidates);
    TEST_RUN(test_expired_before_evicted);
    TEST_RUN(test_hot_keys_survive);
    TEST_RUN(test_lowering_the_ceiling);
    TEST_RUN(test_key_meta);
    TEST_RUN(test_all_keys_hot);
    TEST_RUN(test_concurrent_writers);
    return TEST_REPORT();
}
