/*
 * test_persist.c — persistence through the library: round trips of every kind of change
 * (values, TTLs, versions, databases, multi-key operations, transactions), expiry while
 * closed, torn tails, corruption, mnemo_persist_check, snapshots, fsync policies.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnemo.h"
#include "persist/manifest.h"
#include "test.h"

static char logbuf[65536];
static size_t loglen;

static void capture_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    (void)level;
    int n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", msg);
    if (n > 0 && loglen + (size_t)n < sizeof(logbuf))
        loglen += (size_t)n;
}

static int64_t fake_now = 1700000000000;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static char dir[256];
static mnemo_persist_config pcfg;
static int use_fake_clock;
static unsigned load_threads; /* 0: the default (the CPUs) */

static void new_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/mnemo-persist-XXXXXX");
    ASSERT(mkdtemp(dir) != NULL);
}

static void rm_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
}

static int open_store(mnemo_fsync mode, mnemo_store **st)
{
    mnemo_persist_config_init(&pcfg);
    pcfg.dir = dir;
    pcfg.fsync = mode;
    pcfg.log = capture_log;
    pcfg.load_threads = load_threads;
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.shards = 16;
    cfg.persist = &pcfg;
    if (use_fake_clock) {
        cfg.clock = fake_clock;
        cfg.background_thread = 0;
    }
    loglen = 0;
    logbuf[0] = 0;
    return mnemo_store_open(&cfg, st);
}

/* ---- a dump of the whole state, for byte-exact comparison ---------------------------------- */

typedef struct item {
    unsigned db;
    char *key;
    size_t klen;
    char *val;
    size_t vlen;
    uint64_t version;
    int64_t at;
} item;

typedef struct dump {
    item *v;
    size_t n, cap;
    mnemo_store *st;
    unsigned db;
} dump;

static void collect_key(void *ctx, const void *key, size_t klen)
{
    dump *d = ctx;
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 64;
        d->v = realloc(d->v, d->cap * sizeof(item));
    }
    item *it = &d->v[d->n++];
    it->db = d->db;
    it->key = malloc(klen + 1);
    memcpy(it->key, key, klen);
    it->klen = klen;
}

static int cmp_item(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->db != y->db)
        return x->db < y->db ? -1 : 1;
    size_t m = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, m);
    return c ? c : (x->klen < y->klen ? -1 : x->klen > y->klen);
}

static dump take_dump(mnemo_store *st)
{
    dump d = {0};
    d.st = st;
    for (unsigned db = 0; db < mnemo_databases(st); db++) {
        d.db = db;
        mnemo_keys(st, db, NULL, 0, collect_key, &d);
    }
    for (size_t i = 0; i < d.n; i++) {
        mnemo_value v;
        ASSERT_EQ(mnemo_get(st, d.v[i].db, d.v[i].key, d.v[i].klen, &v), MNEMO_OK);
        d.v[i].val = v.data;
        d.v[i].vlen = v.len;
        d.v[i].version = v.version;
        d.v[i].at = v.expire_at_ms;
    }
    qsort(d.v, d.n, sizeof(item), cmp_item);
    return d;
}

static void free_dump(dump *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].key);
        free(d->v[i].val);
    }
    free(d->v);
}

static void check_same(dump *a, dump *b)
{
    CHECK_EQ(a->n, b->n);
    for (size_t i = 0; i < a->n && i < b->n; i++) {
        CHECK_EQ(a->v[i].db, b->v[i].db);
        CHECK_MEM_EQ(a->v[i].key, a->v[i].klen, b->v[i].key, b->v[i].klen);
        CHECK_MEM_EQ(a->v[i].val, a->v[i].vlen, b->v[i].val, b->v[i].vlen);
        CHECK_U64_EQ(a->v[i].version, b->v[i].version);
        CHECK_EQ(a->v[i].at, b->v[i].at);
    }
}

