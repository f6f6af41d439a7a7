/* shard.c — see shard.h. Every function runs with sh->lock held. */
#include "engine/shard.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine/evict.h"
#include "engine/compress.h"
#include "engine/store_int.h"
#include "util/clock.h"
#include "util/hash.h"

_Static_assert(offsetof(shard, ar) + sizeof(void *) <= 64,
               "a lookup's shard fields must stay in the shard's first cache line");

#define MIGRATE_PER_WRITE 32u  /* entries moved from old to tab per write */
/* ... and per visit of the background cycle (~50 us of lock hold): a shard that stops taking
 * writes in the middle of a resize still finishes it within a few cycles, instead of keeping
 * both tables (and probing both on every miss) until its next writes. */
#define MIGRATE_PER_VISIT 1024u
#define COMPACT_MIN_GARBAGE (32u * 1024)

_Thread_local uint64_t shard_restore_version;

int64_t op_now(op *o)
{
    if (!o->now) {
        const mnemo_config *c = &o->st->cfg;
        o->now = c->clock ? c->clock(c->clock_ctx) : clock_realtime_ms();
        if (o->now <= 0)
            o->now = 1;
    }
    return o->now;
}

void shard_activate(shard *sh)
{
    arena_init(&sh->ar); /* everything else of an empty shard is zero */
    sh->state = SHARD_OPEN;
}

void shard_clear(shard *sh)
{
    evict_shard_clear(sh);
    table_free(&sh->tab);
    table_free(&sh->old);
    sh->mig_pos = 0;
    sh->removed = 0;
    arena_free_all(&sh->ar);
    expheap_free(&sh->heap);
    sh->ttl_keys = 0;
    sh->ttl_sum = 0;
    sh->comp_values = sh->comp_stored = sh->comp_orig = 0;
}

uint64_t shard_mem(const shard *sh)
{
    return table_mem(&sh->tab) + table_mem(&sh->old) + sh->ar.alloc_bytes +
           expheap_mem(&sh->heap) + (sh->ghost ? (sh->ghost_mask + 1u) * 2u + 16u : 0);
}

void shard_sync_mem(mnemo_store *st, shard *sh)
{
    uint64_t now = shard_mem(sh);
    uint64_t was = atomic_load_explicit(&sh->mem_reported, memory_order_relaxed);
    if (now == was)
        return;
    atomic_store_explicit(&sh->mem_reported, now, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->mem_used, now - was, memory_order_relaxed);
    size_t db = (size_t)(sh - st->shards) / st->nshards;
    atomic_fetch_add_explicit(&st->db_mem[db], now - was, memory_order_relaxed);
}

uint64_t shard_keys(const shard *sh)
{
    return (uint64_t)sh->tab.count + sh->old.count;
}

static inline void decode_ref(const shard *sh, uint32_t ref, entry *e)
{
    arena_decode(&sh->ar, ref, e);
}

/* Keeps the count and deadline sum of entries with a TTL: a deadline old_at becomes new_at
 * (0 = none). */
static inline void ttl_track(shard *sh, int64_t old_at, int64_t new_at)
{
    if (old_at > 0) {
        sh->ttl_keys--;
        sh->ttl_sum -= (uint64_t)old_at;
    }
    if (new_at > 0) {
        sh->ttl_keys++;
        sh->ttl_sum += (uint64_t)new_at;
    }
}

/* Counts a compressed entry in (sign 1) or out of (sign -1) the shard's compression figures. */
static __attribute__((noinline)) void comp_count(shard *sh, const entry *e, int sign)
{
    size_t orig = 0;
    (void)compress_orig_len(e->val, e->vlen, &orig); /* a malformed header counts 0 */
    sh->comp_values += (uint64_t)(int64_t)sign;
    sh->comp_stored += (uint64_t)((int64_t)sign * e->vlen);
    sh->comp_orig += (uint64_t)((int64_t)sign * (int64_t)orig);
}

static inline void comp_track(shard *sh, const entry *e, int sign)
{
    if (__builtin_expect(e->flags & ENT_COMPRESSED, 0))
        comp_count(sh, e, sign);
}

