/*
 * Unit tests for engine/store, shard and batch internals that the model test cannot see:
 * scans across resizes, compaction under churn, memory accounting against RSS, active expiry
 * through the heap (including stale records), and big values.
 */
#include <mnemo.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/store_int.h"
#include "test.h"

static int64_t fake_now = 1700000000000;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static mnemo_store *open_store(unsigned shards)
{
    mnemo_config c;
    mnemo_config_init(&c);
    c.shards = shards;
    c.background_thread = 0;
    c.clock = fake_clock;
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(&c, &st), MNEMO_OK);
    return st;
}

static void key_of(char *buf, int i)
{
    snprintf(buf, 32, "key:%08d", i);
}

struct seen {
    unsigned char *count;
    int n;
    int bad;
};

static void on_key(void *ctx, const void *key, size_t len)
{
    struct seen *s = ctx;
    int i;
    if (len != 12 || sscanf((const char *)key + 4, "%8d", &i) != 1 || i < 0 || i >= s->n) {
        s->bad++;
        return;
    }
    s->count[i]++;
}

static void test_scan_exactly_once_while_growing(void)
{
    /* One shard, so every insert during the scan lands in the table being scanned and the
     * table resizes (with incremental migration) several times mid-scan. */
    mnemo_store *st = open_store(1);
    enum { BASE = 2000, EXTRA = 30000 };
    char k[32];
    for (int i = 0; i < BASE; i++) {
        key_of(k, i);
        ASSERT_EQ(mnemo_set(st, 0, k, 12, "v", 1, NULL, NULL, NULL), MNEMO_OK);
    }
    struct seen s = {calloc(BASE + EXTRA, 1), BASE + EXTRA, 0};
    uint64_t cur = 0;
    int added = 0, steps = 0;
    do {
        ASSERT_EQ(mnemo_scan(st, 0, cur, NULL, 0, 50, on_key, &s, &cur), MNEMO_OK);
        for (int j = 0; j < 300 && added < EXTRA; j++, added++) {
            key_of(k, BASE + added);
            ASSERT_EQ(mnemo_set(st, 0, k, 12, "w", 1, NULL, NULL, NULL), MNEMO_OK);
        }
        steps++;
    } while (cur != 0);
    CHECK(steps > 10);
    CHECK_EQ(s.bad, 0);
    int missing = 0, dup = 0;
    for (int i = 0; i < BASE; i++) {
        missing += s.count[i] == 0;
        dup += s.count[i] > 1;
    }
    for (int i = BASE; i < BASE + EXTRA; i++)
        dup += s.count[i] > 1;
    CHECK_EQ(missing, 0);
    CHECK_EQ(dup, 0);
    free(s.count);
    mnemo_store_free(st);
}

static void test_scan_invalid_cursor(void)
{
    mnemo_store *st = open_store(4);
    uint64_t next;
    CHECK_EQ(mnemo_scan(st, 0, (uint64_t)4 << 32, NULL, 0, 10, NULL, NULL, &next), MNEMO_EINVAL);
    CHECK_EQ(mnemo_scan(st, 0, 0, NULL, 0, 10, NULL, NULL, &next), MNEMO_OK);
    CHECK_U64_EQ(next, 0); /* empty store: done in one step */
    mnemo_store_free(st);
}

static void test_compaction_under_churn(void)
{
    /* Overwrite keys with values of changing sizes and delete some: compaction must move live
     * entries without losing or mixing up any, and must keep memory near the live data. */
    mnemo_store *st = open_store(4);
    enum { N = 20000 };
    char k[32], v[200];
    static unsigned char len[N];
    static unsigned char alive[N];
    srand(11);
    for (int round = 0; round < 12; round++) {
        for (int i = 0; i < N; i++) {
            key_of(k, i);
            if (rand() % 5 == 0) {
                mnemo_del(st, 0, k, 12);
                alive[i] = 0;
                continue;
            }
            len[i] = (unsigned char)(8 + rand() % 150);
            memset(v, 'a' + (i + round) % 26, len[i]);
            memcpy(v, &i, sizeof(i));
            ASSERT_EQ(mnemo_set(st, 0, k, 12, v, len[i], NULL, NULL, NULL), MNEMO_OK);
            alive[i] = (unsigned char)(round + 1);
        }
    }
    uint64_t live = 0;
    for (int i = 0; i < N; i++) {
        key_of(k, i);
        mnemo_value got;
        int rc = mnemo_get(st, 0, k, 12, &got);
        if (!alive[i]) {
            CHECK_EQ(rc, MNEMO_ENOTFOUND);
            continue;
        }
        live++;
        ASSERT_EQ(rc, MNEMO_OK);
        CHECK_EQ(got.len, len[i]);
        int back;
        memcpy(&back, got.data, sizeof(back));
        CHECK_EQ(back, i);
        CHECK_EQ(((char *)got.data)[got.len - 1], 'a' + (i + alive[i] - 1) % 26);
        mnemo_value_release(&got);
    }
    mnemo_stats s;
    ASSERT_EQ(mnemo_store_stats(st, &s), MNEMO_OK);
    CHECK_U64_EQ(s.keys, live);
    /* Garbage is bounded: memory stays within 2x of the live data plus fixed overhead. */
    uint64_t fixed = 1u << 20;
    CHECK(s.memory_used < 2 * s.data_bytes + fixed);
    mnemo_store_free(st);
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
        res = -1;
    fclose(f);
    return res * 4096;
}