/* Every kind of change the log carries. */
static void write_everything(mnemo_store *st)
{
    char big[100000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7);
    mnemo_set_opts ttl = {.ttl_ms = 3600 * 1000};
    ASSERT_EQ(mnemo_set(st, 0, "plain", 5, "value", 5, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "", 0, "empty key", 9, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "emptyval", 8, "", 0, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "bin\0key", 7, "\0\1\2\r\n", 5, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "big", 3, big, sizeof(big), NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 1, "ttl", 3, "x", 1, &ttl, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 1, "ttl2", 4, "x", 1, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_expire(st, 1, "ttl2", 4, 7200 * 1000, 0), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 1, "persisted", 9, "x", 1, &ttl, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_persist(st, 1, "persisted", 9), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 2, "gone", 4, "x", 1, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_del(st, 2, "gone", 4), MNEMO_OK);
    int64_t r;
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(mnemo_incr(st, 2, "counter", 7, 3, &r), MNEMO_OK);
    size_t nl;
    ASSERT_EQ(mnemo_append(st, 2, "app", 3, "abc", 3, &nl), MNEMO_OK);
    ASSERT_EQ(mnemo_append(st, 2, "app", 3, "def", 3, &nl), MNEMO_OK);
    ASSERT_EQ(mnemo_setrange(st, 2, "app", 3, 10, "z", 1, &nl), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 3, "src", 3, "moved", 5, &ttl, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_rename(st, 3, "src", 3, "dst", 3, 0), MNEMO_OK);
    ASSERT_EQ(mnemo_move(st, 3, "dst", 3, 4), MNEMO_OK);
    ASSERT_EQ(mnemo_copy(st, 4, "dst", 3, 5, "copy", 4, 0), MNEMO_OK);
    mnemo_kv kvs[3] = {{"m1", 2, "a", 1}, {"m2", 2, "b", 1}, {"m3", 2, "c", 1}};
    ASSERT_EQ(mnemo_mset(st, 6, kvs, 3, NULL), MNEMO_OK);
    mnemo_key dk[1] = {{"m2", 2}};
    ASSERT_EQ(mnemo_mdel(st, 6, dk, 1, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 7, "flushed", 7, "x", 1, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_flush(st, 7), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 8, "in8", 3, "x", 1, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_swapdb(st, 8, 9), MNEMO_OK);
    mnemo_txn_key tk[2] = {{10, "t1", 2}, {10, "t2", 2}};
    mnemo_txn *txn;
    ASSERT_EQ(mnemo_txn_begin(st, tk, 2, 0, &txn), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 10, "t1", 2, "one", 3, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 10, "t2", 2, "two", 3, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_incr(st, 10, "t1", 2, 1, &r) == MNEMO_ENOTINT, 1);
    mnemo_txn_end(txn);
    uint64_t d;
    ASSERT_EQ(mnemo_delete_matching(st, 0, "emp*", 4, &d), MNEMO_OK);
    CHECK_EQ(d, 1);
}

static void test_round_trip(void)
{
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    write_everything(st);
    dump before = take_dump(st);
    CHECK(before.n >= 15);
    mnemo_store_free(st);

    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    dump after = take_dump(st);
    check_same(&before, &after);
    /* New versions stay above every replayed one. */
    uint64_t v;
    ASSERT_EQ(mnemo_set(st, 0, "plain", 5, "new", 3, NULL, NULL, &v), MNEMO_OK);
    for (size_t i = 0; i < before.n; i++)
        CHECK(v > before.v[i].version);
    free_dump(&after);
    mnemo_store_free(st);

    /* And once more after a snapshot: snapshot + log gives the same state. */
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    ASSERT_EQ(mnemo_snapshot(st, 1), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 11, "after", 5, "snap", 4, NULL, NULL, NULL), MNEMO_OK);
    dump d2 = take_dump(st);
    mnemo_store_free(st);
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    dump d3 = take_dump(st);
    check_same(&d2, &d3);
    free_dump(&d2);
    free_dump(&d3);
    mnemo_store_free(st);
    free_dump(&before);
    rm_dir();
}

static void test_parallel_replay(void)
{
    /* Enough records for the appliers to run in parallel, across more than one batch, with
     * overwrites, deletes, TTL changes and barriers (FLUSHDB, SWAPDB) in between: the state
     * after replay with 4 threads and with 1 is the state that was written. */
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_NO, &st), MNEMO_OK);
    char k[32], v[32];
    for (int i = 0; i < 90000; i++) {
        int kn = snprintf(k, sizeof k, "k%d", i % 30000);
        int vn = snprintf(v, sizeof v, "v%d", i);
        unsigned db = (unsigned)(i % 3);
        ASSERT_EQ(mnemo_set(st, db, k, (size_t)kn, v, (size_t)vn, NULL, NULL, NULL), MNEMO_OK);
        if (i % 7 == 0)
            (void)mnemo_del(st, db, k, (size_t)kn);
        if (i % 11 == 0)
            (void)mnemo_expire(st, db, k, (size_t)kn, 3600 * 1000, 0);
        if (i == 40000)
            ASSERT_EQ(mnemo_flush(st, 2), MNEMO_OK);
        if (i == 70000)
            ASSERT_EQ(mnemo_swapdb(st, 0, 1), MNEMO_OK);
    }
    dump before = take_dump(st);
    CHECK(before.n > 20000);
    mnemo_store_free(st);
    unsigned threads[] = {4, 1};
    for (int r = 0; r < 2; r++) {
        load_threads = threads[r];
        ASSERT_EQ(open_store(MNEMO_FSYNC_NO, &st), MNEMO_OK);
        CHECK(strstr(logbuf, "90000") || strstr(logbuf, "records replayed"));
        dump after = take_dump(st);
        check_same(&before, &after);
        free_dump(&after);
        mnemo_store_free(st);
    }
    load_threads = 0;
    free_dump(&before);
    rm_dir();
}

static void test_expired_while_closed(void)
{
    use_fake_clock = 1;
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_NO, &st), MNEMO_OK);
    mnemo_set_opts ttl = {.ttl_ms = 1000};
    ASSERT_EQ(mnemo_set(st, 0, "short", 5, "x", 1, &ttl, NULL, NULL), MNEMO_OK);
    ttl.ttl_ms = 100000;
    ASSERT_EQ(mnemo_set(st, 0, "long", 4, "x", 1, &ttl, NULL, NULL), MNEMO_OK);
    mnemo_store_free(st);
    fake_now += 5000;
    ASSERT_EQ(open_store(MNEMO_FSYNC_NO, &st), MNEMO_OK);
    CHECK_EQ(mnemo_exists(st, 0, "short", 5), MNEMO_ENOTFOUND);
    CHECK_EQ(mnemo_exists(st, 0, "long", 4), MNEMO_OK);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 1);
    /* Also through a snapshot. */
    ASSERT_EQ(mnemo_snapshot(st, 1), MNEMO_OK);
    mnemo_store_free(st);
    fake_now += 200000;
    ASSERT_EQ(open_store(MNEMO_FSYNC_NO, &st), MNEMO_OK);
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 0);
    mnemo_store_free(st);
    rm_dir();
    use_fake_clock = 0;
}

static char *seg_path(int seq)
{
    static char p[512];
    snprintf(p, sizeof(p), "%s/appendonly.aof.%d.incr.mlog", dir, seq);
    return p;
}

static long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long)sb.st_size : -1;
}

/* The parent's side of a test that runs the store in a child: the child exited 0. */
static void child_exits_ok(pid_t pid)
{
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The child's side: the store opened, or the child exits with 2. */
static mnemo_store *child_open(mnemo_fsync mode)
{
    mnemo_store *st;
    if (open_store(mode, &st) != MNEMO_OK)
        _exit(2);
    return st;
}

static void fill(mnemo_store *st, int n)
{
    char k[32], v[64];
    for (int i = 0; i < n; i++) {
        int kl = snprintf(k, sizeof(k), "key:%d", i);
        int vl = snprintf(v, sizeof(v), "value-%d-%d", i, i * 31);
        ASSERT_EQ(mnemo_set(st, 0, k, (size_t)kl, v, (size_t)vl, NULL, NULL, NULL), MNEMO_OK);
    }
}

static void test_torn_tail(void)
{
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    fill(st, 100);
    mnemo_store_free(st);
    long good = file_size(seg_path(1));
    /* Cut the last record in half: a crash in the middle of writing it. */
    ASSERT_EQ(truncate(seg_path(1), good - 7), 0);
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    CHECK(strstr(logbuf, "torn record") != NULL);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 99);
    CHECK_EQ(mnemo_exists(st, 0, "key:98", 6), MNEMO_OK);
    CHECK_EQ(mnemo_exists(st, 0, "key:99", 6), MNEMO_ENOTFOUND);
    /* Writes after the repair continue the log. */
    ASSERT_EQ(mnemo_set(st, 0, "key:99", 6, "again", 5, NULL, NULL, NULL), MNEMO_OK);
    mnemo_store_free(st);
    /* A zero-filled tail (the size grew, the data never arrived) is torn as well. */
    int fd = open(seg_path(1), O_WRONLY | O_APPEND);
    char zeros[100] = {0};
    ASSERT_EQ(write(fd, zeros, sizeof(zeros)), (ssize_t)sizeof(zeros));
    close(fd);
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 100);
    mnemo_store_free(st);
    /* Every truncation point of the last record opens, with the earlier records intact. */
    long full = file_size(seg_path(1));
    for (long cut = full - 1; cut > full - 40; cut -= 3) {
        ASSERT_EQ(truncate(seg_path(1), cut), 0);
        ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
        mnemo_dbsize(st, 0, &n);
        CHECK(n == 99 || n == 100);
        CHECK_EQ(mnemo_exists(st, 0, "key:98", 6), MNEMO_OK);
        mnemo_store_free(st);
    }
    rm_dir();
}