/* ---- resizing ------------------------------------------------------------------------------ */

/* Moves up to `budget` entries from old into tab. Every move reads its entry (to rehash the key)
 * and writes a random slot of tab: both are cache misses on a big shard, so entries go in
 * batches whose loads are issued (prefetched) before any is used, letting the misses overlap.
 * Only the key is read (entry_key_at), not the whole header. A growing index moves each key
 * about 7 times (steps of 1.17x), so this is a large part of an insert: callgrind, SET into an
 * empty store of 1M keys, 2,154-2,158 instructions with a full entry_decode() per move,
 * 1,959-1,963 now. In time, on 1M keys, the misses hide the difference (docs/BENCHMARKS.md
 * "growing indexes"). */
#define MIGRATE_BATCH 16u

static void migrate(shard *sh, uint32_t budget)
{
    table *o = &sh->old;
    uint32_t slots[MIGRATE_BATCH];
    uint64_t hs[MIGRATE_BATCH];
    while (o->count && budget && sh->mig_pos < o->cap) {
        unsigned n = 0;
        while (n < MIGRATE_BATCH && n < budget && sh->mig_pos < o->cap) {
            uint32_t s = sh->mig_pos++;
            if (o->ctrl[s] >= 0x80) {
                slots[n++] = s;
                __builtin_prefetch(arena_ptr(&sh->ar, table_refs(o)[s]));
            }
        }
        for (unsigned i = 0; i < n; i++) {
            uint32_t ref = table_refs(o)[slots[i]], klen;
            const arena_seg *sg = &sh->ar.segs[ref >> 16];
            uint8_t kb[ENT_PFX_KEY_MAX];
            const uint8_t *key = entry_key_at(sg->base + (ref & 0xffff), &sg->pfx, kb, &klen);
            hs[i] = hash_bytes(key, klen);
            uint32_t home = table_home(sh->tab.cap, hs[i]);
            __builtin_prefetch(&sh->tab.ctrl[home], 1);
            __builtin_prefetch(&table_refs(&sh->tab)[home], 1);
        }
        for (unsigned i = 0; i < n; i++) {
            table_put(&sh->tab, table_insert_slot(&sh->tab, hs[i]), hs[i],
                      table_refs(o)[slots[i]]);
            table_remove(o, slots[i]);
        }
        budget -= n;
    }
    if (o->count == 0)
        table_free(o);
}

void shard_finish_resize(shard *sh)
{
    if (sh->old.cap)
        migrate(sh, UINT32_MAX);
}

/* Starts moving the index into a fresh table sized for `live` keys at a load of 0.75, so the
 * load stays between 0.75 and 0.875 (5.7-6.7 bytes of index per key) and each growth step is
 * 1.17x. Measured against sizing for 0.7 (1.25x steps), on the reference 1M-key load: 0.65
 * bytes per key less on average over a shard's growth (1.05 at 1M keys), for ~6% more
 * instructions per insert while the shard grows (keys move more often; table_alloc() giving a
 * mapped table all its pages' slots takes back most of that), nothing once it has its size. */
static int start_resize(shard *sh, uint64_t live)
{
    uint64_t cap = live * 4 / 3 + TABLE_GROUP;
    if (cap > UINT32_MAX - TABLE_GROUP)
        return MNEMO_ENOMEM;
    table fresh;
    if (table_alloc(&fresh, (uint32_t)cap))
        return MNEMO_ENOMEM;
    sh->old = sh->tab;
    sh->tab = fresh;
    sh->mig_pos = 0;
    sh->removed = 0;
    migrate(sh, MIGRATE_PER_WRITE);
    return MNEMO_OK;
}

