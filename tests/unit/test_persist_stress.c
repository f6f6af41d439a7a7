/*
 * test_persist_stress.c — persistence under concurrency (also run under TSan): writer threads
 * make every kind of change on their own keys and on shared ones while another thread takes
 * background snapshots and switches the fsync policy; then the store is closed and reopened
 * and must come back byte-exact (values, versions, expirations), which holds only if the log
 * order of each key is its apply order and multi-key changes are whole records.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mnemo.h"
#include "test.h"

#define THREADS 4
#define OPS 3000

static mnemo_store *st;

static void *writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned seed = (unsigned)id * 2654435761u;
    char k[32], k2[32], v[64];
    for (int i = 0; i < OPS; i++) {
        seed = seed * 1103515245u + 12345u;
        int kl = snprintf(k, sizeof(k), "%s%d:%u", (seed >> 20) % 4 ? "t" : "shared",
                          (seed >> 20) % 4 ? id : 0, (seed >> 8) % 50);
        int vl = snprintf(v, sizeof(v), "v%d-%d", id, i);
        unsigned db = (seed >> 4) % 3;
        switch ((seed >> 12) % 9) {
        case 0:
        case 1:
            mnemo_set(st, db, k, (size_t)kl, v, (size_t)vl, NULL, NULL, NULL);
            break;
        case 2: {
            int64_t r;
            mnemo_incr(st, db, "ctr", 3, 1, &r);
            break;
        }
        case 3:
            mnemo_del(st, db, k, (size_t)kl);
            break;
        case 4:
            mnemo_expire(st, db, k, (size_t)kl, 1000000, 0);
            break;
        case 5: {
            int k2l = snprintf(k2, sizeof(k2), "t%d:ren%u", id, (seed >> 8) % 5);
            mnemo_rename(st, db, k, (size_t)kl, k2, (size_t)k2l, 0);
            break;
        }
        case 6: {
            mnemo_kv kvs[3] = {{k, (size_t)kl, v, (size_t)vl}, {"m1", 2, v, (size_t)vl},
                               {"m2", 2, v, (size_t)vl}};
            mnemo_mset(st, db, kvs, 3, NULL);
            break;
        }
        case 7: {
            mnemo_txn_key tk[2] = {{db, "a", 1}, {db, "b", 1}};
            mnemo_txn *t;
            if (mnemo_txn_begin(st, tk, 2, 0, &t) == MNEMO_OK) {
                mnemo_set(st, db, "a", 1, v, (size_t)vl, NULL, NULL, NULL);
                mnemo_set(st, db, "b", 1, v, (size_t)vl, NULL, NULL, NULL);
                mnemo_txn_end(t);
            }
            break;
        }
        default:
            mnemo_append(st, db, k, (size_t)kl, "+", 1, NULL);
        }
    }
    return NULL;
}

static unsigned ndbs = 3; /* databases the writers and dump() use */

static void *snapshotter(void *arg)
{
    int fast = arg != NULL;
    for (int i = 0; i < (fast ? 12 : 3); i++) {
        usleep(fast ? 3000 : 20000);
        int rc = mnemo_snapshot(st, i == 2);
        CHECK(rc == MNEMO_OK || rc == MNEMO_EBUSY);
        mnemo_persist_set_fsync(st, i % 2 ? MNEMO_FSYNC_EVERYSEC : MNEMO_FSYNC_ALWAYS);
    }
    return NULL;
}

typedef struct kvstate {
    char buf[1 << 22];
    size_t len;
    unsigned db;
} kvstate;

static kvstate before, after;
static char keys[20000][40];
static size_t nkeys;
static unsigned key_db[20000];

static void collect(void *ctx, const void *key, size_t klen)
{
    unsigned db = *(unsigned *)ctx;
    if (nkeys < 20000 && klen < 40) {
        memcpy(keys[nkeys], key, klen);
        keys[nkeys][klen] = 0;
        key_db[nkeys++] = db;
    }
}

static int cmp_keys(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (key_db[i] != key_db[j])
        return key_db[i] < key_db[j] ? -1 : 1;
    return strcmp(keys[i], keys[j]);
}