/* A process killed while the journal copied records into the mapped segment leaves whole
 * records, part of one, then zeros (the copy runs in address order): every such state opens,
 * cut back to the last whole record. The same part followed by anything but zeros is damage. */
static void test_killed_mid_copy(void)
{
    new_dir();
    mnemo_store *st;
    uint64_t n;
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    fill(st, 100);
    mnemo_store_free(st);
    /* Part of the last record's payload, then zeros. */
    long full = file_size(seg_path(1));
    ASSERT_EQ(truncate(seg_path(1), full - 30), 0);
    ASSERT_EQ(truncate(seg_path(1), full + 4096), 0);
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    CHECK(strstr(logbuf, "torn record") != NULL);
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 99);
    mnemo_store_free(st);
    long good = file_size(seg_path(1)); /* cut back to key:98's record, and closed */
    CHECK(good < full - 30);
    /* Part of the last record's header (11 of its 20 bytes), then zeros. */
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "key:99", 6, "again", 5, NULL, NULL, NULL), MNEMO_OK);
    mnemo_store_free(st);
    long with = file_size(seg_path(1));
    ASSERT_EQ(truncate(seg_path(1), good + 11), 0);
    ASSERT_EQ(truncate(seg_path(1), with + 100), 0);
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    CHECK(strstr(logbuf, "incomplete record header") != NULL);
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 99);
    ASSERT_EQ(mnemo_set(st, 0, "key:99", 6, "again", 5, NULL, NULL, NULL), MNEMO_OK);
    mnemo_store_free(st);
    /* Part of a record followed by bytes that are not zeros: damage, refused. */
    with = file_size(seg_path(1));
    ASSERT_EQ(truncate(seg_path(1), with - 9), 0);
    int fd = open(seg_path(1), O_WRONLY | O_APPEND);
    char junk[64];
    memset(junk, 0x5a, sizeof(junk));
    ASSERT_EQ(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    CHECK_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_ECORRUPT);
    rm_dir();
}

/* A flush with the log on (every shard of the range locked, one FLUSH record) gives its
 * memory back to the ceiling at once, as one without the log does: under noeviction a full
 * store takes writes again right after FLUSHALL. */
static void test_logged_flush_releases_memory(void)
{
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    ASSERT_EQ(mnemo_set_eviction_policy(st, MNEMO_POLICY_NOEVICTION), MNEMO_OK);
    mnemo_stats s;
    ASSERT_EQ(mnemo_store_stats(st, &s), MNEMO_OK);
    ASSERT_EQ(mnemo_set_maxmemory(st, s.memory_used + ((uint64_t)2 << 20)), MNEMO_OK);
    char k[32], v[100];
    memset(v, 'v', sizeof(v));
    int i, rc = MNEMO_OK;
    for (i = 0; i < 1000000 && rc == MNEMO_OK; i++) {
        int kl = snprintf(k, sizeof(k), "full:%d", i);
        rc = mnemo_set(st, 0, k, (size_t)kl, v, sizeof(v), NULL, NULL, NULL);
    }
    CHECK_EQ(rc, MNEMO_ENOSPACE);
    ASSERT_EQ(mnemo_flush_all(st), MNEMO_OK);
    CHECK_EQ(mnemo_set(st, 0, "after", 5, v, sizeof(v), NULL, NULL, NULL), MNEMO_OK);
    mnemo_store_free(st);
    rm_dir();
}

/* A process that ends without closing the store leaves the preallocated rest of the mapped
 * segment behind it: the next open keeps every record and cuts the space off. */
static void test_exit_without_close(void)
{
    new_dir();
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        mnemo_store *st = child_open(MNEMO_FSYNC_EVERYSEC);
        fill(st, 300);
        if (mnemo_log_flush(st) != MNEMO_OK)
            _exit(3);
        _exit(0); /* no close: as if killed after the replies went out */
    }
    child_exits_ok(pid);
    long left = file_size(seg_path(1));
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 300);
    CHECK(strstr(logbuf, "preallocated space") != NULL);
    CHECK(strstr(logbuf, "torn record") == NULL);
    mnemo_store_free(st);
    CHECK(file_size(seg_path(1)) < left); /* closed: the file ends with its records */
    rm_dir();
}

/* Rotations that come faster than the log thread syncs the segments they retire (the journal
 * keeps four) used to be refused, and a refused rotation left the new segment with the header
 * written for it, claiming the records that went on into the old segment: the next open
 * refused ("segment does not start at the LSN the manifest gives"). Now the snapshot syncs
 * the retired segments first, and a rotation refused for another reason (an I/O error) empties
 * the new segment and takes it out of the manifest again. The child ends without closing, as a
 * killed process would. */