int shard_prepare_insert(shard *sh)
{
    if (sh->old.cap)
        migrate(sh, MIGRATE_PER_WRITE);
    if (!sh->tab.cap)
        return table_alloc(&sh->tab, TABLE_MIN_CAP) ? MNEMO_ENOMEM : MNEMO_OK;
    if (sh->tab.count + sh->tab.tombs + 1 <= table_max_fill(&sh->tab))
        return MNEMO_OK;
    if (sh->old.cap)
        migrate(sh, UINT32_MAX); /* the new table filled before the old one drained */
    /* A table filled by tombstones as much as by keys is rebuilt at its own size rather than
     * at a load of 0.75, which would grow it by up to 7% at each rebuild while the keys only
     * come and go (eviction's 90/80 sawtooth): 0.3 byte a key less at a 64 MB ceiling
     * (policy_sim). Up to a load of 0.8, so a rebuild still leaves room for 7.5% of the slots
     * before the next one. */
    uint64_t live = (uint64_t)sh->tab.count + 1, cap = sh->tab.cap;
    if (live * 4 > cap * 3 && live * 5 <= cap * 4)
        live = (cap - TABLE_GROUP) * 3 / 4; /* start_resize()'s capacity: cap again */
    return start_resize(sh, live);
}

/* An index left mostly empty by removals (mass deletes, eviction down to a lowered ceiling)
 * shrinks to its keys: below a quarter full, it moves into a table at 0.75 (or is freed when
 * empty), so the ceiling a store is lowered to is not held up by indexes sized for what it
 * used to hold. Only after removals of at least a quarter of its slots: a table sized ahead
 * of its keys (the snapshot loader presizes them) is not sparse, it is waiting. */
static void shrink_if_sparse(shard *sh)
{
    if (sh->old.cap || sh->tab.cap < 256 || (uint64_t)sh->tab.count * 4 >= sh->tab.cap ||
        (uint64_t)sh->removed * 4 < sh->tab.cap)
        return;
    sh->removed = 0;
    if (sh->tab.count == 0)
        table_free(&sh->tab);
    else
        (void)start_resize(sh, sh->tab.count); /* out of memory: it stays as it is */
}

int shard_random_entry(shard *sh, int ttl_only, loc *l)
{
    table *t = sh->old.count && (store_rand() & 1) ? &sh->old : &sh->tab;
    if (!t->count)
        t = t == &sh->tab ? &sh->old : &sh->tab;
    if (!t->count)
        return 0;
    /* A table with any key is at least 1/8 full after rebuilds, so an occupied slot is near;
     * with ttl_only, give up after 1024 slots (the caller samples again or moves on). */
    uint32_t s = (uint32_t)(store_rand() % t->cap);
    for (uint32_t k = 0; k < t->cap && k < 1024; k++, s = s + 1 == t->cap ? 0 : s + 1) {
        if (t->ctrl[s] < 0x80)
            continue;
        l->ref = table_refs(t)[s];
        decode_ref(sh, l->ref, &l->e);
        if (ttl_only && !l->e.exp)
            continue;
        l->t = t;
        l->slot = s;
        return 1;
    }
    return 0;
}

/* ---- lookup -------------------------------------------------------------------------------- */

static int find_in(shard *sh, table *t, const void *key, size_t klen, uint64_t h, loc *l)
{
    table_probe p;
    table_probe_start(t, h, &p);
    uint32_t s;
    while ((s = table_probe_next(t, &p)) != UINT32_MAX) {
        uint32_t ref = table_refs(t)[s];
        const uint8_t *b = arena_ptr(&sh->ar, ref);
        /* Cheap reject on the key length in the head byte before decoding the header. */
        if (klen < ENT_KLEN_VAR && (b[0] & ENT_KLEN_MASK) != klen &&
            (b[0] & ENT_KLEN_MASK) != ENT_KLEN_EXT)
            continue; /* (an extension byte moves the length out of the head) */
        decode_ref(sh, ref, &l->e);
        if (entry_key_eq(&l->e, key, klen)) {
            l->t = t;
            l->slot = s;
            l->ref = ref;
            return 1;
        }
    }
    if (t == &sh->tab)
        l->insert = p.insert;
    return 0;
}

