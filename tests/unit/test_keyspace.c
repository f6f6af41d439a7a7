/* Unit tests for engine/keyspace and engine/txn: rename, copy, move, swapdb, random keys,
 * key memory, and transactions (declared keys, undeclared keys, atomicity against a reader). */
#include <mnemo.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static mnemo_store *open_store(void)
{
    mnemo_config c;
    mnemo_config_init(&c);
    c.shards = 16;
    c.background_thread = 0;
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(&c, &st), MNEMO_OK);
    return st;
}

static void check_value(mnemo_store *st, unsigned db, const char *key, const char *want)
{
    mnemo_value v;
    int rc = mnemo_get(st, db, key, strlen(key), &v);
    if (!want) {
        CHECK_EQ(rc, MNEMO_ENOTFOUND);
        return;
    }
    CHECK_EQ(rc, MNEMO_OK);
    if (rc == MNEMO_OK)
        CHECK_MEM_EQ(v.data, v.len, want, strlen(want));
    mnemo_value_release(&v);
}

static void test_rename(void)
{
    mnemo_store *st = open_store();
    mnemo_set_opts ttl = {.ttl_ms = 100000};
    uint64_t v1, v2;
    mnemo_set(st, 0, "a", 1, "1", 1, &ttl, NULL, &v1);
    mnemo_set(st, 0, "b", 1, "2", 1, NULL, NULL, NULL);
    CHECK_EQ(mnemo_rename(st, 0, "a", 1, "b", 1, 1), MNEMO_EEXISTS);
    CHECK_EQ(mnemo_rename(st, 0, "a", 1, "b", 1, 0), MNEMO_OK);
    check_value(st, 0, "a", NULL);
    check_value(st, 0, "b", "1");
    int64_t t;
    CHECK_EQ(mnemo_ttl(st, 0, "b", 1, &t), MNEMO_OK);
    CHECK(t > 90000); /* the expiration moved with the value */
    mnemo_value v;
    mnemo_get(st, 0, "b", 1, &v);
    v2 = v.version;
    mnemo_value_release(&v);
    CHECK(v2 > v1);
    CHECK_EQ(mnemo_rename(st, 0, "nope", 4, "x", 1, 0), MNEMO_ENOTFOUND);
    CHECK_EQ(mnemo_rename(st, 0, "b", 1, "b", 1, 0), MNEMO_OK);
    CHECK_EQ(mnemo_rename(st, 0, "b", 1, "b", 1, 1), MNEMO_EEXISTS);
    /* many renames across shards keep the count */
    char k[16], k2[16];
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof(k), "r%d", i);
        mnemo_set(st, 0, k, strlen(k), k, strlen(k), NULL, NULL, NULL);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof(k), "r%d", i);
        snprintf(k2, sizeof(k2), "s%d", i);
        CHECK_EQ(mnemo_rename(st, 0, k, strlen(k), k2, strlen(k2), 1), MNEMO_OK);
        check_value(st, 0, k2, k);
    }
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_U64_EQ(n, 201);
    mnemo_store_free(st);
}