static void test_rapid_rotations(void)
{
    new_dir();
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        mnemo_store *st = child_open(MNEMO_FSYNC_EVERYSEC);
        char k[32];
        for (int i = 0; i < 12; i++) {
            int kl = snprintf(k, sizeof(k), "k%d", i);
            if (mnemo_set(st, 0, k, (size_t)kl, "v", 1, NULL, NULL, NULL) != MNEMO_OK)
                _exit(3);
            if (mnemo_snapshot(st, 1) != MNEMO_OK)
                _exit(4); /* a rotation refused */
        }
        if (mnemo_set(st, 0, "after", 5, "x", 1, NULL, NULL, NULL) != MNEMO_OK ||
            mnemo_log_flush(st) != MNEMO_OK)
            _exit(5);
        _exit(0);
    }
    child_exits_ok(pid);
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 13);
    CHECK_EQ(mnemo_exists(st, 0, "after", 5), MNEMO_OK);
    CHECK_EQ(mnemo_exists(st, 0, "k11", 3), MNEMO_OK);
    /* And it goes on: a rotation now is taken, and the next open has everything too. */
    CHECK_EQ(mnemo_snapshot(st, 1), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "later", 5, "y", 1, NULL, NULL, NULL), MNEMO_OK);
    mnemo_store_free(st);
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 14);
    mnemo_store_free(st);
    rm_dir();
}

/* A segment the manifest names but nothing was ever written to (a refused rotation whose
 * manifest could not be taken back) is skipped by the load and by mnemo_persist_check: the
 * segment after it still has to start where the records before it ended. */
static void test_empty_named_segment(void)
{
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    fill(st, 100);
    mnemo_store_free(st);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    ASSERT(dfd >= 0);
    manifest m;
    char why[128];
    ASSERT_EQ(manifest_read(dfd, "appendonly.aof", &m, why, sizeof(why)), 0);
    ASSERT_EQ(m.nlogs, 1);
    /* [empty, the real one]: the empty one takes the first LSN, the real one continues. */
    memcpy(m.logs[1], m.logs[0], sizeof(m.logs[0]));
    m.first[1] = 0;
    manifest_log_name("appendonly.aof", m.seq, m.logs[0], sizeof(m.logs[0]));
    m.seq++;
    m.nlogs = 2;
    int efd = openat(dfd, m.logs[0], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT(efd >= 0);
    close(efd);
    ASSERT_EQ(manifest_write(dfd, "appendonly.aof", &m), 0);
    close(dfd);
    int summary = -1;
    loglen = 0;
    ASSERT_EQ(mnemo_persist_check(&pcfg, 0, &summary), MNEMO_OK);
    CHECK_EQ(summary, 0);
    CHECK(strstr(logbuf, "never written") != NULL);
    loglen = 0;
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 100);
    CHECK(strstr(logbuf, "is empty: skipped") != NULL);
    mnemo_store_free(st);
    rm_dir();
}

/* Where the segment cannot be preallocated (here: a file size limit below the mapping
 * window), the journal writes with pwrite(2) instead, and nothing is lost. */
static void test_unmappable_segment_uses_pwrite(void)
{
    new_dir();
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {256 << 10, 256 << 10};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(4);
        mnemo_store *st = child_open(MNEMO_FSYNC_EVERYSEC);
        fill(st, 500);
        int pw = strstr(logbuf, "pwrite(2)") != NULL;
        mnemo_store_free(st);
        _exit(pw ? 0 : 3);
    }
    child_exits_ok(pid);
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 500);
    CHECK_EQ(mnemo_exists(st, 0, "key:499", 7), MNEMO_OK);
    mnemo_store_free(st);
    rm_dir();
}

/* Under always, the log thread writes zeros ahead of the records (so that a commit's sync
 * changes no file-system metadata). A process killed with them there loses nothing: the next
 * open reads them as preallocated space and cuts them off, as a clean close does. */
static void test_always_prefilled_tail(void)
{
    new_dir();
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        mnemo_store *st = child_open(MNEMO_FSYNC_ALWAYS);
        fill(st, 300); /* each call returns with its change durable */
        for (int i = 0; i < 400 && file_size(seg_path(1)) < (64L << 10); i++)
            usleep(5000);
        _exit(file_size(seg_path(1)) >= (64L << 10) ? 0 : 3); /* no close: a kill */
    }
    child_exits_ok(pid);
    long left = file_size(seg_path(1));
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_ALWAYS, &st), MNEMO_OK);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 300);
    CHECK_EQ(mnemo_exists(st, 0, "key:299", 7), MNEMO_OK);
    CHECK(strstr(logbuf, "preallocated space") != NULL);
    CHECK(strstr(logbuf, "torn record") == NULL);
    fill(st, 400);
    mnemo_store_free(st);
    long closed = file_size(seg_path(1));
    CHECK(closed < left && closed < (48L << 10)); /* closed: the file ends with its records */
    ASSERT_EQ(open_store(MNEMO_FSYNC_ALWAYS, &st), MNEMO_OK);
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 400);
    CHECK(strstr(logbuf, "preallocated space") == NULL);
    mnemo_store_free(st);
    rm_dir();
}

/* Where the zeros cannot be written (here: a file size limit), the records still are. */
static void test_always_prefill_refused(void)
{
    new_dir();
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {160 << 10, 160 << 10};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(4);
        mnemo_store *st = child_open(MNEMO_FSYNC_ALWAYS);
        fill(st, 500);
        usleep(50000); /* the log thread's attempts */
        fill(st, 1000);
        mnemo_store_free(st);
        _exit(0);
    }
    child_exits_ok(pid);
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_ALWAYS, &st), MNEMO_OK);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 1000);
    CHECK_EQ(mnemo_exists(st, 0, "key:999", 7), MNEMO_OK);
    mnemo_store_free(st);
    rm_dir();
}