static void prefetch_in(const shard *sh, const table *t, uint64_t h, int stage)
{
    if (!t->cap)
        return;
    if (stage == 0) {
        uint32_t home = table_home(t->cap, h);
        __builtin_prefetch(&t->ctrl[home]);
        __builtin_prefetch(&table_refs(t)[home]);
        return;
    }
    table_probe p;
    table_probe_start(t, h, &p);
    uint32_t s;
    for (int i = 0; i < 2 && (s = table_probe_next(t, &p)) != UINT32_MAX; i++)
        __builtin_prefetch(arena_ptr(&sh->ar, table_refs(t)[s]));
}

void shard_prefetch(const shard *sh, uint64_t h, int stage)
{
    if (sh->old.count) /* mid-migration: the key may be in either table */
        prefetch_in(sh, &sh->old, h, stage);
    prefetch_in(sh, &sh->tab, h, stage);
}

int shard_find(shard *sh, op *o, const void *key, size_t klen, uint64_t h, loc *l)
{
    l->t = NULL;
    l->insert = UINT32_MAX;
    if (!(sh->old.count && find_in(sh, &sh->old, key, klen, h, l)) &&
        !(sh->tab.cap && find_in(sh, &sh->tab, key, klen, h, l)))
        return 0;
    if ((l->e.flags & ENT_TTL) && entry_expire_at(&l->e) <= op_now(o)) {
        shard_remove(sh, o, l, MNEMO_EVENT_EXPIRE);
        /* The tables did not change shape: a fresh probe gives the insert slot. */
        return shard_find(sh, o, key, klen, h, l);
    }
    if (!o->notouch)
        entry_touch(l->e.base);
    return 1;
}

/* ---- writes -------------------------------------------------------------------------------- */

static void vsrc_copy(uint8_t *dst, const vsrc *v)
{
    if (v->n1)
        memmove(dst, v->p1, v->n1);
    dst += v->n1;
    if (v->zeros)
        memset(dst, 0, v->zeros);
    dst += v->zeros;
    if (v->n2)
        memmove(dst, v->p2, v->n2);
    dst += v->n2;
    if (v->n3)
        memmove(dst, v->p3, v->n3);
}

uint64_t shard_next_version(shard *sh, op *o)
{
    uint64_t v = hlc_tick(atomic_load_explicit(&sh->hlc, memory_order_relaxed),
                          atomic_load_explicit(&o->st->hlc, memory_order_relaxed), op_now(o));
    atomic_store_explicit(&sh->hlc, v, memory_order_relaxed);
    return v;
}

/* The room an entry written to the arena gets for versions to come (ENT_VERSION_ROOM or 0).
 * An overwritten key is likely to be overwritten again, and so is any key of a shard where
 * most recent writes overwrote one: a new key, or an entry rewritten elsewhere (compaction,
 * promotion, a TTL added or dropped: a fresh segment's base would shrink its field back). With
 * the room, a key's first overwrite more than 2 s after its segment opened stays in place
 * instead of moving the entry for a longer version field (measured: 16 % of 2M pipelined
 * INCRs over redis-benchmark's 1M counters moved their entry, 5 % with this, mostly keys
 * created before overwrites dominated). Where keys are written once, nothing changes: the
 * field stays minimal, 1-3 bytes a key less than the room's 4. */
static inline unsigned version_room(const shard *sh, int overwrite)
{
    return overwrite || sh->recent_writes[1] > sh->recent_writes[0] ? ENT_VERSION_ROOM : 0;
}

static inline void count_write(shard *sh, int overwrite)
{
    if (++sh->recent_writes[overwrite] + sh->recent_writes[!overwrite] >= 256) {
        sh->recent_writes[0] >>= 1;
        sh->recent_writes[1] >>= 1;
    }
}