/* A canonical text of the whole state: sorted keys with value, version, expiry. */
static void dump(kvstate *s)
{
    nkeys = 0;
    for (unsigned db = 0; db < ndbs; db++)
        mnemo_keys(st, db, NULL, 0, collect, &db);
    size_t order[20000];
    for (size_t i = 0; i < nkeys; i++)
        order[i] = i;
    qsort(order, nkeys, sizeof(size_t), cmp_keys);
    s->len = 0;
    for (size_t n = 0; n < nkeys; n++) {
        size_t i = order[n];
        mnemo_value v;
        if (mnemo_get(st, key_db[i], keys[i], strlen(keys[i]), &v) != MNEMO_OK)
            continue;
        s->len += (size_t)snprintf(s->buf + s->len, sizeof(s->buf) - s->len,
                                   "%u %s=%s v%llu e%lld\n", key_db[i], keys[i],
                                   (char *)v.data, (unsigned long long)v.version,
                                   (long long)v.expire_at_ms);
        mnemo_value_release(&v);
    }
}

/* THREADS threads run `work` against a fresh persistent store of `databases` databases while
 * another takes snapshots (snapshotter(snap_arg)); then every key (dump) must come back the
 * same after closing and reopening. */
static void run_and_reopen(void *(*work)(void *), void *snap_arg, unsigned databases)
{
    char dir[] = "/tmp/mnemo-pstress-XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    mnemo_persist_config pc;
    mnemo_persist_config_init(&pc);
    pc.dir = dir;
    pc.fsync = MNEMO_FSYNC_NO;
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.databases = databases;
    cfg.shards = 8;
    cfg.persist = &pc;
    ASSERT_EQ(mnemo_store_open(&cfg, &st), MNEMO_OK);
    pthread_t th[THREADS + 1];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, work, (void *)(intptr_t)i);
    pthread_create(&th[THREADS], NULL, snapshotter, snap_arg);
    for (int i = 0; i <= THREADS; i++)
        pthread_join(th[i], NULL);
    dump(&before);
    CHECK(nkeys > 50);
    mnemo_store_free(st);
    ASSERT_EQ(mnemo_store_open(&cfg, &st), MNEMO_OK);
    dump(&after);
    CHECK_MEM_EQ(before.buf, before.len, after.buf, after.len);
    mnemo_store_free(st);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
}

static void test_concurrent_changes_survive_reopen(void)
{
    run_and_reopen(writer, NULL, 3);
}

/* Databases coming into use (store.c, store_db_use()) while snapshots fork and logged flushes
 * run: both lock only the databases in use and keep the others out of use meanwhile, so a
 * write to a database that comes into use lands in the snapshot or in the log after it, never
 * in neither; the state must come back byte-exact. */
static void *spreader(void *arg)
{
    int id = (int)(intptr_t)arg;
    char k[32], v[32];
    for (int i = 0; i < OPS; i++) {
        /* A new database every few hundred operations, as the run goes on. */
        unsigned db = 1 + (unsigned)((i / 200 + id) % 15);
        if (i % 100 == 0)
            usleep(500); /* spread over the snapshots (one every 3 ms) */
        int kl = snprintf(k, sizeof(k), "s%d:%d", id, i % 40);
        int vl = snprintf(v, sizeof(v), "v%d-%d", id, i);
        switch (i % 11) {
        case 3:
            mnemo_move(st, db, k, (size_t)kl, (db + 5) % 16);
            break;
        case 5:
            if (i % 143 == 5)
                mnemo_flush(st, (db + 7) % 16);
            break;
        case 7:
            if (i % 77 == 7)
                mnemo_swapdb(st, db, (db + 3) % 16);
            break;
        default:
            mnemo_set(st, db, k, (size_t)kl, v, (size_t)vl, NULL, NULL, NULL);
        }
    }
    return NULL;
}

static void test_databases_coming_into_use_during_snapshots(void)
{
    ndbs = 16;
    run_and_reopen(spreader, (void *)1, ndbs);
}

int main(void)
{
    TEST_RUN(test_concurrent_changes_survive_reopen);
    TEST_RUN(test_databases_coming_into_use_during_snapshots);
    return TEST_REPORT();
}