static void test_copy_move_swapdb(void)
{
    mnemo_store *st = open_store();
    mnemo_set(st, 0, "k", 1, "v0", 2, NULL, NULL, NULL);
    CHECK_EQ(mnemo_copy(st, 0, "k", 1, 0, "k", 1, 1), MNEMO_EINVAL);
    CHECK_EQ(mnemo_copy(st, 0, "k", 1, 1, "k", 1, 0), MNEMO_OK);
    CHECK_EQ(mnemo_copy(st, 0, "k", 1, 1, "k", 1, 0), MNEMO_EEXISTS);
    CHECK_EQ(mnemo_copy(st, 0, "k", 1, 0, "k2", 2, 0), MNEMO_OK);
    check_value(st, 1, "k", "v0");
    check_value(st, 0, "k2", "v0");
    check_value(st, 0, "k", "v0");
    CHECK_EQ(mnemo_move(st, 0, "k", 1, 0), MNEMO_EINVAL);
    CHECK_EQ(mnemo_move(st, 0, "k", 1, 1), MNEMO_EEXISTS);
    CHECK_EQ(mnemo_move(st, 0, "k2", 2, 2), MNEMO_OK);
    check_value(st, 0, "k2", NULL);
    check_value(st, 2, "k2", "v0");
    CHECK_EQ(mnemo_move(st, 0, "zz", 2, 2), MNEMO_ENOTFOUND);
    CHECK_EQ(mnemo_move(st, 0, "k", 1, 99), MNEMO_EDB);
    /* swapdb */
    mnemo_set(st, 3, "only3", 5, "x", 1, NULL, NULL, NULL);
    CHECK_EQ(mnemo_swapdb(st, 2, 3), MNEMO_OK);
    check_value(st, 2, "only3", "x");
    check_value(st, 3, "k2", "v0");
    check_value(st, 2, "k2", NULL);
    uint64_t n2, n3;
    mnemo_dbsize(st, 2, &n2);
    mnemo_dbsize(st, 3, &n3);
    CHECK_U64_EQ(n2, 1);
    CHECK_U64_EQ(n3, 1);
    CHECK_EQ(mnemo_swapdb(st, 2, 16), MNEMO_EDB);
    mnemo_store_free(st);
}

static void test_random_key_and_memory(void)
{
    mnemo_store *st = open_store();
    mnemo_value k;
    CHECK_EQ(mnemo_random_key(st, 0, &k), MNEMO_ENOTFOUND);
    int seen[10] = {0};
    char key[8];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "%d", i);
        mnemo_set(st, 0, key, 1, "v", 1, NULL, NULL, NULL);
    }
    for (int i = 0; i < 500; i++) {
        ASSERT_EQ(mnemo_random_key(st, 0, &k), MNEMO_OK);
        ASSERT_EQ(k.len, 1);
        seen[((char *)k.data)[0] - '0']++;
        mnemo_value_release(&k);
    }
    for (int i = 0; i < 10; i++)
        CHECK(seen[i] > 0);
    size_t bytes;
    CHECK_EQ(mnemo_key_memory(st, 0, "3", 1, &bytes), MNEMO_OK);
    CHECK(bytes >= 1 + 1 + 1 + 8 + 1 + 1);
    CHECK_EQ(mnemo_key_memory(st, 0, "nope", 4, &bytes), MNEMO_ENOTFOUND);
    mnemo_store_free(st);
}

static void test_txn_declared_keys(void)
{
    mnemo_store *st = open_store();
    mnemo_txn_key keys[2] = {{0, "a", 1}, {0, "b", 1}};
    mnemo_txn *t;
    ASSERT_EQ(mnemo_txn_begin(st, keys, 2, 0, &t), MNEMO_OK);
    mnemo_txn *t2;
    CHECK_EQ(mnemo_txn_begin(st, keys, 2, 0, &t2), MNEMO_EINVAL); /* one per thread */
    CHECK_EQ(mnemo_set(st, 0, "a", 1, "1", 1, NULL, NULL, NULL), MNEMO_OK);
    int64_t r;
    CHECK_EQ(mnemo_incr(st, 0, "b", 1, 5, &r), MNEMO_OK);
    /* A key outside the declared shards is refused (unless it shares a shard). */
    int refused = 0;
    char k[16];
    for (int i = 0; i < 64; i++) {
        snprintf(k, sizeof(k), "other%d", i);
        int rc = mnemo_set(st, 0, k, strlen(k), "x", 1, NULL, NULL, NULL);
        CHECK(rc == MNEMO_OK || rc == MNEMO_ETXN);
        refused += rc == MNEMO_ETXN;
    }
    CHECK(refused > 0);
    CHECK_EQ(mnemo_dbsize(st, 0, NULL), MNEMO_ETXN);
    mnemo_txn_end(t);
    check_value(st, 0, "a", "1");
    check_value(st, 0, "b", "5");
    /* whole-store transactions allow everything */
    ASSERT_EQ(mnemo_txn_begin(st, NULL, 0, 1, &t), MNEMO_OK);
    uint64_t n;
    CHECK_EQ(mnemo_dbsize(st, 0, &n), MNEMO_OK);
    CHECK_EQ(mnemo_flush(st, 0), MNEMO_OK);
    CHECK_EQ(mnemo_swapdb(st, 0, 1), MNEMO_OK);
    mnemo_txn_end(t);
    mnemo_dbsize(st, 0, &n);
    CHECK_U64_EQ(n, 0);
    mnemo_store_free(st);
}