int shard_store(shard *sh, op *o, loc *l, const void *key, size_t klen, uint64_t h,
                const vsrc *v, int64_t expire_at, uint64_t *version)
{
    vsrc cv;
    uint8_t vflags = 0;
    if (v->enc != VSRC_PLAIN) { /* one branch for values decided plain (mnemo_set's small ones) */
        if (v->enc == VSRC_AUTO && vsrc_len(v) >= store_compress_min(o->st) &&
            compress_vsrc(v, &cv))
            v = &cv;
        vflags = v->enc == VSRC_LZ4 ? ENT_COMPRESSED : 0;
    }
    size_t vlen = vsrc_len(v);
    int64_t old_at = l->t ? entry_expire_at(&l->e) : 0;
    uint64_t ver;
    if (shard_restore_version) {
        ver = shard_restore_version;
        shard_observe_version(sh, ver);
    } else {
        ver = shard_next_version(sh, o);
    }
    uint8_t flags = (uint8_t)((expire_at > 0 ? ENT_TTL : 0) | vflags);
    entry e;
    uint64_t vb = 0;
    int in_place = 0;
    size_t vpad = 0;
    /* An overwrite keeps the key's access count (it was just touched by the lookup) and its
     * queue; a new key starts at 0 in the queue the policy admits to. */
    unsigned freq = l->t ? entry_freq(l->e.base) : 0;

    if (l->t && !v->aliases_old) {
        vb = arena_vbase(&sh->ar, l->ref);
        if (vlen == l->e.vlen && flags == l->e.flags &&
            entry_rewrite(&l->e, ver, vb, expire_at)) {
            in_place = 2; /* only the version, expiration and value change */
        } else {
            size_t need = entry_size((uint32_t)klen, (uint32_t)vlen, flags, ver, vb, l->e.plen);
            if (need <= l->e.size && l->e.size - need <= entry_vpad_max(ver, vb)) {
                in_place = 1;
                vpad = l->e.size - need;
            }
        }
    }
    if (in_place == 2) {
        comp_track(sh, &l->e, -1);
        e = l->e;
        vsrc_copy(e.val, v);
    } else if (in_place) {
        /* The same size, the version field padded if the new entry is shorter: rewrite in
         * place, no garbage (counters, fixed-size values). */
        comp_track(sh, &l->e, -1);
        entry_init_pad(l->e.base, flags, key, (uint32_t)klen, (uint32_t)vlen, ver, vb,
                       arena_pfx(&sh->ar, l->ref), l->e.plen, expire_at, vpad, &e);
        entry_set_freq(e.base, freq);
        vsrc_copy(e.val, v);
    } else {
        arena_place pl;
        unsigned q = l->t ? arena_queue_of(&sh->ar, l->ref) : evict_admit_queue(o->st, sh, h);
        /* An overwritten key is likely to be overwritten again: its version field gets room
         * for the versions of the next 9 hours (ENT_VERSION_ROOM), so that those rewrites
         * stay in place. A minimal field grows as the segment ages (2 bytes for versions
         * within 2 s of the segment's start, 3 within 4 minutes), and every rewrite that
         * grew moved the entry, leaving garbage to compact. A new key gets the same room
         * where overwrites dominate (version_room()). */
        uint8_t *p = arena_alloc_entry(&sh->ar, q, key, (uint32_t)klen, (uint32_t)vlen, flags,
                                       ver, version_room(sh, l->t != NULL), op_now(o), &pl);
        if (!p) {
            if (v == &cv)
                compress_scratch_trim();
            return MNEMO_ENOMEM;
        }
        uint32_t ref = pl.ref;
        entry_init_pad(p, flags, key, (uint32_t)klen, (uint32_t)vlen, ver, pl.vbase,
                       arena_pfx(&sh->ar, ref), pl.plen, expire_at, pl.vpad, &e);
        entry_set_freq(p, freq);
        vsrc_copy(e.val, v);
        if (l->t) {
            comp_track(sh, &l->e, -1);
            table_refs(l->t)[l->slot] = ref;
            arena_release(&sh->ar, l->ref, l->e.size);
        } else {
            table_put(&sh->tab, l->insert, h, ref);
        }
    }
    if (o->st->journal) {
        /* The log holds values as written (the on-disk format knows no compression): a
         * compressed one is logged decompressed. */
        const uint8_t *lv = e.val;
        size_t ln = vlen;
        if (!vflags || entry_value(&e, &lv, &ln) == MNEMO_OK)
            journal_set(o->st->journal, o->db, key, klen, lv, ln, ver, expire_at);
    }
    if (vflags) {
        comp_count(sh, &e, 1);
        if (v == &cv)
            compress_scratch_trim();
    }
    ttl_track(sh, old_at, expire_at);
    /* A failed push only delays active expiry of this key to the next heap rebuild. */
    if (expire_at > 0 && expire_at != old_at)
        (void)expheap_push(&sh->heap, expire_at, h);
    sh->sets++;
    count_write(sh, l->t != NULL);
    shard_count_change(sh);
    store_event(o->st, MNEMO_EVENT_SET, o->db, key, klen, ver);
    if (version)
        *version = ver;
    l->t = NULL;
    return MNEMO_OK;
}

