/*
 * shard.h — one shard of one database: its lock, index, arena, expiry heap and counters, and the
 * operations on them. Every function here expects the caller to hold sh->lock (hence the
 * "do-it-locked" contract of the whole module); store.c takes the locks.
 *
 * A shard's index may be two tables at once: while it grows, `old` is migrated into `tab` a few
 * entries per write (and by the background cycle), so no single insert pays for a whole rehash.
 * Lookups check both; inserts go to `tab` only.
 *
 * Write protocol (store.c):   shard_prepare_insert()   (may switch tables: before any lookup)
 *                             shard_find()             (fills a loc: where the key is, or goes)
 *                             shard_store() / shard_remove() / shard_set_expire()
 *                             shard_maintain_after_write()  (compaction; invalidates locs)
 */
#ifndef MNEMO_ENGINE_SHARD_H
#define MNEMO_ENGINE_SHARD_H

#include <stdatomic.h>
#include <stdint.h>

#include "engine/arena.h"
#include "engine/entry.h"
#include "engine/expheap.h"
#include "engine/table.h"
#include "util/hash.h"
#include "util/lock.h"
#include "mnemo.h"

/* A shard's life (shard.state). The shard array is a fresh mapping, all zeros: a shard nobody
 * has locked yet is SHARD_UNUSED and its pages are not resident, so databases never used cost
 * no memory. The first lock of a shard of a database not in use yet puts the database in use
 * (store_db_use(): its share of the array is then counted in the store's memory), and makes the
 * shard SHARD_OPEN (shard_activate()). */
enum { SHARD_UNUSED = 0, SHARD_OPEN = 1, SHARD_CLOSED = 2 };

typedef struct shard {
    mlock lock;
    /* Everything below is protected by lock. The first cache line holds all a lookup reads of
     * the shard: the lock, both tables' sizes and arrays, the arena's segment table. */
    int state;           /* SHARD_UNUSED until first locked, then SHARD_OPEN; SHARD_CLOSED
                            from mnemo_store_close(). Every operation checks it first */
    table tab;           /* current index; inserts go here */
    table old;           /* index being migrated into tab; old.cap == 0 when none */
    arena ar;            /* entries (ar.segs, its first field, ends the first cache line) */
    uint32_t mig_pos;    /* next slot of old to migrate */
    uint32_t removed;    /* keys removed since tab was sized (shrink_if_sparse) */
    uint32_t ghost_mask; /* slots of `ghost` (below) - 1 */
    /* Recent writes that made a new key ([0]) and that overwrote one ([1]), both halved when
     * they reach 256 together: where overwrites dominate, a new key is given room for the
     * versions to come, as an overwritten one is (shard_store()). */
    uint16_t recent_writes[2];
    expheap heap;        /* deadlines of entries with a TTL (may hold stale records) */
    uint64_t ttl_keys;   /* live entries with ENT_TTL */
    __extension__ unsigned __int128 ttl_sum; /* sum of their deadlines (for the average TTL) */
    uint64_t gets, hits, misses, sets, deletes, expired, evicted;
    /* Live values stored compressed (compress.h): how many, their stored bytes (entry.vlen) and
     * their original bytes. */
    uint64_t comp_values, comp_stored, comp_orig;
    uint16_t *ghost;     /* S3-FIFO's ghost queue: fingerprints of keys evicted from the small
                            queue, one per slot of a table indexed by hash; NULL when unused */
    /* shard_mem() as last added to the store's total (written under lock; the evictor reads it
     * without the lock to pick a shard). Last: SWAPDB swaps everything from tab up to it. */
    _Atomic uint64_t mem_reported;
    /* The shard's hybrid logical clock: the last version handed out to a write in it (design.md
     * "Versions"). Atomic only so that mnemo_store_next_version() can read it without the
     * lock; written under the lock. Not swapped by SWAPDB (both shards take the larger). */
    _Atomic uint64_t hlc;
    /* Changes made to the shard's keys (written under lock with a relaxed load + store, no
     * locked instruction; summed without the locks): persistence's "changes since the last
     * snapshot", which the save schedule reads. Never reset. */
    _Atomic uint64_t changes;
} __attribute__((aligned(64))) shard;

