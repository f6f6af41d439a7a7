/* evict.c — see evict.h. */
#include "engine/evict.h"

#include <stdlib.h>
#include <string.h>

#include "engine/store_int.h"
#include "util/clock.h"
#include "util/hash.h"

#define EVICT_SMALL_PCT 10u        /* S3-FIFO: the small queue's share of a shard's memory */
#define EVICT_KILL_BATCH 32u       /* keys a random/ttl slice evicts under one lock hold */
#define EVICT_SYNC_SLICES 16u      /* slices a write above the ceiling runs before going on */
#define EVICT_FAIL_BACKOFF_MS 100  /* after finding nothing to evict, writes fail fast this long */

static int policy_s3fifo(int p)
{
    return p == MNEMO_POLICY_ALLKEYS_S3FIFO || p == MNEMO_POLICY_VOLATILE_S3FIFO;
}

static int policy_volatile(int p)
{
    return p >= MNEMO_POLICY_VOLATILE_LRU;
}

static int policy_fifo(int p)
{
    return p == MNEMO_POLICY_ALLKEYS_LRU || p == MNEMO_POLICY_ALLKEYS_LFU ||
           p == MNEMO_POLICY_VOLATILE_LRU || p == MNEMO_POLICY_VOLATILE_LFU || policy_s3fifo(p);
}

/* Monotonic milliseconds (the backoff after a fruitless eviction). */
static int64_t mono_ms(void)
{
    return (int64_t)(clock_monotonic_ns() / 1000000u);
}

/* ---- S3-FIFO's ghost: fingerprints of keys evicted from the small queue ---------------------- */

static uint32_t ghost_slot(const shard *sh, uint64_t h)
{
    return (uint32_t)(h >> 20) & sh->ghost_mask;
}

static uint16_t ghost_fp(uint64_t h)
{
    return (uint16_t)((h >> 48) | 1); /* 0 marks an empty slot */
}

/* Sizes the ghost to remember about a quarter as many keys as the shard holds (2 bytes a slot,
 * ~0.5 byte a key): enough for keys evicted from the small queue to be recognised when they
 * come back soon (bench/policy_sim: half as many slots as keys gained nothing over a quarter).
 * Keeps the old table while the shard holds between 1x and 8x as many keys as it has slots. */
static void ghost_fit(shard *sh)
{
    uint64_t keys = shard_keys(sh), slots_now = (uint64_t)sh->ghost_mask + 1;
    if (sh->ghost && keys <= 8 * slots_now && (keys >= slots_now || slots_now == 64))
        return;
    uint32_t slots = 64;
    while (slots < keys / 4 && slots < (1u << 28))
        slots <<= 1;
    uint16_t *g = calloc(slots, sizeof(uint16_t));
    if (!g)
        return; /* no ghost: S3-FIFO without it, until memory allows */
    free(sh->ghost);
    sh->ghost = g;
    sh->ghost_mask = slots - 1;
}

void evict_shard_clear(shard *sh)
{
    free(sh->ghost);
    sh->ghost = NULL;
    sh->ghost_mask = 0;
}

unsigned evict_admit_queue(mnemo_store *st, shard *sh, uint64_t h)
{
    if (!policy_s3fifo(atomic_load_explicit(&st->policy, memory_order_relaxed)))
        return ARENA_Q_MAIN;
    if (sh->ghost) {
        uint32_t i = ghost_slot(sh, h);
        if (sh->ghost[i] == ghost_fp(h)) {
            sh->ghost[i] = 0;
            return ARENA_Q_MAIN; /* evicted from small recently, and back: admit to main */
        }
    }
    return ARENA_Q_SMALL;
}

/* ---- one slice on one shard (its lock held) ----------------------------------------------- */

/* FIFO policies: takes the oldest segment of the queue the policy works on and empties it:
 * each live entry is expired, evicted, or reinserted at the main queue's head. The segment is
 * freed with its last live entry. Returns the number of keys removed (evicted or expired) plus
 * the number kept with a lower count or promoted: a pass that only ages hot keys is progress
 * too (the next pass over them evicts), so callers do not mistake it for "nothing to evict". */
