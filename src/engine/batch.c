/*
 * batch.c — multi-key operations and iteration.
 *
 * Batches lock every shard they touch in ascending shard order (so two batches cannot deadlock)
 * and hold them all while they read or write, so a batch is atomic: no reader sees half of it.
 *
 * Scans walk the shards of a database in order and, inside a shard, the 32-bit space of the top
 * hash bits in ranges: the cursor is (shard << 32 | next hash position). Because positions are
 * hash values and not table slots, a resize (which moves keys between slots) cannot make a scan
 * miss or repeat a key: a key present for the whole scan is reported exactly once.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/compress.h"
#include "engine/store_int.h"
#include "util/glob.h"
#include "util/hash.h"

#define BATCH_LOCAL 64
#define SCAN_SHARDS_PER_STEP 1024 /* empty shards a scan step may pass before it returns */
#define PATTERN_STEP 1024         /* entries examined per lock hold by keys/count/delete */

typedef struct batch {
    uint64_t *h;       /* hash of key i */
    uint32_t *locked;  /* distinct shard indexes, ascending */
    size_t nlocked;
    uint64_t h_local[BATCH_LOCAL];
    uint32_t l_local[BATCH_LOCAL];
} batch;

static void batch_release(batch *b)
{
    if (b->h != b->h_local)
        free(b->h);
    if (b->locked != b->l_local)
        free(b->locked);
}

static void batch_unlock(mnemo_store *st, unsigned db, batch *b, int wrote)
{
    if (st->journal)
        journal_unit_end(st->journal);
    for (size_t i = b->nlocked; i-- > 0;) {
        size_t idx = (size_t)db * st->nshards + b->locked[i];
        if (wrote)
            shard_maintain_after_write(st, &st->shards[idx]);
        store_unlock(st, idx);
    }
    batch_release(b);
    store_commit(st);
}

/* Hashes the keys, validates them, and locks their shards in ascending order. */
static int batch_lock(mnemo_store *st, unsigned db, const void *keys, size_t stride, size_t n,
                      batch *b)
{
    if (!st || (n && !keys))
        return MNEMO_EINVAL;
    if (db >= st->cfg.databases)
        return MNEMO_EDB;
    b->h = n <= BATCH_LOCAL ? b->h_local : malloc(n * sizeof(uint64_t));
    b->locked = n <= BATCH_LOCAL ? b->l_local : malloc(n * sizeof(uint32_t));
    b->nlocked = 0;
    if (!b->h || !b->locked) {
        batch_release(b);
        return MNEMO_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        /* mnemo_kv and mnemo_key both start with key, key_len. */
        const mnemo_key *k = (const mnemo_key *)((const char *)keys + i * stride);
        if (!k->key && k->key_len) {
            batch_release(b);
            return MNEMO_EINVAL;
        }
        if (k->key_len > st->cfg.max_key_size) {
            batch_release(b);
            return MNEMO_ETOOBIG;
        }
        b->h[i] = hash_bytes(k->key, k->key_len);
        b->locked[i] = (uint32_t)(b->h[i] & st->shard_mask);
    }
    size_t u = store_sort_unique(b->locked, n, st->nshards);
    b->nlocked = u;
    for (size_t i = 0; i < u; i++) {
        int rc = store_lock(st, (size_t)db * st->nshards + b->locked[i]);
        if (rc) {
            b->nlocked = i;
            if (st->journal)
                journal_unit_begin(st->journal); /* batch_unlock ends it */
            batch_unlock(st, db, b, 0);
            return rc;
        }
    }
    if (st->journal)
        journal_unit_begin(st->journal); /* the batch's changes: one log record */
    return MNEMO_OK;
}

/* Warms the cache for the lookups of keys [i, i + BATCH_PREFETCH) when i starts such a group
 * (the batch's shards locked): their index lines, then their entries, so that the keys'
 * misses overlap (shard_prefetch). Groups keep what was loaded from being pushed out again by
 * a long batch before it is used. An unpipelined MSET of ten keys spent 42 % of the server's
 * samples in lookups that missed one after another. */