static void test_memory_accounting_tracks_rss(void)
{
    /* Sanitizers change the allocator: the comparison only means something without them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    fprintf(stderr, "(skipped under a sanitizer)\n");
    return;
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    return;
#endif
#endif
    long r0 = rss_bytes();
    mnemo_store *st = open_store(256);
    mnemo_stats s0;
    mnemo_store_stats(st, &s0);
    enum { N = 300000 };
    char k[32], v[32];
    memset(v, 'x', sizeof(v));
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof(k), "key:%012d", i);
        ASSERT_EQ(mnemo_set(st, 0, k, 16, v, 32, NULL, NULL, NULL), MNEMO_OK);
    }
    long grown = rss_bytes() - r0;
    mnemo_stats s;
    mnemo_store_stats(st, &s);
    double ratio = (double)s.memory_used / (double)grown;
    fprintf(stderr, "memory_used %llu, RSS growth %ld, ratio %.3f, %.1f bytes/key\n",
            (unsigned long long)s.memory_used, grown, ratio, (double)grown / N);
    CHECK(ratio > 0.9 && ratio < 1.1);
    mnemo_store_free(st);
}

/* Databases nobody uses cost nothing: their shards (16 x 256 x 384 bytes by default, 2% of a
 * 64 MB ceiling) are neither counted in memory_used nor made resident by what only looks at
 * them (statistics, DBSIZE, SCAN, FLUSHALL, active expiry), and are counted from the first
 * operation on them. */
static void test_unused_databases_cost_nothing(void)
{
    long r0 = rss_bytes();
    mnemo_config c;
    mnemo_config_init(&c);
    c.hz = 100; /* the background cycle visits every database several times below */
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(&c, &st), MNEMO_OK);
    uint64_t per_db = (uint64_t)st->nshards * sizeof(shard);
    mnemo_stats s;
    ASSERT_EQ(mnemo_store_stats(st, &s), MNEMO_OK);
    CHECK(s.memory_used < per_db);
    ASSERT_EQ(mnemo_set(st, 0, "k", 1, "v", 1, NULL, NULL, NULL), MNEMO_OK);
    uint64_t n = 0, cursor = 1;
    for (unsigned db = 1; db < c.databases; db++) {
        CHECK_EQ(mnemo_dbsize(st, db, &n), MNEMO_OK);
        CHECK_U64_EQ(n, 0);
        mnemo_db_info info;
        CHECK_EQ(mnemo_db_info_get(st, db, &info), MNEMO_OK);
        CHECK_EQ(mnemo_scan(st, db, 0, NULL, 0, 10, NULL, NULL, &cursor), MNEMO_OK);
        CHECK_U64_EQ(cursor, 0);
    }
    CHECK_EQ(mnemo_swapdb(st, 3, 4), MNEMO_OK);
    CHECK_EQ(mnemo_flush(st, 5), MNEMO_OK);
    CHECK_EQ(mnemo_store_stats(st, &s), MNEMO_OK);
    CHECK_EQ(mnemo_stats_reset(st), MNEMO_OK);
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    mnemo_stats s1;
    ASSERT_EQ(mnemo_store_stats(st, &s1), MNEMO_OK);
    CHECK(s1.memory_used < 2 * per_db); /* database 0 only */
    CHECK_U64_EQ(s1.keys, 1);
    long grown = rss_bytes() - r0;
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    fprintf(stderr, "one database in use: memory_used %llu, RSS growth %ld (all shards: %llu)\n",
            (unsigned long long)s1.memory_used, grown,
            (unsigned long long)(per_db * c.databases));
    CHECK(grown < (long)(4 * per_db));
#endif
    /* The first write to another database counts its shards; the key is there. */
    ASSERT_EQ(mnemo_set(st, 7, "k", 1, "w", 1, NULL, NULL, NULL), MNEMO_OK);
    mnemo_stats s2;
    ASSERT_EQ(mnemo_store_stats(st, &s2), MNEMO_OK);
    CHECK(s2.memory_used >= s1.memory_used + per_db);
    CHECK_U64_EQ(atomic_load(&st->mem_used), s2.memory_used);
    CHECK_EQ(mnemo_dbsize(st, 7, &n), MNEMO_OK);
    CHECK_U64_EQ(n, 1);
    CHECK_EQ(mnemo_move(st, 7, "k", 1, 9), MNEMO_OK);
    CHECK_EQ(mnemo_dbsize(st, 9, &n), MNEMO_OK);
    CHECK_U64_EQ(n, 1);
    CHECK_EQ(mnemo_swapdb(st, 9, 12), MNEMO_OK);
    CHECK_EQ(mnemo_dbsize(st, 12, &n), MNEMO_OK);
    CHECK_U64_EQ(n, 1);
    CHECK_EQ(mnemo_flush_all(st), MNEMO_OK);
    ASSERT_EQ(mnemo_store_stats(st, &s2), MNEMO_OK);
    CHECK_U64_EQ(s2.keys, 0);
    mnemo_store_close(st);
    CHECK_EQ(mnemo_dbsize(st, 5, &n), MNEMO_ECLOSED);
    CHECK_EQ(mnemo_store_stats(st, &s2), MNEMO_ECLOSED);
    mnemo_store_free(st);
}

