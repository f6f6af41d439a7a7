/*
 * keyspace.c — operations that move entries between names and databases (rename, copy, move,
 * swapdb), and random key picking. Two-key operations lock both shards in ascending global
 * order, like batches, so they are atomic and cannot deadlock with batches or transactions.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/store_int.h"
#include "util/hash.h"

/* Locks global shards a and b (possibly equal) in ascending order. */
static int lock2(mnemo_store *st, size_t a, size_t b)
{
    size_t lo = a < b ? a : b, hi = a < b ? b : a;
    /* Both databases in use before either lock is taken (store_lock_slow()). */
    store_db_use(st, (unsigned)(lo / st->nshards));
    store_db_use(st, (unsigned)(hi / st->nshards));
    int rc = store_lock(st, lo);
    if (rc == MNEMO_OK && lo == hi && st->journal)
        journal_unit_begin(st->journal);
    if (rc || lo == hi)
        return rc;
    if ((rc = store_lock(st, hi)))
        store_unlock(st, lo);
    else if (st->journal)
        journal_unit_begin(st->journal); /* both keys' changes: one log record */
    return rc;
}

static void unlock2(mnemo_store *st, size_t a, size_t b)
{
    size_t lo = a < b ? a : b, hi = a < b ? b : a;
    if (st->journal)
        journal_unit_end(st->journal);
    if (hi != lo) {
        shard_maintain_after_write(st, &st->shards[hi]);
        store_unlock(st, hi);
    }
    shard_maintain_after_write(st, &st->shards[lo]);
    store_unlock(st, lo);
    store_commit(st);
}

/*
 * The common core of rename, copy and move: writes src's value and expiration to dst (in
 * dst_db), then removes src if `remove_src`. Both shards are locked by the caller.
 */
static int transfer(mnemo_store *st, unsigned db, const void *src, size_t slen, uint64_t hs,
                    unsigned dst_db, const void *dst, size_t dlen, uint64_t hd, int replace,
                    int remove_src)
{
    op os = {st, db, 0, 0}, od = {st, dst_db, 0, 0};
    shard *ss = store_shard(st, db, hs), *sd = store_shard(st, dst_db, hd);
    /* May reshape sd's tables: before any lookup. */
    int rc = shard_prepare_insert(sd);
    if (rc)
        return rc;
    loc ls, ld;
    if (!shard_find(ss, &os, src, slen, hs, &ls))
        return MNEMO_ENOTFOUND;
    int found = shard_find(sd, &od, dst, dlen, hd, &ld);
    if (found && !replace)
        return MNEMO_EEXISTS;
    /* ls's entry stays where it is while dst is written: the arena never moves live entries
     * outside compaction, and a table insert does not move other slots. */
    /* The stored bytes as they are, compressed or not: no decompression, no recompression. */
    vsrc v = {.p1 = ls.e.val, .n1 = ls.e.vlen,
              .enc = (ls.e.flags & ENT_COMPRESSED) ? VSRC_LZ4 : VSRC_PLAIN};
    rc = shard_store(sd, &od, &ld, dst, dlen, hd, &v, entry_expire_at(&ls.e), NULL);
    if (rc == MNEMO_OK && remove_src)
        shard_remove(ss, &os, &ls, MNEMO_EVENT_DEL);
    return rc;
}

int mnemo_rename(mnemo_store *st, unsigned db, const void *src, size_t src_len, const void *dst,
                 size_t dst_len, int nx)
{
    int rc = store_check_key(st, db, src, src_len);
    if (rc || (rc = store_check_key(st, db, dst, dst_len)))
        return rc;
    uint64_t hs = hash_bytes(src, src_len), hd = hash_bytes(dst, dst_len);
    size_t is = store_shard_index(st, db, hs), id = store_shard_index(st, db, hd);
    if ((rc = lock2(st, is, id)))
        return rc;
    if (src_len == dst_len && (src_len == 0 || memcmp(src, dst, src_len) == 0)) {
        op o = {st, db, 0, 0};
        loc l;
        rc = shard_find(&st->shards[is], &o, src, src_len, hs, &l)
                 ? (nx ? MNEMO_EEXISTS : MNEMO_OK)
                 : MNEMO_ENOTFOUND;
    } else {
        rc = transfer(st, db, src, src_len, hs, db, dst, dst_len, hd, !nx, 1);
    }
    unlock2(st, is, id);
    return rc;
}

int mnemo_copy(mnemo_store *st, unsigned src_db, const void *src, size_t src_len,
               unsigned dst_db, const void *dst, size_t dst_len, int replace)
{
    int rc = store_check_key(st, src_db, src, src_len);
    if (rc || (rc = store_check_key(st, dst_db, dst, dst_len)))
        return rc;
    if (src_db == dst_db && src_len == dst_len && (src_len == 0 || memcmp(src, dst, src_len) == 0))
        return MNEMO_EINVAL;
    if ((rc = evict_reserve(st)))
        return rc;
    uint64_t hs = hash_bytes(src, src_len), hd = hash_bytes(dst, dst_len);
    size_t is = store_shard_index(st, src_db, hs), id = store_shard_index(st, dst_db, hd);
    if ((rc = lock2(st, is, id)))
        return rc;
    rc = transfer(st, src_db, src, src_len, hs, dst_db, dst, dst_len, hd, replace, 0);
    unlock2(st, is, id);
    return rc;
}