static unsigned fifo_slice(shard *sh, op *o, int policy)
{
    arena *a = &sh->ar;
    int s3 = policy_s3fifo(policy), vol = policy_volatile(policy);
    int lfu = s3 || policy == MNEMO_POLICY_ALLKEYS_LFU || policy == MNEMO_POLICY_VOLATILE_LFU;
    unsigned q = ARENA_Q_MAIN;
    uint64_t small = a->q[ARENA_Q_SMALL].bytes, total = small + a->q[ARENA_Q_MAIN].bytes;
    /* The small queue goes first when it is over its share (S3-FIFO) or when it still holds
     * entries from an earlier S3-FIFO period (other policies drain it into main). */
    if (small && (!s3 || small * 100 > total * EVICT_SMALL_PCT || !a->q[ARENA_Q_MAIN].bytes))
        q = ARENA_Q_SMALL;
    uint32_t id = arena_oldest(a, q);
    if (id == ARENA_NONE) {
        q ^= 1;
        id = arena_oldest(a, q);
    }
    if (id == ARENA_NONE)
        return 0;
    if (s3 && q == ARENA_Q_SMALL)
        ghost_fit(sh);
    unsigned removed = 0;
    uint32_t off = 0;
    while (a->segs[id].base && off < a->segs[id].used) {
        uint32_t dead = entry_dead_size(a->segs[id].base + off);
        if (dead) {
            off += dead;
            continue;
        }
        entry e;
        uint32_t ref = id << 16 | off;
        arena_decode(a, ref, &e);
        off += e.size;
        uint64_t h = entry_hash(&e);
        loc l;
        if (!shard_slot_of_ref(sh, h, ref, &l.t, &l.slot))
            continue;
        l.ref = ref;
        l.e = e;
        unsigned f = entry_freq(e.base);
        if (e.exp && entry_expire_at(&e) <= op_now(o)) {
            shard_remove(sh, o, &l, MNEMO_EVENT_EXPIRE);
            removed++;
            continue;
        }
        unsigned keep;
        if (vol && !e.exp)
            keep = f + 1; /* not a candidate: moves on untouched */
        else if (s3 && q == ARENA_Q_SMALL)
            keep = f ? 1 : 0; /* read while on probation: promoted, its count starting over */
        else
            keep = f ? (lfu ? f : 1) : 0;
        if (keep) {
            if (shard_move_entry(sh, &e, ref, l.t, l.slot, ARENA_Q_MAIN, keep - 1, op_now(o)))
                break; /* out of memory: evict what we can instead of copying */
            removed += keep - 1 < f || q == ARENA_Q_SMALL;
            continue;
        }
        if (s3 && q == ARENA_Q_SMALL && sh->ghost)
            sh->ghost[ghost_slot(sh, h)] = ghost_fp(h);
        shard_remove(sh, o, &l, MNEMO_EVENT_EVICT);
        removed++;
    }
    return removed;
}

/* Policies that remove scattered keys (random, ttl): up to EVICT_KILL_BATCH keys, then the
 * garbage they leave is compacted so that memory really goes down. */
static unsigned kill_slice(mnemo_store *st, shard *sh, op *o, int policy)
{
    unsigned removed = 0;
    for (unsigned k = 0; k < EVICT_KILL_BATCH; k++) {
        if (policy == MNEMO_POLICY_VOLATILE_TTL) {
            if (!sh->heap.n)
                break;
            uint64_t h = expheap_top(&sh->heap)->hash;
            expheap_pop(&sh->heap);
            removed += shard_remove_ttl_hash(sh, o, h, 1);
            continue;
        }
        loc l;
        if (!shard_random_entry(sh, policy == MNEMO_POLICY_VOLATILE_RANDOM, &l))
            break;
        int due = l.e.exp && entry_expire_at(&l.e) <= op_now(o);
        shard_remove(sh, o, &l, due ? MNEMO_EVENT_EXPIRE : MNEMO_EVENT_EVICT);
        removed++;
    }
    /* Give the garbage back: compact while a sealed segment is a quarter garbage or more. */
    for (int i = 0; i < 8 && shard_compact(st, sh, 1); i++)
        ;
    return removed;
}

/* One slice on shard idx: due keys first, then garbage, then what the policy evicts. Returns
 * the keys removed plus the segments compacted (0: nothing could be done here). */
static unsigned slice(mnemo_store *st, size_t idx, int policy)
{
    shard *sh = &st->shards[idx];
    op o = {st, (unsigned)(idx / st->nshards), 0, 1};
    if (store_lock(st, idx))
        return 0;
    int more;
    unsigned removed = shard_expire_due(sh, &o, 64, &more);
    if (!removed)
        removed = (unsigned)shard_compact(st, sh, 1);
    if (!removed && policy != MNEMO_POLICY_NOEVICTION &&
        !(policy_volatile(policy) && sh->ttl_keys == 0)) {
        if (policy_fifo(policy))
            removed = fifo_slice(sh, &o, policy);
        else
            removed = kill_slice(st, sh, &o, policy);
    }
    if (sh->ghost && !policy_s3fifo(policy))
        evict_shard_clear(sh);
    shard_maintain_after_evict(st, sh);
    store_unlock(st, idx);
    return removed;
}

/* ---- choosing where to evict -------------------------------------------------------------- */

/* A shard to evict from: a database chosen in proportion to its memory, then the largest of a
 * few of its shards sampled at random (so shards stay about equally full, which with keys hashed
 * uniformly approximates one store-wide queue). */