static void test_active_expiry_and_stale_records(void)
{
    mnemo_store *st = open_store(8);
    char k[32];
    mnemo_set_opts ttl = {.ttl_ms = 1000};
    for (int i = 0; i < 1000; i++) {
        key_of(k, i);
        ASSERT_EQ(mnemo_set(st, 0, k, 12, "v", 1, &ttl, NULL, NULL), MNEMO_OK);
    }
    /* Extend half of them many times: stale heap records pile up, the keys must survive. */
    for (int r = 0; r < 5; r++)
        for (int i = 0; i < 500; i++) {
            key_of(k, i);
            ASSERT_EQ(mnemo_expire(st, 0, k, 12, 100000 + r, 0), MNEMO_OK);
        }
    fake_now += 1001;
    int64_t n = 0, got;
    while ((got = mnemo_store_maintain(st, 100)) > 0)
        n += got;
    CHECK_EQ(n, 500);
    uint64_t size;
    mnemo_dbsize(st, 0, &size);
    CHECK_U64_EQ(size, 500);
    mnemo_stats s;
    mnemo_store_stats(st, &s);
    CHECK_U64_EQ(s.expired, 500);
    CHECK_U64_EQ(s.keys_with_ttl, 500);
    /* Persisted keys are not expired by their old records. */
    for (int i = 0; i < 500; i++) {
        key_of(k, i);
        ASSERT_EQ(mnemo_persist(st, 0, k, 12), MNEMO_OK);
    }
    fake_now += 200000;
    CHECK_EQ(mnemo_store_maintain(st, 100000), 0);
    mnemo_dbsize(st, 0, &size);
    CHECK_U64_EQ(size, 500);
    /* The heap was rebuilt or drained: it holds no more than the keys with a TTL allow. */
    uint64_t recs = 0;
    for (uint32_t i = 0; i < st->nshards; i++)
        recs += st->shards[i].heap.n;
    CHECK(recs <= 8 * 64);
    mnemo_store_free(st);
}

/* A 3 MiB value through set, append, setrange and getrange, stored as it is (compression
 * off: the memory figures must account for all of it) and compressed (its periodic bytes
 * shrink to a small fraction, which the memory figures must show). */