int mnemo_move(mnemo_store *st, unsigned db, const void *key, size_t klen, unsigned dst_db)
{
    int rc = store_check_key(st, db, key, klen);
    if (rc || (rc = store_check_key(st, dst_db, key, klen)))
        return rc;
    if (db == dst_db)
        return MNEMO_EINVAL;
    uint64_t h = hash_bytes(key, klen);
    size_t is = store_shard_index(st, db, h), id = store_shard_index(st, dst_db, h);
    if ((rc = lock2(st, is, id)))
        return rc;
    rc = transfer(st, db, key, klen, h, dst_db, key, klen, h, 0, 1);
    unlock2(st, is, id);
    return rc;
}

/* Swaps the contents of two shards: everything from the index to the eviction state; the lock,
 * `state` and the memory last reported for the shard stay (shard_sync_mem() then moves the
 * difference between the databases' totals). */
static void shard_swap(shard *a, shard *b)
{
    size_t off = offsetof(shard, tab), n = offsetof(shard, mem_reported) - off;
    unsigned char tmp[sizeof(shard)];
    memcpy(tmp, (char *)a + off, n);
    memcpy((char *)a + off, (char *)b + off, n);
    memcpy((char *)b + off, tmp, n);
}

int mnemo_swapdb(mnemo_store *st, unsigned db1, unsigned db2)
{
    if (!st)
        return MNEMO_EINVAL;
    if (db1 >= st->cfg.databases || db2 >= st->cfg.databases)
        return MNEMO_EDB;
    if (db1 == db2)
        return MNEMO_OK;
    unsigned lo = db1 < db2 ? db1 : db2, hi = db1 < db2 ? db2 : db1;
    size_t n = st->nshards;
    if (!store_db_live(st, lo) && !store_db_live(st, hi))
        return atomic_load(&st->closed) ? MNEMO_ECLOSED : MNEMO_OK; /* both empty */
    store_db_use(st, lo); /* both in use before any lock is taken (store_lock_slow()) */
    store_db_use(st, hi);
    /* Every shard of the lower database, then of the higher: ascending global order. */
    size_t locked = 0;
    int rc = MNEMO_OK;
    for (; locked < 2 * n; locked++) {
        size_t idx = (locked < n ? lo : hi) * n + locked % n;
        if ((rc = store_lock(st, idx)))
            break;
    }
    if (rc == MNEMO_OK) {
        for (size_t i = 0; i < n; i++) {
            shard *a = &st->shards[lo * n + i], *b = &st->shards[hi * n + i];
            shard_swap(a, b);
            /* Each shard's clock stays above every version it now holds (the clocks are not
             * swapped with the contents; both take the larger). */
            uint64_t ca = atomic_load_explicit(&a->hlc, memory_order_relaxed);
            shard_observe_version(a, atomic_load_explicit(&b->hlc, memory_order_relaxed));
            shard_observe_version(b, ca);
            shard_sync_mem(st, &st->shards[lo * n + i]);
            shard_sync_mem(st, &st->shards[hi * n + i]);
        }
        if (st->journal)
            journal_swapdb(st->journal, lo, hi);
    }
    while (locked-- > 0)
        store_unlock(st, (locked < n ? lo : hi) * n + locked % n);
    store_commit(st);
    return rc;
}

int mnemo_random_key(mnemo_store *st, unsigned db, mnemo_value *key)
{
    if (!st || !key)
        return MNEMO_EINVAL;
    if (db >= st->cfg.databases)
        return MNEMO_EDB;
    memset(key, 0, sizeof(*key));
    if (!store_db_live(st, db))
        return atomic_load(&st->closed) ? MNEMO_ECLOSED : MNEMO_ENOTFOUND;
    size_t n = st->nshards, start = store_rand() % n;
    op o = {st, db, 0, 0};
    for (size_t k = 0; k < n; k++) {
        size_t idx = (size_t)db * n + (start + k) % n;
        shard *sh = &st->shards[idx];
        int rc = store_lock(st, idx);
        if (rc)
            return rc;
        int done = 0;
        loc l;
        for (int tries = 0; tries < 64 && !done && shard_random_entry(sh, 0, &l); tries++) {
            if (l.e.exp && entry_expire_at(&l.e) <= op_now(&o)) {
                shard_remove(sh, &o, &l, MNEMO_EVENT_EXPIRE);
                continue; /* try another random slot */
            }
            key->data = malloc(l.e.klen + 1);
            if (!key->data) {
                store_unlock(st, idx);
                return MNEMO_ENOMEM;
            }
            uint8_t kb[ENT_PFX_KEY_MAX];
            memcpy(key->data, entry_key(&l.e, kb), l.e.klen);
            ((char *)key->data)[l.e.klen] = 0;
            key->len = l.e.klen;
            key->version = entry_version(&l.e);
            key->expire_at_ms = entry_expire_at(&l.e);
            done = 1;
        }
        shard_maintain_after_write(st, sh);
        store_unlock(st, idx);
        if (done)
            return MNEMO_OK;
    }
    return MNEMO_ENOTFOUND;
}