void shard_remove(shard *sh, op *o, loc *l, mnemo_event ev)
{
    uint8_t kb[ENT_PFX_KEY_MAX];
    const uint8_t *key = entry_key(&l->e, kb);
    store_event(o->st, ev, o->db, key, l->e.klen, entry_version(&l->e));
    if (o->st->journal)
        journal_del(o->st->journal, o->db, key, l->e.klen, ev == MNEMO_EVENT_DEL);
    ttl_track(sh, entry_expire_at(&l->e), 0);
    comp_track(sh, &l->e, -1);
    table_remove(l->t, l->slot);
    arena_release(&sh->ar, l->ref, l->e.size);
    sh->removed += sh->removed != UINT32_MAX;
    shard_count_change(sh);
    if (ev == MNEMO_EVENT_EXPIRE)
        sh->expired++;
    else if (ev == MNEMO_EVENT_EVICT)
        sh->evicted++;
    else
        sh->deletes++;
    l->t = NULL;
}

int shard_set_expire(shard *sh, op *o, loc *l, uint64_t h, int64_t at)
{
    entry *old = &l->e;
    uint8_t kb[ENT_PFX_KEY_MAX];
    if (at > 0 && old->exp) {
        ttl_track(sh, entry_expire_at(old), at);
        entry_store64(old->exp, (uint64_t)at);
        (void)expheap_push(&sh->heap, at, h);
        if (o->st->journal)
            journal_expire(o->st->journal, o->db, entry_key(old, kb), old->klen, at);
        shard_count_change(sh);
        return MNEMO_OK;
    }
    if (at <= 0 && !old->exp)
        return MNEMO_OK;
    /* Adding or dropping the 8-byte field changes the entry's size: rewrite it. */
    const uint8_t *key = entry_key(old, kb);
    arena_place pl;
    uint8_t flags = (uint8_t)((old->flags & ~ENT_TTL) | (at > 0 ? ENT_TTL : 0));
    uint8_t *p = arena_alloc_entry(&sh->ar, arena_queue_of(&sh->ar, l->ref), key, old->klen,
                                   old->vlen, flags, entry_version(old), version_room(sh, 0),
                                   op_now(o), &pl);
    if (!p)
        return MNEMO_ENOMEM;
    uint32_t ref = pl.ref;
    entry e;
    entry_init_pad(p, flags, key, old->klen, old->vlen, entry_version(old), pl.vbase,
                   arena_pfx(&sh->ar, ref), pl.plen, at, pl.vpad, &e);
    entry_set_freq(p, entry_freq(old->base));
    memcpy(e.val, old->val, old->vlen);
    ttl_track(sh, entry_expire_at(old), at);
    table_refs(l->t)[l->slot] = ref;
    arena_release(&sh->ar, l->ref, old->size); /* `key` may point into it: no longer used */
    if (at > 0)
        (void)expheap_push(&sh->heap, at, h);
    if (o->st->journal)
        journal_expire(o->st->journal, o->db, entry_key(&e, kb), e.klen, at);
    shard_count_change(sh);
    l->t = NULL;
    return MNEMO_OK;
}

/* ---- compaction ---------------------------------------------------------------------------- */