static void big_values(int compression)
{
    mnemo_store *st = open_store(4);
    ASSERT_EQ(mnemo_store_set_compression(st, compression, 64), MNEMO_OK);
    size_t n = 3u << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 131);
    ASSERT_EQ(mnemo_set(st, 0, "big", 3, big, n, NULL, NULL, NULL), MNEMO_OK);
    size_t nl;
    ASSERT_EQ(mnemo_append(st, 0, "big", 3, "tail", 4, &nl), MNEMO_OK);
    CHECK_EQ(nl, n + 4);
    mnemo_value v;
    ASSERT_EQ(mnemo_get(st, 0, "big", 3, &v), MNEMO_OK);
    CHECK_EQ(v.len, n + 4);
    CHECK(memcmp(v.data, big, n) == 0);
    CHECK(memcmp((char *)v.data + n, "tail", 4) == 0);
    mnemo_value_release(&v);
    ASSERT_EQ(mnemo_setrange(st, 0, "big", 3, n + 10, "X", 1, &nl), MNEMO_OK);
    CHECK_EQ(nl, n + 11);
    ASSERT_EQ(mnemo_getrange(st, 0, "big", 3, -7, -1, &v), MNEMO_OK);
    CHECK_MEM_EQ(v.data, v.len, "\0\0\0\0\0\0X", 7);
    mnemo_value_release(&v);
    mnemo_stats s;
    mnemo_store_stats(st, &s);
    if (compression) {
        CHECK_EQ(s.compressed_values, 1);
        CHECK_U64_EQ(s.compressed_original_bytes, n + 11);
        CHECK(s.memory_used < n / 8);
    } else {
        CHECK_EQ(s.compressed_values, 0);
        CHECK(s.memory_used >= n);
    }
    ASSERT_EQ(mnemo_del(st, 0, "big", 3), MNEMO_OK);
    mnemo_store_stats(st, &s);
    CHECK(s.memory_used < n / 8);
    CHECK_EQ(s.compressed_values, 0);
    CHECK_EQ(s.compressed_bytes, 0);
    free(big);
    mnemo_store_free(st);
}

static void test_big_values(void)
{
    big_values(0);
}

static void test_big_values_compressed(void)
{
    big_values(1);
}

/* A hint changes nothing and accepts anything: missing keys, bad arguments, more keys than it
 * looks at, a shard whose lock is held. */
static void test_prefetch_keys_is_only_a_hint(void)
{
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(NULL, &st), MNEMO_OK);
    char keys[40][16];
    const void *kp[40];
    size_t kl[40];
    for (int i = 0; i < 40; i++) {
        kl[i] = (size_t)snprintf(keys[i], sizeof(keys[i]), "pf:%d", i);
        kp[i] = keys[i];
        if (i % 2)
            ASSERT_EQ(mnemo_set(st, 0, kp[i], kl[i], "v", 1, NULL, NULL, NULL), MNEMO_OK);
    }
    mnemo_prefetch_keys(st, 0, kp, kl, 40);
    mnemo_prefetch_keys(st, 0, kp, kl, 0);
    mnemo_prefetch_keys(st, 999, kp, kl, 40);
    mnemo_prefetch_keys(NULL, 0, kp, kl, 40);
    mnemo_prefetch_keys(st, 0, NULL, kl, 40);
    mnemo_txn *tx;
    mnemo_txn_key tk = {0, kp[1], kl[1]};
    ASSERT_EQ(mnemo_txn_begin(st, &tk, 1, 0, &tx), MNEMO_OK);
    mnemo_prefetch_keys(st, 0, kp, kl, 4); /* kp[1]'s shard is held by this very thread */
    mnemo_txn_end(tx);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 20);
    for (int i = 0; i < 40; i++)
        CHECK_EQ(mnemo_exists(st, 0, kp[i], kl[i]), i % 2 ? MNEMO_OK : MNEMO_ENOTFOUND);
    mnemo_store_free(st);
}