static size_t pick_shard(mnemo_store *st)
{
    unsigned ndb = st->cfg.databases, db = 0;
    uint64_t total = 0;
    for (unsigned d = 0; d < ndb; d++)
        total += atomic_load_explicit(&st->db_mem[d], memory_order_relaxed);
    if (total) {
        uint64_t r = store_rand() % total;
        for (db = 0; db + 1 < ndb; db++) {
            uint64_t m = atomic_load_explicit(&st->db_mem[db], memory_order_relaxed);
            if (r < m)
                break;
            r -= m;
        }
    }
    size_t base = (size_t)db * st->nshards, best = base + (store_rand() & st->shard_mask);
    uint64_t best_mem = atomic_load_explicit(&st->shards[best].mem_reported, memory_order_relaxed);
    for (int k = 0; k < 3; k++) {
        size_t i = base + (store_rand() & st->shard_mask);
        uint64_t m = atomic_load_explicit(&st->shards[i].mem_reported, memory_order_relaxed);
        if (m > best_mem) {
            best = i;
            best_mem = m;
        }
    }
    return best;
}

/* Evicts until mem_used <= target, for at most max_slices slices (0 = no limit). Returns 1 if
 * the target was reached, 0 if not (*progress: some key was removed). */
static int evict_to(mnemo_store *st, uint64_t target, unsigned max_slices, int *progress)
{
    size_t nshards = (size_t)st->cfg.databases * st->nshards;
    /* Give up after twice as many fruitless slices as a database has shards (plus some): by
     * then the sampling has visited about every shard that holds memory. */
    size_t fruitless = 0, limit = 2 * (size_t)st->nshards + 64;
    *progress = 0;
    for (unsigned n = 0; !max_slices || n < max_slices; n++) {
        if (atomic_load_explicit(&st->mem_used, memory_order_relaxed) <= target)
            return 1;
        if (atomic_load_explicit(&st->closed, memory_order_relaxed) ||
            !atomic_load_explicit(&st->maxmemory, memory_order_relaxed))
            return 0; /* closing, or the ceiling was lifted meanwhile */
        int policy = atomic_load_explicit(&st->policy, memory_order_relaxed);
        unsigned removed = slice(st, pick_shard(st) % nshards, policy);
        if (removed) {
            *progress = 1;
            fruitless = 0;
        } else if (++fruitless > limit) {
            return 0;
        }
    }
    return atomic_load_explicit(&st->mem_used, memory_order_relaxed) <= target;
}

static uint64_t mark(uint64_t max, unsigned pct)
{
    return max / 100 * pct + max % 100 * pct / 100;
}

static void wake_background(mnemo_store *st)
{
    if (atomic_exchange_explicit(&st->evict_wanted, 1, memory_order_acq_rel))
        return; /* already asked */
    pthread_mutex_lock(&st->bg_lock);
    pthread_cond_signal(&st->bg_cond);
    pthread_mutex_unlock(&st->bg_lock);
}

int evict_reserve_slow(mnemo_store *st, uint64_t used)
{
    uint64_t max = atomic_load_explicit(&st->maxmemory, memory_order_relaxed);
    if (st->bg_started)
        wake_background(st);
    if (used <= max && st->bg_started)
        return MNEMO_OK;
    int noev = atomic_load_explicit(&st->policy, memory_order_relaxed) == MNEMO_POLICY_NOEVICTION;
    if (store_txn) /* holding locks: the background thread evicts (the documented margin) */
        return noev && used > max ? MNEMO_ENOSPACE : MNEMO_OK;
    int64_t failed = atomic_load_explicit(&st->evict_failed_ms, memory_order_relaxed);
    if (failed && mono_ms() - failed < EVICT_FAIL_BACKOFF_MS && used > max)
        return MNEMO_ENOSPACE;
    int progress;
    /* Without a background thread, writes do its work: down to the low mark. */
    uint64_t target = st->bg_started ? max : mark(max, atomic_load(&st->evict_low_pct));
    /* A write may go on once something was evicted, even if still above the ceiling (so that
     * lowering it does not stall writers: the background thread works off the rest); under
     * noeviction only reclaimed garbage can make room, and the ceiling itself must be met. */
    if (evict_to(st, target, EVICT_SYNC_SLICES, &progress) || (progress && !noev))
        return MNEMO_OK;
    if (atomic_load_explicit(&st->mem_used, memory_order_relaxed) <= max)
        return MNEMO_OK;
    atomic_store_explicit(&st->evict_failed_ms, mono_ms(), memory_order_relaxed);
    return MNEMO_ENOSPACE;
}

void evict_background(mnemo_store *st)
{
    if (!atomic_load_explicit(&st->evict_wanted, memory_order_acquire))
        return;
    uint64_t max = atomic_load_explicit(&st->maxmemory, memory_order_relaxed);
    int64_t failed = atomic_load_explicit(&st->evict_failed_ms, memory_order_relaxed);
    if (max && !(failed && mono_ms() - failed < EVICT_FAIL_BACKOFF_MS)) {
        int progress;
        uint64_t low = mark(max, atomic_load(&st->evict_low_pct));
        if (!evict_to(st, low, 0, &progress) &&
            atomic_load_explicit(&st->mem_used, memory_order_relaxed) > max)
            atomic_store_explicit(&st->evict_failed_ms, mono_ms(), memory_order_relaxed);
    }
    atomic_store_explicit(&st->evict_wanted, 0, memory_order_release);
}