/* The slot holding `ref` for hash h, in either table. */
int shard_slot_of_ref(shard *sh, uint64_t h, uint32_t ref, table **t, uint32_t *slot)
{
    table *ts[2] = {&sh->old, &sh->tab};
    for (int i = 0; i < 2; i++) {
        if (!ts[i]->count)
            continue;
        table_probe p;
        table_probe_start(ts[i], h, &p);
        uint32_t s;
        while ((s = table_probe_next(ts[i], &p)) != UINT32_MAX) {
            if (table_refs(ts[i])[s] == ref) {
                *t = ts[i];
                *slot = s;
                return 1;
            }
        }
    }
    return 0;
}

int shard_move_entry(shard *sh, const entry *e, uint32_t ref, table *t, uint32_t slot,
                     unsigned q, unsigned freq, int64_t now)
{
    arena_place pl;
    uint8_t kb[ENT_PFX_KEY_MAX];
    const uint8_t *key = entry_key(e, kb);
    uint8_t *p = arena_alloc_entry(&sh->ar, q, key, e->klen, e->vlen, e->flags, e->version,
                                   version_room(sh, 0), now, &pl);
    if (!p)
        return MNEMO_ENOMEM;
    uint32_t nref = pl.ref;
    entry ne; /* re-encoded: the version against the new segment's base, the key its prefix */
    entry_init_pad(p, e->flags, key, e->klen, e->vlen, e->version, pl.vbase,
                   arena_pfx(&sh->ar, nref), pl.plen, entry_expire_at(e), pl.vpad, &ne);
    entry_set_freq(p, freq);
    memcpy(ne.val, e->val, e->vlen);
    table_refs(t)[slot] = nref;
    arena_release(&sh->ar, ref, e->size); /* frees a segment after its last live entry */
    return MNEMO_OK;
}

/* Copies the live entries of segment `victim` to the head of its queue and frees it. */
static void compact(shard *sh, uint32_t victim, int64_t now)
{
    arena *a = &sh->ar;
    uint32_t off = 0;
    unsigned q = a->segs[victim].queue;
    while (a->segs[victim].base && off < a->segs[victim].used) {
        uint32_t dead = entry_dead_size(a->segs[victim].base + off);
        if (dead) {
            off += dead;
            continue;
        }
        entry e;
        uint32_t ref = victim << 16 | off;
        decode_ref(sh, ref, &e);
        off += e.size;
        table *t;
        uint32_t slot;
        if (!shard_slot_of_ref(sh, entry_hash(&e), ref, &t, &slot))
            continue; /* not in the index: nothing to move */
        /* The copies join the head of the victim's queue: compaction moves live entries
         * forward in the FIFO, as Segcache's merge does; their access counts go with them. */
        if (shard_move_entry(sh, &e, ref, t, slot, q, entry_freq(e.base), now))
            return; /* out of memory: try again another time */
    }
}

/* Normally a shard keeps up to a quarter of its segment bytes, and at least 32 KiB, as
 * garbage before compacting (copying costs CPU). Under memory pressure garbage is the first
 * thing to give back, before any live key is evicted or a write refused. */
static int worth_compacting(const arena *a, uint64_t g, int pressed)
{
    return pressed ? g && g * 8 >= a->small_cap
                   : g >= COMPACT_MIN_GARBAGE && g * 4 >= a->small_cap;
}

int shard_compact(mnemo_store *st, shard *sh, int pressed)
{
    if (!worth_compacting(&sh->ar, arena_garbage(&sh->ar), pressed))
        return 0;
    uint32_t victim = arena_pick_victim(&sh->ar);
    if (victim == ARENA_NONE)
        return 0;
    op o = {st, 0, 0, 1};
    compact(sh, victim, op_now(&o));
    return 1;
}

void shard_maintain_after_write(mnemo_store *st, shard *sh)
{
    (void)shard_compact(st, sh, store_pressed(st));
    shrink_if_sparse(sh);
    shard_sync_mem(st, sh);
}

void shard_maintain_after_evict(mnemo_store *st, shard *sh)
{
    shrink_if_sparse(sh);
    shard_sync_mem(st, sh);
}

/* ---- active expiry ------------------------------------------------------------------------- */

