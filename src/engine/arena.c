/* arena.c — see arena.h. */
#include "engine/arena.h"

#include <malloc.h>
#include <stdlib.h>

#include "engine/entry.h"

/* What the allocator really holds for a block: its usable size plus the chunk header. */
static uint64_t mem_of(void *p)
{
    return p ? malloc_usable_size(p) + sizeof(size_t) : 0;
}

void arena_init(arena *a)
{
    memset(a, 0, sizeof(*a));
    for (unsigned q = 0; q < ARENA_QUEUES; q++)
        a->q[q].head = a->q[q].oldest = a->q[q].newest = ARENA_NONE;
}

/* Links sealed segment id at the new end of its queue. */
static void seg_link(arena *a, uint32_t id)
{
    arena_seg *s = &a->segs[id];
    arena_queue *q = &a->q[s->queue];
    s->sealed = 1;
    s->next = ARENA_NONE;
    s->prev = q->newest;
    if (q->newest != ARENA_NONE)
        a->segs[q->newest].next = id;
    else
        q->oldest = id;
    q->newest = id;
}

static void seg_unlink(arena *a, uint32_t id)
{
    arena_seg *s = &a->segs[id];
    arena_queue *q = &a->q[s->queue];
    if (s->prev != ARENA_NONE)
        a->segs[s->prev].next = s->next;
    else
        q->oldest = s->next;
    if (s->next != ARENA_NONE)
        a->segs[s->next].prev = s->prev;
    else
        q->newest = s->prev;
    s->sealed = 0;
}

void arena_free_all(arena *a)
{
    for (uint32_t i = 0; i < a->nsegs; i++)
        free(a->segs[i].base);
    free(a->segs);
    free(a->free_ids);
    arena_init(a);
}


/* A fresh segment id with base == NULL, or ARENA_NONE. */
static uint32_t seg_id_new(arena *a)
{
    if (a->nfree)
        return a->free_ids[--a->nfree];
    if (a->nsegs == ARENA_MAX_SEGS)
        return ARENA_NONE;
    if (a->nsegs == a->segs_cap) {
        /* Steps of 1/4: the table is a byte a key on a 64 MB store (64 bytes a segment of ~80
         * entries), so doubling would leave ~0.25 byte a key unused on average. */
        uint32_t ncap = a->segs_cap ? a->segs_cap + (a->segs_cap + 3) / 4 : 4;
        if (ncap > ARENA_MAX_SEGS)
            ncap = ARENA_MAX_SEGS;
        uint64_t before = mem_of(a->segs) + mem_of(a->free_ids);
        /* Line-aligned, so that a record (64 bytes) is one cache line: a lookup reads the
         * segment's base and, for a prefixed key, its prefix from the same line. */
        void *m;
        if (posix_memalign(&m, 64, (size_t)ncap * sizeof(arena_seg)) != 0)
            return ARENA_NONE;
        arena_seg *s = m;
        if (a->nsegs)
            memcpy(s, a->segs, (size_t)a->nsegs * sizeof(*s));
        free(a->segs);
        a->segs = s;
        uint32_t *f = realloc(a->free_ids, (size_t)ncap * sizeof(*f));
        if (!f)
            return ARENA_NONE;
        a->free_ids = f;
        a->segs_cap = ncap;
        a->alloc_bytes += mem_of(a->segs) + mem_of(a->free_ids) - before;
    }
    a->segs[a->nsegs].base = NULL;
    return a->nsegs++;
}

static void seg_free(arena *a, uint32_t id)
{
    arena_seg *s = &a->segs[id];
    a->alloc_bytes -= mem_of(s->base);
    a->q[s->queue].bytes -= s->cap;
    if (!s->large) {
        a->small_cap -= s->cap;
        a->small_live -= s->live;
    }
    if (s->sealed)
        seg_unlink(a, id);
    else if (id == a->q[s->queue].head) {
        a->q[s->queue].head = ARENA_NONE;
        a->head_room -= s->cap - s->used;
    }
    free(s->base);
    memset(s, 0, sizeof(*s));
    if (id + 1 == a->nsegs) {
        a->nsegs--;
    } else {
        a->free_ids[a->nfree++] = id;
    }
}