static void flip_byte(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    ASSERT_EQ(pread(fd, &c, 1, off), 1);
    c ^= 0x10;
    ASSERT_EQ(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void test_corruption_refused_and_fixed(void)
{
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    fill(st, 200);
    mnemo_store_free(st);
    long size = file_size(seg_path(1));
    /* Every byte position in the first records: a flip before the tail is refused. */
    for (long off = 32; off < 32 + 120; off += 5) {
        flip_byte(seg_path(1), off);
        int rc = open_store(MNEMO_FSYNC_EVERYSEC, &st);
        CHECK_EQ(rc, MNEMO_ECORRUPT);
        CHECK(strstr(logbuf, "appendonly.aof.1.incr.mlog is corrupt at offset") != NULL);
        if (rc == MNEMO_OK)
            mnemo_store_free(st);
        flip_byte(seg_path(1), off);
    }
    flip_byte(seg_path(1), size / 2);
    CHECK_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_ECORRUPT);
    int summary = -1;
    ASSERT_EQ(mnemo_persist_check(&pcfg, 0, &summary), MNEMO_OK);
    CHECK_EQ(summary, 2);
    CHECK(strstr(logbuf, "CORRUPT at offset") != NULL);
    CHECK_EQ(file_size(seg_path(1)), size); /* report only */
    ASSERT_EQ(mnemo_persist_check(&pcfg, 1, &summary), MNEMO_OK);
    CHECK_EQ(summary, 0);
    CHECK(file_size(seg_path(1)) < size);
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK(n > 50 && n < 200); /* the prefix before the damage */
    CHECK_EQ(mnemo_exists(st, 0, "key:0", 5), MNEMO_OK);
    mnemo_store_free(st);
    ASSERT_EQ(mnemo_persist_check(&pcfg, 0, &summary), MNEMO_OK);
    CHECK_EQ(summary, 0);
    rm_dir();
}

static void test_snapshot_files(void)
{
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    fill(st, 5000);
    CHECK_EQ(mnemo_snapshot(st, 1), MNEMO_OK);
    mnemo_persist_info pi;
    mnemo_persist_info_get(st, &pi);
    CHECK_EQ(pi.snapshots, 1);
    CHECK(pi.base_bytes > 5000 * 10);
    CHECK_EQ(pi.changes_since_save, 0);
    CHECK_EQ(file_size(seg_path(1)), -1); /* the log before the snapshot is gone */
    ASSERT_EQ(mnemo_set(st, 0, "later", 5, "x", 1, NULL, NULL, NULL), MNEMO_OK);
    mnemo_persist_info_get(st, &pi);
    CHECK_EQ(pi.changes_since_save, 1);
    /* A background one, then another right away: busy until the first is reaped. */
    CHECK_EQ(mnemo_snapshot(st, 0), MNEMO_OK);
    int rc = mnemo_snapshot(st, 0);
    CHECK(rc == MNEMO_EBUSY || rc == MNEMO_OK);
    /* A foreground one waits for the background one, then takes its own. */
    uint64_t before = pi.snapshots;
    CHECK_EQ(mnemo_snapshot(st, 1), MNEMO_OK);
    mnemo_persist_info_get(st, &pi);
    CHECK(pi.snapshots >= before + 2);
    for (int i = 0; i < 200; i++) {
        mnemo_persist_info_get(st, &pi);
        if (!pi.snapshot_in_progress)
            break;
        usleep(20000);
    }
    mnemo_store_free(st);
    ASSERT_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_OK);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 5001);
    mnemo_store_free(st);
    int summary = -1;
    ASSERT_EQ(mnemo_persist_check(&pcfg, 0, &summary), MNEMO_OK);
    CHECK_EQ(summary, 0);

    /* A damaged snapshot is refused and reported. */
    DIR *dd = opendir(dir);
    struct dirent *de;
    char snap[600] = "";
    while ((de = readdir(dd)))
        if (strstr(de->d_name, ".msnap") && !strstr(de->d_name, ".tmp"))
            snprintf(snap, sizeof(snap), "%s/%s", dir, de->d_name);
    closedir(dd);
    ASSERT(snap[0]);
    flip_byte(snap, file_size(snap) / 2);
    CHECK_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_ECORRUPT);
    CHECK(strstr(logbuf, "is corrupt at offset") != NULL);
    ASSERT_EQ(mnemo_persist_check(&pcfg, 0, &summary), MNEMO_OK);
    CHECK_EQ(summary, 2);
    flip_byte(snap, file_size(snap) / 2);
    ASSERT_EQ(truncate(snap, file_size(snap) - 10), 0);
    CHECK_EQ(open_store(MNEMO_FSYNC_EVERYSEC, &st), MNEMO_ECORRUPT);
    rm_dir();
}

static void test_directory_lock(void)
{
    new_dir();
    mnemo_store *a, *b;
    ASSERT_EQ(open_store(MNEMO_FSYNC_NO, &a), MNEMO_OK);
    CHECK_EQ(open_store(MNEMO_FSYNC_NO, &b), MNEMO_EBUSY);
    mnemo_store_free(a);
    ASSERT_EQ(open_store(MNEMO_FSYNC_NO, &b), MNEMO_OK);
    mnemo_store_free(b);
    rm_dir();
}

/* Under always, every call returns with its change durable; threads share fsyncs. */
typedef struct wargs {
    mnemo_store *st;
    int id, n, bad;
} wargs;

static void *always_writer(void *arg)
{
    wargs *w = arg;
    char k[32];
    for (int i = 0; i < w->n; i++) {
        int kl = snprintf(k, sizeof(k), "w%d:%d", w->id, i);
        uint64_t before = mnemo_log_lsn(w->st, MNEMO_LSN_APPENDED);
        if (mnemo_set(w->st, 0, k, (size_t)kl, "v", 1, NULL, NULL, NULL) != MNEMO_OK)
            w->bad++;
        /* This call's record got an LSN above `before`, and is durable when it returns. */
        if (mnemo_log_lsn(w->st, MNEMO_LSN_DURABLE) <= before)
            w->bad++;
    }
    return NULL;
}

static void test_always_group_commit(void)
{
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(open_store(MNEMO_FSYNC_ALWAYS, &st), MNEMO_OK);
    pthread_t th[4];
    wargs w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (wargs){st, i, 200, 0};
        pthread_create(&th[i], NULL, always_writer, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(w[i].bad, 0);
    }
    uint64_t app = mnemo_log_lsn(st, MNEMO_LSN_APPENDED);
    CHECK_EQ(app, 800);
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_DURABLE), 800);
    mnemo_persist_info pi;
    mnemo_persist_info_get(st, &pi);
    CHECK_EQ(pi.fsync, MNEMO_FSYNC_ALWAYS);
    CHECK(pi.last_write_ok);
    /* Switching policy at run time. */
    ASSERT_EQ(mnemo_persist_set_fsync(st, MNEMO_FSYNC_EVERYSEC), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "x", 1, "y", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK(mnemo_log_lsn(st, MNEMO_LSN_WRITTEN) >= 801);
    ASSERT_EQ(mnemo_log_wait(st, 801), MNEMO_OK);
    CHECK(mnemo_log_lsn(st, MNEMO_LSN_DURABLE) >= 801);
    mnemo_store_free(st);
    ASSERT_EQ(open_store(MNEMO_FSYNC_ALWAYS, &st), MNEMO_OK);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 801);
    mnemo_store_free(st);
    rm_dir();
}