static void heap_rebuild(shard *sh)
{
    expheap_free(&sh->heap);
    table *ts[2] = {&sh->old, &sh->tab};
    for (int i = 0; i < 2; i++) {
        for (uint32_t s = 0; s < ts[i]->cap; s++) {
            if (ts[i]->ctrl[s] < 0x80)
                continue;
            entry e;
            decode_ref(sh, table_refs(ts[i])[s], &e);
            if (e.exp)
                (void)expheap_push(&sh->heap, entry_expire_at(&e), entry_hash(&e));
        }
    }
}

unsigned shard_remove_ttl_hash(shard *sh, op *o, uint64_t h, int evict)
{
    unsigned n = 0;
    table *ts[2] = {&sh->old, &sh->tab};
    for (int i = 0; i < 2; i++) {
        if (!ts[i]->count)
            continue;
        table_probe p;
        table_probe_start(ts[i], h, &p);
        uint32_t s;
        while ((s = table_probe_next(ts[i], &p)) != UINT32_MAX) {
            loc l;
            l.ref = table_refs(ts[i])[s];
            decode_ref(sh, l.ref, &l.e);
            if (!l.e.exp || entry_hash(&l.e) != h)
                continue;
            int due = entry_expire_at(&l.e) <= op_now(o);
            if (!due && !evict)
                continue;
            l.t = ts[i];
            l.slot = s;
            shard_remove(sh, o, &l, due ? MNEMO_EVENT_EXPIRE : MNEMO_EVENT_EVICT);
            n++;
        }
    }
    return n;
}

unsigned shard_expire_due(shard *sh, op *o, unsigned budget, int *more)
{
    unsigned n = 0;
    if (sh->old.cap)
        migrate(sh, MIGRATE_PER_VISIT);
    if (sh->heap.n > 2 * sh->ttl_keys + 64)
        heap_rebuild(sh);
    while (sh->heap.n && budget) {
        const exp_rec *r = expheap_top(&sh->heap);
        if (r->at > op_now(o))
            break;
        uint64_t h = r->hash;
        expheap_pop(&sh->heap);
        n += shard_remove_ttl_hash(sh, o, h, 0);
        budget--;
    }
    *more = sh->heap.n && expheap_top(&sh->heap)->at <= op_now(o);
    if (n)
        shard_maintain_after_write(o->st, sh);
    return n;
}

/* ---- scanning ------------------------------------------------------------------------------ */

static uint64_t scan_table(shard *sh, op *o, table *t, uint64_t lo, uint64_t hi,
                           shard_visit_fn visit, void *ctx)
{
    if (!t->count)
        return 0;
    uint32_t cap = t->cap;
    uint64_t pa = table_home(cap, lo << 32), pb = table_home(cap, (hi - 1) << 32);
    uint64_t examined = 0;
    /* Unwrapped positions: slot = pos mod cap. Stop at the first empty slot past pb. */
    for (uint64_t pos = pa; pos < pa + cap; pos++) {
        uint32_t s = (uint32_t)(pos % cap);
        uint8_t c = t->ctrl[s];
        if (c == TABLE_EMPTY) {
            if (pos > pb)
                break;
            continue;
        }
        if (c == TABLE_TOMB)
            continue;
        loc l;
        l.ref = table_refs(t)[s];
        decode_ref(sh, l.ref, &l.e);
        uint64_t top = entry_hash(&l.e) >> 32;
        if (top < lo || top >= hi)
            continue;
        examined++;
        l.t = t;
        l.slot = s;
        if (l.e.exp && entry_expire_at(&l.e) <= op_now(o)) {
            shard_remove(sh, o, &l, MNEMO_EVENT_EXPIRE);
            continue;
        }
        if (visit(ctx, &l.e))
            shard_remove(sh, o, &l, MNEMO_EVENT_DEL);
    }
    return examined;
}

uint64_t shard_scan_range(shard *sh, op *o, uint64_t lo, uint64_t hi, shard_visit_fn visit,
                          void *ctx)
{
    uint64_t n = scan_table(sh, o, &sh->old, lo, hi, visit, ctx);
    return n + scan_table(sh, o, &sh->tab, lo, hi, visit, ctx);
}