static uint32_t seg_new(arena *a, unsigned q, uint32_t cap, int large, int64_t now)
{
    uint32_t id = seg_id_new(a);
    if (id == ARENA_NONE)
        return ARENA_NONE;
    uint8_t *base = malloc(cap);
    if (!base) {
        if (id + 1 == a->nsegs)
            a->nsegs--;
        else
            a->free_ids[a->nfree++] = id;
        return ARENA_NONE;
    }
    arena_seg *s = &a->segs[id];
    s->base = base;
    s->cap = cap;
    s->used = 0;
    s->live = 0;
    s->large = (uint8_t)large;
    s->queue = (uint8_t)q;
    s->sealed = 0;
    s->born = now;
    s->prev = s->next = ARENA_NONE;
    a->alloc_bytes += mem_of(base);
    a->q[q].bytes += cap;
    if (large)
        seg_link(a, id); /* sealed from the start: nothing is appended to it */
    else
        a->small_cap += cap;
    return id;
}

/* Seals queue q's head: it joins the queue's FIFO (or is freed if nothing in it is live). */
static void seal_head(arena *a, unsigned q)
{
    uint32_t h = a->q[q].head;
    if (h == ARENA_NONE)
        return;
    a->q[q].head = ARENA_NONE;
    a->head_room -= a->segs[h].cap - a->segs[h].used; /* the slack becomes garbage */
    if (a->segs[h].live == 0)
        seg_free(a, h);
    else
        seg_link(a, h);
}

uint32_t arena_oldest(arena *a, unsigned q)
{
    if (a->q[q].oldest == ARENA_NONE)
        seal_head(a, q);
    return a->q[q].oldest;
}

/* Bytes a key shares with the learning reference, at most its length. */
static unsigned ref_lcp(const entry_pfx *r, const void *key, uint32_t klen)
{
    return entry_lcp16((const uint8_t *)key, r->b, klen < r->len ? klen : r->len);
}

/* The prefix for a segment started now for `key`: the length n that saves the most bytes over
 * the keys counted since the last segment started (n times the keys sharing at least n bytes
 * with the reference), taken from the reference. The counts start over; when fewer than half
 * of the keys shared the chosen prefix, the reference becomes this key (the keyspace moved on,
 * or the reference was an odd one). */
static void learn_prefix(arena *a, entry_pfx *out, const uint8_t *key, uint32_t klen)
{
    uint64_t total = 0, at_least = 0, best = 0, best_n = 0;
    unsigned len = 0;
    for (unsigned n = 0; n <= ENT_PFX_MAX; n++)
        total += a->lcp_count[n];
    for (unsigned n = ENT_PFX_MAX; n >= 1; n--) {
        at_least += a->lcp_count[n];
        if (at_least * n > best) {
            best = at_least * n;
            best_n = at_least;
            len = n;
        }
    }
    out->len = (uint8_t)len;
    memcpy(out->b, a->ref.b, ENT_PFX_MAX);
    memset(a->lcp_count, 0, sizeof(a->lcp_count));
    if (best_n * 2 <= total) {
        a->ref.len = (uint8_t)(klen < ENT_PFX_MAX ? klen : ENT_PFX_MAX);
        memset(a->ref.b, 0, ENT_PFX_MAX);
        if (a->ref.len) /* (an empty key may come as NULL) */
            memcpy(a->ref.b, key, a->ref.len);
    }
}