static void test_async_commit(void)
{
    new_dir();
    mnemo_persist_config_init(&pcfg);
    pcfg.dir = dir;
    pcfg.fsync = MNEMO_FSYNC_EVERYSEC;
    pcfg.async_commit = 1;
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.persist = &pcfg;
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(&cfg, &st), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "a", 1, "b", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_APPENDED), 1);
    ASSERT_EQ(mnemo_log_flush(st), MNEMO_OK);
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_WRITTEN), 1);
    ASSERT_EQ(mnemo_log_wait(st, 1), MNEMO_OK);
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_DURABLE), 1);
    mnemo_store_free(st);
    rm_dir();
}

/* always + async_commit: the committers lead the group commit (mnemo_log_sync), as the
 * server's workers do; the durable callback runs on whichever thread synced. */
static _Atomic uint64_t lead_last_durable;

static void lead_on_durable(void *ctx, uint64_t lsn)
{
    (void)ctx;
    uint64_t cur = atomic_load(&lead_last_durable); /* two syncs may announce out of order */
    while (cur < lsn && !atomic_compare_exchange_weak(&lead_last_durable, &cur, lsn)) {
    }
}

typedef struct lead_arg {
    mnemo_store *st;
    int id, bad, busy;
} lead_arg;

static void *lead_writer(void *p)
{
    lead_arg *a = p;
    char k[32];
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof(k), "t%d:%d", a->id, i);
        if (mnemo_set(a->st, 0, k, strlen(k), "v", 1, NULL, NULL, NULL) != MNEMO_OK)
            a->bad++;
        uint64_t lsn = mnemo_log_lsn(a->st, MNEMO_LSN_APPENDED);
        int rc = mnemo_log_sync(a->st, i % 2);
        if (rc == MNEMO_EBUSY) {
            a->busy++;
            if (i % 2 || mnemo_log_wait(a->st, lsn) != MNEMO_OK)
                a->bad++; /* EBUSY only without waiting; then waiting must work */
        } else if (rc != MNEMO_OK) {
            a->bad++;
        }
        if (mnemo_log_lsn(a->st, MNEMO_LSN_DURABLE) < lsn)
            a->bad++;
    }
    return NULL;
}

static void test_async_commit_leaders(void)
{
    new_dir();
    mnemo_persist_config_init(&pcfg);
    pcfg.dir = dir;
    pcfg.fsync = MNEMO_FSYNC_ALWAYS;
    pcfg.async_commit = 1;
    pcfg.on_durable = lead_on_durable;
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.persist = &pcfg;
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(&cfg, &st), MNEMO_OK);
    /* Nothing to sync: no error, nothing announced. */
    CHECK_EQ(mnemo_log_sync(st, 0), MNEMO_OK);
    CHECK_EQ(mnemo_log_sync(st, 1), MNEMO_OK);
    /* A commit nobody leads is synced by the log thread's sweep. */
    ASSERT_EQ(mnemo_set(st, 0, "swept", 5, "v", 1, NULL, NULL, NULL), MNEMO_OK);
    for (int i = 0; i < 1000 && mnemo_log_lsn(st, MNEMO_LSN_DURABLE) < 1; i++)
        usleep(10000);
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_DURABLE), 1);
    /* Waiting wakes the log thread rather than waiting for its sweep. */
    ASSERT_EQ(mnemo_set(st, 0, "waited", 6, "v", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_log_wait(st, 2), MNEMO_OK);
    enum { NT = 4 };
    pthread_t th[NT];
    lead_arg a[NT];
    for (int i = 0; i < NT; i++) {
        a[i] = (lead_arg){st, i, 0, 0};
        pthread_create(&th[i], NULL, lead_writer, &a[i]);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(a[i].bad, 0);
    }
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_APPENDED), 2 + NT * 200);
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_DURABLE), 2 + NT * 200);
    CHECK_EQ(atomic_load(&lead_last_durable), 2 + NT * 200);
    /* Each sync that made something durable was one counted fdatasync (the log thread's
     * sweeps and refills add a few). */
    mnemo_persist_info pi;
    ASSERT_EQ(mnemo_persist_info_get(st, &pi), MNEMO_OK);
    CHECK(pi.fsyncs >= 2 && pi.fsyncs <= 2 + NT * 200 + 64);
    mnemo_store_free(st);
    pcfg.on_durable = NULL;
    ASSERT_EQ(mnemo_store_open(&cfg, &st), MNEMO_OK);
    uint64_t n;
    mnemo_dbsize(st, 0, &n);
    CHECK_EQ(n, 2 + NT * 200);
    mnemo_store_free(st);
    rm_dir();
}

static void test_in_memory_unchanged(void)
{
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(NULL, &st), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "a", 1, "b", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_APPENDED), 0);
    CHECK_EQ(mnemo_snapshot(st, 1), MNEMO_EINVAL);
    mnemo_persist_info pi;
    CHECK_EQ(mnemo_persist_info_get(st, &pi), MNEMO_OK);
    CHECK_EQ(pi.enabled, 0);
    mnemo_store_free(st);
}

/* ---- modes: snapshots only, switching the log at run time, attaching ----------------------- */

static int open_mode(mnemo_persist_mode mode, mnemo_store **st)
{
    mnemo_persist_config_init(&pcfg);
    pcfg.dir = dir;
    pcfg.mode = mode;
    pcfg.log = capture_log;
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.shards = 16;
    cfg.persist = &pcfg;
    loglen = 0;
    logbuf[0] = 0;
    return mnemo_store_open(&cfg, st);
}

/* Files in dir whose name contains `part`. */
static int count_files(const char *part)
{
    DIR *dd = opendir(dir);
    struct dirent *de;
    int n = 0;
    while (dd && (de = readdir(dd)))
        if (strstr(de->d_name, part))
            n++;
    if (dd)
        closedir(dd);
    return n;
}

