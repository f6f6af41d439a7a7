/*
 * txn.c — transactions: a thread takes the locks of every shard a group of calls will touch,
 * in ascending global shard order (database-major), and the ordinary API calls made by that
 * thread then skip locking the shards it holds (store_lock() in store_int.h asks
 * store_txn_holds()). The thread-local pointer is what ties calls to the transaction, so the
 * public API needs no transaction variants of its functions.
 */
#include <stdlib.h>

#include "engine/store_int.h"
#include "util/hash.h"

struct mnemo_txn {
    mnemo_store *st;
    uint32_t *idx; /* sorted distinct global shard indexes held; NULL with whole */
    size_t n;
    int whole;
};

_Thread_local struct mnemo_txn *store_txn;

int store_txn_holds(const struct mnemo_txn *t, const mnemo_store *st, size_t idx)
{
    if (t->st != st)
        return 0;
    if (t->whole)
        return 1;
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->idx[mid] < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->n && t->idx[lo] == idx ? 1 : -1;
}

static void unlock_held(mnemo_txn *t, size_t upto)
{
    for (size_t i = upto; i-- > 0;)
        mlock_unlock(&t->st->shards[t->whole ? i : t->idx[i]].lock);
}

int mnemo_txn_begin(mnemo_store *st, const mnemo_txn_key *keys, size_t n, int whole_store,
                    mnemo_txn **out)
{
    if (!st || !out || (n && !keys && !whole_store) || store_txn)
        return MNEMO_EINVAL;
    mnemo_txn *t = calloc(1, sizeof(*t));
    if (!t)
        return MNEMO_ENOMEM;
    t->st = st;
    t->whole = whole_store != 0;
    size_t total = (size_t)st->cfg.databases * st->nshards;
    if (t->whole) {
        t->n = total;
    } else {
        t->idx = malloc((n ? n : 1) * sizeof(uint32_t));
        if (!t->idx) {
            free(t);
            return MNEMO_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            if (keys[i].db >= st->cfg.databases || keys[i].key_len > st->cfg.max_key_size ||
                (!keys[i].key && keys[i].key_len)) {
                int rc = keys[i].db >= st->cfg.databases ? MNEMO_EDB
                         : keys[i].key_len > st->cfg.max_key_size ? MNEMO_ETOOBIG
                                                                   : MNEMO_EINVAL;
                free(t->idx);
                free(t);
                return rc;
            }
            t->idx[i] = (uint32_t)store_shard_index(st, keys[i].db,
                                                    hash_bytes(keys[i].key, keys[i].key_len));
        }
        t->n = store_sort_unique(t->idx, n, total);
    }
    /* Its databases in use first (nothing is locked yet: store_db_use() takes db_lock), so
     * that each shard can be opened under its own lock below. */
    for (size_t i = 0; i < t->n; i++)
        store_db_use(st, (unsigned)((t->whole ? i : t->idx[i]) / st->nshards));
    for (size_t i = 0; i < t->n; i++) {
        shard *sh = &st->shards[t->whole ? i : t->idx[i]];
        mlock_lock(&sh->lock);
        if (sh->state == SHARD_UNUSED)
            shard_activate(sh);
        if (sh->state == SHARD_CLOSED) {
            unlock_held(t, i + 1);
            free(t->idx);
            free(t);
            return MNEMO_ECLOSED;
        }
    }
    store_txn = t;
    if (st->journal)
        journal_unit_begin(st->journal); /* the transaction's changes: one log record */
    *out = t;
    return MNEMO_OK;
}

void mnemo_txn_end(mnemo_txn *t)
{
    if (!t)
        return;
    mnemo_store *st = t->st;
    if (st->journal)
        journal_unit_end(st->journal);
    for (size_t i = t->n; i-- > 0;)
        shard_maintain_after_write(t->st, &t->st->shards[t->whole ? i : t->idx[i]]);
    unlock_held(t, t->n);
    if (store_txn == t)
        store_txn = NULL;
    free(t->idx);
    free(t);
    store_commit(st);
}