uint8_t *arena_alloc_entry(arena *a, unsigned q, const void *key, uint32_t klen, uint32_t vlen,
                           uint8_t flags, uint64_t version, unsigned vroom, int64_t now,
                           arena_place *pl)
{
    uint32_t id = a->q[q].head;
    size_t sz, vpad;
    if (id != ARENA_NONE) {
        arena_seg *s = &a->segs[id];
        unsigned plen = entry_pfx_use(&s->pfx, key, klen);
        vpad = entry_vpad(version, s->vbase, vroom);
        sz = entry_size(klen, vlen, flags, version, s->vbase, plen) + vpad;
        if (sz <= ARENA_LARGE && s->cap - s->used >= sz) {
            uint32_t off = s->used;
            s->used += (uint32_t)sz;
            s->live += (uint32_t)sz;
            a->small_live += sz;
            a->head_room -= sz;
            a->live_bytes += sz;
            a->lcp_count[ref_lcp(&a->ref, key, klen)]++;
            pl->ref = id << 16 | off;
            pl->vbase = s->vbase;
            pl->plen = plen;
            pl->vpad = (unsigned)vpad;
            pl->size = (uint32_t)sz;
            return s->base + off;
        }
    }
    /* A new segment, based at this version (so the delta is 0, one byte). */
    vpad = entry_vpad(version, version, vroom);
    sz = entry_size(klen, vlen, flags, version, version, 0) + vpad;
    entry_pfx pfx = {0};
    if (sz > ARENA_LARGE) {
        if (sz > UINT32_MAX)
            return NULL;
        id = seg_new(a, q, (uint32_t)sz, 1, now);
        if (id == ARENA_NONE)
            return NULL;
    } else {
        /* Seal the head (its slack becomes garbage) and start a new one, sized to the shard:
         * 1/64 of its live data (so partly filled heads waste little), at most 64 KiB. The
         * malloc chunk (the size asked for and its 8-byte header, rounded up to 16) is the
         * power of two: asking for the power of two itself would take 16 bytes more. */
        uint32_t cap = ARENA_SEG_MIN;
        while (cap < ARENA_SEG_MAX && (cap < a->small_live / 64 || cap - ARENA_SEG_HDR < sz))
            cap *= 2;
        id = seg_new(a, q, cap - ARENA_SEG_HDR, 0, now);
        if (id == ARENA_NONE)
            return NULL;
        seal_head(a, q);
        a->q[q].head = id;
        learn_prefix(a, &pfx, key, klen);
        a->lcp_count[ref_lcp(&a->ref, key, klen)]++;
    }
    arena_seg *s = &a->segs[id];
    s->pfx = pfx;
    unsigned plen = entry_pfx_use(&pfx, key, klen);
    sz = entry_size(klen, vlen, flags, version, version, plen) + vpad;
    s->vbase = version;
    s->used = (uint32_t)sz;
    s->live = (uint32_t)sz;
    if (!s->large) {
        a->small_live += sz;
        a->head_room += s->cap - sz;
    }
    a->live_bytes += sz;
    pl->ref = id << 16;
    pl->vbase = version;
    pl->plen = plen;
    pl->vpad = (unsigned)vpad;
    pl->size = (uint32_t)sz;
    return s->base;
}

void arena_release(arena *a, uint32_t ref, uint32_t size)
{
    uint32_t id = ref >> 16;
    arena_seg *s = &a->segs[id];
    s->live -= size;
    a->live_bytes -= size;
    if (!s->large)
        a->small_live -= size;
    if (s->live == 0 && s->sealed)
        seg_free(a, id);
    else if (!s->large)
        entry_kill(s->base + (ref & 0xffff), size); /* walks of the segment skip it */
}

uint32_t arena_pick_victim(const arena *a)
{
    /* The sealed segment with the most garbage: compacting it frees the most per byte copied
     * among segments of one size, and segments of every size compete fairly. */
    uint32_t best = ARENA_NONE, best_garbage = 0;
    for (uint32_t i = 0; i < a->nsegs; i++) {
        const arena_seg *s = &a->segs[i];
        if (!s->base || s->large || !s->sealed)
            continue;
        if (s->cap - s->live > best_garbage) {
            best_garbage = s->cap - s->live;
            best = i;
        }
    }
    /* Only worth it if it frees at least a quarter of the segment. */
    if (best != ARENA_NONE && (uint64_t)best_garbage * 4 < a->segs[best].cap)
        return ARENA_NONE;
    return best;
}