static void test_many_databases_isolated(void)
{
    mnemo_store *st = open_store(4);
    for (unsigned db = 0; db < 16; db++)
        ASSERT_EQ(mnemo_set(st, db, "k", 1, &db, sizeof(db), NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_set(st, 16, "k", 1, "v", 1, NULL, NULL, NULL), MNEMO_EDB);
    ASSERT_EQ(mnemo_flush(st, 3), MNEMO_OK);
    for (unsigned db = 0; db < 16; db++) {
        mnemo_value v;
        int rc = mnemo_get(st, db, "k", 1, &v);
        if (db == 3) {
            CHECK_EQ(rc, MNEMO_ENOTFOUND);
            continue;
        }
        ASSERT_EQ(rc, MNEMO_OK);
        CHECK_MEM_EQ(v.data, v.len, &db, sizeof(db));
        mnemo_value_release(&v);
    }
    mnemo_store_free(st);
}

static void test_db_info_counts_ttls(void)
{
    mnemo_store *st = open_store(8);
    char k[32];
    mnemo_db_info info;
    ASSERT_EQ(mnemo_db_info_get(st, 2, &info), MNEMO_OK);
    CHECK_U64_EQ(info.keys, 0);
    CHECK_EQ(info.avg_ttl_ms, 0);
    for (int i = 0; i < 100; i++) {
        key_of(k, i);
        /* half with TTL 10 s and 30 s, half without */
        mnemo_set_opts o = {.ttl_ms = i % 2 ? (i % 4 == 1 ? 10000 : 30000) : 0,
                            .flags = i % 2 ? 0 : MNEMO_SET_NO_TTL};
        ASSERT_EQ(mnemo_set(st, 2, k, 12, "v", 1, &o, NULL, NULL), MNEMO_OK);
    }
    ASSERT_EQ(mnemo_db_info_get(st, 2, &info), MNEMO_OK);
    CHECK_U64_EQ(info.keys, 100);
    CHECK_U64_EQ(info.keys_with_ttl, 50);
    CHECK_EQ(info.avg_ttl_ms, 20000);
    /* persist some, re-expire others, delete some: the figures follow */
    key_of(k, 1);
    ASSERT_EQ(mnemo_persist(st, 2, k, 12), MNEMO_OK); /* a 10 s key */
    key_of(k, 3);
    ASSERT_EQ(mnemo_expire(st, 2, k, 12, 60000, 0), MNEMO_OK); /* 30 s -> 60 s */
    key_of(k, 5);
    ASSERT_EQ(mnemo_del(st, 2, k, 12), MNEMO_OK); /* a 10 s key */
    ASSERT_EQ(mnemo_db_info_get(st, 2, &info), MNEMO_OK);
    CHECK_U64_EQ(info.keys, 99);
    CHECK_U64_EQ(info.keys_with_ttl, 48);
    /* 23 keys of 10 s, 24 of 30 s, one of 60 s */
    CHECK_EQ(info.avg_ttl_ms, (23 * 10000 + 24 * 30000 + 60000) / 48);
    fake_now += 5000;
    ASSERT_EQ(mnemo_db_info_get(st, 2, &info), MNEMO_OK);
    CHECK_EQ(info.avg_ttl_ms, (23 * 10000 + 24 * 30000 + 60000) / 48 - 5000);
    CHECK_EQ(mnemo_db_info_get(st, 16, &info), MNEMO_EDB);
    mnemo_store_free(st);
}

/* ---- key prefixes (entry.h): keys stored after their segment's prefix ---------------------- */

/* Key i of the prefix test: three keyspaces, lengths around ENT_PFX_KEY_MAX (64) and keys that
 * are nothing but a prefix. */
static size_t pfx_key(char *buf, int i)
{
    switch (i % 5) {
    case 0:
    case 1:
        return (size_t)snprintf(buf, 96, "user:%08d", i);
    case 2:
        return (size_t)snprintf(buf, 96, "session:%08d:%0*d", i, 40 + i % 20, i);
    case 3:
        return (size_t)snprintf(buf, 96, "user:");
    default:
        return (size_t)snprintf(buf, 96, "%c%x", 'a' + i % 26, i);
    }
}

static void pfx_value(char *buf, int i, int round)
{
    snprintf(buf, 40, "v%d.%d.%020d", round, i, i);
}

struct pfx_seen {
    int users, bad;
};

static void on_pfx_key(void *ctx, const void *key, size_t len)
{
    struct pfx_seen *s = ctx;
    int i;
    char k[96], got[96];
    if (len >= sizeof(got)) {
        s->bad++;
        return;
    }
    memcpy(got, key, len);
    got[len] = 0;
    if (len < 6 || memcmp(got, "user:", 5) != 0 || sscanf(got + 5, "%8d", &i) != 1 ||
        pfx_key(k, i) != len || memcmp(k, got, len) != 0)
        s->bad++;
    else
        s->users++;
}

static void test_key_prefixes(void)
{
    mnemo_store *st = open_store(4);
    enum { N = 60000 };
    char k[96], v[40], want[40];
    /* Three rounds of writes with values of other sizes (compaction and in-place rewrites),
     * TTLs added and dropped (entries re-appended), then every key checked. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            size_t kl = pfx_key(k, i);
            pfx_value(v, i, round);
            size_t vl = strlen(v) - (size_t)((i + round) % 7);
            ASSERT_EQ(mnemo_set(st, 0, k, kl, v, vl, NULL, NULL, NULL), MNEMO_OK);
            if (i % 3 == round % 3)
                ASSERT_EQ(mnemo_expire(st, 0, k, kl, 1000000, 0), MNEMO_OK);
            else if (i % 3 == (round + 1) % 3)
                (void)mnemo_persist(st, 0, k, kl);
        }
    }
    for (int i = 0; i < N; i++) {
        size_t kl = pfx_key(k, i);
        if (i % 5 == 3)
            continue; /* "user:", written by every i = 3 mod 5: checked below */
        pfx_value(want, i, 2);
        mnemo_value got = {0};
        ASSERT_EQ(mnemo_get(st, 0, k, kl, &got), MNEMO_OK);
        CHECK_MEM_EQ(got.data, got.len, want, strlen(want) - (size_t)((i + 2) % 7));
        mnemo_value_release(&got);
    }
    /* Every "user:<8 digits>" key comes back whole from KEYS and SCAN, once. */
    struct pfx_seen seen = {0};
    ASSERT_EQ(mnemo_keys(st, 0, "user:?*", 7, on_pfx_key, &seen), MNEMO_OK);
    CHECK_EQ(seen.bad, 0);
    CHECK_EQ(seen.users, N / 5 * 2);
    uint64_t n = 0;
    ASSERT_EQ(mnemo_count_matching(st, 0, "session:*", 9, &n), MNEMO_OK);
    CHECK_U64_EQ(n, N / 5);
    ASSERT_EQ(mnemo_count_matching(st, 0, "user:", 5, &n), MNEMO_OK);
    CHECK_U64_EQ(n, 1);
    memset(&seen, 0, sizeof(seen));
    uint64_t cursor = 0;
    do {
        ASSERT_EQ(mnemo_scan(st, 0, cursor, "user:0*", 7, 100, on_pfx_key, &seen, &cursor),
                  MNEMO_OK);
    } while (cursor);
    CHECK_EQ(seen.bad, 0);
    CHECK_EQ(seen.users, N / 5 * 2);
    /* A random key is a whole key. */
    for (int t = 0; t < 100; t++) {
        mnemo_value rk = {0};
        ASSERT_EQ(mnemo_random_key(st, 0, &rk), MNEMO_OK);
        CHECK_EQ(mnemo_exists(st, 0, rk.data, rk.len), MNEMO_OK);
        mnemo_value_release(&rk);
    }
    uint64_t deleted = 0;
    ASSERT_EQ(mnemo_delete_matching(st, 0, "session:*", 9, &deleted), MNEMO_OK);
    CHECK_U64_EQ(deleted, N / 5);
    for (int i = 2; i < N; i += 5) {
        size_t kl = pfx_key(k, i);
        CHECK_EQ(mnemo_exists(st, 0, k, kl), MNEMO_ENOTFOUND);
    }
    mnemo_store_free(st);

    /* What the prefix saves: the same keys, with their first 8 bytes shared or all different. */
    uint64_t mem[2];
    for (int shared = 0; shared < 2; shared++) {
        st = open_store(4);
        for (int i = 0; i < 100000; i++) {
            if (shared)
                snprintf(k, sizeof(k), "item:000%08d", i);
            else
                snprintf(k, sizeof(k), "%08x%08d", (unsigned)i * 2654435761u, i);
            ASSERT_EQ(mnemo_set(st, 0, k, 16, "0123456789abcdef0123456789abcdef", 32, NULL, NULL,
                                NULL),
                      MNEMO_OK);
        }
        mnemo_stats sts;
        mnemo_store_stats(st, &sts);
        mem[shared] = sts.memory_used;
        mnemo_store_free(st);
    }
    /* 8-9 bytes a key left out (the segment's prefix is at least "item:000"), on ~60 */
    CHECK(mem[1] + 100000ull * 6 < mem[0]);
}