#define BATCH_PREFETCH 16
static void batch_prefetch(mnemo_store *st, unsigned db, const batch *b, size_t i, size_t n)
{
    if (i % BATCH_PREFETCH)
        return;
    size_t end = n - i < BATCH_PREFETCH ? n : i + BATCH_PREFETCH;
    for (int stage = 0; stage < 2; stage++)
        for (size_t k = i; k < end; k++)
            shard_prefetch(store_shard(st, db, b->h[k]), b->h[k], stage);
}

int mnemo_mset(mnemo_store *st, unsigned db, const mnemo_kv *kvs, size_t n,
               const mnemo_set_opts *opts)
{
    unsigned f = opts ? opts->flags : 0;
    if (f & (MNEMO_SET_XX | MNEMO_SET_GET | MNEMO_SET_IF_VERSION))
        return MNEMO_EINVAL;
    if (!st)
        return MNEMO_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!kvs[i].value && kvs[i].value_len)
            return MNEMO_EINVAL;
        if (kvs[i].value_len > st->cfg.max_value_size)
            return MNEMO_ETOOBIG;
    }
    op o = {st, db, 0, 0};
    int64_t at;
    int rc = store_set_expiry(st, &o, opts, &at);
    if (rc || (rc = evict_reserve(st)))
        return rc;

    batch b;
    rc = batch_lock(st, db, kvs, sizeof(mnemo_kv), n, &b);
    if (rc)
        return rc;
    loc l;
    if (f & MNEMO_SET_NX) {
        for (size_t i = 0; i < n; i++) {
            shard *sh = store_shard(st, db, b.h[i]);
            batch_prefetch(st, db, &b, i, n);
            if (shard_find(sh, &o, kvs[i].key, kvs[i].key_len, b.h[i], &l)) {
                batch_unlock(st, db, &b, 1);
                return MNEMO_EEXISTS;
            }
        }
    }
    for (size_t i = 0; i < n && !rc; i++) {
        shard *sh = store_shard(st, db, b.h[i]);
        if ((rc = shard_prepare_insert(sh)))
            break;
        batch_prefetch(st, db, &b, i, n); /* (after the insert's resize, if any) */
        int found = shard_find(sh, &o, kvs[i].key, kvs[i].key_len, b.h[i], &l);
        int64_t key_at = at < 0 ? (found ? entry_expire_at(&l.e) : 0) : at;
        if (key_at > 0 && key_at <= op_now(&o)) {
            if (found)
                shard_remove(sh, &o, &l, MNEMO_EVENT_DEL);
            continue;
        }
        vsrc v = {.p1 = kvs[i].value, .n1 = kvs[i].value_len};
        rc = shard_store(sh, &o, &l, kvs[i].key, kvs[i].key_len, b.h[i], &v, key_at, NULL);
    }
    batch_unlock(st, db, &b, 1);
    return rc;
}

int mnemo_mget_with(mnemo_store *st, unsigned db, const mnemo_key *keys, size_t n,
                    mnemo_mread_fn fn, void *ctx)
{
    batch b;
    int rc = batch_lock(st, db, keys, sizeof(mnemo_key), n, &b);
    if (rc)
        return rc;
    op o = {st, db, 0, 0};
    int compressed = 0;
    for (size_t i = 0; i < n && rc == MNEMO_OK; i++) {
        shard *sh = store_shard(st, db, b.h[i]);
        loc l;
        batch_prefetch(st, db, &b, i, n);
        int found = shard_find(sh, &o, keys[i].key, keys[i].key_len, b.h[i], &l);
        shard_count_read(sh, found);
        if (!fn)
            continue;
        if (found) {
            /* Compressed values are decompressed, one at a time, into this thread's buffer. */
            const uint8_t *p;
            size_t len;
            compressed |= l.e.flags & ENT_COMPRESSED;
            if ((rc = entry_value(&l.e, &p, &len)))
                break;
            mnemo_item it = {keys[i].key, l.e.klen, p, len, entry_version(&l.e),
                             entry_expire_at(&l.e), l.e.vlen};
            fn(ctx, i, &it);
        } else {
            fn(ctx, i, NULL);
        }
    }
    batch_unlock(st, db, &b, 0);
    if (compressed)
        compress_scratch_trim();
    return rc;
}

