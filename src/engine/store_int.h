/*
 * store_int.h — the store handle, shared by the engine's modules (never by the server).
 */
#ifndef MNEMO_ENGINE_STORE_INT_H
#define MNEMO_ENGINE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/shard.h"
#include "mnemo.h"
#include "persist/journal.h"

struct mnemo_store {
    mnemo_config cfg;       /* immutable after open */
    /* Smallest value length compressed, SIZE_MAX when compression is off: read (relaxed) by
     * every write, changed by mnemo_store_set_compression(). */
    _Atomic size_t compress_min;
    uint32_t nshards;       /* per database, a power of two */
    uint32_t shard_mask;
    shard *shards;          /* databases * nshards, database-major; a mapping of its own
                               (persist.c keeps it out of a snapshot child: MADV_DONTFORK) */
    size_t shards_bytes;    /* its length, whole pages */
    /* Databases in use (shard.h, "A shard's life"): 1 once any of a database's shards was
     * locked, never back to 0. Set under db_lock, which is also held by whoever must keep
     * databases from coming into use while it locks the shards of those in use (persist.c's
     * lock_all, a logged flush): lock order db_lock, then shard locks, and nobody takes
     * db_lock while holding a shard lock. Read without it (acquire): a database not in use
     * has nothing in it, and its shards need not be looked at. */
    _Atomic uint8_t *db_live;
    pthread_mutex_t db_lock;

    /* The versions floor: every write takes a version above it (and above its shard's clock).
     * Moved only by mnemo_store_next_version() and by versions restored from disk. */
    _Alignas(64) _Atomic uint64_t hlc;
    _Alignas(64) _Atomic int closed;   /* set first thing in mnemo_store_close() */

    /* Background thread (active expiry). bg_lock protects bg_stop. */
    pthread_t bg;
    int bg_started;
    pthread_mutex_t bg_lock;
    pthread_cond_t bg_cond;
    int bg_stop;
    _Atomic uint32_t maint_next; /* next shard the maintenance slice starts at */

    /* Memory ceiling (evict.c). mem_used and db_mem change when a shard's memory does
     * (shard_sync_mem(), segment granularity); the settings are read on every write. */
    _Alignas(64) _Atomic uint64_t mem_used;  /* sum of the shards' mem_reported */
    _Atomic uint64_t *db_mem;                /* the same per database */
    _Atomic int evict_wanted;                /* the background thread is asked to evict */
    _Atomic int64_t evict_failed_ms;         /* monotonic ms when eviction last found nothing */
    _Alignas(64) _Atomic uint64_t maxmemory; /* 0 = no ceiling */
    _Atomic uint64_t evict_high;             /* bytes: the high-water mark, UINT64_MAX if none */
    _Atomic int policy;                      /* mnemo_policy */
    _Atomic unsigned evict_high_pct, evict_low_pct;
    /* Persistence (src/persist/). `journal` is the change feed: NULL when nothing is logged
     * (in memory only, or snapshots only), so it costs one predictable branch per change. It
     * changes at run time only with every shard lock held (a switch of the log on or off,
     * persist.c), so code holding a shard lock sees one value throughout; code without a
     * shard lock reads it once (store_journal()). The journal object itself lives until
     * close, so a pointer read before a switch-off stays valid. `persist` is set at open or
     * by mnemo_persist_attach() and cleared after every shard is closed. */
    _Atomic(struct journal *) journal;
    _Atomic(struct persist *) persist;
};

static inline struct journal *store_journal(mnemo_store *st)
{
    return atomic_load_explicit(&st->journal, memory_order_acquire);
}

/* After a write call released its locks: the log's commit for this thread's changes. */
static inline void store_commit(mnemo_store *st)
{
    struct journal *j = store_journal(st);
    if (j)
        journal_commit(j);
}

int evict_reserve_slow(mnemo_store *st, uint64_t used);

/* 1 if the store is above its high-water mark. */
static inline int store_pressed(mnemo_store *st)
{
    return atomic_load_explicit(&st->mem_used, memory_order_relaxed) >
           atomic_load_explicit(&st->evict_high, memory_order_relaxed);
}

/* Before a write that may grow memory (no shard lock held, or inside a transaction): one load
 * and a compare below the high-water mark. MNEMO_OK or MNEMO_ENOSPACE (evict.h). */
static inline int evict_reserve(mnemo_store *st)
{
    uint64_t used = atomic_load_explicit(&st->mem_used, memory_order_relaxed);
    if (__builtin_expect(used <= atomic_load_explicit(&st->evict_high, memory_order_relaxed), 1))
        return MNEMO_OK;
    return evict_reserve_slow(st, used);
}