/* Increments counter key (one shard) n times, step_ms apart, checking that none left garbage;
 * the last result. */
static int64_t incr_in_place(mnemo_store *st, const char *key, int n, int step_ms)
{
    arena *a = &st->shards[0].ar;
    uint64_t g = arena_garbage(a);
    int64_t r = 0;
    for (int i = 0; i < n; i++) {
        fake_now += step_ms;
        ASSERT_EQ(mnemo_incr(st, 0, key, strlen(key), 1, &r), MNEMO_OK);
        CHECK_U64_EQ(arena_garbage(a), g);
    }
    return r;
}

/* Overwrites of a key with values of its size stay in place (no garbage) for minutes: the first
 * overwrite that moves the entry gives its version field room (ENT_VERSION_ROOM), and a
 * shorter new entry pads its version to the old size. */
static void test_overwrites_stay_in_place(void)
{
    mnemo_store *st = open_store(1);
    arena *a = &st->shards[0].ar;
    mnemo_stats ss;
    char v[40];
    memset(v, 'a', 32);
    ASSERT_EQ(mnemo_set(st, 0, "k", 1, v, 32, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_store_stats(st, &ss), MNEMO_OK);
    uint64_t d0 = ss.data_bytes; /* version delta 0: a one-byte field */
    /* 20 ms later the version needs two bytes: the entry moves, with a four-byte field. */
    fake_now += 20;
    ASSERT_EQ(mnemo_set(st, 0, "k", 1, v, 32, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_store_stats(st, &ss), MNEMO_OK);
    CHECK_U64_EQ(ss.data_bytes, d0 - 1 + ENT_VERSION_ROOM);
    uint64_t g = arena_garbage(a), d1 = ss.data_bytes, last = 0;
    /* Two minutes of overwrites (the field would need three bytes after 2 s): in place. */
    for (int i = 0; i < 60; i++) {
        fake_now += 2000;
        memset(v, 'b' + i % 20, 32);
        uint64_t ver;
        ASSERT_EQ(mnemo_set(st, 0, "k", 1, v, 32, NULL, NULL, &ver), MNEMO_OK);
        CHECK(ver > last);
        last = ver;
        CHECK_U64_EQ(arena_garbage(a), g);
    }
    mnemo_value got;
    ASSERT_EQ(mnemo_get(st, 0, "k", 1, &got), MNEMO_OK);
    CHECK(got.len == 32 && memcmp(got.data, v, 32) == 0 && got.version == last);
    mnemo_value_release(&got);
    /* A value 3 bytes shorter: in place, the version padded to the old size. */
    ASSERT_EQ(mnemo_set(st, 0, "k", 1, "short value of 29 bytes......", 29, NULL, NULL, NULL),
              MNEMO_OK);
    CHECK_U64_EQ(arena_garbage(a), g);
    ASSERT_EQ(mnemo_store_stats(st, &ss), MNEMO_OK);
    CHECK_U64_EQ(ss.data_bytes, d1);
    ASSERT_EQ(mnemo_get(st, 0, "k", 1, &got), MNEMO_OK);
    CHECK(got.len == 29 && memcmp(got.data, "short value of 29 bytes......", 29) == 0);
    mnemo_value_release(&got);
    /* Counters: increments that keep the length stay in place too. */
    ASSERT_EQ(mnemo_set(st, 0, "c", 1, "10", 2, NULL, NULL, NULL), MNEMO_OK);
    fake_now += 20;
    int64_t r;
    ASSERT_EQ(mnemo_incr(st, 0, "c", 1, 1, &r), MNEMO_OK);
    CHECK(incr_in_place(st, "c", 60, 2000) == 71);
    /* A counter with a TTL: rewritten in place (entry_rewrite), the expiration kept. (Created
     * where overwrites dominate, it has room from the start: see
     * test_new_keys_get_room_where_overwrites_dominate.) */
    mnemo_set_opts o = {.ttl_ms = 100000};
    ASSERT_EQ(mnemo_set(st, 0, "t", 1, "10", 2, &o, NULL, NULL), MNEMO_OK);
    fake_now += 20;
    ASSERT_EQ(mnemo_incr(st, 0, "t", 1, 1, &r), MNEMO_OK);
    (void)incr_in_place(st, "t", 10, 1000);
    int64_t ttl = 0;
    ASSERT_EQ(mnemo_ttl(st, 0, "t", 1, &ttl), MNEMO_OK);
    CHECK_EQ(ttl, 100000 - 20 - 10 * 1000);
    ASSERT_EQ(mnemo_get(st, 0, "t", 1, &got), MNEMO_OK);
    CHECK(got.len == 2 && memcmp(got.data, "21", 2) == 0);
    mnemo_value_release(&got);
    mnemo_store_free(st);
}

static void put32(mnemo_store *st, const char *key)
{
    ASSERT_EQ(mnemo_set(st, 0, key, strlen(key), "0123456789abcdef0123456789abcdef", 32, NULL,
                        NULL, NULL),
              MNEMO_OK);
}

/* Key's entry in the store's one shard (unlocked, single-threaded). */
static loc find1(mnemo_store *st, const char *key)
{
    op o = {.st = st, .notouch = 1};
    loc l;
    ASSERT(shard_find(&st->shards[0], &o, key, strlen(key), hash_bytes(key, strlen(key)), &l));
    return l;
}

/* Moves key's entry as compaction does (shard_move_entry, into its queue's head). */
static void move_entry(mnemo_store *st, const char *key)
{
    shard *sh = &st->shards[0];
    loc l = find1(st, key);
    ASSERT_EQ(shard_move_entry(sh, &l.e, l.ref, l.t, l.slot, arena_queue_of(&sh->ar, l.ref),
                               entry_freq(l.e.base), fake_now),
              MNEMO_OK);
}

/* Whether key's entry was written with room for versions to come: its version field is padded
 * beyond the minimal encoding. */
static int has_room(mnemo_store *st, const char *key)
{
    shard *sh = &st->shards[0];
    loc l = find1(st, key);
    size_t minimal = entry_size(l.e.klen, l.e.vlen, l.e.flags, entry_version(&l.e),
                                arena_vbase(&sh->ar, l.ref), l.e.plen);
    return l.e.size > minimal;
}

/* Whether counter key, written through `how` (0: created, 1: then moved by compaction, 2: then
 * given a TTL), has room. */
static int written_with_room(mnemo_store *st, const char *key, int how)
{
    fake_now++;
    ASSERT_EQ(mnemo_set(st, 0, key, strlen(key), "10", 2, NULL, NULL, NULL), MNEMO_OK);
    if (how == 1)
        move_entry(st, key);
    else if (how == 2)
        ASSERT_EQ(mnemo_expire(st, 0, key, strlen(key), 1000000, 0), MNEMO_OK);
    return has_room(st, key);
}

/* Writes keys n<from>..n<to - 1>, each name taken modulo `mod`, 1 ms apart. */
static void put_range(mnemo_store *st, int from, int to, int mod)
{
    char k[16];
    for (int i = from; i < to; i++) {
        snprintf(k, sizeof(k), "n%03d", i % mod);
        fake_now++;
        put32(st, k);
    }
}

/* Checks that counters <prefix>0..2, written each way written_with_room() knows, have room
 * or not as `expect` says. */
static void check_room(mnemo_store *st, const char *prefix, int expect)
{
    char k[16];
    for (int how = 0; how < 3; how++) {
        snprintf(k, sizeof(k), "%s%d", prefix, how);
        CHECK_EQ(written_with_room(st, k, how), expect);
    }
}

/* A key gets room for the versions to come only where most recent writes overwrote keys,
 * whether it is new or its entry was rewritten by compaction or a TTL change: then its first
 * overwrite more than 2 s later stays in place. Where keys are new, it gets none (1-3 bytes a
 * key less), and that overwrite moves it. The clock moves 1 ms a write until the last checks,
 * so that the minimal fields stay below the room's 4 bytes. */
static void test_new_keys_get_room_where_overwrites_dominate(void)
{
    mnemo_store *st = open_store(1);
    put_range(st, 0, 300, 1000);   /* only new keys */
    check_room(st, "first", 0);
    put_range(st, 0, 600, 300);    /* overwrites */
    check_room(st, "second", 1);
    put_range(st, 300, 900, 1000); /* new keys again */
    check_room(st, "third", 0);
    /* What the room is for: 10 s later, an increment of a key with room stays in place, one of
     * a key without moves it. */
    fake_now += 10000;
    arena *a = &st->shards[0].ar;
    uint64_t g = arena_garbage(a);
    int64_t r;
    ASSERT_EQ(mnemo_incr(st, 0, "second0", 7, 1, &r), MNEMO_OK);
    CHECK_U64_EQ(arena_garbage(a), g);
    ASSERT_EQ(mnemo_incr(st, 0, "third0", 6, 1, &r), MNEMO_OK);
    CHECK(arena_garbage(a) > g);
    mnemo_store_free(st);
}

int main(void)
{
    TEST_RUN(test_scan_exactly_once_while_growing);
    TEST_RUN(test_scan_invalid_cursor);
    TEST_RUN(test_compaction_under_churn);
    TEST_RUN(test_memory_accounting_tracks_rss);
    TEST_RUN(test_unused_databases_cost_nothing);
    TEST_RUN(test_active_expiry_and_stale_records);
    TEST_RUN(test_big_values);
    TEST_RUN(test_big_values_compressed);
    TEST_RUN(test_prefetch_keys_is_only_a_hint);
    TEST_RUN(test_many_databases_isolated);
    TEST_RUN(test_db_info_counts_ttls);
    TEST_RUN(test_key_prefixes);
    TEST_RUN(test_overwrites_stay_in_place);
    TEST_RUN(test_new_keys_get_room_where_overwrites_dominate);
    return TEST_REPORT();
}