struct mget_ctx {
    mnemo_value *out;
    int failed;
};

static void mget_copy(void *ctx, size_t i, const mnemo_item *it)
{
    struct mget_ctx *c = ctx;
    if (!it || c->failed)
        return;
    mnemo_value *v = &c->out[i];
    v->data = malloc(it->value_len + 1);
    if (!v->data) {
        c->failed = 1;
        return;
    }
    memcpy(v->data, it->value, it->value_len);
    ((char *)v->data)[it->value_len] = 0;
    v->len = it->value_len;
    v->version = it->version;
    v->expire_at_ms = it->expire_at_ms;
}

int mnemo_mget(mnemo_store *st, unsigned db, const mnemo_key *keys, size_t n, mnemo_value *out)
{
    if (n && !out)
        return MNEMO_EINVAL;
    memset(out, 0, n * sizeof(*out));
    struct mget_ctx c = {out, 0};
    int rc = mnemo_mget_with(st, db, keys, n, mget_copy, &c);
    if (rc == MNEMO_OK && c.failed)
        rc = MNEMO_ENOMEM;
    if (rc) {
        for (size_t i = 0; i < n; i++)
            mnemo_value_release(&out[i]);
    }
    return rc;
}

int mnemo_mdel(mnemo_store *st, unsigned db, const mnemo_key *keys, size_t n, size_t *deleted)
{
    batch b;
    int rc = batch_lock(st, db, keys, sizeof(mnemo_key), n, &b);
    if (rc)
        return rc;
    op o = {st, db, 0, 0};
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        shard *sh = store_shard(st, db, b.h[i]);
        loc l;
        batch_prefetch(st, db, &b, i, n);
        if (shard_find(sh, &o, keys[i].key, keys[i].key_len, b.h[i], &l)) {
            shard_remove(sh, &o, &l, MNEMO_EVENT_DEL);
            d++;
        }
    }
    batch_unlock(st, db, &b, 1);
    if (deleted)
        *deleted = d;
    return MNEMO_OK;
}

int mnemo_mexists(mnemo_store *st, unsigned db, const mnemo_key *keys, size_t n, size_t *count)
{
    batch b;
    int rc = batch_lock(st, db, keys, sizeof(mnemo_key), n, &b);
    if (rc)
        return rc;
    op o = {st, db, 0, 0};
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        shard *sh = store_shard(st, db, b.h[i]);
        loc l;
        batch_prefetch(st, db, &b, i, n);
        int found = shard_find(sh, &o, keys[i].key, keys[i].key_len, b.h[i], &l);
        shard_count_read(sh, found);
        c += found;
    }
    batch_unlock(st, db, &b, 0);
    if (count)
        *count = c;
    return MNEMO_OK;
}

/* ---- scanning ------------------------------------------------------------------------------ */

enum scan_mode { SCAN_REPORT, SCAN_COUNT, SCAN_DELETE };

struct scan_ctx {
    const char *pat;
    size_t plen;
    enum scan_mode mode;
    mnemo_key_fn fn;
    void *ctx;
    uint64_t n;
};

static int scan_visit(void *arg, const entry *e)
{
    struct scan_ctx *c = arg;
    uint8_t kb[ENT_PFX_KEY_MAX];
    const uint8_t *key = entry_key(e, kb);
    if (c->pat && !glob_match(c->pat, c->plen, (const char *)key, e->klen, 0))
        return 0;
    c->n++;
    if (c->mode == SCAN_REPORT && c->fn)
        c->fn(c->ctx, key, e->klen);
    return c->mode == SCAN_DELETE;
}

#define SCAN_SPACE ((uint64_t)1 << 32)