static uint64_t keys_in(mnemo_store *st)
{
    uint64_t n = 0;
    mnemo_dbsize(st, 0, &n);
    return n;
}

static void wait_log_state(mnemo_store *st, int want)
{
    for (int i = 0; i < 3000 && mnemo_log_state(st) != want; i++)
        usleep(10000);
    CHECK_EQ(mnemo_log_state(st), want);
}

static void test_snapshots_only_mode(void)
{
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(open_mode(MNEMO_PERSIST_SNAPSHOTS, &st), MNEMO_OK);
    fill(st, 100);
    CHECK_EQ(mnemo_log_state(st), MNEMO_LOGSTATE_OFF);
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_APPENDED), 0);
    CHECK_EQ(count_files(".mlog"), 0);
    mnemo_persist_info pi;
    mnemo_persist_info_get(st, &pi);
    CHECK_EQ(pi.enabled, 1);
    CHECK_EQ(pi.mode, MNEMO_PERSIST_SNAPSHOTS);
    CHECK_EQ(pi.changes_since_save, 100);
    CHECK_EQ(mnemo_snapshot(st, 1), MNEMO_OK);
    mnemo_persist_info_get(st, &pi);
    CHECK_EQ(pi.changes_since_save, 0);
    ASSERT_EQ(mnemo_set(st, 0, "unsaved", 7, "x", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(count_files(".mlog"), 0);
    mnemo_store_free(st);

    /* A restart loads the last snapshot; what followed it is gone. */
    ASSERT_EQ(open_mode(MNEMO_PERSIST_SNAPSHOTS, &st), MNEMO_OK);
    CHECK_EQ(keys_in(st), 100);
    mnemo_store_free(st);
    int summary = -1;
    ASSERT_EQ(mnemo_persist_check(&pcfg, 0, &summary), MNEMO_OK);
    CHECK_EQ(summary, 0);

    /* The log mode over a snapshots-only directory: a log starts after the snapshot. */
    ASSERT_EQ(open_mode(MNEMO_PERSIST_LOG, &st), MNEMO_OK);
    CHECK_EQ(keys_in(st), 100);
    CHECK_EQ(count_files(".mlog"), 1);
    ASSERT_EQ(mnemo_set(st, 0, "logged", 6, "y", 1, NULL, NULL, NULL), MNEMO_OK);
    mnemo_store_free(st);

    /* Snapshots only over a logged directory: everything is loaded, nothing more is logged,
     * and the next snapshot drops the log. */
    ASSERT_EQ(open_mode(MNEMO_PERSIST_SNAPSHOTS, &st), MNEMO_OK);
    CHECK_EQ(keys_in(st), 101);
    ASSERT_EQ(mnemo_set(st, 0, "more", 4, "z", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_APPENDED), 0);
    CHECK_EQ(mnemo_snapshot(st, 1), MNEMO_OK);
    CHECK_EQ(count_files(".mlog"), 0);
    CHECK_EQ(count_files(".msnap"), 1);
    mnemo_store_free(st);
    ASSERT_EQ(open_mode(MNEMO_PERSIST_SNAPSHOTS, &st), MNEMO_OK);
    CHECK_EQ(keys_in(st), 102);
    mnemo_store_free(st);
    rm_dir();
}

static void test_switch_log_at_run_time(void)
{
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(open_mode(MNEMO_PERSIST_SNAPSHOTS, &st), MNEMO_OK);
    fill(st, 2000);
    ASSERT_EQ(mnemo_persist_set_mode(st, MNEMO_PERSIST_LOG), MNEMO_OK);
    CHECK(mnemo_log_state(st) != MNEMO_LOGSTATE_OFF);
    /* A library commit returns only once its change is recoverable, even while the base
     * snapshot is being written. */
    ASSERT_EQ(mnemo_set(st, 0, "during", 6, "1", 1, NULL, NULL, NULL), MNEMO_OK);
    uint64_t lsn = mnemo_log_lsn(st, MNEMO_LSN_APPENDED);
    CHECK(lsn >= 1);
    CHECK(mnemo_log_lsn(st, MNEMO_LSN_DURABLE) >= lsn || mnemo_log_state(st) ==
          MNEMO_LOGSTATE_ON);
    wait_log_state(st, MNEMO_LOGSTATE_ON);
    CHECK_EQ(mnemo_persist_set_mode(st, MNEMO_PERSIST_LOG), MNEMO_OK); /* already on */
    ASSERT_EQ(mnemo_set(st, 0, "after", 5, "2", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(count_files(".mlog"), 1);
    mnemo_store_free(st);
    ASSERT_EQ(open_mode(MNEMO_PERSIST_LOG, &st), MNEMO_OK);
    CHECK_EQ(keys_in(st), 2002);

    /* Off: the files hold the state as of the switch; later changes are not logged. */
    ASSERT_EQ(mnemo_set(st, 0, "before-off", 10, "3", 1, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_persist_set_mode(st, MNEMO_PERSIST_SNAPSHOTS), MNEMO_OK);
    CHECK_EQ(mnemo_log_state(st), MNEMO_LOGSTATE_OFF);
    lsn = mnemo_log_lsn(st, MNEMO_LSN_APPENDED);
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_DURABLE), lsn);
    ASSERT_EQ(mnemo_set(st, 0, "after-off", 9, "4", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_APPENDED), lsn);
    /* On again: LSNs go on from where the log stopped. */
    ASSERT_EQ(mnemo_persist_set_mode(st, MNEMO_PERSIST_LOG), MNEMO_OK);
    wait_log_state(st, MNEMO_LOGSTATE_ON);
    ASSERT_EQ(mnemo_set(st, 0, "on-again", 8, "5", 1, NULL, NULL, NULL), MNEMO_OK);
    CHECK_EQ(mnemo_log_lsn(st, MNEMO_LSN_APPENDED), lsn + 1);
    mnemo_store_free(st);
    ASSERT_EQ(open_mode(MNEMO_PERSIST_LOG, &st), MNEMO_OK);
    CHECK_EQ(keys_in(st), 2005);
    /* Closed while a switch-on is starting: close waits for its snapshot. */
    ASSERT_EQ(mnemo_persist_set_mode(st, MNEMO_PERSIST_SNAPSHOTS), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "unlogged", 8, "7", 1, NULL, NULL, NULL), MNEMO_OK);
    ASSERT_EQ(mnemo_persist_set_mode(st, MNEMO_PERSIST_LOG), MNEMO_OK);
    mnemo_store_free(st);
    ASSERT_EQ(open_mode(MNEMO_PERSIST_LOG, &st), MNEMO_OK);
    CHECK_EQ(keys_in(st), 2006);
    ASSERT_EQ(mnemo_del(st, 0, "unlogged", 8), MNEMO_OK);
    /* Off, then closed without a snapshot: what followed the switch is lost. */
    ASSERT_EQ(mnemo_persist_set_mode(st, MNEMO_PERSIST_SNAPSHOTS), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "lost", 4, "6", 1, NULL, NULL, NULL), MNEMO_OK);
    mnemo_store_free(st);
    ASSERT_EQ(open_mode(MNEMO_PERSIST_SNAPSHOTS, &st), MNEMO_OK);
    CHECK_EQ(keys_in(st), 2005);
    mnemo_store_free(st);
    int summary = -1;
    ASSERT_EQ(mnemo_persist_check(&pcfg, 0, &summary), MNEMO_OK);
    CHECK_EQ(summary, 0);
    rm_dir();
}