/* The compression threshold in force: values at least this long are compressed when it pays
 * (compress.h); SIZE_MAX when compression is off. */
static inline size_t store_compress_min(const mnemo_store *st)
{
    return atomic_load_explicit(&((mnemo_store *)st)->compress_min, memory_order_relaxed);
}

/* The transaction running on this thread, if any (txn.c). */
extern _Thread_local struct mnemo_txn *store_txn;

/* 1 if t holds shard idx of st, 0 if t is for another store (lock normally), -1 if t is for st
 * but does not cover idx. */
int store_txn_holds(const struct mnemo_txn *t, const mnemo_store *st, size_t idx);

/* 1 if database db is in use (its shards may hold something). */
static inline int store_db_live(const mnemo_store *st, unsigned db)
{
    return atomic_load_explicit(&st->db_live[db], memory_order_acquire);
}

/* Puts database db in use if it is not yet: its shards' share of the array is added to the
 * store's memory. The caller must hold no shard lock (db_lock is taken). Multi-database
 * operations call it for each database before locking any shard. */
void store_db_use(mnemo_store *st, unsigned db);

/* store_lock() for a shard found not SHARD_OPEN, its lock held: MNEMO_OK (still locked, the
 * shard now open) or MNEMO_ECLOSED (unlocked). Putting the database in use drops the shard
 * lock meanwhile, so a caller holding other shard locks must have done store_db_use(). */
int store_lock_slow(mnemo_store *st, size_t idx);

/* Locks shard idx (database-major global index) for the caller, unless this thread's
 * transaction already holds it. Returns MNEMO_OK (locked), MNEMO_ECLOSED (not locked) or
 * MNEMO_ETXN (a transaction runs on this thread and does not cover the shard). */
static inline int store_lock(mnemo_store *st, size_t idx)
{
    shard *sh = &st->shards[idx];
    if (store_txn) {
        int held = store_txn_holds(store_txn, st, idx);
        if (held < 0)
            return MNEMO_ETXN;
        if (held > 0) /* a transaction's shards are open from its start (txn.c) */
            return sh->state == SHARD_CLOSED ? MNEMO_ECLOSED : MNEMO_OK;
    }
    mlock_lock(&sh->lock);
    if (__builtin_expect(sh->state != SHARD_OPEN, 0))
        return store_lock_slow(st, idx);
    return MNEMO_OK;
}

static inline void store_unlock(mnemo_store *st, size_t idx)
{
    if (store_txn && store_txn_holds(store_txn, st, idx) > 0)
        return;
    mlock_unlock(&st->shards[idx].lock);
}

static inline size_t store_shard_index(const mnemo_store *st, unsigned db, uint64_t h)
{
    return (size_t)db * st->nshards + (h & st->shard_mask);
}

static inline shard *store_shard(mnemo_store *st, unsigned db, uint64_t h)
{
    return &st->shards[(size_t)db * st->nshards + (h & st->shard_mask)];
}

/* The hook, if the event is enabled. */
static inline void store_event(mnemo_store *st, mnemo_event ev, unsigned db, const void *key,
                               size_t klen, uint64_t version)
{
    if (st->cfg.hook && (st->cfg.hook_events & (unsigned)ev))
        st->cfg.hook(st->cfg.hook_ctx, ev, db, key, klen, version);
}

/* A per-thread xorshift generator (random keys, eviction sampling: no quality needed). */
uint64_t store_rand(void);

/* Sorts v[0..n) ascending and drops repeats; every value is below `universe`. Returns the new
 * length. Linear time with a bitmap for universes up to 8192 (shards of a database), qsort
 * otherwise. Batches and transactions use it to order their locks. */
size_t store_sort_unique(uint32_t *v, size_t n, size_t universe);

/* Validates a single-key call's arguments: MNEMO_OK, MNEMO_EINVAL, MNEMO_EDB, MNEMO_ETOOBIG. */
int store_check_key(mnemo_store *st, unsigned db, const void *key, size_t klen);

/* Resolves the expiration a set asks for (store.c): *at = absolute deadline, 0 = none,
 * -1 = keep the existing entry's. Returns MNEMO_OK, MNEMO_ETTL or MNEMO_EINVAL. */
int store_set_expiry(mnemo_store *st, op *o, const mnemo_set_opts *opts, int64_t *at);

#endif