/* One scan step from *cursor, examining about `budget` entries. */
static int scan_step(mnemo_store *st, unsigned db, uint64_t *cursor, uint64_t budget,
                     struct scan_ctx *c)
{
    uint64_t si = *cursor >> 32, pos = *cursor & 0xffffffffu;
    if (si >= st->nshards)
        return MNEMO_EINVAL;
    if (!store_db_live(st, db)) { /* nothing in it: its shards stay untouched */
        if (atomic_load_explicit(&st->closed, memory_order_relaxed))
            return MNEMO_ECLOSED;
        *cursor = 0;
        return MNEMO_OK;
    }
    uint64_t examined = 0;
    unsigned shards_seen = 0;
    op o = {st, db, 0, 0};
    if (budget == 0)
        budget = 1;
    while (examined < budget && shards_seen < SCAN_SHARDS_PER_STEP) {
        size_t idx = (size_t)db * st->nshards + si;
        shard *sh = &st->shards[idx];
        int rc = store_lock(st, idx);
        if (rc)
            return rc;
        uint64_t keys = shard_keys(sh), want = budget - examined, hi;
        if (want >= keys)
            hi = SCAN_SPACE;
        else
            hi = pos + ((want << 32) / keys) + 1;
        if (hi > SCAN_SPACE)
            hi = SCAN_SPACE;
        if (keys)
            examined += shard_scan_range(sh, &o, pos, hi, scan_visit, c);
        if (c->mode == SCAN_DELETE)
            shard_maintain_after_write(st, sh);
        store_unlock(st, idx);
        shards_seen++;
        pos = hi;
        if (pos == SCAN_SPACE) {
            pos = 0;
            if (++si == st->nshards) {
                *cursor = 0;
                return MNEMO_OK;
            }
        }
    }
    *cursor = si << 32 | pos;
    return MNEMO_OK;
}

int mnemo_scan(mnemo_store *st, unsigned db, uint64_t cursor, const char *pattern,
               size_t pattern_len, size_t count, mnemo_key_fn fn, void *ctx,
               uint64_t *next_cursor)
{
    if (!st || !next_cursor || (!pattern && pattern_len))
        return MNEMO_EINVAL;
    if (db >= st->cfg.databases)
        return MNEMO_EDB;
    struct scan_ctx c = {pattern, pattern_len, SCAN_REPORT, fn, ctx, 0};
    int rc = scan_step(st, db, &cursor, count, &c);
    if (rc == MNEMO_OK)
        *next_cursor = cursor;
    return rc;
}

static int full_scan(mnemo_store *st, unsigned db, struct scan_ctx *c)
{
    if (!st || (!c->pat && c->plen))
        return MNEMO_EINVAL;
    if (db >= st->cfg.databases)
        return MNEMO_EDB;
    uint64_t cursor = 0;
    do {
        int rc = scan_step(st, db, &cursor, PATTERN_STEP, c);
        if (rc)
            return rc;
    } while (cursor);
    return MNEMO_OK;
}

int mnemo_keys(mnemo_store *st, unsigned db, const char *pattern, size_t pattern_len,
               mnemo_key_fn fn, void *ctx)
{
    struct scan_ctx c = {pattern, pattern_len, SCAN_REPORT, fn, ctx, 0};
    return full_scan(st, db, &c);
}

int mnemo_count_matching(mnemo_store *st, unsigned db, const char *pattern, size_t pattern_len,
                         uint64_t *count)
{
    struct scan_ctx c = {pattern, pattern_len, SCAN_COUNT, NULL, NULL, 0};
    int rc = full_scan(st, db, &c);
    if (rc == MNEMO_OK && count)
        *count = c.n;
    return rc;
}

int mnemo_delete_matching(mnemo_store *st, unsigned db, const char *pattern, size_t pattern_len,
                          uint64_t *deleted)
{
    struct scan_ctx c = {pattern, pattern_len, SCAN_DELETE, NULL, NULL, 0};
    int rc = full_scan(st, db, &c);
    if (st)
        store_commit(st);
    if (rc == MNEMO_OK && deleted)
        *deleted = c.n;
    return rc;
}