/* Counts one change of sh (lock held). */
static inline void shard_count_change(shard *sh)
{
    atomic_store_explicit(&sh->changes,
                          atomic_load_explicit(&sh->changes, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Per-operation context: the store (for clock, versions, hooks), the database, and the time,
 * read from the clock at most once per operation. */
typedef struct op {
    struct mnemo_store *st;
    unsigned db;
    int64_t now;     /* 0 until op_now() */
    int notouch;     /* 1: lookups do not count as accesses (OBJECT, MEMORY USAGE, eviction) */
} op;

/* Nonzero on a thread that restores persisted entries (log replay, snapshot load):
 * shard_store() writes this version instead of taking a fresh one from the clock. */
extern _Thread_local uint64_t shard_restore_version;

int64_t op_now(op *o);

/* A version for a write to sh (lock held): the shard's clock ticked (hlc_tick), above the
 * store's floor. */
uint64_t shard_next_version(shard *sh, op *o);

/* Moves sh's clock up to v if it is behind (lock held): a restored or swapped-in version. */
static inline void shard_observe_version(shard *sh, uint64_t v)
{
    if (v > atomic_load_explicit(&sh->hlc, memory_order_relaxed))
        atomic_store_explicit(&sh->hlc, v, memory_order_relaxed);
}

/* Where a key is (t != NULL) or, after a miss, where it would be inserted into sh->tab. */
typedef struct loc {
    table *t;
    uint32_t slot;
    uint32_t ref;
    entry e;
    uint32_t insert; /* slot in sh->tab, valid after a miss if shard_prepare_insert() ran */
} loc;

/* The hash of an entry's key (rebuilt from its segment's prefix when it has one). */
static inline uint64_t entry_hash(const entry *e)
{
    uint8_t kb[ENT_PFX_KEY_MAX];
    return hash_bytes(entry_key(e, kb), e->klen);
}

/* How shard_store() treats a vsrc's bytes (compress.h). */
enum {
    VSRC_AUTO = 0, /* a plain value: compressed if the store's settings say so */
    VSRC_PLAIN,    /* a plain value, stored as it is (compression tried already, or a copy) */
    VSRC_LZ4,      /* already the compressed stored form: stored with ENT_COMPRESSED */
};

/* A value assembled from up to three pieces and a run of zeros: p1 + zeros + p2 + p3.
 * `aliases_old` says some piece points into the entry being replaced (no in-place update).
 * `enc` is a VSRC_* above. */
typedef struct vsrc {
    const void *p1;
    size_t n1;
    size_t zeros;
    const void *p2;
    size_t n2;
    const void *p3;
    size_t n3;
    int aliases_old;
    int enc;
} vsrc;

static inline size_t vsrc_len(const vsrc *v)
{
    return v->n1 + v->zeros + v->n2 + v->n3;
}

/* Counts a single-key read in the shard's statistics. */
static inline void shard_count_read(shard *sh, int found)
{
    sh->gets++;
    if (found)
        sh->hits++;
    else
        sh->misses++;
}

/* Makes an all-zero SHARD_UNUSED shard an empty SHARD_OPEN one (its lock held). */
void shard_activate(shard *sh);
/* Frees every entry and index; the shard stays usable (empty). */
void shard_clear(shard *sh);
uint64_t shard_mem(const shard *sh);
uint64_t shard_keys(const shard *sh);

/* Completes a resize in progress (moves every entry left in sh->old, frees it). */
void shard_finish_resize(shard *sh);

/* Makes room for one insert into sh->tab (starting or finishing a resize, one migration step).
 * Returns MNEMO_OK or MNEMO_ENOMEM. */
int shard_prepare_insert(shard *sh);

/* Warms the cache for a coming lookup of hash h: stage 0 loads the home slot's control bytes
 * and refs, stage 1 (after stage 0 for a whole batch) the first two candidate entries, in both
 * tables while a migration is under way. Lets a batch's independent misses overlap instead of
 * paying them one after another: stage 0 issues prefetches only, so no key's miss waits for
 * another's. */
void shard_prefetch(const shard *sh, uint64_t h, int stage);

/* Looks the key up (hash h). Expired entries are removed on the way (an expire event) and count
 * as missing. A found entry's access frequency is raised (unless o->notouch). Returns 1 and
 * fills *l if found, else 0 (l->insert set). */
int shard_find(shard *sh, op *o, const void *key, size_t klen, uint64_t h, loc *l);

/* Writes a new value for the key at *l (found or not) with a fresh version and the given
 * absolute expiration (0 = none); fires the set event; *version (may be NULL) receives the new
 * version. A VSRC_AUTO value of at least the store's compression threshold is compressed
 * first when that pays (compress.h). Returns MNEMO_OK or MNEMO_ENOMEM (nothing changed). *l
 * is stale afterwards. */
int shard_store(shard *sh, op *o, loc *l, const void *key, size_t klen, uint64_t h,
                const vsrc *v, int64_t expire_at, uint64_t *version);

/* Removes the found entry at *l, firing `ev` and counting it as a delete, expiry or eviction. */
void shard_remove(shard *sh, op *o, loc *l, mnemo_event ev);

/* Sets (at > 0) or removes (at == 0) the found entry's expiration; the version is unchanged.
 * Returns MNEMO_OK or MNEMO_ENOMEM. *l is stale afterwards. */
int shard_set_expire(shard *sh, op *o, loc *l, uint64_t h, int64_t at);

/* Housekeeping after writes: compacts one arena segment if garbage is high, and brings the
 * store's memory total up to date. */
void shard_maintain_after_write(struct mnemo_store *st, shard *sh);

/* After an eviction slice (which compacts by itself): shrinks a sparse index, brings the
 * store's memory total up to date. */
void shard_maintain_after_evict(struct mnemo_store *st, shard *sh);

/* Compacts one segment if the shard's garbage is over its threshold (a lower one when
 * `pressed`: the store is above its high-water mark). Returns 1 if it compacted. */
int shard_compact(struct mnemo_store *st, shard *sh, int pressed);

/* Adds the change of shard_mem() since the last call to the store's memory total. */
void shard_sync_mem(struct mnemo_store *st, shard *sh);

/* The slot holding `ref` (an entry with hash h) in either table: 1 and *t, *slot if found, 0 if
 * the entry is dead. */
int shard_slot_of_ref(shard *sh, uint64_t h, uint32_t ref, table **t, uint32_t *slot);

/* The entry at a random occupied slot of either table (with a TTL if ttl_only), expired or
 * not: 1 and *l filled, or 0 if none turned up. */
int shard_random_entry(shard *sh, int ttl_only, loc *l);

/* Copies the live entry e (at ref, indexed at t/slot) to the head of queue q with access
 * frequency freq, and releases the old copy. Returns MNEMO_OK or MNEMO_ENOMEM (nothing
 * changed). */
int shard_move_entry(shard *sh, const entry *e, uint32_t ref, table *t, uint32_t slot,
                     unsigned q, unsigned freq, int64_t now);


/* Removes the entries with hash h that have a TTL: the due ones (expired), and with `evict`
 * the others too (evicted: volatile-ttl). Returns how many. */
unsigned shard_remove_ttl_hash(shard *sh, op *o, uint64_t h, int evict);

/* Active expiry: expires due entries, at most `budget` heap records; returns entries expired.
 * Sets *more when due records remain. Also advances a pending migration. */
unsigned shard_expire_due(shard *sh, op *o, unsigned budget, int *more);

/* Visits the live entries whose hash's top 32 bits lie in [lo, hi) (hi <= 2^32), in both tables.
 * visit() returns 1 if it wants the entry removed (the shard removes it, a delete event).
 * Returns the number of entries examined. Expired entries are removed, not visited. */
typedef int (*shard_visit_fn)(void *ctx, const entry *e);
uint64_t shard_scan_range(shard *sh, op *o, uint64_t lo, uint64_t hi, shard_visit_fn visit,
                          void *ctx);

#endif