static void test_attach_at_run_time(void)
{
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(mnemo_store_open(NULL, &st), MNEMO_OK);
    fill(st, 500);
    mnemo_persist_config pc;
    mnemo_persist_config_init(&pc);
    pc.dir = dir;
    pc.log = capture_log;
    CHECK_EQ(mnemo_log_state(st), MNEMO_LOGSTATE_OFF);
    ASSERT_EQ(mnemo_persist_attach(st, &pc), MNEMO_OK);
    CHECK_EQ(mnemo_persist_attach(st, &pc), MNEMO_EBUSY);
    ASSERT_EQ(mnemo_set(st, 0, "x", 1, "1", 1, NULL, NULL, NULL), MNEMO_OK);
    wait_log_state(st, MNEMO_LOGSTATE_ON);
    ASSERT_EQ(mnemo_set(st, 0, "y", 1, "2", 1, NULL, NULL, NULL), MNEMO_OK);
    mnemo_store_free(st);
    ASSERT_EQ(open_mode(MNEMO_PERSIST_LOG, &st), MNEMO_OK);
    CHECK_EQ(keys_in(st), 502);
    mnemo_store_free(st);

    /* Snapshots only: nothing is written before the first snapshot, which replaces what the
     * directory held. */
    ASSERT_EQ(mnemo_store_open(NULL, &st), MNEMO_OK);
    fill(st, 10);
    pc.mode = MNEMO_PERSIST_SNAPSHOTS;
    ASSERT_EQ(mnemo_persist_attach(st, &pc), MNEMO_OK);
    CHECK(strstr(logbuf, "already holds a state") != NULL);
    mnemo_persist_info pi;
    mnemo_persist_info_get(st, &pi);
    CHECK_EQ(pi.changes_since_save, 10);
    CHECK_EQ(mnemo_snapshot(st, 1), MNEMO_OK);
    CHECK_EQ(count_files(".mlog"), 0);
    mnemo_store_free(st);
    ASSERT_EQ(open_mode(MNEMO_PERSIST_SNAPSHOTS, &st), MNEMO_OK);
    CHECK_EQ(keys_in(st), 10);
    mnemo_store_free(st);
    rm_dir();
}

/* load_progress: reports reach the total, which is the size of the files loaded. */
static _Atomic uint64_t prog_calls, prog_done, prog_total;

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    atomic_fetch_add(&prog_calls, 1);
    uint64_t cur = atomic_load(&prog_done);
    while (cur < done && !atomic_compare_exchange_weak(&prog_done, &cur, done)) {
    }
    atomic_store(&prog_total, total);
}

static void test_load_progress(void)
{
    new_dir();
    mnemo_store *st;
    ASSERT_EQ(open_mode(MNEMO_PERSIST_LOG, &st), MNEMO_OK);
    fill(st, 3000);
    CHECK_EQ(mnemo_snapshot(st, 1), MNEMO_OK);
    ASSERT_EQ(mnemo_set(st, 0, "logged", 6, "x", 1, NULL, NULL, NULL), MNEMO_OK);
    mnemo_store_free(st);
    mnemo_persist_config_init(&pcfg);
    pcfg.dir = dir;
    pcfg.load_progress = on_progress;
    pcfg.load_key_delay_us = 1;
    mnemo_config cfg;
    mnemo_config_init(&cfg);
    cfg.shards = 16;
    cfg.persist = &pcfg;
    ASSERT_EQ(mnemo_store_open(&cfg, &st), MNEMO_OK);
    CHECK_EQ(keys_in(st), 3001);
    CHECK(atomic_load(&prog_calls) >= 2);
    CHECK(atomic_load(&prog_total) > 3000 * 10);
    CHECK_EQ(atomic_load(&prog_done), atomic_load(&prog_total));
    mnemo_store_free(st);
    rm_dir();
}

int main(void)
{
    TEST_RUN(test_in_memory_unchanged);
    TEST_RUN(test_round_trip);
    TEST_RUN(test_parallel_replay);
    TEST_RUN(test_expired_while_closed);
    TEST_RUN(test_torn_tail);
    TEST_RUN(test_killed_mid_copy);
    TEST_RUN(test_logged_flush_releases_memory);
    TEST_RUN(test_exit_without_close);
    TEST_RUN(test_always_prefilled_tail);
    TEST_RUN(test_always_prefill_refused);
    TEST_RUN(test_rapid_rotations);
    TEST_RUN(test_empty_named_segment);
    TEST_RUN(test_unmappable_segment_uses_pwrite);
    TEST_RUN(test_corruption_refused_and_fixed);
    TEST_RUN(test_snapshot_files);
    TEST_RUN(test_directory_lock);
    TEST_RUN(test_always_group_commit);
    TEST_RUN(test_async_commit);
    TEST_RUN(test_async_commit_leaders);
    TEST_RUN(test_snapshots_only_mode);
    TEST_RUN(test_switch_log_at_run_time);
    TEST_RUN(test_attach_at_run_time);
    TEST_RUN(test_load_progress);
    return TEST_REPORT();
}