static void test_txn_on_a_large_store(void)
{
    /* 16 databases x 1024 shards: more shards than the lock-ordering bitmap covers, so the
     * transaction orders its locks by sorting (the other code path of store_sort_unique). */
    mnemo_config c;
    mnemo_config_init(&c);
    c.shards = 1024;
    c.background_thread = 0;
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(&c, &st), MNEMO_OK);
    enum { N = 40 };
    mnemo_txn_key keys[N + 1];
    char names[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "k%d", i);
        keys[i] = (mnemo_txn_key){(unsigned)(i % 16), names[i], strlen(names[i])};
    }
    keys[N] = keys[3]; /* a repeat: locked once */
    mnemo_txn *t;
    ASSERT_EQ(mnemo_txn_begin(st, keys, N + 1, 0, &t), MNEMO_OK);
    for (int i = 0; i < N; i++)
        CHECK_EQ(mnemo_set(st, (unsigned)(i % 16), names[i], strlen(names[i]), "v", 1, NULL,
                           NULL, NULL),
                 MNEMO_OK);
    mnemo_txn_end(t);
    for (int i = 0; i < N; i++)
        check_value(st, (unsigned)(i % 16), names[i], "v");
    mnemo_store_free(st);
}

struct reader {
    mnemo_store *st;
    int stop;
    int torn;
    pthread_mutex_t mu;
};

static void *read_pair(void *arg)
{
    struct reader *r = arg;
    mnemo_key keys[2] = {{"x", 1}, {"y", 1}};
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        mnemo_value v[2];
        if (mnemo_mget(r->st, 0, keys, 2, v) != MNEMO_OK)
            continue;
        if (v[0].data && v[1].data &&
            (v[0].len != v[1].len || memcmp(v[0].data, v[1].data, v[0].len) != 0))
            r->torn++;
        mnemo_value_release(&v[0]);
        mnemo_value_release(&v[1]);
    }
    return NULL;
}

static void test_txn_is_atomic_for_readers(void)
{
    mnemo_store *st = open_store();
    mnemo_set(st, 0, "x", 1, "0", 1, NULL, NULL, NULL);
    mnemo_set(st, 0, "y", 1, "0", 1, NULL, NULL, NULL);
    struct reader r = {st, 0, 0, PTHREAD_MUTEX_INITIALIZER};
    pthread_t th;
    pthread_create(&th, NULL, read_pair, &r);
    mnemo_txn_key keys[2] = {{0, "x", 1}, {0, "y", 1}};
    char buf[16];
    for (int i = 0; i < 3000; i++) {
        mnemo_txn *t;
        ASSERT_EQ(mnemo_txn_begin(st, keys, 2, 0, &t), MNEMO_OK);
        snprintf(buf, sizeof(buf), "%d", i);
        mnemo_set(st, 0, "x", 1, buf, strlen(buf), NULL, NULL, NULL);
        mnemo_set(st, 0, "y", 1, buf, strlen(buf), NULL, NULL, NULL);
        mnemo_txn_end(t);
    }
    pthread_mutex_lock(&r.mu);
    r.stop = 1;
    pthread_mutex_unlock(&r.mu);
    pthread_join(th, NULL);
    CHECK_EQ(r.torn, 0);
    mnemo_store_free(st);
}

int main(void)
{
    TEST_RUN(test_rename);
    TEST_RUN(test_copy_move_swapdb);
    TEST_RUN(test_random_key_and_memory);
    TEST_RUN(test_txn_declared_keys);
    TEST_RUN(test_txn_is_atomic_for_readers);
    TEST_RUN(test_txn_on_a_large_store);
    return TEST_REPORT();
}
